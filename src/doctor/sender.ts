/**
 * The HTTP sender of the dependency calls: the caller's core-rest-pipeline HttpClient or `fetch` (redirects not
 * followed, bodies read up to what classification reads), and the transport error of a failed call.
 */
import { createHttpHeaders, createPipelineRequest, type HttpMethods } from "@azure/core-rest-pipeline";
import type { SmokeTestOptions } from "./types.js";

/** Bodies of dependency answers are read up to this size (what classification reads). */
const MAX_BODY_CHARS = 64 * 1024;

/** A dependency's answer, headers lower case, body cut at MAX_BODY_CHARS. */
export interface SentResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends one request; rejects on a transport failure or when `signal` aborts. */
export type Sender = (request: {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
  timeoutMs: number;
}) => Promise<SentResponse>;

/** The sender for these options: `httpClient` when given, else `fetch` (default `globalThis.fetch`). */
export function makeSender(options: SmokeTestOptions): Sender {
  const httpClient = options.httpClient;
  if (httpClient !== undefined && httpClient !== null && typeof httpClient.sendRequest === "function") {
    return async (request) => {
      const response = await httpClient.sendRequest(
        createPipelineRequest({
          url: request.url,
          method: request.method as HttpMethods,
          headers: createHttpHeaders(request.headers),
          ...(request.body !== undefined ? { body: request.body } : {}),
          abortSignal: request.signal,
          timeout: request.timeoutMs,
        }),
      );
      return { status: response.status, headers: response.headers.toJSON(), body: (response.bodyAsText ?? "").slice(0, MAX_BODY_CHARS) };
    };
  }
  const fetchImpl = typeof options.fetch === "function" ? options.fetch : globalThis.fetch;
  return async (request) => {
    const response = await fetchImpl(request.url, {
      method: request.method,
      headers: request.headers,
      redirect: "manual",
      signal: request.signal,
      ...(request.body !== undefined ? { body: request.body } : {}),
    });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => {
      headers[key.toLowerCase()] = value;
    });
    const body = request.method === "HEAD" ? "" : await readLimited(response);
    return { status: response.status, headers, body };
  };
}

async function readLimited(response: Response): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (text.length < MAX_BODY_CHARS) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return text.slice(0, MAX_BODY_CHARS);
}

/** The transport code and a one-line message of a fetch / http / RestError failure. */
export function transportError(error: unknown): { code: string; message: string } {
  let current: unknown = error;
  let code: string | undefined;
  const messages: string[] = [];
  for (let depth = 0; depth < 5 && current !== null && typeof current === "object"; depth++) {
    const record = current as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    if (code === undefined && typeof record.code === "string" && record.code.length > 0) code = record.code;
    if (typeof record.message === "string" && record.message.length > 0) messages.push(record.message);
    if (code === undefined && Array.isArray(record.errors)) {
      const inner = record.errors.find((e) => e !== null && typeof e === "object" && typeof (e as { code?: unknown }).code === "string") as
        { code: string } | undefined;
      if (inner !== undefined) code = inner.code;
    }
    current = record.cause;
  }
  const detail = messages.filter((m) => m !== "fetch failed").at(-1) ?? messages[0] ?? String(error);
  const finalCode = code ?? "ERROR";
  return { code: finalCode, message: `${finalCode}: ${detail}`.replace(/\s+/g, " ").slice(0, 300) };
}
