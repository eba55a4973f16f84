import {
  createHttpHeaders,
  createPipelineRequest,
  type HttpClient,
  type HttpHeaders,
  type PipelineRequest,
  type PipelineResponse,
} from "@azure/core-rest-pipeline";

/**
 * What `diagnosticHttpClient` returns: a core-rest-pipeline `HttpClient` that is also accepted by the
 * `httpClient` option of `@azure/storage-blob` (typed there as core-http-compat's `RequestPolicy`).
 */
export interface DiagnosticHttpClient extends HttpClient {
  /**
   * Sends a request and resolves with its response, whatever the status (a 401/403 is diagnosed on the way, never
   * changed). Takes a core-rest-pipeline `PipelineRequest`, or the core-http v1 request `@azure/storage-blob`
   * passes, which is answered in the v1 shape with `request` set to that same object.
   */
  sendRequest: ((request: PipelineRequest) => Promise<PipelineResponse>) &
    (<Request extends LegacyWebResourceLike>(request: Request) => Promise<LegacyResponseLike<Request>>);
}

/**
 * The core-http v1 shapes that `@azure/storage-blob` (through `@azure/core-http-compat`'s `convertHttpClient`) hands
 * to the `httpClient` option: a `WebResourceLike` request, and a response whose headers answer `toJson()`.
 */
export interface LegacyWebResourceLike {
  /** The request URL. */
  url: string;
  /** The HTTP method, e.g. `"GET"`. */
  method: string;
  /** The request headers; read with `rawHeaders()`, else `toJson({ preserveCase: true })`. */
  headers: {
    /** All headers, names in their original case. */
    rawHeaders?(): Record<string, string>;
    /** All headers as a plain object. */
    toJson?(options?: {
      /** Keep the names' original case instead of lower-casing them. */
      preserveCase?: boolean;
    }): Record<string, string>;
    /** One header's value, or undefined when it is not set. */
    get?(name: string): string | undefined;
  };
  /** The request body, passed on as the PipelineRequest `body`. */
  body?: unknown;
  /** Milliseconds before the request is aborted; 0 or absent: no timeout. */
  timeout?: number;
  /** Aborts the request, passed on as the PipelineRequest `abortSignal`. */
  abortSignal?: unknown;
  /** The request's id, passed on as the PipelineRequest `requestId`. */
  requestId?: string;
  /** Browser only: send cookies and credentials cross-origin. */
  withCredentials?: boolean;
  /** core-http-compat's `disableKeepAlive`, stored under this name: true sends the request without keep-alive. */
  keepAlive?: boolean;
  /** Form fields of a multipart body, passed on as the PipelineRequest `formData`. */
  formData?: unknown;
  /** Proxy to send the request through, passed on as the PipelineRequest `proxySettings`. */
  proxySettings?: unknown;
  /** Node `http(s).Agent` for the connection, passed on as the PipelineRequest `agent`. */
  agent?: unknown;
  /** Options for Node's `http(s).request`, passed on as the PipelineRequest `requestOverrides`. */
  requestOverrides?: unknown;
  /** Statuses whose body is left as a stream instead of being read as text. */
  streamResponseStatusCodes?: Set<number>;
  /** Upload progress callback, passed on as the PipelineRequest `onUploadProgress`. */
  onUploadProgress?: unknown;
  /** Download progress callback, passed on as the PipelineRequest `onDownloadProgress`. */
  onDownloadProgress?: unknown;
  /** Present on every core-http v1 request (never on a PipelineRequest): how the two shapes are told apart. Not called. */
  prepare(...args: never[]): unknown;
}

/** The headers of a {@link LegacyResponseLike}: core-http v1's `HttpHeaders` over the response's headers. */
export interface LegacyHttpHeadersLike {
  /** Sets a header (replacing its value). */
  set(name: string, value: string | number): void;
  /** A header's value, or undefined when it is absent. Names are case-insensitive. */
  get(name: string): string | undefined;
  /** Whether the header is present. */
  contains(name: string): boolean;
  /** Removes a header; true when it was present. */
  remove(name: string): boolean;
  /** All headers, names in their original case. */
  rawHeaders(): Record<string, string>;
  /** All headers as name/value pairs, names in their original case. */
  headersArray(): Array<{
    /** The header name. */
    name: string;
    /** The header value. */
    value: string;
  }>;
  /** The header names, lower-cased. */
  headerNames(): string[];
  /** The header values, in the order of `headerNames()`. */
  headerValues(): string[];
  /** An independent copy. */
  clone(): LegacyHttpHeadersLike;
  /** All headers as a plain object; names lower-cased unless `preserveCase`. */
  toJson(options?: {
    /** Keep the names' original case. */
    preserveCase?: boolean;
  }): Record<string, string>;
}

/**
 * The answer to a core-http v1 request: the PipelineResponse with `request` set to the v1 request that was passed in
 * and v1 headers. Satisfies core-http-compat's `CompatResponse`, which `@azure/storage-blob` reads.
 */
export interface LegacyResponseLike<Request extends LegacyWebResourceLike = LegacyWebResourceLike> extends Omit<PipelineResponse, "request" | "headers"> {
  /** The core-http v1 request this answers (the same object). */
  request: Request;
  /** The response headers. */
  headers: LegacyHttpHeadersLike;
}

/** A core-http-compat request (it has `prepare`, which a core-rest-pipeline PipelineRequest never has). */
export function isLegacyRequest(request: unknown): request is LegacyWebResourceLike {
  return request !== null && typeof request === "object" && typeof (request as { prepare?: unknown }).prepare === "function";
}

/** The same request as a core-rest-pipeline PipelineRequest (the reverse of core-http-compat's `toWebResourceLike`). */
export function pipelineRequestFromLegacy(webResource: LegacyWebResourceLike): PipelineRequest {
  const headers = webResource.headers.rawHeaders?.() ?? webResource.headers.toJson?.({ preserveCase: true }) ?? {};
  const request = createPipelineRequest({
    url: webResource.url,
    method: webResource.method as PipelineRequest["method"],
    headers: createHttpHeaders(headers),
    body: webResource.body as PipelineRequest["body"],
    timeout: webResource.timeout,
    abortSignal: webResource.abortSignal as PipelineRequest["abortSignal"],
    requestId: webResource.requestId,
    withCredentials: webResource.withCredentials,
    formData: webResource.formData as PipelineRequest["formData"],
    proxySettings: webResource.proxySettings as PipelineRequest["proxySettings"],
    // core-http-compat stores `disableKeepAlive` in `keepAlive` (and reads it back the same way).
    disableKeepAlive: webResource.keepAlive === true,
    streamResponseStatusCodes: webResource.streamResponseStatusCodes,
    onUploadProgress: webResource.onUploadProgress as PipelineRequest["onUploadProgress"],
    onDownloadProgress: webResource.onDownloadProgress as PipelineRequest["onDownloadProgress"],
  });
  if (webResource.agent !== undefined) request.agent = webResource.agent as PipelineRequest["agent"];
  if (webResource.requestOverrides !== undefined) request.requestOverrides = webResource.requestOverrides as PipelineRequest["requestOverrides"];
  return request;
}

/** A PipelineResponse in the shape core-http-compat reads back (`headers.toJson()`, `request` = the WebResourceLike). */
export function legacyResponse<Request extends LegacyWebResourceLike>(response: PipelineResponse, webResource: Request): LegacyResponseLike<Request> {
  return { ...response, request: webResource, headers: legacyHeaders(response.headers) };
}

function legacyHeaders(headers: HttpHeaders): LegacyHttpHeadersLike {
  return {
    set: (name: string, value: string | number) => headers.set(name, value),
    get: (name: string) => headers.get(name),
    contains: (name: string) => headers.has(name),
    remove: (name: string) => {
      const present = headers.has(name);
      headers.delete(name);
      return present;
    },
    toJson: (options?: { preserveCase?: boolean }) => headers.toJSON(options),
    rawHeaders: () => headers.toJSON({ preserveCase: true }),
    headerNames: () => Object.keys(headers.toJSON()),
    headerValues: () => Object.values(headers.toJSON()),
    headersArray: () => Object.entries(headers.toJSON({ preserveCase: true })).map(([name, value]) => ({ name, value })),
    clone: () => legacyHeaders(createHttpHeaders(headers.toJSON({ preserveCase: true }))),
  };
}
