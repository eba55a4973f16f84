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
  /** The answer's Retry-After header (seconds or an HTTP date), when it had one (429, 503, 410). */
  retryAfter?: string;
  /** Milliseconds from sending the request to its answer or error. */
  durationMs: number;
  /** When the request was sent, ms since epoch. */
  startedAt: number;
}
