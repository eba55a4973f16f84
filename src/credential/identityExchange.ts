import type { HttpClient, PipelineRequest, PipelineResponse } from "@azure/core-rest-pipeline";
import type { IdentityExchange } from "../diagnosis/identityExchange.js";
import { excerpt } from "../util/redact.js";
import { recordInternalFault } from "../util/safe.js";

export type { IdentityExchange };

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
  /** Requests under way, by sequence: a call that ends on its deadline ends the requests it started. */
  private readonly inFlight = new Map<number, AbortController>();

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

  /** Tracks a request under way until `settled`. */
  track(sequence: number, controller: AbortController): void {
    this.inFlight.set(sequence, controller);
  }

  settled(sequence: number): void {
    this.inFlight.delete(sequence);
  }

  /**
   * Aborts the requests under way that started at or after `mark`: a call that timed out leaves no socket behind
   * (nor a request its caller no longer waits for). The credential sees a network error for them, as on a reset.
   */
  abortSince(mark: number): void {
    for (const [sequence, controller] of [...this.inFlight]) {
      if (sequence >= mark) {
        this.inFlight.delete(sequence);
        controller.abort();
      }
    }
  }
}

export interface RecordingHttpClientOptions {
  log: ExchangeLog;
  /** Per-request time limit when the credential sets none (it sets 0: wait for ever), enforced by an abort signal. */
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
      const bound = boundRequest(request, request.timeout > 0 ? undefined : options.requestTimeoutMs);
      options.log.track(sequence, bound.controller);
      let response: PipelineResponse;
      try {
        response = await inner.sendRequest(request);
      } catch (error) {
        bound.release();
        options.log.settled(sequence);
        record(options, describeRequest(request, startedAt, undefined, error, bound.timedOut), sequence);
        throw error;
      }
      bound.release();
      options.log.settled(sequence);
      record(options, describeRequest(request, startedAt, response, undefined, false), sequence);
      return response;
    },
  };
}

/**
 * Gives a request an abort signal of ours (beside the caller's), ending it after `timeoutMs` when given, and stops
 * the timer as soon as the request settles. Not through `request.timeout`: `@typespec/ts-http-runtime` up to 0.3.10
 * (what `@azure/core-rest-pipeline` 1.24 uses) clears that timer only on success, so every failed request held the
 * process open until it fired.
 */
function boundRequest(request: PipelineRequest, timeoutMs: number | undefined): { controller: AbortController; release(): void; timedOut: boolean } {
  const controller = new AbortController();
  const callerSignal = request.abortSignal;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // The caller's abort still ends the request: it is forwarded to our signal while the request is under way.
  const forwardAbort = (): void => controller.abort();
  const state = {
    controller,
    timedOut: false,
    release(): void {
      if (timer !== undefined) clearTimeout(timer);
      try {
        callerSignal?.removeEventListener("abort", forwardAbort);
      } catch {
        // The caller's signal: whatever it throws is not ours to raise.
      }
      // The credential may send the same request object again on retry: give it back as it came.
      request.abortSignal = callerSignal;
    },
  };
  try {
    if (callerSignal?.aborted) controller.abort();
    else callerSignal?.addEventListener("abort", forwardAbort);
  } catch {
    // A signal that cannot be listened to: the request goes on without it, as it would without us.
  }
  if (timeoutMs !== undefined && timeoutMs > 0) {
    timer = setTimeout(() => {
      state.timedOut = true;
      controller.abort();
    }, timeoutMs);
    // The request's own socket keeps the process alive while it is pending; the timer must not add to that.
    timer.unref?.();
  }
  request.abortSignal = controller.signal;
  return state;
}

function record(options: RecordingHttpClientOptions, exchange: IdentityExchange | undefined, sequence: number): void {
  if (exchange === undefined) return;
  try {
    options.log.add(exchange, sequence);
    const failed = exchange.errorCode !== undefined || (exchange.status !== undefined && exchange.status >= 400);
    if (failed) options.onFailedAttempt?.(exchange);
  } catch (error) {
    // Recording must never affect the request.
    recordInternalFault(error);
  }
}

function describeRequest(
  request: PipelineRequest,
  startedAt: number,
  response: PipelineResponse | undefined,
  error: unknown,
  timedOut: boolean,
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
      const retryAfter = response.headers.get("retry-after");
      if (typeof retryAfter === "string" && retryAfter.length > 0) exchange.retryAfter = excerpt(retryAfter, 60);
      if (response.status >= 300) {
        const body = excerpt(response.bodyAsText ?? undefined, 400);
        if (body) exchange.bodyExcerpt = body;
      }
    } else {
      const code = timedOut ? "TIMEOUT" : transportErrorCode(error);
      if (code !== undefined) exchange.errorCode = code;
      const message = error instanceof Error ? excerpt(error.message, 200) : undefined;
      if (message) exchange.errorMessage = message;
    }
    return exchange;
  } catch (fault) {
    recordInternalFault(fault);
    return undefined;
  }
}

/** The raw transport code from a RestError or a Node system error, down the cause chain. */
function transportErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === "object"; depth++) {
    const candidate = (current as { code?: unknown }).code;
    if (typeof candidate === "string" && /^E[A-Z_]+$/.test(candidate)) return candidate;
    current = (current as { cause?: unknown }).cause;
  }
  const name = error instanceof Error ? error.name : undefined;
  // Our own timeout is told apart by the caller (`timedOut`); any other abort is the caller's.
  if (name === "AbortError") return "ABORTED";
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}
