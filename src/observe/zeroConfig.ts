import dc from "node:diagnostics_channel";
import { bearerOf } from "../credential/diagnose.js";
import { lookupIssuedToken } from "../credential/issuedTokens.js";
import { safely } from "../util/safe.js";

/**
 * Zero-config observation: with only the credential swapped in, 401/403 answers to HTTP requests that carried a
 * token one of our credentials issued are classified and logged, from status and headers (no body: the body
 * belongs to the client). Listens on node:diagnostics_channel for node:http (`http.client.response.finish`) and
 * undici/fetch (`undici:request:headers`). It never delays or alters a request: on a 2xx answer it reads one
 * number and returns.
 */

/** What the observer needs from a credential: implemented by DiagnosticCredential. */
export interface ObservingCredential {
  observeResponse(input: { url: string; status: number; headers: Record<string, string>; method?: string; token: string }): void;
}

let subscribed = false;

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
  if (status !== 401 && status !== 403) return;
  safely(() => {
    const token = bearerOf(String(request?.getHeader("authorization") ?? ""));
    if (token === undefined) return;
    const issued = lookupIssuedToken(token);
    if (issued === undefined) return;
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(response!.headers)) {
      if (value !== undefined) headers[key.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
    }
    const host = String(request!.getHeader("host") ?? request!.host ?? "");
    const url = `${request!.protocol ?? "https:"}//${host}${request!.path ?? "/"}`;
    (issued.owner as ObservingCredential).observeResponse({ url, status: status!, headers, token, ...(request!.method ? { method: request!.method } : {}) });
  }, undefined);
}

function onUndiciHeaders(message: unknown): void {
  const { request, response } = message as { request?: UndiciRequestLike; response?: { statusCode?: number; headers?: unknown[] } };
  const status = response?.statusCode;
  if (status !== 401 && status !== 403) return;
  safely(() => {
    const requestHeaders = pairs(request?.headers);
    const token = bearerOf(requestHeaders.authorization);
    if (token === undefined) return;
    const issued = lookupIssuedToken(token);
    if (issued === undefined) return;
    const url = `${request?.origin ?? ""}${request?.path ?? "/"}`;
    (issued.owner as ObservingCredential).observeResponse({
      url,
      status: status!,
      headers: pairs(response?.headers),
      token,
      ...(request?.method ? { method: request.method } : {}),
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
  if (subscribed) return;
  subscribed = true;
  safely(() => {
    dc.subscribe("http.client.response.finish", onHttpResponse);
    dc.subscribe("undici:request:headers", onUndiciHeaders);
  }, undefined);
}

/** For tests: stop observing. */
export function disableZeroConfigObservation(): void {
  if (!subscribed) return;
  subscribed = false;
  safely(() => {
    dc.unsubscribe("http.client.response.finish", onHttpResponse);
    dc.unsubscribe("undici:request:headers", onUndiciHeaders);
  }, undefined);
}
