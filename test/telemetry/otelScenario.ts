/**
 * Runs the BUILT DiagnosticCredential with the REAL ManagedIdentityCredential against the identity emulator in a
 * fresh process (MSAL's cache and source detection are per-process statics), with the real OpenTelemetry SDK in
 * that process, and returns the finished spans, the collected metrics, the log entries and each call's outcome.
 */
import { runScenario, SCENARIO_PRELUDE, type ScenarioResult } from "../helpers/childScenario.js";
import type { DiagnosisLogEntry } from "../../src/index.js";

export interface ChildSpan {
  name: string;
  status: { code: number; message?: string };
  attributes: Record<string, unknown>;
  events: Array<{ name: string; attributes: Record<string, unknown> }>;
  parentSpanId?: string;
}

export interface ChildMetric {
  name: string;
  unit: string;
  points: Array<{ attributes: Record<string, unknown>; value: unknown }>;
}

export interface OtelScenarioResult {
  calls: Array<{ ok: boolean; token?: string; error?: { name: string; message: string }; hypothesis?: string }>;
  spans: ChildSpan[];
  metrics: ChildMetric[];
  logs: DiagnosisLogEntry[];
  /** Tokens the emulator issued (to prove none leaks). */
  issued: string[];
  identityHeader?: string;
  process: ScenarioResult;
}

export interface OtelScenarioOptions {
  /** Options of startIdentityEndpoint (JSON). Its env (Container Apps variables included) is set before the credential is made. */
  emulator: Record<string, unknown>;
  /** The DiagnosticCredential options (JSON), besides the logger and the providers. */
  credentialOptions?: Record<string, unknown>;
  /** Scopes of each getToken call, in order. */
  calls: string[];
  /** Code run before call i (has `emulator` in scope). */
  before?: Record<number, string>;
  /** "explicit": pass tracerProvider/meterProvider; "global": register them globally. */
  registration: "explicit" | "global";
  timeoutMs?: number;
}

export async function runOtelScenario(options: OtelScenarioOptions): Promise<OtelScenarioResult> {
  const code = `
${SCENARIO_PRELUDE}
import { context, metrics, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { AggregationTemporality, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { DiagnosticCredential } from "diagnostic-credential";
import { startIdentityEndpoint } from "diagnostic-credential/testing";

class ManualReader extends MetricReader {
  constructor() { super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE }); }
  async onForceFlush() {}
  async onShutdown() {}
}
const exporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const reader = new ManualReader();
const meterProvider = new MeterProvider({ readers: [reader] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const registration = ${JSON.stringify(options.registration)};
if (registration === "global") {
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
}
const emulator = await startIdentityEndpoint(${JSON.stringify(options.emulator)});
Object.assign(process.env, emulator.env);
globalThis.emulator = emulator;
const logs = [];
const issued = [];
const credential = new DiagnosticCredential({
  ...${JSON.stringify(options.credentialOptions ?? {})},
  logger: (entry) => logs.push(entry),
  ...(registration === "explicit" ? { tracerProvider, meterProvider } : {}),
});
const before = ${JSON.stringify(options.before ?? {})};
const scopes = ${JSON.stringify(options.calls)};
const calls = [];
for (let i = 0; i < scopes.length; i++) {
  if (before[i]) await (0, eval)("(async () => {" + before[i] + "})()");
  try {
    const t = await credential.getToken(scopes[i]);
    issued.push(t.token);
    calls.push({ ok: true, token: t.token });
  } catch (e) {
    calls.push({ ok: false, error: describeError(e), hypothesis: e.diagnosis?.hypothesis });
  }
}
credential.flushLogs();
const spans = exporter.getFinishedSpans().map((s) => ({
  name: s.name,
  status: s.status,
  attributes: s.attributes,
  events: s.events.map((e) => ({ name: e.name, attributes: e.attributes ?? {} })),
  parentSpanId: s.parentSpanContext?.spanId,
}));
const { resourceMetrics } = await reader.collect();
const collected = resourceMetrics.scopeMetrics.flatMap((sm) => sm.metrics).map((m) => ({ name: m.descriptor.name, unit: m.descriptor.unit, points: m.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value })) }));
emit({ calls, spans, metrics: collected, logs, issued, identityHeader: emulator.identityHeader });
await emulator.close();
process.exit(0);
`;
  const result = await runScenario({ env: {}, code, timeoutMs: options.timeoutMs ?? 40_000 });
  const json = result.json as Omit<OtelScenarioResult, "process"> | undefined;
  if (json === undefined || !Array.isArray(json.spans)) {
    throw new Error(
      `scenario produced no result (exit ${result.exitCode}${result.timedOut ? ", timed out" : ""}):\n${result.stderr.slice(-3000)}\n${result.stdout.slice(-2000)}`,
    );
  }
  return { ...json, process: result };
}
