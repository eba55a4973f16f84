/**
 * Span parenting with the REAL OpenTelemetry SDK, the Azure SDK's own instrumentation
 * (@azure/opentelemetry-instrumentation-azure-sdk, as @azure/monitor-opentelemetry registers it) and the REAL
 * ManagedIdentityCredential against the identity emulator, one process per scenario: the credential's own span
 * (`ManagedIdentityCredential.getToken`) and its HTTP span are children of `DiagnosticCredential.getToken`, which is a
 * child of the caller's span, whether the caller's context is the active one or given as `tracingOptions.tracingContext`
 * (as an Azure SDK client's pipeline gives it). Calls that share one request (single-flight) link to the span under
 * which it was made.
 */
import { describe, expect, it } from "vitest";
import { runScenario, SCENARIO_PRELUDE, scenarioJson } from "../helpers/childScenario.js";

const VAULT = "https://vault.azure.net/.default";

interface SpanView {
  name: string;
  spanId: string;
  traceId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
  links: Array<{ spanId: string }>;
  status: { code: number };
}

/** Runs `body` (with `credential`, `tracer`, `context`, `trace` in scope) under the SDK; returns every finished span. */
async function spansOf(body: string, credentialOptions: Record<string, unknown> = {}): Promise<SpanView[]> {
  const result = await runScenario({
    env: {},
    timeoutMs: 30_000,
    code: `${SCENARIO_PRELUDE}
      import { createRequire } from "node:module";
      import { context, trace } from "@opentelemetry/api";
      import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
      import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
      import { createAzureSdkInstrumentation } from "@azure/opentelemetry-instrumentation-azure-sdk";
      const exporter = new InMemorySpanExporter();
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
      // The Azure SDK's instrumentation hooks @azure/core-tracing when it is required (as in a CommonJS app).
      createAzureSdkInstrumentation();
      createRequire(import.meta.url)("@azure/core-tracing");
      const { startIdentityEndpoint } = await import("diagnostic-credential/testing");
      const emulator = await startIdentityEndpoint({ fault: { kind: "delay", ms: 50 } });
      Object.assign(process.env, emulator.env);
      const { DiagnosticCredential } = await import("diagnostic-credential");
      const credential = new DiagnosticCredential({ ...${JSON.stringify(credentialOptions)}, logger: false });
      const tracer = trace.getTracer("app");
      ${body}
      emit(exporter.getFinishedSpans().map((s) => ({
        name: s.name,
        spanId: s.spanContext().spanId,
        traceId: s.spanContext().traceId,
        parentSpanId: s.parentSpanContext?.spanId,
        attributes: s.attributes,
        links: s.links.map((l) => ({ spanId: l.context.spanId })),
        status: s.status,
      })));
      await emulator.close();
    `,
  });
  expect(result.exitCode, result.stderr.slice(-2000)).toBe(0);
  return scenarioJson<SpanView[]>(result);
}

const named = (spans: SpanView[], name: string) => spans.filter((s) => s.name === name);
const byId = (spans: SpanView[], id: string | undefined) => spans.find((s) => s.spanId === id);

/** app span → DiagnosticCredential.getToken → ManagedIdentityCredential.getToken → the HTTP request(s). */
function expectNested(spans: SpanView[], ours: SpanView, appSpanName: string): void {
  expect(byId(spans, ours.parentSpanId)?.name).toBe(appSpanName);
  const inner = named(spans, "ManagedIdentityCredential.getToken").filter((s) => s.parentSpanId === ours.spanId);
  expect(inner).toHaveLength(1);
  expect(inner[0]!.traceId).toBe(ours.traceId);
  const http = spans.filter((s) => s.parentSpanId === inner[0]!.spanId);
  expect(http.length).toBeGreaterThanOrEqual(1);
  expect(http.every((s) => s.name.startsWith("HTTP GET"))).toBe(true);
}

describe.concurrent("the wrapped credential's spans are children of DiagnosticCredential.getToken", () => {
  it("the caller's span is active: app → DiagnosticCredential.getToken → ManagedIdentityCredential.getToken → HTTP GET; no error.type on success", async () => {
    const spans = await spansOf(`
      await tracer.startActiveSpan("app.operation", async (span) => {
        await credential.getToken("${VAULT}");
        span.end();
      });
    `);
    const [ours] = named(spans, "DiagnosticCredential.getToken");
    expectNested(spans, ours!, "app.operation");
    // Not a sibling of ours under the caller's span any more.
    expect(named(spans, "ManagedIdentityCredential.getToken").filter((s) => byId(spans, s.parentSpanId)?.name === "app.operation")).toEqual([]);
    expect(ours!.attributes["error.type"]).toBeUndefined();
  });

  it("the caller's context given as tracingOptions.tracingContext (an Azure SDK pipeline's bearer policy) and not active: the same nesting", async () => {
    const spans = await spansOf(`
      const operation = tracer.startSpan("sdk.operation");
      await credential.getToken("${VAULT}", { tracingOptions: { tracingContext: trace.setSpan(context.active(), operation) } });
      operation.end();
    `);
    const [ours] = named(spans, "DiagnosticCredential.getToken");
    // Our span's parent is the active context (none here: a root span); the wrapped credential follows ours.
    const inner = named(spans, "ManagedIdentityCredential.getToken");
    expect(inner).toHaveLength(1);
    expect(inner[0]!.parentSpanId).toBe(ours!.spanId);
    expect(spans.filter((s) => s.parentSpanId === inner[0]!.spanId).every((s) => s.name.startsWith("HTTP GET"))).toBe(true);
  });

  it("a failure: the identity endpoint's HTTP span is under ManagedIdentityCredential.getToken under ours (status ERROR, error.type set)", async () => {
    const spans = await spansOf(
      `
      emulator.setFault({ kind: "no-identity" });
      await tracer.startActiveSpan("app.operation", async (span) => {
        await credential.getToken("${VAULT}").catch(() => undefined);
        span.end();
      });
    `,
      { retryOptions: { maxRetries: 0 } },
    );
    const [ours] = named(spans, "DiagnosticCredential.getToken");
    expectNested(spans, ours!, "app.operation");
    expect(ours!.status.code).toBe(2);
    expect(ours!.attributes["error.type"]).toBe("IdentityNotAssigned");
  });

  it("single-flight: one ManagedIdentityCredential.getToken under the caller that made the request; the calls that shared it link to that span", async () => {
    const spans = await spansOf(`
      await tracer.startActiveSpan("app.operation", async (span) => {
        await Promise.all(Array.from({ length: 5 }, () => credential.getToken("${VAULT}")));
        span.end();
      });
    `);
    const ours = named(spans, "DiagnosticCredential.getToken");
    expect(ours).toHaveLength(5);
    expect(named(spans, "ManagedIdentityCredential.getToken")).toHaveLength(1);
    const leader = ours.find((s) => s.attributes["diagnostic_credential.single_flight.joined"] === undefined)!;
    expectNested(spans, leader, "app.operation");
    const joined = ours.filter((s) => s !== leader);
    expect(joined).toHaveLength(4);
    for (const span of joined) {
      expect(span.attributes["diagnostic_credential.single_flight.joined"]).toBe(true);
      expect(span.links).toEqual([{ spanId: leader.spanId }]);
      expect(byId(spans, span.parentSpanId)?.name).toBe("app.operation");
      // The request that answered it, counted as the shared call's.
      expect(span.attributes["diagnostic_credential.identity_endpoint.attempts"]).toBe(1);
    }
  });
});
