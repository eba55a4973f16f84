/**
 * runSmokeTest: the runbook's "deployment smoke test that acquires a token and calls each dependency", as one call.
 * It reads the environment the Azure SDK reads, probes the identity endpoint, requests a token per scope through a
 * DiagnosticCredential and calls each dependency with it, and explains every failure with a Diagnosis.
 *
 * Never throws for a failing step; every step has its own time limit. Never puts a token or IDENTITY_HEADER in the
 * report: claims only.
 */
import http from "node:http";
import https from "node:https";
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { createHttpHeaders, createPipelineRequest, type HttpClient, type HttpMethods } from "@azure/core-rest-pipeline";
import { CredentialUnavailableError } from "@azure/identity";
import { catalogFor, hostOf, normalizeAudience, scopeToResource, type ServiceCatalog } from "../catalog/resolve.js";
import type { ServiceDefinitionInput } from "../catalog/types.js";
import { classifyCredentialError, type ConfiguredIdentity } from "../classify/credentialError.js";
import { checkIssuedToken } from "../classify/issuedToken.js";
import { classifyResponseWithCatalog } from "../classify/response.js";
import { DiagnosticCredential } from "../credential/diagnosticCredential.js";
import { getDiagnosis } from "../diagnosis/attach.js";
import { makeDiagnosis } from "../diagnosis/build.js";
import { credentialInternalsOf } from "../credential/internals.js";
import { redact, registerOpaqueToken } from "../util/redact.js";
import type { Diagnosis, IdentityKind } from "../diagnosis/types.js";
import { readHostEnvironment, sanitizeEndpoint, type ContainerAppContext, type HostEnvironment } from "../environment/hostEnvironment.js";
import { clientIdOf, decodeTokenClaims, identityKindOf } from "../jwt/claims.js";
import type { DiagnosisLogEntry } from "../logging/logEntry.js";

/** The scope tested when neither scopes nor dependencies are given: Resource Manager's, which any identity gets a token for. */
export const DEFAULT_SMOKE_TEST_SCOPE = "https://management.azure.com/.default";
/** Default time limit of one step (probe, token, dependency call), in milliseconds. */
export const DEFAULT_SMOKE_TEST_TIMEOUT_MS = 10_000;
/** The identity-endpoint probe never waits longer than this, whatever `timeoutMs` says. */
const MAX_PROBE_MS = 3_000;
/** Bodies of dependency answers are read up to this size (what classification reads). */
const MAX_BODY_CHARS = 64 * 1024;
const IMDS_TOKEN_URL = "http://169.254.169.254/metadata/identity/oauth2/token";

/** One dependency to call: a URL, or the URL with the scope, method, headers and the statuses that count as success. */
export interface SmokeTestDependency {
  /** The https URL to call (a bearer token is only sent over TLS). */
  url: string;
  /** Scope of the token to send. Default: the catalog's scope for the URL's host (`scopeForUrl`). */
  scope?: string;
  /** HTTP method. Default `GET`. */
  method?: string;
  /** Extra request headers (`Authorization` is set by the smoke test). */
  headers?: Record<string, string>;
  /** Request body, for methods that take one. */
  body?: string;
  /** Statuses that count as success. Default: any 2xx. */
  expectStatus?: number | number[];
}

/** What the smoke test reports about one step as it starts: for progress lines. */
export interface SmokeTestProgress {
  /** The step that starts, in this order: environment, identity-endpoint probe, each token, the dependencies. */
  step: "environment" | "identity-endpoint" | "token" | "dependency";
  /** The endpoint, scope or URL being worked on. */
  target?: string;
}

/** Options of {@link runSmokeTest}. */
export interface SmokeTestOptions {
  /**
   * The credential to test. A DiagnosticCredential is used as is; any other TokenCredential is wrapped in one.
   * Default: `new DiagnosticCredential(clientId)` (ManagedIdentityCredential underneath), as the app would make it.
   */
  credential?: TokenCredential;
  /** Client id of the user-assigned identity to test (default credential), or the one meant (given credential). */
  clientId?: string;
  /** Dependencies to call with a token. */
  dependencies?: Array<string | SmokeTestDependency>;
  /**
   * Scopes to request a token for, besides the dependencies' scopes. When neither `scopes` nor `dependencies` is
   * given: `https://management.azure.com/.default`.
   */
  scopes?: string[];
  /** Time limit of each step (identity-endpoint probe, each token, each dependency call), ms. Default 10,000. */
  timeoutMs?: number;
  /**
   * The `fetch` that calls the dependencies. Default `globalThis.fetch`. Pass one with your own agent/dispatcher
   * to trust a private CA (or start the process with `NODE_EXTRA_CA_CERTS`).
   */
  fetch?: typeof fetch;
  /**
   * An `@azure/core-rest-pipeline` HttpClient that calls the dependencies instead of `fetch` (for example the
   * service emulators' `httpClient`, which routes real host names to local emulators).
   */
  httpClient?: HttpClient;
  /** Extra hosts/services for the catalog (scope lookup and classification), as DiagnosticCredential's option. */
  services?: ServiceDefinitionInput[];
  /** Probe the identity endpoint (plain HTTP, no secret sent). Default true. */
  probeIdentityEndpoint?: boolean;
  /**
   * Log sink of the DiagnosticCredential the smoke test makes (default credential, or the wrapper of a given one).
   * Default `false`: the report carries every diagnosis.
   */
  logger?: false | ((entry: DiagnosisLogEntry) => void);
  /** Called as each step starts (progress display). */
  onProgress?: (progress: SmokeTestProgress) => void;
}

/** The Container Apps replica, from its environment variables. */
export type SmokeTestContainerApp = ContainerAppContext;

/**
 * What the process environment says about managed identity, as the Azure SDK reads it (the same reading the
 * credential makes), plus what the test asked for. No secret values.
 */
export interface SmokeTestEnvironment extends HostEnvironment {
  /** The identity the test asked for (`clientId`, or the given DiagnosticCredential's). Empty: system-assigned. */
  configuredIdentity: {
    /** Client id of the user-assigned identity asked for. */
    clientId?: string;
    /** ARM resource id of the user-assigned identity asked for. */
    resourceId?: string;
    /** Object (principal) id of the user-assigned identity asked for. */
    objectId?: string;
  };
  /** `process.version`. */
  nodeVersion: string;
  /** Hints about the environment worth reading first (one line each). */
  notes: string[];
}

/** Whether the identity endpoint answers at all: a plain HTTP request without any secret. */
export interface SmokeTestIdentityEndpoint {
  /** The URL probed (no query string). */
  url?: string;
  /** Any HTTP answer came (whatever its status). False when the probe failed or was skipped. */
  reachable: boolean;
  /** Time to the first byte of the answer, ms. */
  latencyMs?: number;
  /** Time to the TCP connection, ms. */
  connectMs?: number;
  /** Status of the answer (a 400/401 is normal: the probe sends no credentials and asks for no token). */
  status?: number;
  /** Why it is not reachable: refused, reset, no answer in time, malformed URL… */
  error?: string;
  /** The transport error code: ECONNREFUSED, ECONNRESET, TIMEOUT, ENOTFOUND, … */
  errorCode?: string;
  /** Set when no probe was made, with the reason. */
  skipped?: string;
}

/** The claims of an issued token worth showing: who it is for and who it is. Never the token. */
export interface SmokeTestTokenClaims {
  /** Audience: the resource the token is for. */
  aud?: string;
  /** Issuer: names the tenant and the cloud. */
  iss?: string;
  /** Tenant id. */
  tid?: string;
  /** Object (principal) id: what role assignments name. */
  oid?: string;
  /** Client id (`appid`, or `azp` in v2 tokens). */
  appid?: string;
  /** Managed identity resource id. */
  xms_mirid?: string;
  /** Kind of caller: `app` for an app or managed identity, `user` for a person. */
  idtyp?: string;
  /** Token version: "1.0" or "2.0". */
  ver?: string;
  /** User- or system-assigned, read from `xms_mirid`; `unknown` without it. */
  identityKind: IdentityKind;
  /** `iat`, ISO 8601. */
  issuedAt?: string;
  /** `nbf`, ISO 8601. */
  notBefore?: string;
  /** `exp`, ISO 8601. */
  expiresAt?: string;
}

/** One token request. */
export interface SmokeTestToken {
  /** The scope requested. */
  scope: string;
  /** A token was issued and nothing is wrong with it (audience, lifetime, identity). */
  ok: boolean;
  /** Claims of the issued token (undefined when none was issued, or it is not a JWT). */
  claims?: SmokeTestTokenClaims;
  /** `expiresOnTimestamp` of the AccessToken, ISO 8601. */
  expiresAt?: string;
  /** Why the token was not issued, or what is wrong with it (the first problem; the others are in the report's `diagnoses`). */
  diagnosis?: Diagnosis;
  /** The error's name and first line, when no token was issued. */
  error?: string;
  /** Time the request took, ms. */
  durationMs: number;
}

/** One dependency call. */
export interface SmokeTestDependencyResult {
  /** The dependency's URL as given, redacted. */
  url: string;
  /** HTTP method used, upper case. */
  method: string;
  /** Scope of the token sent. Undefined when no scope is known for the host (then nothing was sent). */
  scope?: string;
  /** The catalog's scope for the host, when it differs from `scope`. */
  expectedScope?: string;
  /** Catalog name of the service: "keyvault", "storage", … */
  service?: string;
  /** It answered with an expected status (`expectStatus`, default any 2xx). */
  ok: boolean;
  /** HTTP status of the answer. Absent when it was not called or no answer came. */
  status?: number;
  /** Why a 401/403 answer was refused. Absent for other answers and when a 401/403 was expected. */
  diagnosis?: Diagnosis;
  /** Time the call took, ms. */
  durationMs: number;
  /** What went wrong when there is no diagnosis: a network error, a timeout, an unexpected status, no token. */
  error?: string;
  /** The kind of failure: "network", "timeout", "status", "no-token", "no-scope". */
  failure?: "network" | "timeout" | "status" | "no-token" | "no-scope";
  /** Transport error code of a network failure (ECONNREFUSED, ENOTFOUND, CERT_HAS_EXPIRED, …). */
  errorCode?: string;
  /** What the smoke test added to the request for the service (e.g. `api-version=7.5`). */
  notes?: string[];
}

/** What {@link runSmokeTest} found. */
export interface SmokeTestReport {
  /** Every token issued and sound, every dependency answered as expected. */
  ok: boolean;
  /** Start time, ISO 8601. */
  startedAt: string;
  /** Time the whole test took, ms. */
  durationMs: number;
  /** What the environment says about managed identity. */
  environment: SmokeTestEnvironment;
  /** The identity-endpoint probe. */
  identityEndpoint: SmokeTestIdentityEndpoint;
  /** One entry per scope requested, in order. */
  tokens: SmokeTestToken[];
  /** One entry per dependency, in the order given. */
  dependencies: SmokeTestDependencyResult[];
  /** Every distinct diagnosis, in the order found. */
  diagnoses: Diagnosis[];
}

/**
 * Runs the smoke test: environment, identity-endpoint probe, one token per scope (claims only), one authenticated
 * call per dependency, a Diagnosis for every failure. Resolves with the report; never rejects for a failing step.
 *
 * @example
 * ```ts
 * const report = await runSmokeTest({ dependencies: ["https://myvault.vault.azure.net/secrets/db-password"] });
 * if (!report.ok) for (const d of report.diagnoses) console.error(d.hypothesis, d.summary);
 * ```
 */
export async function runSmokeTest(options: SmokeTestOptions = {}): Promise<SmokeTestReport> {
  const started = Date.now();
  const startedPerf = performance.now();
  const timeoutMs = validTimeout(options.timeoutMs);
  const services = Array.isArray(options.services) ? options.services : [];
  const catalog = safeCall(() => catalogFor(services), catalogFor());
  const progress = (p: SmokeTestProgress) => safeCall(() => options.onProgress?.(p), undefined);

  progress({ step: "environment" });
  const hostEnvironment = readHostEnvironment();
  const { credential, configured, credentialName } = makeCredential(options, timeoutMs);
  const environment = describeEnvironment(hostEnvironment, configured);

  // Identity endpoint.
  let identityEndpoint: SmokeTestIdentityEndpoint;
  if (options.probeIdentityEndpoint === false) {
    identityEndpoint = { reachable: false, skipped: "probe turned off" };
  } else {
    const target = probeTarget(hostEnvironment);
    if (target.url !== undefined) progress({ step: "identity-endpoint", target: target.url });
    identityEndpoint = await probeIdentityEndpoint(target, Math.min(timeoutMs, MAX_PROBE_MS));
  }

  // Dependencies: normalise and settle each one's scope.
  const dependencies = (Array.isArray(options.dependencies) ? options.dependencies : []).map((d) => normalizeDependency(d, catalog));
  const scopes: string[] = [];
  const addScope = (scope: string | undefined) => {
    if (typeof scope === "string" && scope.length > 0 && !scopes.includes(scope)) scopes.push(scope);
  };
  for (const scope of Array.isArray(options.scopes) ? options.scopes : []) addScope(scope);
  for (const dependency of dependencies) addScope(dependency.scope);
  if (scopes.length === 0 && dependencies.length === 0) scopes.push(DEFAULT_SMOKE_TEST_SCOPE);

  // Tokens, one scope after the other (as an app asks for them).
  const tokens: SmokeTestToken[] = [];
  const issued = new Map<string, AccessToken>();
  const tokenProblems: Diagnosis[] = [];
  for (const scope of scopes) {
    progress({ step: "token", target: scope });
    const result = await requestToken(credential, scope, {
      timeoutMs,
      configured,
      hostEnvironment,
      catalog,
      credentialName,
    });
    tokens.push(result.entry);
    tokenProblems.push(...result.problems);
    if (result.token !== undefined) issued.set(scope, result.token);
  }

  // Dependencies, concurrently.
  const send = makeSender(options);
  const dependencyResults = await Promise.all(
    dependencies.map(async (dependency) => {
      progress({ step: "dependency", target: dependency.url });
      return callDependency(dependency, {
        token: dependency.scope !== undefined ? issued.get(dependency.scope) : undefined,
        timeoutMs,
        send,
        services,
        configured,
        hostEnvironment,
      });
    }),
  );

  const diagnoses: Diagnosis[] = [];
  const seen = new Set<string>();
  const addDiagnosis = (diagnosis: Diagnosis | undefined) => {
    if (diagnosis === undefined) return;
    const key = `${diagnosis.code}\u0000${diagnosis.summary}`;
    if (seen.has(key)) return;
    seen.add(key);
    diagnoses.push(diagnosis);
  };
  for (const token of tokens) addDiagnosis(token.diagnosis);
  for (const problem of tokenProblems) addDiagnosis(problem);
  for (const dependency of dependencyResults) addDiagnosis(dependency.diagnosis);

  const endpointOk = identityEndpoint.reachable || identityEndpoint.skipped !== undefined || tokens.some((t) => t.ok);
  return {
    ok: endpointOk && tokens.every((t) => t.ok) && dependencyResults.every((d) => d.ok),
    startedAt: new Date(started).toISOString(),
    durationMs: Math.round(performance.now() - startedPerf),
    environment,
    identityEndpoint,
    tokens,
    dependencies: dependencyResults,
    diagnoses,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Credential and environment
// ---------------------------------------------------------------------------------------------------------------

/** A DiagnosticCredential of any copy of the library (CJS and ESM in one app): it is in the process-wide registry. */
function isDiagnosticCredential(credential: TokenCredential): credential is DiagnosticCredential {
  return credentialInternalsOf(credential) !== undefined;
}

function makeCredential(options: SmokeTestOptions, timeoutMs: number): { credential: TokenCredential; configured: ConfiguredIdentity; credentialName: string } {
  const clientId = typeof options.clientId === "string" && options.clientId.length > 0 ? options.clientId : undefined;
  const logger = options.logger ?? false;
  if (options.credential !== undefined && options.credential !== null) {
    if (isDiagnosticCredential(options.credential)) {
      const known = safeCall(() => credentialInternalsOf(options.credential)?.configuredIdentity, undefined);
      const configured: ConfiguredIdentity = { ...(known ?? {}) };
      if (clientId !== undefined && configured.clientId === undefined) configured.clientId = clientId;
      return { credential: options.credential, configured, credentialName: "DiagnosticCredential" };
    }
    const configured: ConfiguredIdentity = clientId !== undefined ? { clientId } : {};
    return {
      credential: new DiagnosticCredential({ credential: options.credential, ...(clientId !== undefined ? { clientId } : {}), logger, tokenTimeoutMs: timeoutMs, services: options.services ?? [] }),
      configured,
      credentialName: options.credential.constructor?.name || "TokenCredential",
    };
  }
  const configured: ConfiguredIdentity = clientId !== undefined ? { clientId } : {};
  return {
    credential: new DiagnosticCredential({
      ...(clientId !== undefined ? { clientId } : {}),
      logger,
      tokenTimeoutMs: timeoutMs,
      services: options.services ?? [],
      // A smoke test wants an answer, not the full back-off (which is 5–20 s for a refused or failing endpoint).
      retryOptions: { maxRetries: 2 },
    }),
    configured,
    credentialName: "ManagedIdentityCredential",
  };
}

function describeEnvironment(env: HostEnvironment, configured: ConfiguredIdentity): SmokeTestEnvironment {
  const out: SmokeTestEnvironment = {
    ...env,
    containerApp: { ...env.containerApp },
    configuredIdentity: { ...configured },
    nodeVersion: process.version,
    notes: [],
  };
  // Endpoint URLs are already sanitised (no query); redaction is the last guard before a report leaves.
  if (env.identityEndpoint !== undefined) out.identityEndpoint = redact(env.identityEndpoint);
  if (env.msiEndpoint !== undefined) out.msiEndpoint = redact(env.msiEndpoint);
  if (env.imdsHostOverride !== undefined) out.imdsHostOverride = redact(env.imdsHostOverride);

  const selected = configured.clientId ?? configured.resourceId ?? configured.objectId;
  if (env.azureClientId !== undefined && selected === undefined) {
    out.notes.push(
      `AZURE_CLIENT_ID=${env.azureClientId} is set: DefaultAzureCredential uses that user-assigned identity, a standalone ManagedIdentityCredential does not (this test used the system-assigned identity; pass the client id to test that one)`,
    );
  } else if (env.azureClientId !== undefined && configured.clientId !== undefined && configured.clientId.toLowerCase() !== env.azureClientId.toLowerCase()) {
    out.notes.push(`AZURE_CLIENT_ID=${env.azureClientId} differs from the client id tested (${configured.clientId}): DefaultAzureCredential would use AZURE_CLIENT_ID`);
  }
  if ((env.hostKind === "container-apps" || env.hostKind === "container-apps-job") && env.identityEndpoint === undefined) {
    out.notes.push("Container Apps sets IDENTITY_ENDPOINT and IDENTITY_HEADER only when a managed identity is assigned to the app: none is set here");
  }
  if (env.identityEndpoint !== undefined && !env.identityHeaderSet && env.source === "DefaultToImds") {
    out.notes.push("IDENTITY_ENDPOINT is set without IDENTITY_HEADER: the Azure SDK ignores it and falls back to IMDS");
  }
  if (env.identityEndpointMalformed) out.notes.push("IDENTITY_ENDPOINT is not a valid http(s) URL");
  if (env.workloadIdentity) out.notes.push("AKS workload identity is configured (AZURE_FEDERATED_TOKEN_FILE, AZURE_TENANT_ID): the SDK exchanges the federated token with Entra ID");
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Identity-endpoint probe
// ---------------------------------------------------------------------------------------------------------------

interface ProbeTarget {
  url?: string;
  malformed?: string;
  skipped?: string;
}

function probeTarget(env: HostEnvironment): ProbeTarget {
  switch (env.source) {
    case "ServiceFabric":
    case "AppService":
    case "AzureArc":
      if (env.identityEndpointMalformed) return { malformed: "IDENTITY_ENDPOINT is not a valid http(s) URL" };
      return env.identityEndpoint !== undefined ? { url: env.identityEndpoint } : { skipped: "IDENTITY_ENDPOINT is not set" };
    case "MachineLearning":
    case "CloudShell":
      return env.msiEndpoint !== undefined ? { url: env.msiEndpoint } : { malformed: "MSI_ENDPOINT is not a valid http(s) URL" };
    case "DefaultToImds": {
      if (env.imdsHostOverride !== undefined) {
        const base = sanitizeEndpoint(env.imdsHostOverride);
        if (base === undefined) return { malformed: "AZURE_POD_IDENTITY_AUTHORITY_HOST is not a valid http(s) URL" };
        return { url: `${base.replace(/\/+$/, "")}/metadata/identity/oauth2/token` };
      }
      return { url: IMDS_TOKEN_URL };
    }
  }
}

/** A plain GET without query string or secret: any HTTP answer (400/401 included) means the endpoint is reachable. */
export async function probeIdentityEndpoint(target: ProbeTarget, timeoutMs: number): Promise<SmokeTestIdentityEndpoint> {
  if (target.skipped !== undefined) return { reachable: false, skipped: target.skipped };
  if (target.malformed !== undefined || target.url === undefined) {
    return { reachable: false, error: target.malformed ?? "no identity endpoint", errorCode: "ERR_INVALID_URL" };
  }
  const url = target.url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url, reachable: false, error: "not a valid URL", errorCode: "ERR_INVALID_URL" };
  }
  const startedAt = performance.now();
  return new Promise<SmokeTestIdentityEndpoint>((resolve) => {
    let done = false;
    let connectMs: number | undefined;
    const finish = (result: SmokeTestIdentityEndpoint) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      request.destroy();
      resolve({ url, ...result, ...(connectMs !== undefined ? { connectMs } : {}) });
    };
    const transport = parsed.protocol === "https:" ? https : http;
    const request = transport.request(
      parsed,
      {
        method: "GET",
        agent: false,
        headers: { "user-agent": "diagnostic-credential-doctor" },
        // The probe sends no secret: a TLS endpoint with a private certificate (Service Fabric) still counts as reachable.
        ...(parsed.protocol === "https:" ? { rejectUnauthorized: false } : {}),
      },
      (response) => {
        const latencyMs = Math.round(performance.now() - startedAt);
        response.resume();
        finish({ reachable: true, latencyMs, ...(response.statusCode !== undefined ? { status: response.statusCode } : {}) });
      },
    );
    request.on("socket", (socket) => {
      socket.once("connect", () => {
        connectMs = Math.round(performance.now() - startedAt);
      });
    });
    request.on("error", (error: NodeJS.ErrnoException) => {
      const code = typeof error.code === "string" ? error.code : "ERROR";
      finish({ reachable: false, errorCode: code, error: redact(`${code}: ${error.message}`.slice(0, 300)) });
    });
    const timer = setTimeout(() => {
      finish({
        reachable: false,
        errorCode: "TIMEOUT",
        error:
          connectMs !== undefined
            ? `accepted the connection but did not answer within ${timeoutMs} ms`
            : `no connection within ${timeoutMs} ms`,
      });
    }, timeoutMs);
    request.end();
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------------------------

interface TokenContext {
  timeoutMs: number;
  configured: ConfiguredIdentity;
  hostEnvironment: HostEnvironment;
  catalog: ServiceCatalog;
  credentialName: string;
}

async function requestToken(
  credential: TokenCredential,
  scope: string,
  context: TokenContext,
): Promise<{ entry: SmokeTestToken; token?: AccessToken; problems: Diagnosis[] }> {
  const startedAt = performance.now();
  const elapsed = () => Math.round(performance.now() - startedAt);
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  // A backstop for credentials that do not honour their own time limit (a given DiagnosticCredential may have none).
  // It waits out the credential's own deadline (which fires up to two watchdog ticks after the limit) so that one
  // speaks first; either way the message states the limit the caller gave, not the backstop's.
  const watchdogTick = Math.max(10, Math.min(250, Math.floor(context.timeoutMs / 8)));
  const backstopMs = context.timeoutMs + 2 * watchdogTick + 100;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve("timeout");
    }, backstopMs);
  });
  try {
    const outcome = await Promise.race([
      Promise.resolve()
        .then(() => credential.getToken(scope, { abortSignal: controller.signal }))
        .then(
          (token) => ({ token }),
          (error: unknown) => ({ error }),
        ),
      timeout,
    ]);
    if (outcome === "timeout") {
      const error = new CredentialUnavailableError(`${context.credentialName} returned no token within ${context.timeoutMs} ms`);
      const diagnosis =
        classifyCredentialError(error, {
          environment: context.hostEnvironment,
          configuredIdentity: context.configured,
          scopes: scope,
          timedOutAfterMs: context.timeoutMs,
          credentialName: context.credentialName,
        }) ?? unknownTokenFailure(scope, error);
      return { entry: { scope, ok: false, diagnosis, error: errorLine(error), durationMs: elapsed() }, problems: [] };
    }
    if ("error" in outcome) {
      const diagnosis =
        getDiagnosis(outcome.error) ??
        classifyCredentialError(outcome.error, {
          environment: context.hostEnvironment,
          configuredIdentity: context.configured,
          scopes: scope,
          credentialName: context.credentialName,
        }) ??
        unknownTokenFailure(scope, outcome.error);
      return { entry: { scope, ok: false, diagnosis, error: errorLine(outcome.error), durationMs: elapsed() }, problems: [] };
    }
    const token = outcome.token;
    if (token === null || typeof token !== "object" || typeof token.token !== "string" || token.token.length === 0) {
      const diagnosis = makeDiagnosis("Unknown", {
        confidence: "low",
        summary: `The credential returned no token for ${scope}`,
        evidence: [`getToken(${scope}) resolved with ${token === null ? "null" : typeof token}`],
        nextSteps: ["Check which credential the app builds and whether it applies in this environment"],
        token: { scope },
      });
      return { entry: { scope, ok: false, diagnosis, error: "no token returned", durationMs: elapsed() }, problems: [] };
    }
    // Opaque tokens are not caught by the JWT pattern of redaction: register this one (the latest few are kept).
    registerOpaqueToken(token.token);
    const decoded = decodeTokenClaims(token.token);
    const problems = safeCall(
      () =>
        checkIssuedToken(decoded, {
          scope,
          configured: context.configured,
          now: Date.now(),
          ...(Number.isFinite(token.expiresOnTimestamp) ? { expiresOnTimestamp: token.expiresOnTimestamp } : {}),
          environment: context.hostEnvironment,
          catalog: context.catalog,
        }),
      [] as Diagnosis[],
    );
    const entry: SmokeTestToken = { scope, ok: problems.length === 0, durationMs: elapsed() };
    if (decoded !== undefined) entry.claims = claimsSummary(decoded);
    if (Number.isFinite(token.expiresOnTimestamp)) entry.expiresAt = isoOrUndefined(token.expiresOnTimestamp) ?? String(token.expiresOnTimestamp);
    if (problems[0] !== undefined) entry.diagnosis = problems[0];
    return { entry, token, problems: problems.slice(1) };
  } finally {
    clearTimeout(timer);
  }
}

function claimsSummary(claims: NonNullable<ReturnType<typeof decodeTokenClaims>>): SmokeTestTokenClaims {
  const out: SmokeTestTokenClaims = {
    aud: claims.aud,
    iss: claims.iss,
    tid: claims.tid,
    oid: claims.oid,
    appid: clientIdOf(claims),
    xms_mirid: claims.xms_mirid,
    idtyp: claims.idtyp,
    ver: claims.ver,
    identityKind: identityKindOf(claims),
    issuedAt: claims.iat !== undefined ? isoOrUndefined(claims.iat * 1000) : undefined,
    notBefore: claims.nbf !== undefined ? isoOrUndefined(claims.nbf * 1000) : undefined,
    expiresAt: claims.exp !== undefined ? isoOrUndefined(claims.exp * 1000) : undefined,
  };
  for (const key of Object.keys(out) as Array<keyof SmokeTestTokenClaims>) if (out[key] === undefined) delete out[key];
  return out;
}

function unknownTokenFailure(scope: string, error: unknown): Diagnosis {
  return makeDiagnosis("Unknown", {
    confidence: "low",
    summary: `No token for ${scope}: ${errorLine(error)}`,
    evidence: [`error: ${errorLine(error)}`],
    nextSteps: ["Run the app's own credential chain with AZURE_LOG_LEVEL=verbose to see which credential failed and why"],
    token: { scope },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Dependencies
// ---------------------------------------------------------------------------------------------------------------

interface NormalizedDependency {
  url: string;
  method: string;
  scope?: string;
  expectedScope?: string;
  service?: string;
  headers: Record<string, string>;
  body?: string;
  expectStatus?: number[];
  invalid?: string;
}

function normalizeDependency(input: string | SmokeTestDependency, catalog: ServiceCatalog): NormalizedDependency {
  const raw: SmokeTestDependency = typeof input === "string" ? { url: input } : input !== null && typeof input === "object" ? input : { url: String(input) };
  const url = typeof raw.url === "string" ? raw.url : String(raw.url);
  const method = (typeof raw.method === "string" && raw.method.length > 0 ? raw.method : "GET").toUpperCase();
  const out: NormalizedDependency = { url, method, headers: {} };
  if (raw.headers !== null && typeof raw.headers === "object") {
    for (const [key, value] of Object.entries(raw.headers)) if (typeof value === "string") out.headers[key] = value;
  }
  if (typeof raw.body === "string") out.body = raw.body;
  if (raw.expectStatus !== undefined) {
    const list = (Array.isArray(raw.expectStatus) ? raw.expectStatus : [raw.expectStatus]).filter((s): s is number => typeof s === "number" && Number.isInteger(s));
    if (list.length > 0) out.expectStatus = list;
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    out.invalid = "not a valid URL";
  }
  if (parsed !== undefined && parsed.protocol !== "https:") out.invalid = "not an https URL (a bearer token is only sent over TLS)";
  const catalogScope = parsed !== undefined ? safeCall(() => catalog.scopeForUrl(parsed), undefined) : undefined;
  const service = parsed !== undefined ? safeCall(() => catalog.serviceForUrl(parsed)?.name, undefined) : undefined;
  if (service !== undefined) out.service = service;
  const scope = typeof raw.scope === "string" && raw.scope.length > 0 ? raw.scope : catalogScope;
  if (scope !== undefined) out.scope = scope;
  if (catalogScope !== undefined && scope !== undefined && normalizeAudience(scopeToResource(catalogScope)) !== normalizeAudience(scopeToResource(scope))) {
    out.expectedScope = catalogScope;
  }
  return out;
}

interface SentResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

type Sender = (request: { url: string; method: string; headers: Record<string, string>; body?: string; signal: AbortSignal; timeoutMs: number }) => Promise<SentResponse>;

function makeSender(options: SmokeTestOptions): Sender {
  const httpClient = options.httpClient;
  if (httpClient !== undefined && httpClient !== null && typeof httpClient.sendRequest === "function") {
    return async (request) => {
      const response = await httpClient.sendRequest(
        createPipelineRequest({
          url: request.url,
          method: request.method as HttpMethods,
          headers: createHttpHeaders(request.headers),
          ...(request.body !== undefined ? { body: request.body } : {}),
          abortSignal: request.signal,
          timeout: request.timeoutMs,
        }),
      );
      return { status: response.status, headers: response.headers.toJSON(), body: (response.bodyAsText ?? "").slice(0, MAX_BODY_CHARS) };
    };
  }
  const fetchImpl = typeof options.fetch === "function" ? options.fetch : globalThis.fetch;
  return async (request) => {
    const response = await fetchImpl(request.url, {
      method: request.method,
      headers: request.headers,
      redirect: "manual",
      signal: request.signal,
      ...(request.body !== undefined ? { body: request.body } : {}),
    });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => {
      headers[key.toLowerCase()] = value;
    });
    const body = request.method === "HEAD" ? "" : await readLimited(response);
    return { status: response.status, headers, body };
  };
}

async function readLimited(response: Response): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (text.length < MAX_BODY_CHARS) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return text.slice(0, MAX_BODY_CHARS);
}

interface CallContext {
  token: AccessToken | undefined;
  timeoutMs: number;
  send: Sender;
  services: ServiceDefinitionInput[];
  configured: ConfiguredIdentity;
  hostEnvironment: HostEnvironment;
}

async function callDependency(dependency: NormalizedDependency, context: CallContext): Promise<SmokeTestDependencyResult> {
  const startedAt = performance.now();
  const result: SmokeTestDependencyResult = {
    url: redact(dependency.url),
    method: dependency.method,
    ok: false,
    durationMs: 0,
  };
  if (dependency.scope !== undefined) result.scope = dependency.scope;
  if (dependency.expectedScope !== undefined) result.expectedScope = dependency.expectedScope;
  if (dependency.service !== undefined) result.service = dependency.service;
  const finish = (): SmokeTestDependencyResult => {
    result.durationMs = Math.round(performance.now() - startedAt);
    // A stable, readable key order for the JSON document.
    const order: Array<keyof SmokeTestDependencyResult> = ["url", "method", "scope", "expectedScope", "service", "ok", "status", "failure", "errorCode", "error", "notes", "diagnosis", "durationMs"];
    const ordered: Record<string, unknown> = {};
    for (const key of order) if (result[key] !== undefined) ordered[key] = result[key];
    return ordered as unknown as SmokeTestDependencyResult;
  };
  if (dependency.invalid !== undefined) {
    result.failure = "network";
    result.errorCode = "ERR_INVALID_URL";
    result.error = `${dependency.url.slice(0, 200)}: ${dependency.invalid}`;
    return finish();
  }
  if (dependency.scope === undefined) {
    result.failure = "no-scope";
    result.error = `no scope known for ${hostOf(dependency.url) ?? dependency.url}: give the dependency a scope`;
    return finish();
  }
  if (context.token === undefined) {
    result.failure = "no-token";
    result.error = `not called: no token for ${dependency.scope} (see Tokens)`;
    return finish();
  }

  const { url, headers, notes } = prepareRequest(dependency, context.token.token);
  if (notes.length > 0) result.notes = notes;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, context.timeoutMs);
  let response: SentResponse;
  try {
    response = await context.send({
      url,
      method: dependency.method,
      headers,
      ...(dependency.body !== undefined ? { body: dependency.body } : {}),
      signal: controller.signal,
      timeoutMs: context.timeoutMs,
    });
  } catch (error) {
    if (timedOut) {
      result.failure = "timeout";
      result.errorCode = "TIMEOUT";
      result.error = `no answer within ${context.timeoutMs} ms`;
    } else {
      const { code, message } = transportError(error);
      result.failure = "network";
      result.errorCode = code;
      result.error = redact(message);
    }
    return finish();
  } finally {
    clearTimeout(timer);
  }

  result.status = response.status;
  const expected = dependency.expectStatus;
  result.ok = expected !== undefined ? expected.includes(response.status) : response.status >= 200 && response.status < 300;
  if (response.status === 401 || response.status === 403) {
    const app = context.hostEnvironment.containerApp;
    const diagnosis = safeCall(
      () =>
        classifyResponseWithCatalog(
          { url, status: response.status, headers: response.headers, body: response.body, method: dependency.method },
          {
            token: context.token!.token,
            services: context.services,
            expectedIdentity: context.configured,
            method: dependency.method,
            ...(app.name !== undefined ? { app: { name: app.name, ...(app.revision !== undefined ? { revision: app.revision } : {}) } } : {}),
          },
          undefined,
        ),
      undefined,
    );
    result.diagnosis =
      diagnosis ??
      makeDiagnosis("Unknown", {
        confidence: "low",
        summary: `${hostOf(url) ?? url} answered ${response.status} to a request with a token for ${dependency.scope}`,
        evidence: [`${dependency.method} ${redact(url)} → HTTP ${response.status}`],
        nextSteps: ["Read the service's error body and its diagnostic logs"],
        status: response.status,
        token: { scope: dependency.scope },
      });
    if (expected !== undefined && result.ok) delete result.diagnosis;
  } else if (!result.ok) {
    result.failure = "status";
    const location = response.status >= 300 && response.status < 400 ? response.headers["location"] : undefined;
    result.error = location
      ? `HTTP ${response.status} redirect to ${redact(location).slice(0, 200)}`
      : `HTTP ${response.status}${statusText(response.status)}: not an authentication or authorization failure${bodyHint(response)}`;
  }
  return finish();
}

/** Adds what a service needs and the caller may not know (Key Vault's api-version, Storage's x-ms-version…). */
function prepareRequest(dependency: NormalizedDependency, token: string): { url: string; headers: Record<string, string>; notes: string[] } {
  const notes: string[] = [];
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(dependency.headers)) if (key.toLowerCase() !== "authorization") headers[key] = value;
  const has = (name: string) => Object.keys(headers).some((key) => key.toLowerCase() === name);
  let url = dependency.url;
  const parsed = new URL(url);
  const addQuery = (name: string, value: string) => {
    if (parsed.searchParams.has(name)) return;
    parsed.searchParams.set(name, value);
    url = parsed.href;
    notes.push(`added ${name}=${value}`);
  };
  const addHeader = (name: string, value: string, note = true) => {
    if (has(name)) return;
    headers[name] = value;
    if (note) notes.push(`added header ${name}: ${value}`);
  };
  switch (dependency.service) {
    case "keyvault":
      addQuery("api-version", "7.5");
      break;
    case "managedhsm":
      addQuery("api-version", "7.5");
      break;
    case "storage":
      addHeader("x-ms-version", "2024-08-04");
      addHeader("x-ms-date", new Date().toUTCString(), false);
      break;
    case "appconfig":
      addQuery("api-version", "1.0");
      break;
    case "arm":
      if (/^\/subscriptions(\/[^/]+(\/resourcegroups(\/[^/]+)?)?)?\/?$/i.test(parsed.pathname)) addQuery("api-version", "2022-12-01");
      break;
  }
  if (dependency.service === "cosmos") {
    // Cosmos DB takes an Entra token in its own Authorization format.
    addHeader("x-ms-version", "2018-12-31");
    addHeader("x-ms-date", new Date().toUTCString(), false);
    headers["authorization"] = encodeURIComponent(`type=aad&ver=1.0&sig=${token}`);
  } else {
    headers["authorization"] = `Bearer ${token}`;
  }
  if (!has("accept")) headers["accept"] = "application/json";
  if (!has("user-agent")) headers["user-agent"] = "diagnostic-credential-doctor";
  return { url, headers, notes };
}

function bodyHint(response: SentResponse): string {
  const text = response.body.replace(/\s+/g, " ").trim();
  if (text.length === 0) return "";
  const code = /"code"\s*:\s*"([^"]{1,80})"/.exec(text)?.[1] ?? /<Code>([^<]{1,80})<\/Code>/.exec(text)?.[1];
  return code !== undefined ? ` (${redact(code)})` : "";
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

function statusText(status: number): string {
  const text = STATUS_TEXT[status];
  return text !== undefined ? ` ${text}` : "";
}

/** The transport code and a one-line message of a fetch / http / RestError failure. */
function transportError(error: unknown): { code: string; message: string } {
  let current: unknown = error;
  let code: string | undefined;
  const messages: string[] = [];
  for (let depth = 0; depth < 5 && current !== null && typeof current === "object"; depth++) {
    const record = current as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    if (code === undefined && typeof record.code === "string" && record.code.length > 0) code = record.code;
    if (typeof record.message === "string" && record.message.length > 0) messages.push(record.message);
    if (code === undefined && Array.isArray(record.errors)) {
      const inner = record.errors.find((e) => e !== null && typeof e === "object" && typeof (e as { code?: unknown }).code === "string") as { code: string } | undefined;
      if (inner !== undefined) code = inner.code;
    }
    current = record.cause;
  }
  const detail = messages.filter((m) => m !== "fetch failed").at(-1) ?? messages[0] ?? String(error);
  const finalCode = code ?? "ERROR";
  return { code: finalCode, message: `${finalCode}: ${detail}`.replace(/\s+/g, " ").slice(0, 300) };
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

function validTimeout(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.round(value) : DEFAULT_SMOKE_TEST_TIMEOUT_MS;
}

function errorLine(error: unknown): string {
  try {
    if (error instanceof Error) {
      const first = error.message.split("\n")[0] ?? "";
      return redact(`${error.name}: ${first}`).slice(0, 400);
    }
    return redact(String(error)).slice(0, 400);
  } catch {
    return "unprintable error";
  }
}

function isoOrUndefined(ms: number): string | undefined {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function safeCall<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}
