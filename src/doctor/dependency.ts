/**
 * The dependency step: each dependency checked and completed from the catalog (scope, service, the service's probe
 * rule), called once with its token under a time limit, and its answer judged; a refused call (401/403) gets a
 * Diagnosis.
 */
import type { AccessToken } from "@azure/core-auth";
import { hostOf, normalizeAudience, scopeToResource, type ServiceCatalog } from "../catalog/resolve.js";
import type { ServiceDefinitionInput, ServiceProbeRule } from "../catalog/types.js";
import type { ConfiguredIdentity } from "../classify/credentialError.js";
import { classifyResponseWithCatalog } from "../classify/response.js";
import { makeDiagnosis } from "../diagnosis/build.js";
import { redact } from "../util/redact.js";
import type { Diagnosis } from "../diagnosis/types.js";
import type { HostEnvironment } from "../environment/hostEnvironment.js";
import { prepareRequest, type PreparedRequest } from "./probeRequest.js";
import { transportError, type Sender, type SentResponse } from "./sender.js";
import type { SmokeTestDependency, SmokeTestDependencyResult } from "./types.js";
import { safeCall } from "./util.js";

/** A dependency as the caller gave it, checked and completed from the catalog. */
export interface NormalizedDependency {
  url: string;
  method: string;
  scope?: string;
  expectedScope?: string;
  service?: string;
  /** The service's probe rule, from its catalog entry. */
  probe?: ServiceProbeRule;
  headers: Record<string, string>;
  body?: string;
  expectStatus?: number[];
  /** Why the URL cannot be called (not a URL, not https). */
  invalid?: string;
}

/** A dependency as given (string or object, possibly malformed), checked, with its scope and service from the catalog. */
export function normalizeDependency(input: string | SmokeTestDependency, catalog: ServiceCatalog): NormalizedDependency {
  const raw: SmokeTestDependency = typeof input === "string" ? { url: input } : input !== null && typeof input === "object" ? input : { url: String(input) };
  const url = typeof raw.url === "string" ? raw.url : String(raw.url);
  const method = (typeof raw.method === "string" && raw.method.length > 0 ? raw.method : "GET").toUpperCase();
  const out: NormalizedDependency = { url, method, headers: {} };
  if (raw.headers !== null && typeof raw.headers === "object") {
    for (const [key, value] of Object.entries(raw.headers)) if (typeof value === "string") out.headers[key] = value;
  }
  if (typeof raw.body === "string") out.body = raw.body;
  if (raw.expectStatus !== undefined) {
    const list = (Array.isArray(raw.expectStatus) ? raw.expectStatus : [raw.expectStatus]).filter(
      (s): s is number => typeof s === "number" && Number.isInteger(s),
    );
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
  const service = parsed !== undefined ? safeCall(() => catalog.serviceForUrl(parsed), undefined) : undefined;
  if (service !== undefined) {
    out.service = service.name;
    if (service.probe !== undefined) out.probe = service.probe;
  }
  const scope = typeof raw.scope === "string" && raw.scope.length > 0 ? raw.scope : catalogScope;
  if (scope !== undefined) out.scope = scope;
  if (catalogScope !== undefined && scope !== undefined && normalizeAudience(scopeToResource(catalogScope)) !== normalizeAudience(scopeToResource(scope))) {
    out.expectedScope = catalogScope;
  }
  return out;
}

/** What a dependency call needs besides the dependency. */
export interface CallContext {
  token: AccessToken | undefined;
  timeoutMs: number;
  send: Sender;
  services: ServiceDefinitionInput[];
  configured: ConfiguredIdentity;
  hostEnvironment: HostEnvironment;
}

/** The failure fields of a result: why a call was not made or brought no answer. */
type CallFailure = Pick<SmokeTestDependencyResult, "failure" | "errorCode" | "error">;

/** A stable, readable key order for the JSON document. */
const RESULT_KEY_ORDER: Array<keyof SmokeTestDependencyResult> = [
  "url",
  "method",
  "scope",
  "expectedScope",
  "service",
  "ok",
  "status",
  "failure",
  "errorCode",
  "error",
  "notes",
  "diagnosis",
  "durationMs",
];

/** Calls one dependency with its token and judges the answer. Never throws. */
export async function callDependency(dependency: NormalizedDependency, context: CallContext): Promise<SmokeTestDependencyResult> {
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
    const ordered: Record<string, unknown> = {};
    for (const key of RESULT_KEY_ORDER) if (result[key] !== undefined) ordered[key] = result[key];
    return ordered as unknown as SmokeTestDependencyResult;
  };

  const token = context.token;
  const skipped = whyNotCalled(dependency, token);
  if (skipped !== undefined || token === undefined || dependency.scope === undefined) {
    Object.assign(result, skipped);
    return finish();
  }
  const request = prepareRequest(dependency, dependency.probe, token.token);
  if (request.notes.length > 0) result.notes = request.notes;
  const sent = await send(dependency, request, context);
  if ("failure" in sent) {
    Object.assign(result, sent.failure);
    return finish();
  }
  Object.assign(result, judgeAnswer(dependency, dependency.scope, request.url, sent.response, token.token, context));
  return finish();
}

/** Why the dependency is not called at all: a bad URL, no scope known, no token for its scope. */
function whyNotCalled(dependency: NormalizedDependency, token: AccessToken | undefined): CallFailure | undefined {
  if (dependency.invalid !== undefined) {
    return { failure: "network", errorCode: "ERR_INVALID_URL", error: `${dependency.url.slice(0, 200)}: ${dependency.invalid}` };
  }
  if (dependency.scope === undefined) {
    return { failure: "no-scope", error: `no scope known for ${hostOf(dependency.url) ?? dependency.url}: give the dependency a scope` };
  }
  if (token === undefined) return { failure: "no-token", error: `not called: no token for ${dependency.scope} (see Tokens)` };
  return undefined;
}

/** Sends the request under the step's time limit; a timeout or transport error becomes a failure. */
async function send(
  dependency: NormalizedDependency,
  request: PreparedRequest,
  context: CallContext,
): Promise<{ response: SentResponse } | { failure: CallFailure }> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, context.timeoutMs);
  try {
    const response = await context.send({
      url: request.url,
      method: dependency.method,
      headers: request.headers,
      ...(dependency.body !== undefined ? { body: dependency.body } : {}),
      signal: controller.signal,
      timeoutMs: context.timeoutMs,
    });
    return { response };
  } catch (error) {
    if (timedOut) return { failure: { failure: "timeout", errorCode: "TIMEOUT", error: `no answer within ${context.timeoutMs} ms` } };
    const { code, message } = transportError(error);
    return { failure: { failure: "network", errorCode: code, error: redact(message) } };
  } finally {
    clearTimeout(timer);
  }
}

/** Whether the answer is the one expected; why a refused call was refused; what else an unexpected answer was. */
function judgeAnswer(
  dependency: NormalizedDependency,
  scope: string,
  url: string,
  response: SentResponse,
  token: string,
  context: CallContext,
): Pick<SmokeTestDependencyResult, "status" | "ok" | "diagnosis" | "failure" | "error"> {
  const expected = dependency.expectStatus;
  const ok = expected !== undefined ? expected.includes(response.status) : response.status >= 200 && response.status < 300;
  const judged = { status: response.status, ok };
  if (response.status === 401 || response.status === 403) {
    // A refusal the caller expected is a success, not a finding.
    return expected !== undefined && ok ? judged : { ...judged, diagnosis: diagnoseRefusal(dependency, scope, url, response, token, context) };
  }
  if (ok) return judged;
  const location = response.status >= 300 && response.status < 400 ? response.headers["location"] : undefined;
  return {
    ...judged,
    failure: "status",
    error: location
      ? `HTTP ${response.status} redirect to ${redact(location).slice(0, 200)}`
      : `HTTP ${response.status}${statusText(response.status)}: not an authentication or authorization failure${bodyHint(response)}`,
  };
}

/** The Diagnosis of a 401/403: the classifier's, or an Unknown one that says what was sent and what came back. */
function diagnoseRefusal(dependency: NormalizedDependency, scope: string, url: string, response: SentResponse, token: string, context: CallContext): Diagnosis {
  const app = context.hostEnvironment.containerApp;
  const diagnosis = safeCall(
    () =>
      classifyResponseWithCatalog(
        { url, status: response.status, headers: response.headers, body: response.body, method: dependency.method },
        {
          token,
          services: context.services,
          expectedIdentity: context.configured,
          method: dependency.method,
          environment: context.hostEnvironment,
          ...(app.name !== undefined ? { app: { name: app.name, ...(app.revision !== undefined ? { revision: app.revision } : {}) } } : {}),
        },
        undefined,
      ),
    undefined,
  );
  return (
    diagnosis ??
    makeDiagnosis("Unknown", {
      confidence: "low",
      summary: `${hostOf(url) ?? url} answered ${response.status} to a request with a token for ${scope}`,
      evidence: [`${dependency.method} ${redact(url)} → HTTP ${response.status}`],
      nextSteps: ["Read the service's error body and its diagnostic logs"],
      status: response.status,
      token: { scope },
    })
  );
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
