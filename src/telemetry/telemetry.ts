import {
  createNoopMeter,
  metrics,
  ProxyTracerProvider,
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
import { hostOf } from "../catalog/resolve.js";
import type { Diagnosis, DiagnosisCode, IdentityKind } from "../diagnosis/types.js";
import { redact } from "../util/redact.js";
import { clientIdOf, identityKindOf, isUserToken, type TokenClaims } from "../jwt/claims.js";
import { LIBRARY_NAME, LIBRARY_VERSION } from "../util/version.js";
import { recordInternalFault } from "../util/safe.js";
import type { Recovery } from "./recovery.js";

// Metric, span, event and attribute names: one place, documented in docs/observability.md.
/** Histogram of `getToken` durations, in seconds; failed calls carry `error.type` and the hypothesis and code. */
export const METRIC_GET_TOKEN_DURATION = "diagnostic_credential.get_token.duration";
/** Counter of diagnoses made (unit `{diagnosis}`), by hypothesis, code, source and service. */
export const METRIC_DIAGNOSES = "diagnostic_credential.diagnoses";
/** Histogram of recovery times in seconds: first failure (H2 on a dependency, H1/H5 on getToken) to first success after it. */
export const METRIC_RECOVERY_DURATION = "diagnostic_credential.recovery.duration";
/** Name of the span of a `getToken` call (recorded when an OpenTelemetry SDK is registered or passed). */
export const SPAN_GET_TOKEN = "DiagnosticCredential.getToken";
/** Span event of a diagnosis: on the getToken span for token-time diagnoses, else on the caller's active span. */
export const EVENT_DIAGNOSIS = "diagnostic_credential.diagnosis";
/** Span event of a recovery: the first success after a diagnosed failure episode. */
export const EVENT_RECOVERED = "diagnostic_credential.recovered";
/** Span of one verification against Resource Manager (option `verify`), linked to the span of the failure it verifies. */
export const SPAN_VERIFY = "DiagnosticCredential.verify";
/** Span event with a verification's verdict, on the `DiagnosticCredential.verify` span. */
export const EVENT_VERIFIED = "diagnostic_credential.verified";
/**
 * The attribute names the library sets on spans, span events and metrics, by role: `TELEMETRY_ATTRIBUTES.code` is
 * `"diagnostic_credential.code"`. The Container Apps ones are set on the getToken span and every data point, when known.
 */
export const ATTR = {
  errorType: "error.type",
  hypothesis: "diagnostic_credential.hypothesis",
  code: "diagnostic_credential.code",
  confidence: "diagnostic_credential.confidence",
  service: "diagnostic_credential.service",
  source: "diagnostic_credential.source",
  scope: "diagnostic_credential.scope",
  summary: "diagnostic_credential.summary",
  /** The id of the rule that decided the diagnosis (`keyvault.forbidden-by-rbac`, `token-time.transport-error`). */
  ruleId: "diagnostic_credential.rule.id",
  identityKind: "diagnostic_credential.identity.kind",
  clientId: "diagnostic_credential.identity.client_id",
  objectId: "diagnostic_credential.identity.object_id",
  tenantId: "diagnostic_credential.identity.tenant_id",
  /** Opt-in (`includePersonalClaims`): a user token's upn / unique_name. */
  userPrincipalName: "diagnostic_credential.identity.upn",
  /** Opt-in (`includePersonalClaims`): a user token's display name. */
  userName: "diagnostic_credential.identity.name",
  tokenExpiresAt: "diagnostic_credential.token.expires_at",
  tokenCacheAgeMs: "diagnostic_credential.token.cache_age_ms",
  identityEndpointAttempts: "diagnostic_credential.identity_endpoint.attempts",
  /** True when the call shared a call to the wrapped credential already under way (single-flight); absent otherwise. */
  singleFlightJoined: "diagnostic_credential.single_flight.joined",
  recoveryFirstFailureAt: "diagnostic_credential.recovery.first_failure_at",
  recoveryAfterMs: "diagnostic_credential.recovery.after_ms",
  recoveryFailures: "diagnostic_credential.recovery.failures",
  /** A verification's outcome: `confirmed`, `propagating`, `not-permitted`, … */
  verificationOutcome: "diagnostic_credential.verification.outcome",
  /** Resource Manager calls a verification made. */
  verificationCalls: "diagnostic_credential.verification.calls",
  httpStatus: "http.response.status_code",
  serverAddress: "server.address",
  containerAppName: "azure.container_app.name",
  containerAppRevision: "azure.container_app.revision",
  containerAppReplica: "azure.container_app.replica",
  /** The platform table's key (`container-apps`, `functions`, `aks-workload-identity`, …) or `unknown`. */
  platform: "diagnostic_credential.platform",
  /** OpenTelemetry's: `azure` when the platform is known. */
  cloudProvider: "cloud.provider",
  /** OpenTelemetry's `cloud.platform` value (`azure.container_apps`, `azure.functions`, …), when the platform has one. */
  cloudPlatform: "cloud.platform",
  /** Azure Functions instance (WEBSITE_INSTANCE_ID); App Service's is `service.instance.id`. */
  faasInstance: "faas.instance",
  /** Azure Functions app (WEBSITE_SITE_NAME). */
  faasName: "faas.name",
  /** AKS pod (POD_NAME or HOSTNAME) and namespace (POD_NAMESPACE or the service-account file). */
  k8sPodName: "k8s.pod.name",
  k8sNamespaceName: "k8s.namespace.name",
} as const;

/** `error.type` when a failure has no Diagnosis: the caller aborted. */
export const ERROR_TYPE_ABORTED = "AbortError";
/** `error.type` when a failure has no Diagnosis and is not an abort (OpenTelemetry's fallback value). */
export const ERROR_TYPE_OTHER = "_OTHER";
/** Every value `error.type` takes: the Diagnosis codes, then the two fallbacks. Low cardinality by construction. */
export const ERROR_TYPES: readonly string[] = Object.freeze([
  "IdentityNotAssigned",
  "RoleMissingOrWrongScope",
  "WrongAudience",
  "StaleTokenOrIdentityMixup",
  "IdentityEndpointUnreachable",
  "NotAnIdentityProblem",
  "Unknown",
  ERROR_TYPE_ABORTED,
  ERROR_TYPE_OTHER,
] satisfies Array<DiagnosisCode | typeof ERROR_TYPE_ABORTED | typeof ERROR_TYPE_OTHER>);

export interface TelemetryOptions {
  tracerProvider?: TracerProvider;
  meterProvider?: MeterProvider;
  containerApp: { name?: string; revision?: string; replica?: string };
  /** The platform's attributes (environment/hostEnvironment.ts platformAttributes): on every span and data point. */
  platformAttributes?: Record<string, string>;
  /** Catalog name of the service a scope is for ("keyvault"), from the scope's audience. */
  serviceOfScope?: (scope: string) => string | undefined;
  /** Identity-endpoint exchanges that started after the exchange-log mark taken at the call's start. Called only for recording spans. */
  attemptsSince?: (exchangeMark: number) => number;
  /** The identity kind before any token says otherwise (what the credential was configured with). */
  identityKind?: IdentityKind;
  /** Put a user token's upn and name on spans (opt-in). */
  includePersonalClaims?: boolean;
}

/** What telemetry knows about one scope (key = the scopes joined by a space): built once per token, then reused. */
interface ScopeTelemetry {
  /** Epoch ms the current token was first seen by this credential. */
  firstSeenAt: number;
  /** Span attributes (frozen): scope, service, identity, expiry. */
  span: Attributes;
  /** Span attributes of a failed call (frozen): scope, service, configured identity kind; no previous token's facts. */
  failure: Attributes;
  /** Metric attributes (frozen): Container Apps + service. */
  metric: Attributes;
  scope: string;
  service: string | undefined;
}

const MAX_SCOPES = 256;
/** Sources of diagnoses about calls that did not fail: a suspicious token handed out, a scope warning, the last good token. */
const SUCCESS_SOURCES: ReadonlySet<string> = new Set(["token-check", "scope-check", "last-good-token"]);
/** The API's own no-op singletons, to recognise "no SDK registered". */
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();
const NOOP_HISTOGRAM = createNoopMeter().createHistogram("noop");

/**
 * Spans and metrics of one credential. Uses the OpenTelemetry API only: with no SDK registered every call is a
 * no-op. Never throws. The cached-token path allocates nothing here: per-scope attribute objects are built when a
 * token is first seen and reused; span attributes are set only when the span records.
 */
export class CredentialTelemetry {
  private readonly tracer: Tracer;
  private readonly globalTracerProxy: ProxyTracerProvider | undefined;
  private readonly duration: Histogram;
  /** False while the meter is the API's no-op: the cached path then skips endGetTokenSuccess (and its clock read). */
  readonly recordsDuration: boolean;
  private readonly diagnoses: Counter;
  private readonly recoveryDuration: Histogram;
  /** Container Apps attributes, added to every span and data point. */
  readonly baseAttributes: Attributes;
  private readonly scopes = new Map<string, ScopeTelemetry>();
  private readonly serviceOfScope: (scope: string) => string | undefined;
  private readonly attemptsSince: ((exchangeMark: number) => number) | undefined;
  private readonly identityKind: IdentityKind;
  private readonly includePersonalClaims: boolean;

  constructor(options: TelemetryOptions) {
    const tracerProvider = options.tracerProvider ?? trace.getTracerProvider();
    this.tracer = tracerProvider.getTracer(LIBRARY_NAME, LIBRARY_VERSION);
    // The global provider is a proxy until an SDK registers: while it has no delegate, a span would be a
    // non-recording no-op, so the hot path skips it (one property read instead of a span and its context lookups).
    if (options.tracerProvider === undefined && tracerProvider instanceof ProxyTracerProvider) this.globalTracerProxy = tracerProvider;
    const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(LIBRARY_NAME, LIBRARY_VERSION);
    this.duration = meter.createHistogram(METRIC_GET_TOKEN_DURATION, {
      description: "Duration of DiagnosticCredential.getToken",
      unit: "s",
    });
    // A meter made from the no-op provider stays no-op (the metrics API has no proxy): no clock read for it.
    this.recordsDuration = this.duration !== NOOP_HISTOGRAM;
    this.diagnoses = meter.createCounter(METRIC_DIAGNOSES, {
      description: "Diagnoses made, by hypothesis and code",
      unit: "{diagnosis}",
    });
    this.recoveryDuration = meter.createHistogram(METRIC_RECOVERY_DURATION, {
      description: "Time from the first failure (H2 on a dependency, H1/H5 on the identity endpoint) to the first success after it",
      unit: "s",
    });
    const base: Attributes = { ...(options.platformAttributes ?? {}) };
    if (options.containerApp.name !== undefined) base[ATTR.containerAppName] = options.containerApp.name;
    if (options.containerApp.revision !== undefined) base[ATTR.containerAppRevision] = options.containerApp.revision;
    if (options.containerApp.replica !== undefined) base[ATTR.containerAppReplica] = options.containerApp.replica;
    this.baseAttributes = Object.freeze(base);
    this.serviceOfScope = options.serviceOfScope ?? (() => undefined);
    this.attemptsSince = options.attemptsSince;
    this.identityKind = options.identityKind ?? "unknown";
    this.includePersonalClaims = options.includePersonalClaims === true;
  }

  /**
   * The span of one getToken call; undefined while no SDK is registered. `joined`: the call waits on another call's
   * request (single-flight), whose span (`leader`, where the wrapped credential's spans are) it links to.
   */
  /** True while the global tracer provider is the API's proxy with no SDK behind it: no span can record. */
  private tracingOff(): boolean {
    return this.globalTracerProxy !== undefined && this.globalTracerProxy.getDelegate() === NOOP_TRACER_PROVIDER;
  }

  startGetToken(leader?: Span, joined = false): Span | undefined {
    try {
      if (this.tracingOff()) return undefined;
      if (joined) {
        return this.tracer.startSpan(SPAN_GET_TOKEN, {
          kind: SpanKind.INTERNAL,
          attributes: { ...this.baseAttributes, [ATTR.singleFlightJoined]: true },
          ...(leader !== undefined ? { links: [{ context: leader.spanContext() }] } : {}),
        });
      }
      return this.tracer.startSpan(SPAN_GET_TOKEN, { kind: SpanKind.INTERNAL, attributes: this.baseAttributes });
    } catch (error) {
      recordInternalFault(error);
      return undefined;
    }
  }

  /**
   * A token not seen before for this scope key: rebuilds the scope's attribute objects (identity from the claims,
   * never the token) and restarts its cache age.
   */
  noteToken(key: string, claims: TokenClaims | undefined, expiresOnTimestamp: number | undefined): void {
    try {
      const state = this.stateOf(key);
      const span: Attributes = { ...state.span };
      span[ATTR.identityKind] = claims !== undefined && claims.xms_mirid !== undefined ? identityKindOf(claims) : this.identityKind;
      delete span[ATTR.clientId];
      delete span[ATTR.objectId];
      delete span[ATTR.tenantId];
      delete span[ATTR.tokenExpiresAt];
      delete span[ATTR.userPrincipalName];
      delete span[ATTR.userName];
      if (claims !== undefined) {
        const clientId = clientIdOf(claims);
        if (clientId !== undefined) span[ATTR.clientId] = clientId;
        if (claims.oid !== undefined) span[ATTR.objectId] = claims.oid;
        if (claims.tid !== undefined) span[ATTR.tenantId] = claims.tid;
        if (this.includePersonalClaims && isUserToken(claims)) {
          const upn = claims.upn ?? claims.unique_name;
          if (upn !== undefined) span[ATTR.userPrincipalName] = upn;
          if (claims.name !== undefined) span[ATTR.userName] = claims.name;
        }
      }
      const expires = typeof expiresOnTimestamp === "number" && Number.isFinite(expiresOnTimestamp) ? new Date(expiresOnTimestamp) : undefined;
      if (expires !== undefined && !Number.isNaN(expires.getTime())) span[ATTR.tokenExpiresAt] = expires.toISOString();
      state.span = Object.freeze(span);
      state.firstSeenAt = Date.now();
    } catch (error) {
      recordInternalFault(error);
    }
  }

  /**
   * Success: status stays UNSET. Attributes are only set when the span records; the data point reuses the scope's
   * frozen attribute object. `extra` (a new token's warnings) is only given off the cached path.
   */
  endGetTokenSuccess(span: Span | undefined, startedAt: number, key?: string, call?: { callStart: number; exchangeMark: number }, extra?: Attributes): void {
    try {
      const state = key === undefined ? undefined : (this.scopes.get(key) ?? this.stateOf(key));
      if (span !== undefined) {
        if (span.isRecording()) {
          if (state !== undefined) {
            span.setAttributes(state.span);
            // The token's age when this call started: 0 for the call that brought it.
            const age = state.firstSeenAt > 0 && call !== undefined ? call.callStart - state.firstSeenAt : 0;
            span.setAttribute(ATTR.tokenCacheAgeMs, age > 0 ? age : 0);
          }
          if (call !== undefined && this.attemptsSince !== undefined) span.setAttribute(ATTR.identityEndpointAttempts, this.attemptsSince(call.exchangeMark));
          if (extra !== undefined) span.setAttributes(extra);
        }
        span.end();
      }
      if (this.recordsDuration) this.duration.record((performance.now() - startedAt) / 1000, state === undefined ? this.baseAttributes : state.metric);
    } catch (error) {
      recordInternalFault(error);
    }
  }

  /**
   * Failure: status ERROR with the diagnosis summary, `error.type` = the Diagnosis code (or AbortError / _OTHER),
   * the diagnosis facts as attributes. `extra`: e.g. the identity-endpoint attempts of the call.
   */
  endGetTokenFailure(span: Span | undefined, startedAt: number, diagnosis: Diagnosis | undefined, errorName: string, extra?: Attributes, key?: string): void {
    try {
      const errorType = errorTypeOf(diagnosis, errorName);
      const state = key === undefined ? undefined : this.stateOf(key);
      if (span !== undefined) {
        if (span.isRecording()) {
          if (state !== undefined) span.setAttributes(state.failure);
          if (extra !== undefined) span.setAttributes(extra);
          if (diagnosis !== undefined) span.setAttributes(diagnosisAttributes(diagnosis));
          span.setAttribute(ATTR.errorType, errorType);
        }
        span.setStatus({ code: SpanStatusCode.ERROR, message: diagnosis ? redact(diagnosis.summary) : errorName });
        span.end();
      }
      const attributes: Attributes = { ...(state === undefined ? this.baseAttributes : state.metric), [ATTR.errorType]: errorType };
      if (diagnosis !== undefined) {
        attributes[ATTR.hypothesis] = diagnosis.hypothesis;
        attributes[ATTR.code] = diagnosis.code;
        if (diagnosis.service !== undefined && attributes[ATTR.service] === undefined) attributes[ATTR.service] = diagnosis.service;
      }
      this.duration.record((performance.now() - startedAt) / 1000, attributes);
    } catch (error) {
      recordInternalFault(error);
    }
  }

  /**
   * Counts a diagnosis and adds it as an event to `span` (our getToken span) or else to the active span (the
   * caller's operation, for downstream diagnoses). Never touches the status of a span it does not own.
   */
  recordDiagnosis(diagnosis: Diagnosis, source: string, span?: Span, url?: string): void {
    try {
      // Without an SDK (no-op meter, no tracer registered) there is nothing to record: a storm pays nothing here.
      if (span === undefined && !this.recordsDuration && this.tracingOff()) return;
      const attributes: Attributes = {
        ...this.baseAttributes,
        [ATTR.hypothesis]: diagnosis.hypothesis,
        [ATTR.code]: diagnosis.code,
        [ATTR.source]: source,
      };
      // error.type only where something failed (semantic conventions: absent on success).
      if (!SUCCESS_SOURCES.has(source)) attributes[ATTR.errorType] = diagnosis.code;
      if (diagnosis.service !== undefined) attributes[ATTR.service] = diagnosis.service;
      if (diagnosis.status !== undefined) attributes[ATTR.httpStatus] = diagnosis.status;
      this.diagnoses.add(1, attributes);
      const target = span ?? trace.getActiveSpan();
      if (target !== undefined && target.isRecording()) {
        const event = diagnosisAttributes(diagnosis);
        event[ATTR.source] = source;
        const host = url !== undefined ? hostOf(url) : undefined;
        if (host !== undefined) event[ATTR.serverAddress] = host;
        target.addEvent(EVENT_DIAGNOSIS, event);
      }
    } catch (error) {
      recordInternalFault(error);
    }
  }

  /**
   * A verification's verdict: a `DiagnosticCredential.verify` span (linked to `failureSpan`, the span of the failure
   * when there was one) carrying the `diagnostic_credential.verified` event. Nothing without a tracing SDK.
   */
  recordVerification(verified: Diagnosis, failureSpan?: Span): void {
    try {
      if (this.tracingOff()) return;
      const link = failureSpan?.spanContext();
      const span = this.tracer.startSpan(SPAN_VERIFY, {
        kind: SpanKind.INTERNAL,
        attributes: this.baseAttributes,
        ...(link ? { links: [{ context: link }] } : {}),
      });
      if (span.isRecording()) {
        const event = diagnosisAttributes(verified);
        if (verified.verification !== undefined) {
          event[ATTR.verificationOutcome] = verified.verification.outcome;
          event[ATTR.verificationCalls] = verified.verification.calls;
          span.setAttribute(ATTR.verificationOutcome, verified.verification.outcome);
        }
        span.addEvent(EVENT_VERIFIED, event);
      }
      span.end();
    } catch (error) {
      recordInternalFault(error);
    }
  }

  /** A recovery: the span event `diagnostic_credential.recovered` and a recovery-duration data point. */
  recordRecovery(recovery: Recovery, span?: Span): void {
    try {
      const afterMs = Math.max(0, recovery.recoveredAt - recovery.firstFailureAt);
      const attributes: Attributes = { ...this.baseAttributes, [ATTR.hypothesis]: recovery.hypothesis, [ATTR.code]: recovery.code };
      if (recovery.service !== undefined) attributes[ATTR.service] = recovery.service;
      this.recoveryDuration.record(afterMs / 1000, attributes);
      const target = span ?? trace.getActiveSpan();
      if (target !== undefined && target.isRecording()) {
        const event: Attributes = {
          [ATTR.hypothesis]: recovery.hypothesis,
          [ATTR.code]: recovery.code,
          [ATTR.source]: recovery.kind,
          [ATTR.recoveryFirstFailureAt]: new Date(recovery.firstFailureAt).toISOString(),
          [ATTR.recoveryAfterMs]: afterMs,
          [ATTR.recoveryFailures]: recovery.failures,
        };
        if (recovery.service !== undefined) event[ATTR.service] = recovery.service;
        if (recovery.host !== undefined) event[ATTR.serverAddress] = recovery.host;
        if (recovery.status !== undefined) event[ATTR.httpStatus] = recovery.status;
        if (recovery.identity?.objectId !== undefined) event[ATTR.objectId] = recovery.identity.objectId;
        if (recovery.identity?.clientId !== undefined) event[ATTR.clientId] = recovery.identity.clientId;
        target.addEvent(EVENT_RECOVERED, event);
      }
    } catch (error) {
      recordInternalFault(error);
    }
  }

  /** The scope's telemetry state, made on first use (once per scope key, bounded). */
  private stateOf(key: string): ScopeTelemetry {
    const existing = this.scopes.get(key);
    if (existing !== undefined) return existing;
    const space = key.indexOf(" ");
    const scope = space === -1 ? key : key.slice(0, space);
    let service: string | undefined;
    try {
      service = this.serviceOfScope(scope);
    } catch (error) {
      recordInternalFault(error);
    }
    const span: Attributes = { [ATTR.scope]: scope, [ATTR.identityKind]: this.identityKind };
    const metric: Attributes = { ...this.baseAttributes };
    if (service !== undefined) {
      span[ATTR.service] = service;
      metric[ATTR.service] = service;
    }
    const frozen = Object.freeze(span);
    const state: ScopeTelemetry = { firstSeenAt: 0, span: frozen, failure: frozen, metric: Object.freeze(metric), scope, service };
    if (this.scopes.size < MAX_SCOPES) this.scopes.set(key, state);
    return state;
  }
}

/** The documented, low-cardinality `error.type` of a failure. */
export function errorTypeOf(diagnosis: Diagnosis | undefined, errorName: string): string {
  if (diagnosis !== undefined) return diagnosis.code;
  return errorName === ERROR_TYPE_ABORTED ? ERROR_TYPE_ABORTED : ERROR_TYPE_OTHER;
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
  if (typeof diagnosis.rule?.id === "string") attributes[ATTR.ruleId] = redact(diagnosis.rule.id);
  return attributes;
}
