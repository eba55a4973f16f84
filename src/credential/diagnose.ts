import type { HostEnvironment } from "../environment/hostEnvironment.js";
import { scopeToResource, tokenOfAuthorization, type ServiceCatalog } from "../catalog/resolve.js";
import { classifyAmqpError } from "../classify/amqp.js";
import type { ConfiguredIdentity } from "../classify/credentialError.js";
import { headersToRecord, readHeaders, safeGet, safeInstanceOf, safeString } from "../util/headers.js";
import { classifyResponseWithCatalog } from "../classify/response.js";
import { attachDiagnosis, getDiagnosis } from "../diagnosis/attach.js";
import type { Diagnosis, ResponseLike } from "../diagnosis/types.js";

export interface DiagnoseContext {
  catalog: ServiceCatalog;
  configured: ConfiguredIdentity;
  includePersonalClaims: boolean;
  /** The host's environment: next steps give its platform's commands. */
  environment?: HostEnvironment;
  /** The latest token this credential issued for an audience (normalized). */
  tokenForAudience: (audience: string) => string | undefined;
  anyToken: () => string | undefined;
  classifyCredentialError: (error: unknown) => Diagnosis | undefined;
  report: (diagnosis: Diagnosis, url?: string) => void;
}

/**
 * `credential.diagnose(failure)`: recognises the failure's shape, builds the evidence and classifies it. The
 * result is attached to the failure (getDiagnosis finds it later) and logged.
 */
export function diagnoseFailure(failure: unknown, context: DiagnoseContext): Diagnosis | undefined {
  const existing = getDiagnosis(failure);
  if (existing !== undefined) return existing;
  const response = toResponseLike(failure);
  let diagnosis: Diagnosis | undefined;
  if (response !== undefined) {
    const token = response.token ?? tokenForUrl(response.url, context);
    diagnosis = classifyResponseWithCatalog(
      response,
      {
        ...(token ? { token } : {}),
        services: [],
        expectedIdentity: context.configured,
        includePersonalClaims: context.includePersonalClaims,
        ...(context.environment !== undefined ? { environment: context.environment } : {}),
        ...(response.method ? { method: response.method } : {}),
      },
      context.catalog,
    );
  } else if (isCredentialError(failure)) {
    diagnosis = context.classifyCredentialError(failure);
  } else {
    const token = amqpToken(context);
    diagnosis = classifyAmqpError(
      failure,
      { ...(token ? { token } : {}), expectedIdentity: context.configured, ...(context.environment !== undefined ? { environment: context.environment } : {}) },
      context.catalog,
    );
  }
  if (diagnosis !== undefined) {
    attachDiagnosis(failure, diagnosis, { asProperty: safeInstanceOf(failure, Error) });
    context.report(diagnosis, response?.url ?? amqpEndpoint(failure));
  }
  return diagnosis;
}

type ResponseWithToken = ResponseLike & { token?: string };

/**
 * RestError, fetch Response, `{ response, body }`, a Cosmos `ErrorResponse`, or a ResponseLike. The failure is the
 * caller's object: every read goes through `safeGet`/`safeString`, so a throwing getter or Proxy trap makes a field
 * absent instead of an internal fault.
 */
export function toResponseLike(failure: unknown): ResponseWithToken | undefined {
  if (failure === null || typeof failure !== "object") return undefined;
  const field = (key: string) => safeGet(failure, key);
  const text = (key: string) => {
    const value = field(key);
    return typeof value === "string" ? value : undefined;
  };
  // fetch Response, alone or with its body text
  const nested = field("response");
  const fetchResponse = isFetchResponse(failure) ? failure : isFetchResponse(nested) ? nested : undefined;
  if (fetchResponse !== undefined) {
    const result: ResponseWithToken = {
      url: fetchResponse.url || (safeString(field("url")) ?? ""),
      status: fetchResponse.status,
      headers: fetchResponse.headers,
    };
    const body = text("body");
    if (body !== undefined) result.body = body;
    const token = text("token");
    if (token !== undefined) result.token = token;
    return result;
  }
  // RestError from @azure/core-rest-pipeline: statusCode, request, response (non-enumerable)
  const statusCode = field("statusCode");
  const request = field("request");
  if (typeof statusCode === "number" && (request !== undefined || nested !== undefined)) {
    const req = request ?? safeGet(nested, "request");
    const result: ResponseWithToken = { url: safeString(safeGet(req, "url")) ?? "", status: statusCode };
    result.headers = headersToRecord(safeGet(nested, "headers"));
    const bodyAsText = safeGet(nested, "bodyAsText");
    const details = field("details");
    if (typeof bodyAsText === "string") result.body = bodyAsText;
    else if (details !== null && typeof details === "object") {
      // Clients that parse the body keep it only in `details` (Key Vault: `{ error: { code, message, innerError } }`).
      const body = safeJson(details);
      if (body !== undefined) result.body = body;
    }
    const method = safeGet(req, "method");
    if (typeof method === "string") result.method = method;
    const token = tokenOfAuthorization(readHeaders(safeGet(req, "headers")).get("authorization"));
    if (token !== undefined) result.token = token;
    return result;
  }
  // @azure/cosmos ErrorResponse: numeric `code` (the HTTP status), `headers` (a plain record), `body` (the parsed JSON),
  // no request; the endpoint is in its diagnostics.
  const code = field("code");
  const headers = field("headers");
  if (typeof code === "number" && headers !== null && typeof headers === "object" && request === undefined) {
    const result: ResponseWithToken = { url: cosmosEndpoint(field("diagnostics")) ?? "", status: code };
    result.headers = headersToRecord(headers);
    const rawBody = field("body");
    const body = typeof rawBody === "string" ? rawBody : rawBody !== undefined ? safeJson(rawBody) : undefined;
    const message = text("message");
    if (body !== undefined) result.body = body;
    else if (message !== undefined) result.body = message;
    return result;
  }
  // ResponseLike
  const status = field("status");
  const url = field("url");
  if (typeof status === "number" && typeof url === "string") {
    const result: ResponseWithToken = { url, status };
    if (headers !== undefined) result.headers = headers as ResponseLike["headers"];
    const body = text("body");
    if (body !== undefined) result.body = body;
    const method = text("method");
    if (method !== undefined) result.method = method;
    const token = text("token");
    if (token !== undefined) result.token = token;
    return result;
  }
  return undefined;
}

/** The last endpoint a Cosmos operation contacted (`diagnostics.clientSideRequestStatistics.locationEndpointsContacted`). */
function cosmosEndpoint(diagnostics: unknown): string | undefined {
  const contacted = safeGet(safeGet(diagnostics, "clientSideRequestStatistics"), "locationEndpointsContacted");
  if (!Array.isArray(contacted)) return undefined;
  const last = safeGet(contacted, contacted.length - 1);
  return typeof last === "string" ? last : undefined;
}

function safeJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

/** The `sb://namespace…/entity` an AMQP error names (message, description, cause chain), for the log line's host. */
function amqpEndpoint(failure: unknown): string | undefined {
  let current: unknown = failure;
  for (let depth = 0; depth < 4 && current !== null && typeof current === "object"; depth++) {
    for (const key of ["message", "description"]) {
      const text = safeString(safeGet(current, key));
      const match = text !== undefined ? /\b(?:sb|amqps?):\/\/[^\s'"]+/i.exec(text) : null;
      if (match) return match[0];
    }
    current = safeGet(current, "cause");
  }
  return undefined;
}

function isFetchResponse(value: unknown): value is Response {
  return typeof Response !== "undefined" && safeInstanceOf(value, Response);
}

function isCredentialError(value: unknown): boolean {
  const name = safeGet(value, "name");
  return typeof name === "string" && /CredentialUnavailableError|AuthenticationError|AuthenticationRequiredError/.test(name);
}

/** An AMQP error names no URL: the latest token for an audience of a service the catalog knows to speak AMQP. */
function amqpToken(context: DiagnoseContext): string | undefined {
  for (const service of context.catalog.services) {
    if (!service.fingerprints.some((fingerprint) => fingerprint.protocols?.includes("amqp"))) continue;
    for (const audience of service.audiences) {
      const token = context.tokenForAudience(audience);
      if (token !== undefined) return token;
    }
  }
  return undefined;
}

function tokenForUrl(url: string, context: DiagnoseContext): string | undefined {
  const service = context.catalog.serviceForUrl(url);
  if (service !== undefined) {
    // The scope the SDK requests for this host first (Cosmos: the account's own audience), then the service's audiences.
    const scope = context.catalog.scopeForUrl(url);
    const own = scope !== undefined ? context.tokenForAudience(scopeToResource(scope)) : undefined;
    if (own !== undefined) return own;
    for (const audience of service.audiences) {
      const token = context.tokenForAudience(audience);
      if (token !== undefined) return token;
    }
    return undefined;
  }
  return context.anyToken();
}
