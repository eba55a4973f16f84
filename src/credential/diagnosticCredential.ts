import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { uptimeContext } from "../util/uptime.js";
import { createDefaultHttpClient } from "@azure/core-rest-pipeline";
import { CredentialUnavailableError, ManagedIdentityCredential } from "@azure/identity";
import { context, trace, type Attributes, type Context, type Span } from "@opentelemetry/api";
import { catalogFor, normalizeAudience, scopeToResource, type ServiceCatalog } from "../catalog/resolve.js";
import { classifyCredentialError, type ConfiguredIdentity, type ScopeFinding } from "../classify/credentialError.js";
import { checkIssuedToken, type SeenIdentity } from "../classify/issuedToken.js";
import { checkScope } from "../classify/scope.js";
import { attachDiagnosis } from "../diagnosis/attach.js";
import { makeDiagnosis } from "../diagnosis/build.js";
import { CHECK_KINDS, RULE_SOURCES, ruleOf } from "../diagnosis/findings.js";
import type { Diagnosis, ResponseLike } from "../diagnosis/types.js";
import { classifyResponseWithCatalog } from "../classify/response.js";
import { isHandled, markHandled, responseKey, responseLogLevel, withoutBodyCaveat } from "../registry/handledAnswers.js";
import { enableZeroConfigObservation } from "../observe/zeroConfig.js";
import { containerAppFields, platformAttributes, readHostEnvironment, type HostEnvironment } from "../environment/hostEnvironment.js";
import { addHostFacts, diagnosisPlatformOf } from "../diagnosis/hostFacts.js";
import { decodeTokenClaims } from "../jwt/claims.js";
import { DiagnosisLogger, stderrSink, withTraceOf } from "../logging/diagnosisLogger.js";
import { formatLogMessage, type LogContext } from "../logging/logEntry.js";
import { RecoveryTracker, type Recovery } from "../telemetry/recovery.js";
import { ATTR, CredentialTelemetry } from "../telemetry/telemetry.js";
import { sharedSlot } from "../util/processState.js";
import { safeGet } from "../util/headers.js";
import { recordInternalFault, safely } from "../util/safe.js";
import { DeadlineWatch } from "./deadline.js";
import { isExpectedOffAzure, isOffAzureHost, noAnswerAtNetworkLevel, offAzureNotice } from "./offAzure.js";
import { TokenCall, type FailureOutcome, type ScopeState, type TokenCallHost } from "./tokenCall.js";
import { diagnoseFailure } from "./diagnose.js";
import { ExchangeLog, createRecordingHttpClient, type IdentityExchange } from "./identityExchange.js";
import { policyChallengeWaits } from "../registry/challengeWaits.js";
import { rememberIssuedToken } from "../registry/issuedTokens.js";
import { registerCredentialInternals, type CredentialInternals, type ReportContext } from "./internals.js";
import { RepeatAnswers } from "./repeatAnswers.js";
import { readWorkloadIdentityEnvironment, type WorkloadIdentityEnvironment } from "../environment/workloadIdentityEnv.js";
import { watchEntraExchanges } from "../observe/entraExchanges.js";
import { workloadIdentityContextOf } from "./workloadIdentity.js";
import { DEFAULT_TOKEN_TIMEOUT_MS, DIAGNOSTIC_OPTION_KEYS, type DiagnosticCredentialOptions } from "./options.js";
import { checkResourceManagerEndpoint } from "../verify/endpoint.js";
import { resolveVerifyOptions, type ResolvedVerifyOptions } from "../verify/types.js";
import { isVerifiable, Verifier } from "../verify/verifier.js";

/** Report sources whose H1/H2 diagnoses are verified (option `verify`): failures, not warnings about tokens or scopes. */
const VERIFIED_SOURCES: ReadonlySet<string> = new Set(["getToken", "response", "observed", "diagnose"]);

/** How far back a failure looks for its Entra exchanges (a call retries for well under this). */
const WORKLOAD_EXCHANGE_WINDOW_MS = 120_000;

/** How long zero-config observation waits for the policy (which sees the body) to diagnose the same answer. */
const OBSERVER_GRACE_MS = 100;

/** The last good token is only handed out while it stays valid for at least this long. */
const LAST_GOOD_MIN_VALIDITY_MS = 60_000;

/** Identities seen per configured selector in this process: an identity or tenant change is an H4 signal. */
const seenIdentities = sharedSlot("seenIdentities.v1", () => new Map<string, SeenIdentity>());

/** Whether this process has written its one "off Azure" line. */
const offAzure = sharedSlot("offAzureNotice.v1", () => ({ noticed: false }));

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
  /** AKS workload identity's variables: its exchange bypasses our httpClient, so it is watched on diagnostics_channel. */
  private readonly workload: WorkloadIdentityEnvironment;
  private readonly catalog: ServiceCatalog;
  private readonly logger: DiagnosisLogger;
  private readonly telemetry: CredentialTelemetry;
  private readonly exchanges = new ExchangeLog();
  private readonly containerApp: { name?: string; revision?: string; replica?: string };
  private readonly includePersonalClaims: boolean;
  private readonly lastGoodTokenFallback: boolean;
  private readonly singleFlight: boolean;
  /** Per scope key: the scope check's finding and the last token (a token seen before was checked before). */
  private readonly scopes = new Map<string, ScopeState>();
  /** Settles this credential's pending calls. */
  private readonly calls: TokenCallHost;
  private readonly latestByAudience = new Map<string, { token: string; scope: string }>();
  /** What the policy, zero-config observation and the doctor use (registered: see internals.ts). */
  readonly #internals: CredentialInternals;
  /** Diagnoses of downstream answers, reused for identical repeats (a 401/403 storm). */
  private readonly repeats = new RepeatAnswers();
  /** Open failure episodes (H2 per dependency, H5/H1 of getToken) whose end is logged as a recovery. */
  private readonly recovery = new RecoveryTracker();
  /** Verification against Resource Manager: made at construction with `verify`, on first explicit ask otherwise. */
  private verifier: Verifier | undefined;
  private readonly verifyOptions: ResolvedVerifyOptions | undefined;
  private readonly resourceManagerEndpoint: string | undefined;
  /** ManagedIdentityCredential's options (ids removed) for the system-assigned identity verification of H1 reads with. */
  private readonly systemAssignedOptions: Record<string, unknown> | undefined;
  private systemAssigned: TokenCredential | undefined;

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
    this.workload = readWorkloadIdentityEnvironment();
    if (this.workload.tokenFile !== undefined) safely(() => watchEntraExchanges(), undefined);
    this.configured = {};
    if (options.clientId) this.configured.clientId = options.clientId;
    if (options.resourceId) this.configured.resourceId = options.resourceId;
    if (options.objectId) this.configured.objectId = options.objectId;
    this.selectorKey = `${options.clientId ?? ""}|${options.resourceId ?? ""}|${options.objectId ?? ""}`;
    this.includePersonalClaims = options.includePersonalClaims === true;
    this.lastGoodTokenFallback = options.lastGoodTokenFallback !== false;
    this.singleFlight = options.singleFlight !== false;
    this.catalog = safely(() => catalogFor(options.services), catalogFor());
    // A configuration mistake, found at construction like ManagedIdentityCredential's own option checks.
    this.resourceManagerEndpoint = checkResourceManagerEndpoint(options.resourceManagerEndpoint);
    this.verifyOptions = resolveVerifyOptions(options.verify, this.resourceManagerEndpoint);
    const sink = options.logger === false ? false : (options.logger ?? stderrSink);
    this.logger = new DiagnosisLogger(sink);
    this.telemetry = new CredentialTelemetry({
      ...(options.tracerProvider ? { tracerProvider: options.tracerProvider } : {}),
      ...(options.meterProvider ? { meterProvider: options.meterProvider } : {}),
      containerApp: this.containerApp,
      platformAttributes: platformAttributes(this.environment),
      serviceOfScope: (scope) => this.catalog.serviceForAudience(scope)?.name,
      attemptsSince: (mark) => this.exchanges.since(mark).length,
      identityKind:
        options.clientId || options.resourceId || options.objectId ? "user-assigned" : options.credential === undefined ? "system-assigned" : "unknown",
      includePersonalClaims: this.includePersonalClaims,
    });
    const timeoutMs = typeof options.tokenTimeoutMs === "number" && options.tokenTimeoutMs >= 0 ? options.tokenTimeoutMs : DEFAULT_TOKEN_TIMEOUT_MS;
    this.calls = {
      deadlines: new DeadlineWatch(timeoutMs),
      succeeded: (call, token) => this.callSucceeded(call, token),
      diagnose: (flight, first, error) => this.diagnoseFailure(flight, first, error),
      failed: (call, error, outcome) => this.callFailed(call, error, outcome),
      timedOut: (call) => {
        const error = new CredentialUnavailableError(`DiagnosticCredential: ${this.credentialName} returned no token within ${timeoutMs} ms (tokenTimeoutMs).`);
        this.callFailed(call, error, this.diagnoseFailure(call.flight, call, error, timeoutMs));
      },
      aborted: (call) => {
        const error = abortError();
        this.telemetry.endGetTokenFailure(call.span, call.startedAt, undefined, error.name, undefined, call.scope.key);
        call.reject(error);
      },
      abandoned: (flight, timedOut) => {
        // Nobody waits for the call any more: the identity-endpoint requests it started must not hold a socket (or the
        // process) on. (An abort leaves them: ManagedIdentityCredential ignores abort signals, and its answer fills MSAL's cache.)
        if (timedOut) this.exchanges.abortSince(flight.exchangeMark);
      },
    };

    if (options.credential !== undefined) {
      this.inner = options.credential;
      const className = options.credential.constructor?.name;
      this.credentialName = className && className !== "Object" && className !== "Function" ? className : "TokenCredential";
    } else {
      const passThrough: Record<string, unknown> = { ...options };
      for (const key of DIAGNOSTIC_OPTION_KEYS) delete passThrough[key];
      passThrough.httpClient = createRecordingHttpClient(options.httpClient ?? createDefaultHttpClient(), {
        log: this.exchanges,
        // A little longer than the call's deadline, so the deadline (which knows the whole call) speaks first,
        // and a hanging request is still ended instead of holding a socket for ever.
        ...(timeoutMs > 0 ? { requestTimeoutMs: timeoutMs + 1_000 } : {}),
        onFailedAttempt: (exchange) => this.onFailedAttempt(exchange),
      });
      // Same constructor, same validation and errors as ManagedIdentityCredential (e.g. two ids at once).
      this.inner = new ManagedIdentityCredential(passThrough as unknown as ConstructorParameters<typeof ManagedIdentityCredential>[0]);
      this.credentialName = "ManagedIdentityCredential";
      if (options.clientId || options.resourceId || options.objectId) {
        const { clientId: _c, resourceId: _r, objectId: _o, httpClient: _h, ...rest } = passThrough;
        this.systemAssignedOptions = { ...rest, ...(options.httpClient ? { httpClient: options.httpClient } : {}) };
      }
    }
    if (this.verifyOptions !== undefined) this.verifier = this.makeVerifier(this.verifyOptions);
    this.#internals = {
      report: (diagnosis, context, span) => this.#report(diagnosis, context, span),
      noteSuccess: (url, authorization, status) => this.#noteSuccess(url, authorization, status),
      diagnoseResponse: (response, token, source, report) => this.#diagnoseResponse(response, token, source, report),
      observeResponse: (input) => this.#observeResponse(input),
      configuredIdentity: this.configuredIdentity,
      verify: (diagnosis, url) => this.#verify(diagnosis, url),
    };
    registerCredentialInternals(this, this.#internals);
    enableZeroConfigObservation();
  }

  /**
   * Returns exactly what the wrapped credential returns. On failure throws the wrapped credential's error (same
   * `name`, same `cause`), with `diagnosis` attached and the diagnosis summary appended to its message.
   * Honours `abortSignal` and `tokenTimeoutMs`, which ManagedIdentityCredential does not. Concurrent calls for the same
   * scopes and token options share one call to the wrapped credential (`singleFlight`, default on).
   */
  getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    // The cached-token path is the hot path (bench/run.mjs, docs/performance.md): one map lookup and one TokenCall
    // besides the promise. No clock read unless telemetry records (the deadline watch stamps deadlines itself, the
    // identity-endpoint requests of this call are found by the exchange log's mark): a clock read measured 0.1–0.2 µs here.
    let key: string;
    let abortSignal: GetTokenOptions["abortSignal"];
    let aborted: boolean;
    let shared = this.singleFlight;
    let claims: string | undefined;
    let tenantId: string | undefined;
    let enableCae = false;
    try {
      key = typeof scopes === "string" ? scopes : scopes.join(" ");
      if (options !== undefined && options !== null) {
        abortSignal = options.abortSignal;
        if (shared) {
          claims = options.claims;
          tenantId = options.tenantId;
          enableCae = options.enableCae === true;
          shared = shareableOptions(options, claims, tenantId);
        }
      }
      aborted = abortSignal?.aborted === true;
    } catch {
      // Scopes or options this wrapper cannot read (a throwing getter, not an array): they are the wrapped
      // credential's to judge, undiagnosed, so the caller sees what it would see without the wrapper.
      return callInner(this.inner, scopes, options);
    }
    const scope = this.scopes.get(key) ?? this.newScope(key, scopes);
    // Single-flight: a call for the same scopes and token options already under way answers this caller too.
    const flight = shared && !aborted && scope.flights !== undefined ? TokenCall.flightOf(scope, claims, tenantId, enableCae) : undefined;
    const span = this.telemetry.startGetToken(flight?.span, flight !== undefined);
    const startedAt = span !== undefined || this.telemetry.recordsDuration ? performance.now() : 0;
    if (aborted) {
      const error = abortError();
      this.telemetry.endGetTokenFailure(span, startedAt, undefined, error.name, undefined, key);
      return Promise.reject(error);
    }
    if (flight !== undefined) return new TokenCall(this.calls, scope, scopes, span, startedAt, flight.exchangeMark, abortSignal).join(flight);
    const call = new TokenCall(this.calls, scope, scopes, span, startedAt, this.exchanges.mark(), abortSignal);
    // The caller's options object as given (undefined stays undefined), as the wrapped credential would get it; a
    // shared call gets a signal of its own instead of the caller's: one caller's abort must not end the others' call.
    let innerOptions = options;
    if (shared) {
      // The defaults are already there: the cached path stores nothing it does not need.
      if (claims !== undefined) call.claims = claims;
      if (tenantId !== undefined) call.tenantId = tenantId;
      if (enableCae) call.enableCae = true;
      if (abortSignal !== undefined) {
        const controller = new AbortController();
        innerOptions = withAbortSignal(options!, controller.signal);
        if (innerOptions === undefined) {
          innerOptions = options;
          shared = false;
        } else {
          call.controller = controller;
        }
      }
    }
    const inner = span === undefined ? callInner(this.inner, scopes, innerOptions) : callInnerInSpan(this.inner, scopes, innerOptions, span);
    return call.run(inner, shared);
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
          environment: this.environment,
          includePersonalClaims: this.includePersonalClaims,
          tokenForAudience: (audience) => this.latestByAudience.get(normalizeAudience(audience))?.token,
          anyToken: () => this.latestByAudience.values().next().value?.token,
          classifyCredentialError: (error) =>
            classifyCredentialError(error, {
              environment: this.environment,
              configuredIdentity: this.configured,
              credentialName: this.credentialName,
              ...uptimeContext(),
              ...this.workloadContext(),
            }),
          report: (diagnosis, url) => this.#report(diagnosis, { level: "error", source: "diagnose", ...(url ? { url } : {}) }),
        }),
      undefined,
    );
  }

  /**
   * Logs and records a diagnosis. `span`: our getToken span for token-time diagnoses; downstream ones go to the active
   * span (as an event only: its status is not ours to set).
   */
  #report(diagnosis: Diagnosis, context: ReportContext, span?: Span): void {
    // The context is the caller's fresh object: completed in place (a storm reports thousands a second).
    const full = context as LogContext;
    full.containerApp = this.containerApp;
    // Every diagnosis made here carries the platform (and, on Functions, the connection settings): once, in place.
    safely(() => addHostFacts(diagnosis, this.environment, this.configured), diagnosis);
    full.platform = diagnosis.platform ?? diagnosisPlatformOf(this.environment);
    full.credentialName = this.credentialName;
    this.logger.log(diagnosis, span !== undefined ? withTraceOf(full, span) : full);
    this.telemetry.recordDiagnosis(diagnosis, context.source, span, context.url);
    try {
      this.recovery.noteFailure(diagnosis, context.source, context.url);
    } catch (error) {
      recordInternalFault(error);
    }
    if (this.verifyOptions !== undefined && VERIFIED_SOURCES.has(context.source) && isVerifiable(diagnosis))
      this.#scheduleVerification(diagnosis, context.url, span);
  }

  /** Verifies a reported diagnosis after the caller got its answer; the verdict is logged and traced when it comes. */
  #scheduleVerification(diagnosis: Diagnosis, url: string | undefined, span: Span | undefined): void {
    try {
      this.verifier?.schedule(diagnosis, url !== undefined ? { url } : {}, (verified) => this.#reportVerified(verified, url, span));
    } catch (error) {
      recordInternalFault(error);
    }
  }

  #reportVerified(verified: Diagnosis, url: string | undefined, span: Span | undefined): void {
    try {
      const outcome = verified.verification?.outcome;
      if (outcome === "not-applicable") return;
      const settled = outcome !== "unavailable" && outcome !== "not-permitted";
      const context: LogContext = {
        level: settled ? "warn" : "info",
        source: "verification",
        ...(url !== undefined ? { url } : {}),
        containerApp: this.containerApp,
        credentialName: this.credentialName,
      };
      this.logger.log(verified, context);
      this.telemetry.recordVerification(verified, span);
    } catch (error) {
      recordInternalFault(error);
    }
  }

  /** An explicit verification (`verifyDiagnosis`): shared with a scheduled one of the same diagnosis. */
  #verify(diagnosis: Diagnosis, url?: string): Promise<Diagnosis> {
    try {
      this.verifier ??= this.makeVerifier(resolveVerifyOptions(true, this.resourceManagerEndpoint)!);
      return this.verifier.verify(diagnosis, url !== undefined ? { url } : {});
    } catch (error) {
      recordInternalFault(error);
      return Promise.resolve(diagnosis);
    }
  }

  private makeVerifier(options: ResolvedVerifyOptions): Verifier {
    return new Verifier(options, {
      credential: this.inner,
      systemAssigned: () => {
        if (this.systemAssignedOptions === undefined) return undefined;
        this.systemAssigned ??= new ManagedIdentityCredential(
          this.systemAssignedOptions as unknown as ConstructorParameters<typeof ManagedIdentityCredential>[0],
        );
        return this.systemAssigned;
      },
      configured: this.configured,
      environment: this.environment,
      catalog: this.catalog,
    });
  }

  /**
   * A 2xx answer (pipeline policy, zero-config observation). One field read while no dependency has an
   * open H2 failure; otherwise a 2xx from that host with the same identity ends the episode with a `[recovered]`
   * line and a `diagnostic_credential.recovered` event. `authorization`: the request's headers (`get`) or token.
   */
  #noteSuccess(url: string, authorization?: unknown, status?: number): void {
    if (!this.recovery.watching) return;
    this.onRecovered(safely(() => this.recovery.noteSuccess(url, authorization, status), undefined));
  }

  /**
   * Classifies a downstream answer seen by the policy ("response") or by zero-config observation
   * ("observed"), logs and records it. The same answer seen by both is reported once: the observer waits briefly
   * and stands down when the policy (which has the body) handled it. `report: false`: classify only (the policy
   * reports a challenged 401 once it knows the pipeline did not answer the challenge).
   */
  #diagnoseResponse(response: ResponseLike, token: string | undefined, source: "response" | "observed", report = true): Diagnosis | undefined {
    return safely(() => {
      const key = responseKey(response);
      if (source === "observed" && isHandled(key)) return undefined;
      if (source === "response") markHandled(key);
      // A storm repeats one answer: reuse its diagnosis (still reported below: counted, folded, on the span).
      const now = Date.now();
      const repeatKey = this.repeats.keyOf(response, token);
      let classified = repeatKey !== undefined ? this.repeats.get(repeatKey, now) : undefined;
      if (classified === undefined) {
        classified = classifyResponseWithCatalog(
          response,
          {
            ...(token ? { token } : {}),
            expectedIdentity: this.configured,
            includePersonalClaims: this.includePersonalClaims,
            environment: this.environment,
            ...(response.method ? { method: response.method } : {}),
          },
          this.catalog,
        );
        if (classified === undefined) return undefined;
        if (repeatKey !== undefined) this.repeats.set(repeatKey, classified, now);
      }
      const diagnosis = response.body === undefined ? withoutBodyCaveat(classified) : classified;
      if (report) this.#report(diagnosis, { level: responseLogLevel(response.status, diagnosis), source, url: response.url });
      return diagnosis;
    }, undefined);
  }

  /** Zero-config observation (node:diagnostics_channel) of a 401/403 to a request carrying our token. */
  #observeResponse(input: { url: string; status: number; headers: Record<string, string>; method?: string; token: string }): void {
    const timer = setTimeout(() => {
      const { token, ...response } = input;
      this.#diagnoseResponse(response, token, "observed");
    }, OBSERVER_GRACE_MS);
    timer.unref?.();
  }

  /** The identity this credential was configured for (clientId / resourceId / objectId; empty: system-assigned). */
  get configuredIdentity(): ConfiguredIdentity {
    return { ...this.configured };
  }

  /** Writes folded repeat counts now (before shutdown, or in tests). */
  flushLogs(): void {
    policyChallengeWaits().flush(this.#internals);
    this.logger.flushAll();
  }

  /** A call's outcome: the token as the wrapped credential returned it; a new token is inspected first. */
  private callSucceeded(call: TokenCall, token: AccessToken | null): void {
    if (this.recovery.tokenEpisode !== undefined && token !== null) this.onRecovered(this.recovery.noteTokenSuccess(), call.span);
    // Read once and guarded: a token object is the wrapped credential's, and a throwing getter must still reach the
    // caller as it is, as it would without the wrapper.
    const value = safeGet(token, "token");
    if (typeof value === "string" && value !== call.scope.lastValue) {
      this.inspectNewToken(call, token!, value);
    } else if (call.span !== undefined || this.telemetry.recordsDuration) {
      this.telemetry.endGetTokenSuccess(call.span, call.startedAt, call.scope.key, spanDetails(call));
    }
    call.resolve(token);
  }

  /** The state of a scope key not seen before (or evicted): its scope check runs, once. */
  private newScope(key: string, scopes: string | string[]): ScopeState {
    const state: ScopeState = { key, finding: this.checkScopeOnce(scopes), lastToken: undefined, lastValue: undefined, flights: undefined };
    setCapped(this.scopes, key, state);
    return state;
  }

  private checkScopeOnce(scopes: string | string[]): ScopeFinding | null {
    const finding = safely(() => {
      const problem = checkScope(scopes, this.catalog);
      if (problem === undefined) return null;
      const result: ScopeFinding = { scope: problem.scope, explanation: problem.explanation, reason: problem.reason };
      if (problem.suggestion !== undefined) result.suggestion = problem.suggestion;
      if (problem.service !== undefined) result.service = problem.service;
      return result;
    }, null);
    if (finding !== null) safely(() => this.#report(scopeWarning(finding, this.configured), { level: "warn", source: "scope-check" }), undefined);
    return finding;
  }

  private inspectNewToken(call: TokenCall, token: AccessToken, value: string): void {
    const { scope: state, scopes, span } = call;
    const key = state.key;
    state.lastToken = token;
    state.lastValue = value;
    const expiresOnTimestamp = safeGet(token, "expiresOnTimestamp") as number;
    let warning: Attributes | undefined;
    safely(() => {
      const scope = typeof scopes === "string" ? scopes : (scopes[0] ?? "");
      const claims = decodeTokenClaims(value);
      this.telemetry.noteToken(key, claims, expiresOnTimestamp);
      rememberIssuedToken(value, { scope, claims, issuedAt: Date.now(), owner: this.#internals });
      setCapped(this.latestByAudience, normalizeAudience(scopeToResource(scope)), { token: value, scope });
      const previous = seenIdentities.get(this.selectorKey);
      const problems = checkIssuedToken(claims, {
        scope,
        configured: this.configured,
        ...(previous ? { previous } : {}),
        now: Date.now(),
        expiresOnTimestamp,
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
      for (const problem of problems) this.#report(problem, { level: "warn", source: "token-check" }, span);
      if (problems[0]) warning = { [ATTR.hypothesis]: problems[0].hypothesis, [ATTR.code]: problems[0].code };
    }, undefined);
    this.telemetry.endGetTokenSuccess(span, call.startedAt, key, spanDetails(call), warning);
  }

  /** A recovery: one `[recovered]` line and the `diagnostic_credential.recovered` event (on `span`, else the active one). */
  private onRecovered(recovery: Recovery | undefined, span?: Span): void {
    if (recovery === undefined) return;
    this.logger.logRecovery(
      recovery,
      { containerApp: this.containerApp, platform: diagnosisPlatformOf(this.environment), credentialName: this.credentialName },
      span,
    );
    this.telemetry.recordRecovery(recovery, span);
  }

  private onFailedAttempt(exchange: IdentityExchange): void {
    // The early warning: only for failures the credential will retry (the others end the call at once anyway).
    const retried =
      exchange.errorCode !== undefined ||
      exchange.status === undefined ||
      exchange.status >= 500 ||
      exchange.status === 404 ||
      exchange.status === 410 ||
      exchange.status === 408 ||
      exchange.status === 429;
    if (!retried || exchange.errorCode === "ABORTED") return;
    // Off Azure a refused or unanswered IMDS is expected: the call's outcome decides what (if anything) is logged.
    if (isOffAzureHost(this.environment) && noAnswerAtNetworkLevel([exchange])) return;
    safely(() => {
      const diagnosis = classifyCredentialError(undefined, {
        exchanges: [exchange],
        environment: this.environment,
        configuredIdentity: this.configured,
        credentialName: this.credentialName,
        ...uptimeContext(),
      });
      if (diagnosis === undefined || diagnosis.code !== "IdentityEndpointUnreachable") return;
      this.#report({ ...diagnosis, summary: `${diagnosis.summary}; ${this.credentialName} is retrying` }, { level: "warn", source: "identity-endpoint" });
    }, undefined);
  }

  /**
   * A failed (or timed-out) call to the wrapped credential: classify, attach, log once, whoever waits on it (`first`:
   * the waiter whose span carries the diagnosis event). When the identity endpoint is unreachable (H5) and this
   * credential still holds a valid token for the scope, the outcome is that last good token instead (MSAL's proactive
   * refresh fails on a network error although its cached token is still valid).
   */
  private diagnoseFailure(flight: TokenCall, first: TokenCall, error: unknown, timedOutAfterMs?: number): FailureOutcome {
    const exchanges = this.exchanges.since(flight.exchangeMark);
    const diagnosis = safely(
      () =>
        classifyCredentialError(error, {
          exchanges,
          environment: this.environment,
          configuredIdentity: this.configured,
          scopes: flight.scopes,
          ...(flight.scope.finding ? { scopeFinding: flight.scope.finding } : {}),
          ...(timedOutAfterMs !== undefined ? { timedOutAfterMs } : {}),
          credentialName: this.credentialName,
          ...uptimeContext(),
          ...this.workloadContext(),
        }),
      undefined,
    );
    const errorName = safely(() => (error instanceof Error ? error.name : "Error"), "Error");
    const lastGood = flight.scope.lastToken;
    const lastGoodExpiry = safeGet(lastGood, "expiresOnTimestamp");
    if (
      this.lastGoodTokenFallback &&
      diagnosis?.code === "IdentityEndpointUnreachable" &&
      lastGood !== undefined &&
      typeof lastGoodExpiry === "number" &&
      lastGoodExpiry - Date.now() > LAST_GOOD_MIN_VALIDITY_MS
    ) {
      safely(() => {
        const validUntil = new Date(lastGoodExpiry).toISOString();
        this.#report(
          {
            ...diagnosis,
            summary: `${diagnosis.summary}; returned the last good token for ${flight.scope.key} (valid until ${validUntil}) instead of failing`,
          },
          { level: "warn", source: "last-good-token", errorName },
          first.span,
        );
      }, undefined);
      return { diagnosis, errorName, attempts: exchanges.length, lastGood };
    }
    if (diagnosis !== undefined) {
      safely(() => {
        attachDiagnosis(error, diagnosis, { asProperty: true });
        appendSummary(error, diagnosis);
        if (!isExpectedOffAzure(this.environment, diagnosis, exchanges, error)) {
          this.#report(diagnosis, { level: "error", source: "getToken", errorName }, first.span);
        } else if (!offAzure.noticed) {
          // Expected fall-through off Azure: one info line per process, not an error per call (README, "Off Azure").
          offAzure.noticed = true;
          this.#report(offAzureNotice(diagnosis), { level: "info", source: "getToken", errorName }, first.span);
        } else {
          this.telemetry.recordDiagnosis(diagnosis, "getToken", first.span);
        }
      }, undefined);
    }
    return { diagnosis, errorName, attempts: exchanges.length, lastGood: undefined };
  }

  /**
   * Workload identity's facts for a failure: the projected token's claims (read now, bounded) and the Entra exchanges
   * of the last two minutes (the call's own are among them; the exchange log's mark does not see them).
   */
  private workloadContext(): { workloadIdentity?: ReturnType<typeof workloadIdentityContextOf> } {
    const context = safely(() => workloadIdentityContextOf(this.workload, Date.now() - WORKLOAD_EXCHANGE_WINDOW_MS), undefined);
    return context !== undefined ? { workloadIdentity: context } : {};
  }

  /** One caller's failure: its span and duration, then the error (or the last good token) as the outcome says. */
  private callFailed(call: TokenCall, error: unknown, outcome: FailureOutcome): void {
    if (outcome.lastGood !== undefined) {
      this.telemetry.endGetTokenSuccess(call.span, call.startedAt, call.scope.key, spanDetails(call));
      call.resolve(outcome.lastGood);
      return;
    }
    this.telemetry.endGetTokenFailure(
      call.span,
      call.startedAt,
      outcome.diagnosis,
      outcome.errorName,
      { [ATTR.identityEndpointAttempts]: outcome.attempts },
      call.scope.key,
    );
    call.reject(error);
  }
}

/** What a recording span adds about the call (cache age, identity-endpoint attempts); undefined otherwise. */
function spanDetails(call: TokenCall): { callStart: number; exchangeMark: number } | undefined {
  if (call.span === undefined || !call.span.isRecording()) return undefined;
  // The wall-clock time (ms epoch) at which the call started (`startedAt` is on the monotonic clock).
  return { callStart: Math.floor(Date.now() - (performance.now() - call.startedAt)), exchangeMark: call.exchangeMark };
}

/** Most scopes (and audiences) whose last token one credential remembers; an app uses a handful. */
const MAX_REMEMBERED_SCOPES = 256;

/** Map.set that keeps the map at most MAX_REMEMBERED_SCOPES entries, dropping the least recently set. */
function setCapped<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_REMEMBERED_SCOPES) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
}

function appendSummary(error: unknown, diagnosis: Diagnosis): void {
  if (!(error instanceof Error) || (error as { diagnosisAppended?: boolean }).diagnosisAppended) return;
  try {
    const line = formatLogMessage(diagnosis, {});
    error.message = `${error.message}\n${line}`;
    Object.defineProperty(error, "diagnosisAppended", { value: true, enumerable: false });
  } catch (fault) {
    recordInternalFault(fault);
  }
}

/**
 * The wrapped credential's answer as a promise, as `await` would see it: a synchronous throw becomes a rejection, a
 * plain value (a getToken that is not async) or a thenable becomes a promise of it.
 */
function callInner(inner: TokenCredential, scopes: string | string[], options: GetTokenOptions | undefined): Promise<AccessToken | null> {
  try {
    return Promise.resolve(inner.getToken(scopes, options));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Calls the wrapped credential inside the context of our span, so that its own span (ManagedIdentityCredential.getToken)
 * and the HTTP spans under it are children of ours. Azure SDK credentials take their parent from
 * `tracingOptions.tracingContext` when the caller gives one (an SDK client's pipeline does): there our span replaces
 * the caller's in a copy of that context. Only with a span, i.e. an OpenTelemetry SDK registered: no context work otherwise.
 */
function callInnerInSpan(inner: TokenCredential, scopes: string | string[], options: GetTokenOptions | undefined, span: Span): Promise<AccessToken | null> {
  let given = options;
  let active: Context;
  try {
    active = trace.setSpan(context.active(), span);
    const tracingOptions = options?.tracingOptions;
    const tracingContext = tracingOptions?.tracingContext;
    if (tracingContext !== undefined && tracingContext !== null) {
      given = {
        ...options,
        tracingOptions: { ...tracingOptions, tracingContext: trace.setSpan(tracingContext as unknown as Context, span) as unknown as typeof tracingContext },
      };
    }
  } catch (fault) {
    recordInternalFault(fault);
    return callInner(inner, scopes, options);
  }
  return context.with(active, callInner, undefined, inner, scopes, given);
}

/** GetTokenOptions keys that do not change the token: calls that differ only in them share one call. */
function shareableOptions(options: GetTokenOptions, claims: unknown, tenantId: unknown): boolean {
  if ((claims !== undefined && typeof claims !== "string") || (tenantId !== undefined && typeof tenantId !== "string")) return false;
  for (const name in options) {
    switch (name) {
      case "abortSignal":
      case "requestOptions":
      case "tracingOptions":
      case "claims":
      case "tenantId":
      case "enableCae":
        continue;
      default:
        // Proof-of-possession options, or anything newer than this code: such a call gets a call of its own.
        if ((options as Record<string, unknown>)[name] !== undefined) return false;
    }
  }
  return true;
}

/** A copy of the caller's options with another abort signal; undefined when they cannot be copied. */
function withAbortSignal(options: GetTokenOptions, signal: AbortSignal): GetTokenOptions | undefined {
  try {
    return { ...options, abortSignal: signal };
  } catch {
    return undefined;
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
    rule: ruleOf(RULE_SOURCES.scopeCheck, finding.reason ?? "suspicious"),
    checks: [{ kind: CHECK_KINDS.scope, ...(finding.suggestion ? { expected: finding.suggestion } : {}), actual: finding.scope, verdict: "fail" }],
    nextSteps: [finding.suggestion ? `Request ${finding.suggestion}` : "Request the target service's documented `<audience>/.default` scope"],
    identity: { kind: configured.clientId || configured.resourceId || configured.objectId ? "user-assigned" : "system-assigned" },
    token: { scope: finding.scope },
    ...(finding.service ? { service: finding.service } : {}),
  });
}
