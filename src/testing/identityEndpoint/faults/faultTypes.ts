// Public types of the faults the identity-endpoint emulator can show. What each one does, per shape, is in
// faultTable.ts.
import type { EmulatedIdentity } from "../identity.js";

/** Fields every fault may carry. */
export interface IdentityEndpointFaultBase {
  /**
   * Apply the fault to the next `times` token requests only, then answer normally again (and `fault` becomes
   * undefined). Default: until `setFault()` changes it.
   */
  times?: number;
}

/**
 * The app has no managed identity (every identity is treated as absent).
 * - container-apps: 400 `{"statusCode":400,"message":"No managed identity found for the app","correlationId":…}`
 *   (on the real platform `IDENTITY_ENDPOINT` is usually not set at all then; this is the answer when it is).
 * - imds: 400 `{"error":"invalid_request","error_description":"Identity not found"}`.
 */
export interface NoIdentityFault extends IdentityEndpointFaultBase {
  /** Discriminant. */
  kind: "no-identity";
}

/**
 * Force the answer for an unknown client_id/object_id/resource id, even for a known one. (Without this fault the
 * emulator gives the same answer automatically whenever a request names an identity it does not have.)
 * - container-apps: 500 `{"statusCode":500,"message":"An unexpected error occured while fetching the AAD Token.","correlationId":…}`
 * - imds: 400 `{"error":"invalid_request","error_description":"Identity not found"}`.
 */
export interface UnknownClientIdFault extends IdentityEndpointFaultBase {
  /** Discriminant. */
  kind: "unknown-client-id";
}

/** The old App Service answer: 400 `{"StatusCode":400,"Message":"No MSI found for specified ClientId/ResourceId.","CorrelationId":…}` (both shapes). */
export interface LegacyNoMsiFault extends IdentityEndpointFaultBase {
  /** Discriminant. */
  kind: "legacy-no-msi";
}

/**
 * 400 "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the
 * token request" (imds: `{"error":"invalid_request","error_description":…}`; container-apps:
 * `{"statusCode":400,"message":…,"correlationId":…}`), whatever the request names.
 */
export interface SeveralIdentitiesFault extends IdentityEndpointFaultBase {
  /** Discriminant. */
  kind: "several-identities";
}

/** Answer with this HTTP status (e.g. 404/410/429/500/503 storms; combine with `times` for recovery). */
export interface StatusFault extends IdentityEndpointFaultBase {
  /** Discriminant. */
  kind: "status";
  /** HTTP status to answer. */
  status: number;
  /**
   * Body: a string is sent as is (`""` for an empty body), anything else as JSON. Default: a shape-appropriate JSON
   * error body naming the status: container-apps `{"statusCode":503,"message":"Service Unavailable","correlationId":…}`,
   * imds `{"error":"server_error"|"invalid_request","error_description":"Service Unavailable"}` (`server_error` for 5xx).
   */
  body?: unknown;
  /** Response headers (e.g. `Retry-After`). `Content-Type` defaults to `application/json`. */
  headers?: Record<string, string>;
}

/** Accept the connection, read the request, never answer (the real credential then waits for ever). */
export interface HangFault extends IdentityEndpointFaultBase {
  /** Discriminant. */
  kind: "hang";
}

/** Reset the connection when a request arrives (the client sees ECONNRESET). */
export interface ResetFault extends IdentityEndpointFaultBase {
  /** Discriminant. */
  kind: "reset";
}

/**
 * Accept the connection, read the request, then close the connection without an answer (a FIN, not a reset: the
 * client sees "socket hang up", other SDKs "no response received").
 */
export interface CloseFault extends IdentityEndpointFaultBase {
  /** Discriminant. */
  kind: "close";
}

/**
 * Entra ID refuses the token the endpoint asks for on the app's behalf, and the endpoint relays Entra's answer
 * (status, OAuth `error`, `AADSTS<code>: …` description with its Trace ID / Correlation ID / Timestamp lines):
 * - imds: `{"error":"invalid_resource","error_description":"AADSTS500011: …"}`, as IMDS relays it;
 * - container-apps: `{"statusCode":400,"message":"AADSTS…","correlationId":…}` (the platform's error format).
 *
 * Codes with their real sentences: 501051 (app role assignment required), 500011 (resource principal not found),
 * 70011 (invalid scope), and the workload-identity codes of the Entra emulator. The sentences quote the request's
 * resource and identity unless `facts` says otherwise.
 */
export interface EntraErrorFault extends IdentityEndpointFaultBase {
  /** Discriminant. */
  kind: "entra-error";
  /** The AADSTS number, e.g. 501051. */
  code: number;
  /** Names the sentence quotes instead of the request's (e.g. `resourceName` of the target app). */
  facts?: {
    /** The calling identity's client id. Default the identity asked for, else the system-assigned one. */
    clientId?: string;
    /** The calling identity's name. Default its emulated name (the app's name for the system-assigned one). */
    clientName?: string;
    /** The resource named (AADSTS501051's target app, AADSTS500011's principal). Default the request's resource. */
    resource?: string;
    /** The target app's display name (AADSTS501051). Default the resource. */
    resourceName?: string;
    /** The tenant id the sentence names. */
    tenantId?: string;
    /** The tenant's display name (AADSTS500011). Default "Contoso". */
    tenantName?: string;
  };
}

/**
 * The resource asked for is no audience Entra ID knows (a scope such as `https://api.openai.com/.default`):
 * - container-apps: the platform's ambiguous 500 `{"statusCode":500,"message":"An unexpected error occured while
 *   fetching the AAD Token.","correlationId":…}`, the same answer as for an unknown client id;
 * - imds: 400 `{"error":"invalid_resource","error_description":"AADSTS500011: The resource principal named <resource> …"}`.
 */
export interface UnknownAudienceFault extends IdentityEndpointFaultBase {
  /** Discriminant. */
  kind: "unknown-audience";
}

/** Answer normally, but only after `ms` milliseconds. */
export interface DelayFault extends IdentityEndpointFaultBase {
  /** Discriminant. */
  kind: "delay";
  /** Milliseconds to wait before answering. */
  ms: number;
}

/** Mint the token for `audience` instead of the requested resource (the body's `resource` is still the requested one). */
export interface WrongAudienceFault extends IdentityEndpointFaultBase {
  /** Discriminant. */
  kind: "wrong-audience";
  /** The `aud` to put in the token. */
  audience: string;
}

/**
 * Mint the token with the claims (`oid`, `sub`, `appid`/`azp`, `xms_mirid`, `xms_az_rid`) of another identity
 * than the one asked for: `identity`, or a random user-assigned one made when the fault is set. The body's
 * `client_id` stays the requested identity's.
 */
export interface WrongIdentityFault extends IdentityEndpointFaultBase {
  /** Discriminant. */
  kind: "wrong-identity";
  /** Whose claims the token carries. Default a random user-assigned identity (fixed while the fault is set). */
  identity?: EmulatedIdentity;
}

/** Mint the token in another tenant (`tid`, `iss`, `idp`): `tenantId`, default a random GUID made when the fault is set. */
export interface WrongTenantFault extends IdentityEndpointFaultBase {
  /** Discriminant. */
  kind: "wrong-tenant";
  /** The tenant in `tid`/`iss`. Default a random GUID (fixed while the fault is set). */
  tenantId?: string;
}

/**
 * The token's `exp` is in the past (`secondsAgo` before now, default 3600), while the body's `expires_on` is still
 * in the future, so MSAL caches it and hands it out.
 */
export interface ExpiredFault extends IdentityEndpointFaultBase {
  /** Discriminant. */
  kind: "expired";
  /** How long ago `exp` was, in seconds. Default 3600. */
  secondsAgo?: number;
}

/** The token's `iat`/`nbf` are `secondsAhead` in the future (default 600): clock skew between host and caller. */
export interface NotYetValidFault extends IdentityEndpointFaultBase {
  /** Discriminant. */
  kind: "not-yet-valid";
  /** How far in the future `iat`/`nbf` are, in seconds. Default 600. */
  secondsAhead?: number;
}

/** The body carries only `expires_in` (no `expires_on`, `ext_expires_in`, `not_before`). */
export interface ExpiresInOnlyFault extends IdentityEndpointFaultBase {
  /** Discriminant. */
  kind: "expires-in-only";
}

/** `access_token` is an opaque string, not a JWT. */
export interface OpaqueTokenFault extends IdentityEndpointFaultBase {
  /** Discriminant. */
  kind: "opaque-token";
}

/** Every misbehaviour the emulator can show; set with `options.fault` or `emulator.setFault()`. */
export type IdentityEndpointFault =
  | NoIdentityFault
  | UnknownClientIdFault
  | LegacyNoMsiFault
  | SeveralIdentitiesFault
  | StatusFault
  | HangFault
  | ResetFault
  | CloseFault
  | DelayFault
  | EntraErrorFault
  | UnknownAudienceFault
  | WrongAudienceFault
  | WrongIdentityFault
  | WrongTenantFault
  | ExpiredFault
  | NotYetValidFault
  | ExpiresInOnlyFault
  | OpaqueTokenFault;

/** The `kind` of a fault. */
export type IdentityEndpointFaultKind = IdentityEndpointFault["kind"];
