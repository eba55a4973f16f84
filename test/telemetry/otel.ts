/**
 * The real OpenTelemetry SDK for in-process tests: an in-memory span exporter, a manual (pull) metric reader and an
 * AsyncLocalStorage context manager, so that "the active span" means what it means in an instrumented app.
 */
import { context, metrics, trace, type Attributes } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { AggregationTemporality, MeterProvider, MetricReader, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";

export class ManualReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

export interface Point {
  attributes: Record<string, unknown>;
  value: unknown;
}

export interface MetricView {
  name: string;
  unit: string;
  points: Point[];
}

export interface TestSdk {
  exporter: InMemorySpanExporter;
  tracerProvider: BasicTracerProvider;
  reader: ManualReader;
  meterProvider: MeterProvider;
  spans(name?: string): ReadableSpan[];
  /** Collects now: every metric of the library with its unit and points. */
  metrics(): Promise<MetricView[]>;
  points(name: string): Promise<Point[]>;
  /** Registers the providers globally (and restores the no-op API with `unregister`). */
  register(): void;
  unregister(): void;
}

let contextManager: AsyncLocalStorageContextManager | undefined;

/** The process-wide context manager (async-hooks), as an instrumented app has. Idempotent. */
export function enableContext(): void {
  if (contextManager !== undefined) return;
  contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
}

export function createSdk(): TestSdk {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new ManualReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const collect = async (): Promise<MetricView[]> => {
    const { resourceMetrics } = await reader.collect();
    return views(resourceMetrics);
  };
  return {
    exporter,
    tracerProvider,
    reader,
    meterProvider,
    spans: (name) => exporter.getFinishedSpans().filter((s) => name === undefined || s.name === name),
    metrics: collect,
    points: async (name) => (await collect()).filter((m) => m.name === name).flatMap((m) => m.points),
    register() {
      trace.setGlobalTracerProvider(tracerProvider);
      metrics.setGlobalMeterProvider(meterProvider);
    },
    unregister() {
      trace.disable();
      metrics.disable();
    },
  };
}

export function views(collected: ResourceMetrics): MetricView[] {
  return collected.scopeMetrics
    .flatMap((s) => s.metrics)
    .map((m) => ({ name: m.descriptor.name, unit: m.descriptor.unit, points: m.dataPoints as unknown as Point[] }));
}

/** Every attribute value of a span, its events and their attributes, as one string (for leak checks). */
export function spanText(span: ReadableSpan): string {
  return JSON.stringify({ attributes: span.attributes, status: span.status, events: span.events.map((e) => ({ name: e.name, attributes: e.attributes })) });
}

export function eventsOf(span: ReadableSpan, name: string): Attributes[] {
  return span.events.filter((e) => e.name === name).map((e) => e.attributes ?? {});
}
