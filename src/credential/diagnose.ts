import { scopeToResource, type ServiceCatalog } from "../catalog/resolve.js";
import { classifyAmqpError } from "../classify/amqp.js";
import type { ConfiguredIdentity } from "../classify/credentialError.js";
import { readHeaders } from "../classify/headers.js";
import { classifyResponseWithCatalog } from "../classify/response.js";
import { attachDiagnosis, getDiagnosis } from "../diagnosis/attach.js";
import type { Diagnosis, ResponseLike } from "../diagnosis/types.js";

export interface DiagnoseContext {
  catalog: ServiceCatalog;
  configured: ConfiguredIdentity;
  includePersonalClaims: boolean;
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
    diagnosis = classifyResponseWithCatalog(response, {
      ...(token ? { token } : {}),
      services: [],
      expectedIdentity: context.configured,
      includePersonalClaims: context.includePersonalClaims,
      ...(response.method ? { method: response.method } : {}),
    }, context.catalog);
  } else if (isCredentialError(failure)) {
    diagnosis = context.classifyCredentialError(failure);
  } else {
    const token = context.tokenForAudience("https://servicebus.azure.net") ?? context.tokenForAudience("https://eventhubs.azure.net");
    diagnosis = classifyAmqpError(failure, { ...(token ? { token } : {}), expectedIdentity: context.configured });
  }
  if (diagnosis !== undefined) {
    attachDiagnosis(failure, diagnosis, { asProperty: failure instanceof Error });
    context.report(diagnosis, response?.url ?? amqpEndpoint(failure));
  }
  return diagnosis;
}

type ResponseWithToken = ResponseLike & { token?: string };

/** RestError, fetch Response, `{ response, body }`, a Cosmos `ErrorResponse`, or a ResponseLike. */
export function toResponseLike(failure: unknown): ResponseWithToken | undefined {
  if (failure === null || typeof failure !== "object") return undefined;
  const record = failure as Record<string, unknown>;
  // fetch Response, alone or with its body text
  const fetchResponse = isFetchResponse(failure) ? failure : isFetchResponse(record.response) ? (record.response as Response) : undefined;
  if (fetchResponse !== undefined) {
    const result: ResponseWithToken = { url: fetchResponse.url || String(record.url ?? ""), status: fetchResponse.status, headers: fetchResponse.headers };
    if (typeof record.body === "string") result.body = record.body;
    if (typeof record.token === "string") result.token = record.token;
    return result;
  }
  // RestError from @azure/core-rest-pipeline: statusCode, request, response (non-enumerable)
  if (typeof record.statusCode === "number" && (record.request !== undefined || record.response !== undefined)) {
    const request = record.request as { url?: string; method?: string; headers?: { get?: (name: string) => string | undefined } } | undefined;
    const response = record.response as { status?: number; headers?: unknown; bodyAsText?: string | null; request?: typeof request } | undefined;
    const req = request ?? response?.request;
    const result: ResponseWithToken = { url: String(req?.url ?? ""), status: record.statusCode };
    result.headers = headersToRecord(response?.headers);
    if (typeof response?.bodyAsText === "string") result.body = response.bodyAsText;
    else if (record.details !== null && typeof record.details === "object") {
      // Clients that parse the body keep it only in `details` (Key Vault: `{ error: { code, message, innerError } }`).
      const body = safeJson(record.details);
      if (body !== undefined) result.body = body;
    }
    if (typeof req?.method === "string") result.method = req.method;
    const token = bearerOf(req?.headers?.get?.("authorization"));
    if (token !== undefined) result.token = token;
    return result;
  }
  // @azure/cosmos ErrorResponse: numeric `code` (the HTTP status), `headers` (a plain record), `body` (the parsed JSON),
  // no request; the endpoint is in its diagnostics.
  if (typeof record.code === "number" && record.headers !== null && typeof record.headers === "object" && record.request === undefined) {
    const result: ResponseWithToken = { url: cosmosEndpoint(record.diagnostics) ?? "", status: record.code };
    result.headers = headersToRecord(record.headers);
    const body = typeof record.body === "string" ? record.body : record.body !== undefined ? safeJson(record.body) : undefined;
    if (body !== undefined) result.body = body;
    else if (typeof record.message === "string") result.body = record.message;
    return result;
  }
  // ResponseLike
  if (typeof record.status === "number" && typeof record.url === "string") {
    const result: ResponseWithToken = { url: record.url, status: record.status };
    if (record.headers !== undefined) result.headers = record.headers as ResponseLike["headers"];
    if (typeof record.body === "string") result.body = record.body;
    if (typeof record.method === "string") result.method = record.method;
    if (typeof record.token === "string") result.token = record.token;
    return result;
  }
  return undefined;
}

/** The last endpoint a Cosmos operation contacted (`diagnostics.clientSideRequestStatistics.locationEndpointsContacted`). */
function cosmosEndpoint(diagnostics: unknown): string | undefined {
  const contacted = (diagnostics as { clientSideRequestStatistics?: { locationEndpointsContacted?: unknown } } | undefined)?.clientSideRequestStatistics?.locationEndpointsContacted;
  if (!Array.isArray(contacted)) return undefined;
  const last = contacted[contacted.length - 1];
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
      const text = (current as Record<string, unknown>)[key];
      const match = typeof text === "string" ? /\b(?:sb|amqps?):\/\/[^\s'"]+/i.exec(text) : null;
      if (match) return match[0];
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function isFetchResponse(value: unknown): value is Response {
  return typeof Response !== "undefined" && value instanceof Response;
}

function isCredentialError(value: unknown): boolean {
  const name = (value as { name?: unknown } | null)?.name;
  return typeof name === "string" && /CredentialUnavailableError|AuthenticationError|AuthenticationRequiredError/.test(name);
}

/**
 * Any header container (core-rest-pipeline or core-http HttpHeaders, fetch Headers, a plain record) as a plain
 * lower-case record, through the classifier's guarded, bounded reader.
 */
export function headersToRecord(headers: unknown): Record<string, string> {
  return Object.fromEntries(readHeaders(headers));
}

/** The token of an `Authorization: Bearer …` value (or Cosmos' `type=aad&ver=1.0&sig=…`). */
export function bearerOf(value: string | undefined | null): string | undefined {
  if (typeof value !== "string") return undefined;
  if (/^bearer\s+/i.test(value)) return value.replace(/^bearer\s+/i, "").trim();
  const decoded = value.includes("%") ? safeDecode(value) : value;
  const match = /(?:^|&)type=aad&ver=[^&]*&sig=([^&]+)/i.exec(decoded);
  return match?.[1];
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
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
