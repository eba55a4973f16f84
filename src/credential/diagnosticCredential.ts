import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { createDefaultHttpClient } from "@azure/core-rest-pipeline";
import { CredentialUnavailableError, ManagedIdentityCredential } from "@azure/identity";
import type { Attributes } from "@opentelemetry/api";
import { catalogFor, normalizeAudience, scopeToResource, type ServiceCatalog } from "../catalog/resolve.js";
import { classifyCredentialError, type ConfiguredIdentity, type ScopeFinding } from "../classify/credentialError.js";
import { checkIssuedToken, type SeenIdentity } from "../classify/issuedToken.js";
import { checkScope } from "../classify/scope.js";
import { attachDiagnosis } from "../diagnosis/attach.js";
import { makeDiagnosis } from "../diagnosis/build.js";
import type { Diagnosis, ResponseLike } from "../diagnosis/types.js";
import { classifyResponse } from "../classify/response.js";
import { enableZeroConfigObservation } from "../observe/zeroConfig.js";
import { containerAppFields, readHostEnvironment, type HostEnvironment } from "../environment/hostEnvironment.js";
import { decodeTokenClaims } from "../jwt/claims.js";
import { DiagnosisLogger, stderrSink } from "../logging/diagnosisLogger.js";
import { formatLogMessage, type LogContext } from "../logging/logEntry.js";
import { ATTR, CredentialTelemetry } from "../telemetry/telemetry.js";
import { recordInternalFault, safely } from "../util/safe.js";
import { DeadlineWatch } from "./deadline.js";
import { diagnoseFailure } from "./diagnose.js";
import { ExchangeLog, createRecordingHttpClient, type IdentityExchange } from "./identityExchange.js";
import { rememberIssuedToken } from "./issuedTokens.js";
import { DEFAULT_TOKEN_TIMEOUT_MS, DIAGNOSTIC_OPTION_KEYS, type DiagnosticCredentialOptions } from "./options.js";

/** How long zero-config observation waits for the policy (which sees the body) to diagnose the same answer. */
const OBSERVER_GRACE_MS = 100;

/** Identities seen per configured selector in this process: an identity or tenant change is an H4 signal. */
const seenIdentities = new Map<string, SeenIdentity>();

/**
 * A TokenCredential that behaves exactly like ManagedIdentityCredential (or the credential it wraps) and explains
 * every failure: token failures and suspicious tokens become a Diagnosis (H1–H5) on the thrown error, in the logs
 * and on OpenTelemetry spans and metrics. Tokens and errors pass through unchanged apart from the error's
 * `diagnosis` property and the summary appended to its message.
 */
export class DiagnosticCredential implements TokenCredential {
  private readonly inner: TokenCredential;
  private readonly credentialName: string;
  private readonly configured: ConfiguredIdentity;
  private readonly selectorKey: string;
  private readonly environment: HostEnvironment;
  private readonly catalog: ServiceCatalog;
  private readonly logger: DiagnosisLogger;
  private readonly telemetry: CredentialTelemetry;
  private readonly exchanges = new ExchangeLog();
  private readonly deadlines: DeadlineWatch;
  private readonly containerApp: { name?: string; revision?: string; replica?: string };
  private readonly includePersonalClaims: boolean;
  /** Last raw token per scope key: a token seen before was checked before (the hot path does nothing else). */
  private readonly lastTokens = new Map<string, string>();
  private readonly scopeFindings = new Map<string, ScopeFinding | null>();
  private readonly latestByAudience = new Map<string, { token: string; scope: string }>();
  /** Downstream answers the policy diagnosed recently: zero-config observation skips them. */
  private readonly recentPolicyDiagnoses = new Map<string, number>();

  /**
   * @param clientId - client id of a user-assigned identity, as ManagedIdentityCredential's first overload.
   * @param options - ManagedIdentityCredential's options plus the diagnostic ones.
   */
  constructor(clientId: string, options?: DiagnosticCredentialOptions);
  /** @param options - ManagedIdentityCredential's options (clientId, resourceId or objectId) plus the diagnostic ones. */
  constructor(options?: DiagnosticCredentialOptions);
  constructor(clientIdOrOptions?: string | DiagnosticCredentialOptions, maybeOptions?: DiagnosticCredentialOptions) {
    const options: DiagnosticCredentialOptions =
      typeof clientIdOrOptions === "string" ? { ...(maybeOptions ?? {}), clientId: clientIdOrOptions } : { ...(clientIdOrOptions ?? {}) };
    this.environment = readHostEnvironment();
    this.containerApp = containerAppFields(this.environment);
    this.configured = {};
    if (options.clientId) this.configured.clientId = options.clientId;
    if (options.resourceId) this.configured.resourceId = options.resourceId;
    if (options.objectId) this.configured.objectId = options.objectId;
    this.selectorKey = `${options.clientId ?? ""}|${options.resourceId ?? ""}|${options.objectId ?? ""}`;
    this.includePersonalClaims = options.includePersonalClaims === true;
    this.catalog = safely(() => catalogFor(options.services), catalogFor());
    const sink = options.logger === false ? false : (options.logger ?? stderrSink);
    this.logger = new DiagnosisLogger(sink);
    this.telemetry = new CredentialTelemetry({
      ...(options.tracerProvider ? { tracerProvider: options.tracerProvider } : {}),
      ...(options.meterProvider ? { meterProvider: options.meterProvider } : {}),
      containerApp: this.containerApp,
    });
    const timeoutMs = typeof options.tokenTimeoutMs === "number" && options.tokenTimeoutMs >= 0 ? options.tokenTimeoutMs : DEFAULT_TOKEN_TIMEOUT_MS;
    this.deadlines = new DeadlineWatch(timeoutMs);

    if (options.credential !== undefined) {
      this.inner = options.credential;
      this.credentialName = options.credential.constructor?.name || "TokenCredential";
    } else {
      const passThrough: Record<string, unknown> = { ...options };
      for (const key of DIAGNOSTIC_OPTION_KEYS) delete passThrough[key];
      passThrough.httpClient = createRecordingHttpClient(options.httpClient ?? createDefaultHttpClient(), {
        log: this.exchanges,
        ...(timeoutMs > 0 ? { requestTimeoutMs: timeoutMs } : {}),
        onFailedAttempt: (exchange) => this.onFailedAttempt(exchange),
      });
      // Same constructor, same validation and errors as ManagedIdentityCredential (e.g. two ids at once).
      this.inner = new ManagedIdentityCredential(passThrough as unknown as ConstructorParameters<typeof ManagedIdentityCredential>[0]);
      this.credentialName = "ManagedIdentityCredential";
    }
    enableZeroConfigObservation();
  }

  /**
   * Returns exactly what the wrapped credential returns. On failure throws the wrapped credential's error (same
   * `name`, same `cause`), with `diagnosis` attached and the diagnosis summary appended to its message.
   * Honours `abortSignal` and `tokenTimeoutMs`, which ManagedIdentityCredential does not.
   */
  getToken(scopes: string | string[], options: GetTokenOptions = {}): Promise<AccessToken | null> {
    const startedAt = performance.now();
    const callStart = Date.now();
    const span = this.telemetry.startGetToken();
    const key = typeof scopes === "string" ? scopes : scopes.join(" ");
    let scopeFinding = this.scopeFindings.get(key);
    if (scopeFinding === undefined) scopeFinding = this.checkScopeOnce(key, scopes);

    const abortSignal = options.abortSignal;
    if (abortSignal?.aborted) {
      const error = abortError();
      this.telemetry.endGetTokenFailure(span, startedAt, undefined, error.name);
      return Promise.reject(error);
    }
    let inner: Promise<AccessToken | null>;
    try {
      inner = this.inner.getToken(scopes, options);
    } catch (error) {
      inner = Promise.reject(error);
    }
    return new Promise<AccessToken | null>((resolve, reject) => {
      let settled = false;
      const pending = this.deadlines.enabled
        ? this.deadlines.add(() => {
            if (settled) return;
            settled = true;
            reject(this.onTimeout(scopes, scopeFinding ?? undefined, callStart, span, startedAt));
          })
        : undefined;
      const onAbort = () => {
        if (settled) return;
        settled = true;
        if (pending) this.deadlines.remove(pending);
        const error = abortError();
        this.telemetry.endGetTokenFailure(span, startedAt, undefined, error.name);
        reject(error);
      };
      abortSignal?.addEventListener("abort", onAbort, { once: true });
      inner.then(
        (token) => {
          if (pending) this.deadlines.remove(pending);
          abortSignal?.removeEventListener("abort", onAbort);
          if (settled) return;
          settled = true;
          if (token !== null && typeof token === "object" && token.token !== this.lastTokens.get(key)) {
            this.inspectNewToken(key, scopes, token, span, startedAt);
          } else {
            this.telemetry.endGetTokenSuccess(span, startedAt);
          }
          resolve(token);
        },
        (error: unknown) => {
          if (pending) this.deadlines.remove(pending);
          abortSignal?.removeEventListener("abort", onAbort);
          if (settled) return;
          settled = true;
          reject(this.onFailure(error, scopes, scopeFinding ?? undefined, callStart, span, startedAt));
        },
      );
    });
  }

  /**
   * Explains any failure: a RestError, a Service Bus / Event Hubs (AMQP) error, a fetch Response (or
   * `{ response, body }`), a ResponseLike, an error thrown by getToken. Correlates with the token this credential
   * issued for the target's audience. Undefined when the failure is not an authentication/authorization problem.
   */
  diagnose(failure: unknown): Diagnosis | undefined {
    return safely(
      () =>
        diagnoseFailure(failure, {
          catalog: this.catalog,
          configured: this.configured,
          includePersonalClaims: this.includePersonalClaims,
          tokenForAudience: (audience) => this.latestByAudience.get(normalizeAudience(audience))?.token,
          anyToken: () => this.latestByAudience.values().next().value?.token,
          classifyCredentialError: (error) =>
            classifyCredentialError(error, { environment: this.environment, configuredIdentity: this.configured, credentialName: this.credentialName }),
          report: (diagnosis, url) => this.report(diagnosis, { level: "error", source: "diagnose", ...(url ? { url } : {}) }),
        }),
      undefined,
    );
  }

  /** @internal Used by the pipeline policy and zero-config observation. */
  report(diagnosis: Diagnosis, context: Omit<LogContext, "containerApp"> & { containerApp?: LogContext["containerApp"] }): void {
    this.logger.log(diagnosis, { ...context, containerApp: this.containerApp, credentialName: this.credentialName });
    this.telemetry.recordDiagnosis(diagnosis, context.source);
  }

  /**
   * @internal Classifies a downstream answer seen by the policy ("response") or by zero-config observation
   * ("observed"), logs and records it. The same answer seen by both is reported once: the observer waits briefly
   * and stands down when the policy (which has the body) diagnosed it.
   */
  diagnoseResponse(response: ResponseLike, token: string | undefined, source: "response" | "observed"): Diagnosis | undefined {
    return safely(() => {
      const key = `${response.method ?? "GET"} ${response.url.split("?")[0]} ${response.status}`;
      const policySawIt = this.recentPolicyDiagnoses.get(key);
      if (source === "observed" && policySawIt !== undefined && Date.now() - policySawIt < 5_000) return undefined;
      const sentToken = token ?? undefined;
      const diagnosis = classifyResponse(
        response,
        {
          ...(sentToken ? { token: sentToken } : {}),
          expectedIdentity: this.configured,
          includePersonalClaims: this.includePersonalClaims,
          ...(response.method ? { method: response.method } : {}),
        },
        this.catalog,
      );
      if (diagnosis === undefined) return undefined;
      if (source === "response") {
        this.recentPolicyDiagnoses.set(key, Date.now());
        if (this.recentPolicyDiagnoses.size > 256) this.recentPolicyDiagnoses.delete(this.recentPolicyDiagnoses.keys().next().value!);
      }
      this.report(diagnosis, { level: response.status === 401 && diagnosis.hypothesis !== "H2" ? "warn" : "error", source, url: response.url });
      return diagnosis;
    }, undefined);
  }

  /** @internal Zero-config observation (node:diagnostics_channel) of a 401/403 to a request carrying our token. */
  observeResponse(input: { url: string; status: number; headers: Record<string, string>; method?: string; token: string }): void {
    const timer = setTimeout(() => {
      const { token, ...response } = input;
      this.diagnoseResponse(response, token, "observed");
    }, OBSERVER_GRACE_MS);
    timer.unref?.();
  }

  /** @internal The catalog, configured identity and identity-correlation for downstream classification. */
  get diagnosticContext(): {
    catalog: ServiceCatalog;
    configured: ConfiguredIdentity;
    includePersonalClaims: boolean;
    telemetry: CredentialTelemetry;
  } {
    return { catalog: this.catalog, configured: this.configured, includePersonalClaims: this.includePersonalClaims, telemetry: this.telemetry };
  }

  /** Writes folded repeat counts now (before shutdown, or in tests). */
  flushLogs(): void {
    this.logger.flushAll();
  }

  private checkScopeOnce(key: string, scopes: string | string[]): ScopeFinding | null {
    const finding = safely(() => {
      const problem = checkScope(scopes, this.catalog);
      if (problem === undefined) return null;
      const result: ScopeFinding = { scope: problem.scope, explanation: problem.explanation };
      if (problem.suggestion !== undefined) result.suggestion = problem.suggestion;
      if (problem.service !== undefined) result.service = problem.service;
      return result;
    }, null);
    if (this.scopeFindings.size < 256) this.scopeFindings.set(key, finding);
    if (finding !== null) safely(() => this.report(scopeWarning(finding, this.configured), { level: "warn", source: "scope-check" }), undefined);
    return finding;
  }

  private inspectNewToken(key: string, scopes: string | string[], token: AccessToken, span: ReturnType<CredentialTelemetry["startGetToken"]>, startedAt: number): void {
    let claimsForSpan: Attributes | undefined;
    safely(() => {
      this.lastTokens.set(key, token.token);
      const scope = typeof scopes === "string" ? scopes : (scopes[0] ?? "");
      const claims = decodeTokenClaims(token.token);
      rememberIssuedToken(token.token, { scope, claims, issuedAt: Date.now(), owner: this });
      this.latestByAudience.set(normalizeAudience(scopeToResource(scope)), { token: token.token, scope });
      const previous = seenIdentities.get(this.selectorKey);
      const problems = checkIssuedToken(claims, {
        scope,
        configured: this.configured,
        ...(previous ? { previous } : {}),
        now: Date.now(),
        expiresOnTimestamp: token.expiresOnTimestamp,
        environment: this.environment,
        catalog: this.catalog,
        includePersonalClaims: this.includePersonalClaims,
      });
      if (claims?.oid !== undefined || claims?.tid !== undefined) {
        const seen: SeenIdentity = {};
        if (claims.oid) seen.objectId = claims.oid;
        if (claims.appid ?? claims.azp) seen.clientId = (claims.appid ?? claims.azp)!;
        if (claims.tid) seen.tenantId = claims.tid;
        seenIdentities.set(this.selectorKey, seen);
      }
      for (const problem of problems) this.report(problem, { level: "warn", source: "token-check" });
      claimsForSpan = {
        [ATTR.scope]: scope,
        ...(claims?.appid ?? claims?.azp ? { [ATTR.clientId]: (claims?.appid ?? claims?.azp)! } : {}),
        ...(claims?.oid ? { [ATTR.objectId]: claims.oid } : {}),
        [ATTR.tokenExpiresAt]: new Date(token.expiresOnTimestamp).toISOString(),
        ...(problems[0] ? { [ATTR.hypothesis]: problems[0].hypothesis, [ATTR.code]: problems[0].code } : {}),
      };
    }, undefined);
    this.telemetry.endGetTokenSuccess(span, startedAt, claimsForSpan ? () => claimsForSpan! : undefined);
  }

  private onFailedAttempt(exchange: IdentityExchange): void {
    // The early warning: only for failures the credential will retry (the others end the call at once anyway).
    const retried = exchange.errorCode !== undefined || exchange.status === undefined || exchange.status >= 500 || exchange.status === 404 || exchange.status === 410 || exchange.status === 408 || exchange.status === 429;
    if (!retried || exchange.errorCode === "ABORTED") return;
    safely(() => {
      const diagnosis = classifyCredentialError(undefined, {
        exchanges: [exchange],
        environment: this.environment,
        configuredIdentity: this.configured,
        credentialName: this.credentialName,
      });
      if (diagnosis === undefined || diagnosis.code !== "IdentityEndpointUnreachable") return;
      this.report({ ...diagnosis, summary: `${diagnosis.summary}; ${this.credentialName} is retrying` }, { level: "warn", source: "identity-endpoint" });
    }, undefined);
  }

  private onFailure(error: unknown, scopes: string | string[], scopeFinding: ScopeFinding | undefined, callStart: number, span: ReturnType<CredentialTelemetry["startGetToken"]>, startedAt: number): unknown {
    const diagnosis = safely(
      () =>
        classifyCredentialError(error, {
          exchanges: this.exchanges.since(callStart),
          environment: this.environment,
          configuredIdentity: this.configured,
          scopes,
          ...(scopeFinding ? { scopeFinding } : {}),
          credentialName: this.credentialName,
        }),
      undefined,
    );
    const errorName = safely(() => (error instanceof Error ? error.name : "Error"), "Error");
    if (diagnosis !== undefined) {
      safely(() => {
        attachDiagnosis(error, diagnosis, { asProperty: true });
        appendSummary(error, diagnosis, this.credentialName);
        this.report(diagnosis, { level: "error", source: "getToken", errorName });
      }, undefined);
    }
    this.telemetry.endGetTokenFailure(span, startedAt, diagnosis, errorName, { [ATTR.identityEndpointAttempts]: this.exchanges.since(callStart).length });
    return error;
  }

  private onTimeout(scopes: string | string[], scopeFinding: ScopeFinding | undefined, callStart: number, span: ReturnType<CredentialTelemetry["startGetToken"]>, startedAt: number): Error {
    const timeoutMs = Date.now() - callStart;
    const error = new CredentialUnavailableError(`DiagnosticCredential: ${this.credentialName} returned no token within ${timeoutMs} ms (tokenTimeoutMs).`);
    const diagnosis = safely(
      () =>
        classifyCredentialError(error, {
          exchanges: this.exchanges.since(callStart),
          environment: this.environment,
          configuredIdentity: this.configured,
          scopes,
          ...(scopeFinding ? { scopeFinding } : {}),
          timedOutAfterMs: timeoutMs,
          credentialName: this.credentialName,
        }),
      undefined,
    );
    if (diagnosis !== undefined) {
      safely(() => {
        attachDiagnosis(error, diagnosis, { asProperty: true });
        appendSummary(error, diagnosis, this.credentialName);
        this.report(diagnosis, { level: "error", source: "getToken", errorName: error.name });
      }, undefined);
    }
    this.telemetry.endGetTokenFailure(span, startedAt, diagnosis, error.name);
    return error;
  }
}

function appendSummary(error: unknown, diagnosis: Diagnosis, credentialName: string): void {
  if (!(error instanceof Error) || (error as { diagnosisAppended?: boolean }).diagnosisAppended) return;
  try {
    const line = formatLogMessage(diagnosis, { credentialName });
    error.message = `${error.message}\n${line}`;
    Object.defineProperty(error, "diagnosisAppended", { value: true, enumerable: false });
  } catch (fault) {
    recordInternalFault(fault);
  }
}

function abortError(): Error {
  const error = new Error("The operation was aborted.");
  error.name = "AbortError";
  return error;
}

function scopeWarning(finding: ScopeFinding, configured: ConfiguredIdentity): Diagnosis {
  return makeDiagnosis("WrongAudience", {
    confidence: "medium",
    summary: `Scope ${finding.scope} looks wrong: ${finding.explanation}`,
    evidence: [`scope requested: ${finding.scope}`],
    nextSteps: [finding.suggestion ? `Request ${finding.suggestion}` : "Request the target service's documented `<audience>/.default` scope"],
    identity: { kind: configured.clientId || configured.resourceId || configured.objectId ? "user-assigned" : "system-assigned" },
    token: { scope: finding.scope },
    ...(finding.service ? { service: finding.service } : {}),
  });
}
