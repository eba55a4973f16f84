import type { ServiceCatalog } from "../catalog/resolve.js";
import { classifyAmqpError } from "../classify/amqp.js";
import type { ConfiguredIdentity } from "../classify/credentialError.js";
import { classifyResponse } from "../classify/response.js";
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
    diagnosis = classifyResponse(response, {
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
    context.report(diagnosis, response?.url);
  }
  return diagnosis;
}

type ResponseWithToken = ResponseLike & { token?: string };

/** RestError, fetch Response, `{ response, body }`, or a ResponseLike. */
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
    const headers = headersToRecord(response?.headers);
    if (headers !== undefined) result.headers = headers;
    if (typeof response?.bodyAsText === "string") result.body = response.bodyAsText;
    if (typeof req?.method === "string") result.method = req.method;
    const token = bearerOf(req?.headers?.get?.("authorization"));
    if (token !== undefined) result.token = token;
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

function isFetchResponse(value: unknown): value is Response {
  return typeof Response !== "undefined" && value instanceof Response;
}

function isCredentialError(value: unknown): boolean {
  const name = (value as { name?: unknown } | null)?.name;
  return typeof name === "string" && /CredentialUnavailableError|AuthenticationError|AuthenticationRequiredError/.test(name);
}

/** core-rest-pipeline HttpHeaders (iterable / toJSON) or a plain record. */
export function headersToRecord(headers: unknown): Record<string, string> | undefined {
  if (headers === null || typeof headers !== "object") return undefined;
  const out: Record<string, string> = {};
  const maybe = headers as { toJSON?: () => Record<string, string>; [Symbol.iterator]?: () => Iterator<[string, string]> };
  if (typeof maybe.toJSON === "function") return maybe.toJSON();
  if (typeof maybe[Symbol.iterator] === "function") {
    for (const [key, value] of headers as Iterable<[string, string]>) out[key.toLowerCase()] = value;
    return out;
  }
  for (const [key, value] of Object.entries(headers)) if (typeof value === "string") out[key.toLowerCase()] = value;
  return out;
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
    for (const audience of service.audiences) {
      const token = context.tokenForAudience(audience);
      if (token !== undefined) return token;
    }
    return undefined;
  }
  return context.anyToken();
}
