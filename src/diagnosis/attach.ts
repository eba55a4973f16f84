import { sharedSlot } from "../util/processState.js";
import type { Diagnosis } from "./types.js";

/**
 * Diagnoses attached to errors and to HTTP request/response objects. A WeakMap keeps them without changing the
 * objects; on errors the `diagnosis` property is also set, as API.md promises, where the error allows it.
 */
const attached = sharedSlot("attachedDiagnoses.v1", () => new WeakMap<object, Diagnosis>());

/**
 * Diagnoses by request id, for SDK errors that carry copies of the request/response headers instead of the
 * pipeline's own objects: `@azure/storage-blob` (its RestError references the core-http-compat request, not the one
 * the policy saw), `@azure/cosmos` (`ErrorResponse` has only `headers`, `activityId`). Bounded: oldest ids go first.
 */
const byRequestId = sharedSlot("diagnosesByRequestId.v1", () => new Map<string, Diagnosis>());
const MAX_REQUEST_IDS = 512;

/** Request and response headers that identify one request. Values shorter than 8 characters are not ids. */
export const REQUEST_ID_HEADERS = [
  "x-ms-client-request-id",
  "x-ms-request-id",
  "x-ms-activity-id",
  "client-request-id",
  "request-id",
  "apim-request-id",
] as const;

export function attachDiagnosis(target: unknown, diagnosis: Diagnosis, options: { asProperty?: boolean } = {}): void {
  if (target === null || (typeof target !== "object" && typeof target !== "function")) return;
  try {
    attached.set(target as object, diagnosis);
    if (options.asProperty && Object.isExtensible(target)) {
      Object.defineProperty(target, "diagnosis", { value: diagnosis, enumerable: false, configurable: true, writable: true });
    }
  } catch {
    // Frozen or exotic objects: the WeakMap entry (if any) is enough.
  }
}

/** Removes what {@link attachDiagnosis} put on an HTTP object (a request whose retry was answered differently). */
export function detachDiagnosis(target: unknown): void {
  if (target === null || (typeof target !== "object" && typeof target !== "function")) return;
  attached.delete(target as object);
}

/** Whether a diagnosis is attached to this object (by {@link attachDiagnosis}). */
export function hasAttachedDiagnosis(target: unknown): boolean {
  return target !== null && (typeof target === "object" || typeof target === "function") && attached.has(target as object);
}

/** Makes `diagnosis` reachable through the request ids of an error (see {@link REQUEST_ID_HEADERS}). */
export function attachDiagnosisToRequestIds(ids: Iterable<string>, diagnosis: Diagnosis): void {
  for (const id of ids) {
    if (!isRequestId(id)) continue;
    byRequestId.delete(id);
    byRequestId.set(id, diagnosis);
  }
  while (byRequestId.size > MAX_REQUEST_IDS) {
    const oldest = byRequestId.keys().next().value;
    if (oldest === undefined) break;
    byRequestId.delete(oldest);
  }
}

/** Forgets the diagnosis of these request ids (their request was retried and answered). */
export function forgetRequestIds(ids: Iterable<string>): void {
  if (byRequestId.size === 0) return;
  for (const id of ids) byRequestId.delete(id);
}

/**
 * The request ids found on an HTTP object, an SDK error or a plain header record: `headers` (HttpHeaders, core-http
 * HttpHeaders, a plain record), `request.headers`, `response.headers`, Storage's `details` (the response headers
 * spread into it), Cosmos' `activityId`, core-http's `requestId`.
 */
export function requestIdsOf(value: unknown): string[] {
  const ids: string[] = [];
  const add = (id: unknown) => {
    if (typeof id === "string" && isRequestId(id) && !ids.includes(id)) ids.push(id);
  };
  const fromHeaders = (headers: unknown) => {
    if (headers === null || typeof headers !== "object") return;
    const get = (headers as { get?: unknown }).get;
    for (const name of REQUEST_ID_HEADERS) {
      if (typeof get === "function") add((get as (name: string) => unknown).call(headers, name));
      else add((headers as Record<string, unknown>)[name]);
    }
  };
  if (value === null || typeof value !== "object") return ids;
  const record = value as Record<string, unknown>;
  fromHeaders(record.headers);
  fromHeaders(record.details);
  for (const key of ["request", "response"] as const) {
    const related = record[key];
    if (related !== null && typeof related === "object") fromHeaders((related as { headers?: unknown }).headers);
  }
  add(record.activityId);
  return ids;
}

/**
 * The diagnosis attached to an error by the credential or the policy: on the error itself, on its request or
 * response (RestError), through its request ids (Storage, Cosmos), or down its `cause` chain. A diagnosis found
 * through the request of an error whose HTTP status differs from the diagnosed one is not returned (a retried
 * request answered with another failure). Undefined when there is none. Never throws.
 */
export function getDiagnosis(error: unknown): Diagnosis | undefined {
  try {
    let current: unknown = error;
    for (let depth = 0; depth < 6 && current !== null && typeof current === "object"; depth++) {
      const own = attached.get(current as object) ?? asDiagnosis((current as { diagnosis?: unknown }).diagnosis);
      if (own !== undefined) return own;
      const status = statusOf(current);
      const fits = (found: Diagnosis | undefined) => found !== undefined && (status === undefined || found.status === undefined || found.status === status);
      for (const key of ["response", "request"] as const) {
        const related = (current as Record<string, unknown>)[key];
        if (related !== null && typeof related === "object") {
          const found = attached.get(related as object);
          if (fits(found)) return found;
        }
      }
      if (byRequestId.size > 0) {
        for (const id of requestIdsOf(current)) {
          const found = byRequestId.get(id);
          if (fits(found)) return found;
        }
      }
      current = (current as { cause?: unknown }).cause;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** The HTTP status an error reports: RestError `statusCode`, Cosmos `code` (a number), a response's `status`. */
function statusOf(error: unknown): number | undefined {
  const record = error as { statusCode?: unknown; code?: unknown; status?: unknown };
  for (const value of [record.statusCode, record.code, record.status]) {
    if (typeof value === "number" && Number.isInteger(value) && value >= 100 && value < 600) return value;
  }
  return undefined;
}

function isRequestId(id: string): boolean {
  return id.length >= 8 && id.length <= 200;
}

function asDiagnosis(value: unknown): Diagnosis | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const candidate = value as Partial<Diagnosis>;
  return typeof candidate.code === "string" && typeof candidate.hypothesis === "string" && typeof candidate.summary === "string"
    ? (candidate as Diagnosis)
    : undefined;
}
