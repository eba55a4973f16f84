/**
 * Spans and metrics through the real OpenTelemetry SDK (in-memory exporter, manual metric reader), with explicit
 * providers and with the global registration; and the no-op path when no SDK is registered.
 */
import { metrics, SpanStatusCode, trace } from "@opentelemetry/api";
import { AggregationTemporality, MeterProvider, MetricReader, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { CredentialUnavailableError } from "@azure/identity";
import { SignJWT, generateKeyPair } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { DiagnosticCredential, getInternalFaultCount, METRIC_DIAGNOSES, METRIC_GET_TOKEN_DURATION, SPAN_GET_TOKEN } from "../../src/index.js";

class ManualReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

function sdk() {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new ManualReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return { exporter, tracerProvider, reader, meterProvider };
}

interface Point {
  attributes: Record<string, unknown>;
  value: unknown;
}
function points(collected: ResourceMetrics, name: string): Point[] {
  return collected.scopeMetrics
    .flatMap((s) => s.metrics)
    .filter((m) => m.descriptor.name === name)
    .flatMap((m) => m.dataPoints as unknown as Point[]);
}

const { privateKey } = await generateKeyPair("RS256");
const token = await new SignJWT({ aud: "https://vault.azure.net", tid: "t1", oid: "o1", appid: "a1", xms_mirid: "/subscriptions/s/resourcegroups/rg/providers/Microsoft.App/containerApps/app" })
  .setProtectedHeader({ alg: "RS256" }).setIssuedAt().setExpirationTime("1h").sign(privateKey);
const good = { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) };
const noIdentity = { getToken: async () => { throw new CredentialUnavailableError("ManagedIdentityCredential: Authentication failed. Message invalid_request: Identity not found"); } };

describe("spans and metrics with explicit providers", () => {
  it("success: one span, status UNSET, identity attributes, a duration point in seconds", async () => {
    const { exporter, tracerProvider, reader, meterProvider } = sdk();
    const credential = new DiagnosticCredential({ credential: good, tracerProvider, meterProvider, logger: false });
    await credential.getToken("https://vault.azure.net/.default");
    const [span] = exporter.getFinishedSpans();
    expect(span!.name).toBe(SPAN_GET_TOKEN);
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expect(span!.attributes).toMatchObject({ "diagnostic_credential.identity.object_id": "o1", "diagnostic_credential.identity.client_id": "a1", "diagnostic_credential.scope": "https://vault.azure.net/.default" });
    expect(JSON.stringify(span!.attributes)).not.toContain(token.split(".")[2]!);
    const { resourceMetrics } = await reader.collect();
    const [point] = points(resourceMetrics, METRIC_GET_TOKEN_DURATION);
    expect(point).toBeDefined();
    expect(resourceMetrics.scopeMetrics[0]!.metrics.find((m) => m.descriptor.name === METRIC_GET_TOKEN_DURATION)!.descriptor.unit).toBe("s");
  });

  it("failure: status ERROR, error.type = the Diagnosis code, a diagnosis counted by hypothesis", async () => {
    const { exporter, tracerProvider, reader, meterProvider } = sdk();
    const credential = new DiagnosticCredential({ credential: noIdentity, tracerProvider, meterProvider, logger: false });
    await expect(credential.getToken("https://vault.azure.net/.default")).rejects.toMatchObject({ name: "CredentialUnavailableError", diagnosis: { hypothesis: "H1" } });
    const [span] = exporter.getFinishedSpans();
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes["error.type"]).toBe("IdentityNotAssigned");
    const { resourceMetrics } = await reader.collect();
    const counted = points(resourceMetrics, METRIC_DIAGNOSES);
    expect(counted.map((p) => [p.attributes["diagnostic_credential.hypothesis"], p.value])).toEqual([["H1", 1]]);
    const duration = points(resourceMetrics, METRIC_GET_TOKEN_DURATION);
    expect(duration[0]!.attributes["error.type"]).toBe("IdentityNotAssigned");
  });
});

describe("global registration and no SDK", () => {
  afterEach(() => {
    trace.disable();
    metrics.disable();
  });

  it("uses the globally registered providers", async () => {
    const { exporter, tracerProvider, reader, meterProvider } = sdk();
    trace.setGlobalTracerProvider(tracerProvider);
    metrics.setGlobalMeterProvider(meterProvider);
    const credential = new DiagnosticCredential({ credential: good, logger: false });
    await credential.getToken("https://vault.azure.net/.default");
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual([SPAN_GET_TOKEN]);
    const { resourceMetrics } = await reader.collect();
    expect(points(resourceMetrics, METRIC_GET_TOKEN_DURATION)).toHaveLength(1);
  });

  it("with no SDK registered nothing breaks and no internal fault is counted", async () => {
    const before = getInternalFaultCount();
    const credential = new DiagnosticCredential({ credential: good, logger: false });
    const result = await credential.getToken("https://vault.azure.net/.default");
    expect(result!.token).toBe(token);
    await expect(new DiagnosticCredential({ credential: noIdentity, logger: false }).getToken("https://vault.azure.net/.default")).rejects.toThrow(/Identity not found/);
    expect(getInternalFaultCount()).toBe(before);
  });
});
