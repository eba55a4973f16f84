import type { HttpClient, PipelineRequest, PipelineResponse } from "@azure/core-rest-pipeline";
import { excerpt } from "../diagnosis/redact.js";

/**
 * One request to the identity endpoint and what came of it. ManagedIdentityCredential discards this (a refused
 * connection becomes "network_error"); the diagnosis cites it instead.
 */
export interface IdentityExchange {
  /** HTTP method of the request to the identity endpoint. */
  method: string;
  /** Endpoint URL with only the harmless query parameters (api-version, resource, identity selectors). */
  url: string;
  /** The resource (audience) asked for. */
  resource?: string;
  /** The identity selector the credential sent: client_id, mi_res_id/msi_res_id or object_id. */
  requestedIdentity?: {
    /** `client_id` (or `clientid`) of the request. */
    clientId?: string;
    /** `mi_res_id` or `msi_res_id` of the request. */
    resourceId?: string;
    /** `object_id` or `principal_id` of the request. */
    objectId?: string;
  };
  /** HTTP status of the answer. Absent when no answer came (see `errorCode`). */
  status?: number;
  /** Redacted excerpt of an error body. Success bodies (which hold the token) are never kept. */
  bodyExcerpt?: string;
  /** Raw transport error code: ECONNREFUSED, ETIMEDOUT, ECONNRESET, EHOSTUNREACH, ENOTFOUND, TIMEOUT, … */
  errorCode?: string;
  /** The transport error's message, redacted and cut to 200 characters. Absent when an answer came. */
  errorMessage?: string;
  /** Milliseconds from sending the request to its answer or error. */
  durationMs: number;
  /** When the request was sent, ms since epoch. */
  startedAt: number;
}

const SAFE_QUERY_PARAMS = new Set(["api-version", "resource", "client_id", "clientid", "mi_res_id", "msi_res_id", "object_id", "principal_id"]);
const MAX_EXCHANGES = 32;

/**
 * Keeps the last few identity-endpoint exchanges of one credential. Each request is numbered when it starts, so a
 * getToken call finds the requests made since it began from one number read at its start (`mark`): no clock read
 * on the cached path.
 */
export class ExchangeLog {
  private readonly entries: { sequence: number; exchange: IdentityExchange }[] = [];
  private started = 0;

  /** The number the next request will get: exchanges `since(mark())` are those that start from now on. */
  mark(): number {
    return this.started;
  }

  /** Numbers a request as it starts. */
  begin(): number {
    return this.started++;
  }

  add(exchange: IdentityExchange, sequence: number): void {
    this.entries.push({ sequence, exchange });
    if (this.entries.length > MAX_EXCHANGES) this.entries.shift();
  }

  /** Exchanges whose request started at or after `mark`, in the order they ended. */
  since(mark: number): IdentityExchange[] {
    const found: IdentityExchange[] = [];
    for (const entry of this.entries) if (entry.sequence >= mark) found.push(entry.exchange);
    return found;
  }

  last(): IdentityExchange | undefined {
    return this.entries[this.entries.length - 1]?.exchange;
  }
}

export interface RecordingHttpClientOptions {
  log: ExchangeLog;
  /** Per-request timeout applied when the credential sends none (it sends 0: wait for ever). */
  requestTimeoutMs?: number;
  /** Called on every failed attempt, before the credential's own retries: the early H5 warning. */
  onFailedAttempt?: (exchange: IdentityExchange) => void;
}

/** An HttpClient for the inner ManagedIdentityCredential that records every exchange. It changes nothing it sends or receives. */
export function createRecordingHttpClient(inner: HttpClient, options: RecordingHttpClientOptions): HttpClient {
  return {
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      const startedAt = Date.now();
      const sequence = options.log.begin();
      if (options.requestTimeoutMs !== undefined && options.requestTimeoutMs > 0 && !(request.timeout > 0)) {
        request.timeout = options.requestTimeoutMs;
      }
      let response: PipelineResponse;
      try {
        response = await inner.sendRequest(request);
      } catch (error) {
        record(options, describeRequest(request, startedAt, undefined, error), sequence);
        throw error;
      }
      record(options, describeRequest(request, startedAt, response, undefined), sequence);
      return response;
    },
  };
}

function record(options: RecordingHttpClientOptions, exchange: IdentityExchange | undefined, sequence: number): void {
  if (exchange === undefined) return;
  try {
    options.log.add(exchange, sequence);
    const failed = exchange.errorCode !== undefined || (exchange.status !== undefined && exchange.status >= 400);
    if (failed) options.onFailedAttempt?.(exchange);
  } catch {
    // Recording must never affect the request.
  }
}

function describeRequest(
  request: PipelineRequest,
  startedAt: number,
  response: PipelineResponse | undefined,
  error: unknown,
): IdentityExchange | undefined {
  try {
    const durationMs = Date.now() - startedAt;
    const exchange: IdentityExchange = { method: request.method, url: request.url, durationMs, startedAt };
    try {
      const url = new URL(request.url);
      const kept = new URLSearchParams();
      for (const [key, value] of url.searchParams) {
        if (SAFE_QUERY_PARAMS.has(key.toLowerCase())) kept.append(key, value);
      }
      const query = kept.toString();
      exchange.url = `${url.protocol}//${url.host}${url.pathname}${query ? `?${query}` : ""}`;
      const resource = url.searchParams.get("resource");
      if (resource !== null) exchange.resource = resource;
      const clientId = url.searchParams.get("client_id") ?? url.searchParams.get("clientid");
      const resourceId = url.searchParams.get("mi_res_id") ?? url.searchParams.get("msi_res_id");
      const objectId = url.searchParams.get("object_id") ?? url.searchParams.get("principal_id");
      if (clientId || resourceId || objectId) {
        exchange.requestedIdentity = {};
        if (clientId) exchange.requestedIdentity.clientId = clientId;
        if (resourceId) exchange.requestedIdentity.resourceId = resourceId;
        if (objectId) exchange.requestedIdentity.objectId = objectId;
      }
    } catch {
      exchange.url = "(unparseable URL)";
    }
    if (response !== undefined) {
      exchange.status = response.status;
      if (response.status >= 300) {
        const body = excerpt(response.bodyAsText ?? undefined, 400);
        if (body) exchange.bodyExcerpt = body;
      }
    } else {
      const code = transportErrorCode(error, request, durationMs);
      if (code !== undefined) exchange.errorCode = code;
      const message = error instanceof Error ? excerpt(error.message, 200) : undefined;
      if (message) exchange.errorMessage = message;
    }
    return exchange;
  } catch {
    return undefined;
  }
}

/** The raw transport code from a RestError or a Node system error, down the cause chain. */
function transportErrorCode(error: unknown, request: PipelineRequest, durationMs: number): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === "object"; depth++) {
    const candidate = (current as { code?: unknown }).code;
    if (typeof candidate === "string" && /^E[A-Z_]+$/.test(candidate)) return candidate;
    current = (current as { cause?: unknown }).cause;
  }
  const name = error instanceof Error ? error.name : undefined;
  if (name === "AbortError") {
    // Our per-request timeout aborts with a plain AbortError: tell it apart from a caller's abort by the clock.
    if (request.timeout > 0 && durationMs >= request.timeout - 5) return "TIMEOUT";
    return "ABORTED";
  }
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}
