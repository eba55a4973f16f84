import {
  metrics,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Counter,
  type Histogram,
  type MeterProvider,
  type Span,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import type { Diagnosis } from "../diagnosis/types.js";
import { redact } from "../diagnosis/redact.js";
import { LIBRARY_NAME, LIBRARY_VERSION } from "../version.js";
import { recordInternalFault } from "../util/safe.js";

/** Metric and attribute names: one place, documented in docs/observability.md. */
export const METRIC_GET_TOKEN_DURATION = "diagnostic_credential.get_token.duration";
export const METRIC_DIAGNOSES = "diagnostic_credential.diagnoses";
export const SPAN_GET_TOKEN = "DiagnosticCredential.getToken";
export const ATTR = {
  errorType: "error.type",
  hypothesis: "diagnostic_credential.hypothesis",
  code: "diagnostic_credential.code",
  confidence: "diagnostic_credential.confidence",
  service: "diagnostic_credential.service",
  source: "diagnostic_credential.source",
  scope: "diagnostic_credential.scope",
  summary: "diagnostic_credential.summary",
  identityKind: "diagnostic_credential.identity.kind",
  clientId: "diagnostic_credential.identity.client_id",
  objectId: "diagnostic_credential.identity.object_id",
  tokenExpiresAt: "diagnostic_credential.token.expires_at",
  identityEndpointAttempts: "diagnostic_credential.identity_endpoint.attempts",
  httpStatus: "http.response.status_code",
  serverAddress: "server.address",
  containerAppName: "azure.container_app.name",
  containerAppRevision: "azure.container_app.revision",
  containerAppReplica: "azure.container_app.replica",
} as const;

export interface TelemetryOptions {
  tracerProvider?: TracerProvider;
  meterProvider?: MeterProvider;
  containerApp: { name?: string; revision?: string; replica?: string };
}

/**
 * Spans and metrics of one credential. Uses the OpenTelemetry API only: with no SDK registered every call is a
 * no-op. Never throws.
 */
export class CredentialTelemetry {
  private readonly tracer: Tracer;
  private readonly duration: Histogram;
  private readonly diagnoses: Counter;
  /** Container Apps attributes, added to every span and data point. */
  readonly baseAttributes: Attributes;
  private readonly successAttributes: Attributes;

  constructor(options: TelemetryOptions) {
    this.tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(LIBRARY_NAME, LIBRARY_VERSION);
    const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(LIBRARY_NAME, LIBRARY_VERSION);
    this.duration = meter.createHistogram(METRIC_GET_TOKEN_DURATION, {
      description: "Duration of DiagnosticCredential.getToken",
      unit: "s",
    });
    this.diagnoses = meter.createCounter(METRIC_DIAGNOSES, {
      description: "Diagnoses made, by hypothesis and code",
      unit: "{diagnosis}",
    });
    const base: Attributes = {};
    if (options.containerApp.name !== undefined) base[ATTR.containerAppName] = options.containerApp.name;
    if (options.containerApp.revision !== undefined) base[ATTR.containerAppRevision] = options.containerApp.revision;
    if (options.containerApp.replica !== undefined) base[ATTR.containerAppReplica] = options.containerApp.replica;
    this.baseAttributes = Object.freeze(base);
    this.successAttributes = Object.freeze({ ...base });
  }

  startGetToken(): Span | undefined {
    try {
      return this.tracer.startSpan(SPAN_GET_TOKEN, { kind: SpanKind.INTERNAL, attributes: this.baseAttributes });
    } catch (error) {
      recordInternalFault(error);
      return undefined;
    }
  }

  /** Success: status stays UNSET. Attributes are only built when the span records. */
  endGetTokenSuccess(span: Span | undefined, startedAt: number, describe?: () => Attributes): void {
    try {
      if (span !== undefined) {
        if (describe !== undefined && span.isRecording()) span.setAttributes(describe());
        span.end();
      }
      this.duration.record((performance.now() - startedAt) / 1000, this.successAttributes);
    } catch (error) {
      recordInternalFault(error);
    }
  }

  endGetTokenFailure(span: Span | undefined, startedAt: number, diagnosis: Diagnosis | undefined, errorName: string, extra: Attributes = {}): void {
    try {
      const errorType = diagnosis?.code ?? errorName;
      if (span !== undefined) {
        if (span.isRecording()) {
          span.setAttributes({ ...extra, ...(diagnosis ? diagnosisAttributes(diagnosis) : {}), [ATTR.errorType]: errorType });
        }
        span.setStatus({ code: SpanStatusCode.ERROR, message: diagnosis ? redact(diagnosis.summary) : errorName });
        span.end();
      }
      this.duration.record((performance.now() - startedAt) / 1000, { ...this.baseAttributes, [ATTR.errorType]: errorType });
    } catch (error) {
      recordInternalFault(error);
    }
  }

  /** Counts a diagnosis and, when a span is given or active, adds it as a span event. */
  recordDiagnosis(diagnosis: Diagnosis, source: string, span?: Span): void {
    try {
      const attributes: Attributes = { ...this.baseAttributes, [ATTR.hypothesis]: diagnosis.hypothesis, [ATTR.code]: diagnosis.code, [ATTR.source]: source };
      if (diagnosis.service !== undefined) attributes[ATTR.service] = diagnosis.service;
      if (diagnosis.status !== undefined) attributes[ATTR.httpStatus] = diagnosis.status;
      this.diagnoses.add(1, attributes);
      const target = span ?? trace.getActiveSpan();
      if (target !== undefined && target.isRecording()) {
        target.addEvent("diagnostic_credential.diagnosis", { ...diagnosisAttributes(diagnosis), [ATTR.source]: source });
      }
    } catch (error) {
      recordInternalFault(error);
    }
  }
}

/** A Diagnosis as span attributes: codes and facts, never a token. */
export function diagnosisAttributes(diagnosis: Diagnosis): Attributes {
  const attributes: Attributes = {
    [ATTR.hypothesis]: diagnosis.hypothesis,
    [ATTR.code]: diagnosis.code,
    [ATTR.confidence]: diagnosis.confidence,
    [ATTR.summary]: redact(diagnosis.summary),
  };
  if (diagnosis.service !== undefined) attributes[ATTR.service] = diagnosis.service;
  if (diagnosis.status !== undefined) attributes[ATTR.httpStatus] = diagnosis.status;
  if (diagnosis.identity?.clientId !== undefined) attributes[ATTR.clientId] = diagnosis.identity.clientId;
  if (diagnosis.identity?.objectId !== undefined) attributes[ATTR.objectId] = diagnosis.identity.objectId;
  if (diagnosis.identity?.kind !== undefined) attributes[ATTR.identityKind] = diagnosis.identity.kind;
  return attributes;
}
