import { copyHostEnvironment } from "../environment/hostEnvironment.js";
/**
 * classifyResponse: one HTTP answer (plus, optionally, the token that was sent) → a Diagnosis, or undefined when
 * the answer is not an authentication/authorization failure.
 *
 * Pure: no I/O, no state. Never throws, whatever the input: the input is first copied
 * into plain values through guarded reads (throwing getters, Proxies, odd types are just "absent"), then reasoned
 * about. A throw during the reasoning is a bug of ours: it returns undefined and is counted by `recordInternalFault` (`getInternalFaultCount()`).
 */
import type { Diagnosis, ResponseLike } from "../diagnosis/types.js";
import { challengeInfo, parseWwwAuthenticate } from "./challenge.js";
import { MAX_BODY_SCAN, extractFacts, foldText, parseErrorBody } from "./errorBody.js";
import { readHeaders, safeGet, safeInstanceOf, safeString } from "../util/headers.js";
import { catalogFor, type ServiceCatalog } from "../catalog/resolve.js";
import type { ServiceDefinitionInput } from "../catalog/types.js";
import { recordInternalFault } from "../util/safe.js";
import { reason, type ClassifyContext, type Observation } from "./reason.js";

export type { ClassifyContext } from "./reason.js";

/** Statuses that can mean an authentication or authorization failure. Everything else is not ours to explain. */
const AUTH_STATUSES = new Set([401, 403]);
/** Bodies larger than this are not decoded from bytes. */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Classifies an HTTP answer. Undefined when it is not an authN/authZ failure (2xx, 404, 429, 5xx…), and for Key
 * Vault's normal first 401 challenge (sent without a token on purpose by its SDK). Pure; never throws.
 */
export function classifyResponse(response: ResponseLike, context?: ClassifyContext): Diagnosis | undefined {
  return classifyResponseWithCatalog(response, context, undefined);
}

/** Internal: `classifyResponse` with a ready catalog (the credential's), used instead of `context.services`. */
export function classifyResponseWithCatalog(
  response: ResponseLike,
  context: ClassifyContext | undefined,
  catalog: ServiceCatalog | undefined,
): Diagnosis | undefined {
  return observeThenReason((safeContext, resolved) => observeResponse(response, safeContext, resolved), context, catalog);
}

/**
 * The shared frame of every classifier (HTTP answers here, AMQP/SQL/Redis errors in amqp.ts): copy the context
 * through guards, observe the input, reason about the observation. Reading is guarded field by field, so a throw
 * in either step is a bug of ours: it is counted and the result is undefined, never a throw.
 */
export function observeThenReason(
  observe: (safeContext: ClassifyContext, catalog: ServiceCatalog) => Observation | undefined,
  context: unknown,
  given: ServiceCatalog | undefined,
): Diagnosis | undefined {
  let observation: Observation | undefined;
  let safeContext: ClassifyContext;
  let catalog: ServiceCatalog;
  try {
    safeContext = copyContext(context);
    catalog = given ?? catalogFor(Array.isArray(safeContext.services) ? safeContext.services : undefined);
    observation = observe(safeContext, catalog);
  } catch (error) {
    recordInternalFault(error);
    return undefined;
  }
  if (observation === undefined) return undefined;
  try {
    return reason(observation, safeContext, catalog);
  } catch (error) {
    recordInternalFault(error);
    return undefined;
  }
}

/** A plain copy of the context: only fields of the right type, read through guards. */
export function copyContext(context: unknown): ClassifyContext {
  const out: ClassifyContext = {};
  if (context === null || typeof context !== "object") return out;
  const token = safeGet(context, "token");
  if (typeof token === "string" && token.length > 0 && token.length <= 64 * 1024) out.token = token;
  const services = safeGet(context, "services");
  // Kept by reference (the catalog is cached per array); its entries are read through guards when merged.
  if (Array.isArray(services)) out.services = services as ServiceDefinitionInput[];
  const expected = safeGet(context, "expectedIdentity");
  if (expected !== null && typeof expected === "object") {
    const identity: NonNullable<ClassifyContext["expectedIdentity"]> = {};
    for (const key of ["clientId", "objectId", "resourceId"] as const) {
      const value = safeString(safeGet(expected, key), 2048);
      if (value !== undefined && value.length > 0) identity[key] = value;
    }
    out.expectedIdentity = identity;
  }
  const now = safeGet(context, "now");
  if (typeof now === "number" && Number.isFinite(now)) out.now = now;
  const method = safeString(safeGet(context, "method"), 32);
  if (method !== undefined) out.method = method;
  if (safeGet(context, "includePersonalClaims") === true) out.includePersonalClaims = true;
  const app = safeGet(context, "app");
  if (app !== null && typeof app === "object") {
    const copy: NonNullable<ClassifyContext["app"]> = {};
    for (const key of ["name", "resourceGroup", "revision"] as const) {
      const value = safeString(safeGet(app, key), 256);
      if (value !== undefined && value.length > 0) copy[key] = value;
    }
    out.app = copy;
  }
  const url = safeString(safeGet(context, "url"), 4096);
  if (url !== undefined) out.url = url;
  const environment = copyHostEnvironment(safeGet(context, "environment"));
  if (environment !== undefined) out.environment = environment;
  return out;
}

function readStatus(response: unknown): number | undefined {
  for (const key of ["status", "statusCode"]) {
    const value = safeGet(response, key);
    const number = typeof value === "number" ? value : typeof value === "string" && /^\s*\d{3}\s*$/.test(value) ? Number(value) : undefined;
    if (number !== undefined && Number.isInteger(number)) return number;
  }
  return undefined;
}

function readUrl(value: unknown): { host?: string; path?: string } {
  try {
    let text: string | undefined;
    if (typeof value === "string") text = value;
    else if (safeInstanceOf(value, URL)) text = (value as URL).href;
    if (text === undefined || text.length > 8192) return {};
    const parsed = new URL(text);
    const out: { host?: string; path?: string } = {};
    if (parsed.host) out.host = parsed.host.toLowerCase();
    if (parsed.pathname) out.path = parsed.pathname.slice(0, 512);
    return out;
  } catch {
    return {};
  }
}

function readBody(response: unknown): string | undefined {
  for (const key of ["body", "bodyAsText"]) {
    const value = safeGet(response, key);
    if (typeof value === "string") return value;
    if (safeInstanceOf(value, Uint8Array)) {
      try {
        const bytes = value as Uint8Array;
        return new TextDecoder("utf-8", { fatal: false }).decode(bytes.subarray(0, Math.min(bytes.byteLength, MAX_BODY_BYTES)));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function observeResponse(response: unknown, context: ClassifyContext, catalog: ServiceCatalog): Observation | undefined {
  if (response === null || (typeof response !== "object" && typeof response !== "function")) return undefined;
  const status = readStatus(response);
  if (status === undefined || !AUTH_STATUSES.has(status)) return undefined;
  const { host, path } = readUrl(safeGet(response, "url"));
  const headers = readHeaders(safeGet(response, "headers"));
  const body = readBody(response);
  const request = safeGet(response, "request");
  const method = (context.method ?? safeString(safeGet(response, "method"), 32) ?? safeString(safeGet(request, "method"), 32))?.toUpperCase();

  // The request's own headers (a pipeline response carries them) tell whether a token was sent, and which.
  let tokenSent: boolean | undefined;
  let requestToken: string | undefined;
  if (request !== undefined && request !== null) {
    const requestHeaders = readHeaders(safeGet(request, "headers"));
    if (requestHeaders.size > 0) {
      const authorization = requestHeaders.get("authorization");
      tokenSent = authorization !== undefined && authorization.length > 0;
      const bearer = authorization !== undefined ? /^\s*(?:bearer|pop)\s+(\S+)/i.exec(authorization)?.[1] : undefined;
      if (bearer !== undefined) requestToken = bearer;
    }
  }

  const challenge = challengeInfo(parseWwwAuthenticate(headers.get("www-authenticate")));
  const error = parseErrorBody(body, headers);
  const head = typeof body === "string" ? body.slice(0, MAX_BODY_SCAN) : undefined;
  const text = foldText([...error.codes, ...error.messages, challenge?.errorDescription, head]);
  const facts = extractFacts(text, true, catalog.quotes);
  const message = error.messages[0] ?? (error.format === "text" ? head : undefined);

  const observation: Observation = {
    protocol: "http",
    status,
    error,
    headers,
    text,
    facts,
    errorNames: [],
  };
  if (host !== undefined) observation.host = host;
  if (path !== undefined) observation.path = path;
  if (method !== undefined) observation.method = method;
  if (challenge !== undefined) observation.challenge = challenge;
  if (message !== undefined) observation.message = message;
  if (tokenSent !== undefined) observation.tokenSent = tokenSent;
  if (requestToken !== undefined) observation.token = requestToken;
  return observation;
}
