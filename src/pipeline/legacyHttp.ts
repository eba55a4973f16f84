import { createHttpHeaders, createPipelineRequest, type HttpClient, type PipelineRequest, type PipelineResponse } from "@azure/core-rest-pipeline";

/**
 * What `diagnosticHttpClient` returns: a core-rest-pipeline `HttpClient` that is also accepted by the
 * `httpClient` option of `@azure/storage-blob` (typed there as core-http-compat's `RequestPolicy`).
 */
export interface DiagnosticHttpClient extends HttpClient {
  sendRequest: ((request: PipelineRequest) => Promise<PipelineResponse>) &
    // The compat response type (core-http-compat's `CompatResponse`) is not worth restating: the value returned is one.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    ((request: LegacyWebResourceLike) => Promise<any>);
}

/**
 * The core-http v1 shapes that `@azure/storage-blob` (through `@azure/core-http-compat`'s `convertHttpClient`) hands
 * to the `httpClient` option: a `WebResourceLike` request, and a response whose headers answer `toJson()`.
 */
export interface LegacyWebResourceLike {
  url: string;
  method: string;
  headers: { rawHeaders?(): Record<string, string>; toJson?(options?: { preserveCase?: boolean }): Record<string, string>; get?(name: string): string | undefined };
  body?: unknown;
  timeout?: number;
  abortSignal?: unknown;
  requestId?: string;
  withCredentials?: boolean;
  keepAlive?: boolean;
  formData?: unknown;
  proxySettings?: unknown;
  agent?: unknown;
  requestOverrides?: unknown;
  streamResponseStatusCodes?: Set<number>;
  onUploadProgress?: unknown;
  onDownloadProgress?: unknown;
  prepare(...args: never[]): unknown;
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
// The compat response type is core-http-compat's `CompatResponse`; the library does not depend on that package.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function legacyResponse(response: PipelineResponse, webResource: LegacyWebResourceLike): any {
  const headers = response.headers;
  return {
    ...response,
    request: webResource,
    headers: {
      get: (name: string) => headers.get(name),
      contains: (name: string) => headers.has(name),
      toJson: (options?: { preserveCase?: boolean }) => headers.toJSON(options),
      rawHeaders: () => headers.toJSON({ preserveCase: true }),
      headerNames: () => Object.keys(headers.toJSON()),
      headerValues: () => Object.values(headers.toJSON()),
      headersArray: () => Object.entries(headers.toJSON({ preserveCase: true })).map(([name, value]) => ({ name, value })),
    },
  };
}
