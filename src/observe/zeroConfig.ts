import dc from "node:diagnostics_channel";
import { lookupIssuedToken } from "../registry/issuedTokens.js";
import { hostOf, tokenOfAuthorization } from "../catalog/resolve.js";
import { watchedHosts } from "../telemetry/recovery.js";
import { sharedSlot } from "../util/processState.js";
import { safely } from "../util/safe.js";
import { ChallengeWaits } from "../registry/challengeWaits.js";

/**
 * Zero-config observation: with only the credential swapped in, 401/403 answers to HTTP requests that carried a
 * token one of our credentials issued are classified and logged, from status and headers (no body: the body
 * belongs to the client). Listens on node:diagnostics_channel for node:http (`http.client.response.finish`) and
 * undici/fetch (`undici:request:headers`). It never delays or alters a request: the listeners are synchronous, read
 * a few fields and return; the classification runs later, on a timer. On a 2xx answer they read one number (and,
 * only while a challenged 401 awaits its retry, one header and one map lookup; only while a dependency has an open
 * H2 failure, its host, and for that host the token, for recovery tracking).
 *
 * A 401 carrying a `WWW-Authenticate` challenge may be answered by an Azure SDK client's challenge handler (a new
 * token and one retry of the same request, as Key Vault and Storage clients do): such a 401 is reported only when no
 * retry of the request (same `x-ms-client-request-id`, which SDK pipelines set and keep across retries) succeeds
 * within the wait. Requests without that id (plain `fetch`) answer no challenge: their 401s are reported at once.
 */

/** What the observer needs from a credential: implemented by DiagnosticCredential. */
export interface ObservingCredential {
  observeResponse(input: { url: string; status: number; headers: Record<string, string>; method?: string; token: string }): void;
  /** A 2xx to a request carrying its token, while some dependency has an open H2 failure (recovery tracking). */
  noteSuccess?(url: string, authorization?: unknown, status?: number): void;
}

/** One subscription per process, whichever copy of the library makes it (the token registry is shared). */
const subscription = sharedSlot("zeroConfigSubscription.v1", (): { handlers?: ObserverHandlers } => ({}));

interface ObserverHandlers {
  onHttpResponse: (message: unknown) => void;
  onUndiciHeaders: (message: unknown) => void;
}

/** Challenged 401s (ours, and the token-less ones whose retry carries our token) waiting for their retry. */
const challenges = sharedSlot("observerChallengeWaits.v1", () => new ChallengeWaits());

/** One answer, as both channels give it. `requestHeader` reads a request header lazily (only on the slow path). */
interface Seen {
  url: string;
  method?: string;
  status: number;
  requestHeader(name: string): string | undefined;
  responseHeaders(): Record<string, string>;
}

function onAnswer(seen: Seen): void {
  if (seen.status !== 401 && seen.status !== 403) {
    // The retry of a challenged request was answered: that 401 was not a failure.
    if (challenges.size > 0) {
      const key = seen.requestHeader("x-ms-client-request-id");
      if (key !== undefined) challenges.take(key);
    }
    if (watchedHosts.size > 0 && seen.status >= 200 && seen.status < 300) noteSuccess(seen);
    return;
  }
  // The request across its retries: the client request id an SDK pipeline sets (and keeps on each retry).
  const key = seen.requestHeader("x-ms-client-request-id");
  const earlier = key !== undefined ? challenges.take(key) : undefined;
  const headers = seen.responseHeaders();
  const challengeAnswerable = key !== undefined && seen.status === 401 && earlier === undefined && headers["www-authenticate"] !== undefined;
  const token = tokenOfAuthorization(seen.requestHeader("authorization"));
  const issued = token !== undefined ? lookupIssuedToken(token) : undefined;
  if (token === undefined || issued === undefined) {
    // Not ours: nothing to report. A challenged one is remembered, so that its retry (with our token) counts as a retry.
    if (challengeAnswerable) challenges.wait(key);
    return;
  }
  const owner = issued.owner as ObservingCredential;
  const report = () => owner.observeResponse({ url: seen.url, status: seen.status, headers, token, ...(seen.method ? { method: seen.method } : {}) });
  if (challengeAnswerable) challenges.wait(key, report, owner);
  else report();
}

/** A 2xx from a host with an open H2 failure: the owner of the token sent decides whether that is a recovery. */
function noteSuccess(seen: Seen): void {
  const host = hostOf(seen.url);
  if (host === undefined || !watchedHosts.has(host)) return;
  const token = tokenOfAuthorization(seen.requestHeader("authorization"));
  const issued = token !== undefined ? lookupIssuedToken(token) : undefined;
  if (issued !== undefined) (issued.owner as ObservingCredential).noteSuccess?.(seen.url, token, seen.status);
}

interface HttpClientRequestLike {
  getHeader(name: string): unknown;
  method?: string;
  protocol?: string;
  host?: string;
  path?: string;
}
interface IncomingMessageLike {
  statusCode?: number;
  headers: Record<string, string | string[] | undefined>;
}
interface UndiciRequestLike {
  origin?: string;
  path?: string;
  method?: string;
  headers?: unknown;
}

function onHttpResponse(message: unknown): void {
  const { request, response } = message as { request?: HttpClientRequestLike; response?: IncomingMessageLike };
  const status = response?.statusCode;
  if (request === undefined || response === undefined || status === undefined) return;
  if (status !== 401 && status !== 403 && challenges.size === 0 && watchedHosts.size === 0) return;
  safely(
    () =>
      onAnswer({
        url: httpUrl(request),
        ...(request.method ? { method: request.method } : {}),
        status,
        requestHeader: (name) => {
          const value = request.getHeader(name);
          return value === undefined || value === null ? undefined : String(value);
        },
        responseHeaders: () => {
          const headers: Record<string, string> = {};
          for (const [key, value] of Object.entries(response.headers)) {
            if (value !== undefined) headers[key.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
          }
          return headers;
        },
      }),
    undefined,
  );
}

/**
 * The URL the client meant: the `Host` header (what it addressed: the real service name, also when the connection
 * goes elsewhere, e.g. to an emulator or through a proxy) before `request.host` (where it connected).
 */
function httpUrl(request: HttpClientRequestLike): string {
  const host = String(request.getHeader("host") ?? request.host ?? "");
  return `${request.protocol ?? "https:"}//${host}${request.path ?? "/"}`;
}

function onUndiciHeaders(message: unknown): void {
  const { request, response } = message as { request?: UndiciRequestLike; response?: { statusCode?: number; headers?: unknown[] } };
  const status = response?.statusCode;
  if (request === undefined || status === undefined) return;
  if (status !== 401 && status !== 403 && challenges.size === 0 && watchedHosts.size === 0) return;
  safely(() => {
    let requestHeaders: Record<string, string> | undefined;
    onAnswer({
      url: `${request.origin ?? ""}${request.path ?? "/"}`,
      ...(request.method ? { method: request.method } : {}),
      status,
      requestHeader: (name) => (requestHeaders ??= pairs(request.headers))[name],
      responseHeaders: () => pairs(response?.headers),
    });
  }, undefined);
}

/** undici keeps headers as a flat [name, value, …] array of strings or Buffers (or a raw string in old versions). */
function pairs(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(raw)) {
    for (let i = 0; i + 1 < raw.length; i += 2) out[String(raw[i]).toLowerCase()] = String(raw[i + 1]);
  } else if (typeof raw === "string") {
    for (const line of raw.split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) out[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
  }
  return out;
}

/** Subscribes once per process, when the first credential is made. Idempotent; failures are swallowed. */
export function enableZeroConfigObservation(): void {
  if (subscription.handlers !== undefined) return;
  const handlers: ObserverHandlers = { onHttpResponse, onUndiciHeaders };
  subscription.handlers = handlers;
  safely(() => {
    dc.subscribe("http.client.response.finish", handlers.onHttpResponse);
    dc.subscribe("undici:request:headers", handlers.onUndiciHeaders);
  }, undefined);
}

/** For tests: stop observing. */
export function disableZeroConfigObservation(): void {
  const handlers = subscription.handlers;
  if (handlers === undefined) return;
  delete subscription.handlers;
  safely(() => {
    dc.unsubscribe("http.client.response.finish", handlers.onHttpResponse);
    dc.unsubscribe("undici:request:headers", handlers.onUndiciHeaders);
  }, undefined);
}
