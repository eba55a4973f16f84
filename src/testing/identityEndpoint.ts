import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { createTokenSigner, DEFAULT_TENANT_ID } from "./tokenSigner.js";
import type { TokenSigner } from "./tokenSigner.js";
import { LISTEN_BACKLOG } from "./ports.js";

// ---------------------------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------------------------

/**
 * The wire protocol an {@link IdentityEndpointEmulator} speaks.
 * - `"container-apps"`: the App Service / Functions / Container Apps endpoint (`IDENTITY_ENDPOINT` +
 *   `IDENTITY_HEADER`, `GET /msi/token?api-version=2019-08-01`, header `X-IDENTITY-HEADER`). MSAL calls this
 *   source "AppService".
 * - `"imds"`: the Azure Instance Metadata Service (`GET /metadata/identity/oauth2/token?api-version=2018-02-01`,
 *   header `Metadata: true`), reached through `AZURE_POD_IDENTITY_AUTHORITY_HOST`.
 */
export type IdentityEndpointShape = "container-apps" | "imds";

/** A managed identity the emulator can issue tokens for. */
export interface EmulatedIdentity {
  /** `"system-assigned"` (tied to the app) or `"user-assigned"` (a standalone resource attached to the app). */
  kind: "system-assigned" | "user-assigned";
  /** System-assigned: the app's name. User-assigned: the identity resource's name. */
  name: string;
  /** Client (application) id: `appid` (v1) / `azp` (v2) in its tokens; what `client_id=` selects. */
  clientId: string;
  /** Object (principal) id: `oid`/`sub` in its tokens; what role assignments name; what `object_id=` selects. */
  objectId: string;
  /**
   * Resource id: `xms_mirid` in its tokens; what `mi_res_id=`/`msi_res_id=` selects. System-assigned: the host
   * resource (`…/providers/Microsoft.App/containerApps/<app>`); user-assigned:
   * `…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>`.
   */
  resourceId: string;
}

/** The Container Apps replica the emulator pretends to serve (only used for `env`). */
export interface EmulatedContainerApp {
  /** `CONTAINER_APP_NAME`; also the system-assigned identity's name. Default `"diag-app"`. */
  name?: string;
  /** `CONTAINER_APP_REVISION`. Default `<name>--<7 random chars>`. */
  revision?: string;
  /** `CONTAINER_APP_REPLICA_NAME`. Default `<revision>-<10 random chars>-<5 random chars>`. */
  replicaName?: string;
  /** `CONTAINER_APP_ENV_DNS_SUFFIX`. Default `"happy-field-1a2b3c4d.westeurope.azurecontainerapps.io"`. */
  envDnsSuffix?: string;
  /** `CONTAINER_APP_HOSTNAME`. Default `<revision>.<envDnsSuffix>`. */
  hostname?: string;
}

/** Options of {@link startIdentityEndpoint}. Everything is optional. */
export interface IdentityEndpointOptions {
  /** Wire protocol. Default `"container-apps"`. */
  shape?: IdentityEndpointShape;
  /** Interface to listen on. Default `"127.0.0.1"`. */
  host?: string;
  /** Port. Default 0 (any free port). */
  port?: number;
  /** Tenant of every identity (`tid`, issuer). Default {@link DEFAULT_TENANT_ID}. */
  tenantId?: string;
  /** Subscription in resource ids. Default a fixed GUID. */
  subscriptionId?: string;
  /** Resource group in resource ids. Default `"rg-diag"`. */
  resourceGroup?: string;
  /** Names used in `env` and in the system-assigned identity's resource id. */
  containerApp?: EmulatedContainerApp;
  /**
   * The system-assigned identity: `true` (default) for one with random ids, `false` for none, or the fields
   * to fix (the rest is generated).
   */
  systemAssigned?: boolean | Partial<EmulatedIdentity>;
  /** User-assigned identities attached to the app. Each needs a `name`; ids are random unless given. */
  userAssigned?: Array<Partial<EmulatedIdentity> & {
    /** The identity resource's name: its resource id ends in it. */
    name: string;
  }>;
  /** The `IDENTITY_HEADER` secret (container-apps shape). Default 32 random hex characters. */
  identityHeader?: string;
  /** Token lifetime in seconds (`exp - iat`, `expires_in`). Default 86399, like the platform. */
  tokenLifetimeSeconds?: number;
  /**
   * Access token claim shape. `"1.0"` (default): `aud` = the resource as requested, `iss`
   * `https://sts.windows.net/<tid>/`, `appid`. `"2.0"`: `azp` instead of `appid`, `iss`
   * `https://login.microsoftonline.com/<tid>/v2.0`, `aud` = the resource's application id for well-known
   * resources (Key Vault, ARM, Storage, Graph, or those in `audienceAppIds`), else the resource as requested.
   */
  tokenVersion?: "1.0" | "2.0";
  /** Extra resource URI → application id pairs for v2 `aud`. */
  audienceAppIds?: Record<string, string>;
  /** Signer to use (e.g. one shared with service emulators). Default a new one for `tenantId`. */
  signer?: TokenSigner;
  /** Fault active from the start. */
  fault?: IdentityEndpointFault;
}

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
  | DelayFault
  | WrongAudienceFault
  | WrongIdentityFault
  | WrongTenantFault
  | ExpiredFault
  | NotYetValidFault
  | ExpiresInOnlyFault
  | OpaqueTokenFault;

/** The `kind` of a fault. */
export type IdentityEndpointFaultKind = IdentityEndpointFault["kind"];

/** One request the emulator received. The identity header's value is never stored. */
export interface RecordedIdentityRequest {
  /** Arrival time. */
  time: Date;
  /** HTTP method. */
  method: string;
  /** URL path, without the query. */
  path: string;
  /** Query parameters (last value wins). */
  query: Record<string, string>;
  /** `resource` query parameter. */
  resource?: string;
  /** `api-version` query parameter. */
  apiVersion?: string;
  /** `client_id` (or `clientid`) sent. */
  clientId?: string;
  /** `object_id` sent. */
  objectId?: string;
  /** `mi_res_id` or `msi_res_id` sent. */
  resourceId?: string;
  /** Whether an `X-IDENTITY-HEADER` header was sent (its value is not kept). */
  identityHeaderPresent: boolean;
  /** Whether that header matched the emulator's secret. */
  identityHeaderValid: boolean;
  /** Whether `Metadata: true` was sent. */
  metadataHeader: boolean;
  /** `x-ms-client-request-id` header (MSAL sends the same id on every retry of one acquisition). */
  clientRequestId?: string;
  /** The fault applied to this request, if any. */
  fault?: IdentityEndpointFaultKind;
  /** The identity a token was issued for (undefined when no token was issued). */
  identity?: EmulatedIdentity;
  /** HTTP status answered; undefined while pending and for `hang`/`reset`. */
  status?: number;
  /**
   * What happened: a token, an error status, a never-answered request, a reset connection, or `"other"` for a
   * non-token path that was answered (`/jwks`).
   */
  outcome: "pending" | "token" | "error" | "hang" | "reset" | "other";
}

/** Options of {@link IdentityEndpointEmulator.mintToken}: any claim to override, plus these keys. */
export type MintTokenOptions = Record<string, unknown> & {
  /** Identity whose claims to use. Default: the system-assigned identity, else the first user-assigned one. */
  identity?: EmulatedIdentity;
  /** Audience (resource URI, `/.default` stripped). Default `"https://management.azure.com/"`. */
  resource?: string;
  /** `exp - iat`. Default the emulator's token lifetime. */
  lifetimeSeconds?: number;
};

/** Which identity a direct request names (at most one). */
export interface IdentitySelector {
  /** Sent as `client_id`. */
  clientId?: string;
  /** Sent as `object_id`. */
  objectId?: string;
  /** Sent as `mi_res_id` (container-apps) or `msi_res_id` (imds). */
  resourceId?: string;
}

/** A running identity endpoint. Close it when done (`await emulator.close()`). */
export interface IdentityEndpointEmulator {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Port listened on. */
  readonly port: number;
  /** The token URL of its shape: `<url>/msi/token` or `<url>/metadata/identity/oauth2/token`. */
  readonly endpoint: string;
  /** The wire protocol spoken. */
  readonly shape: IdentityEndpointShape;
  /**
   * Environment variables that make the real `ManagedIdentityCredential` use this emulator (set them before the
   * credential is first constructed in a fresh process: MSAL detects its source once per process).
   * - container-apps: `IDENTITY_ENDPOINT`, `IDENTITY_HEADER`, `MSI_ENDPOINT`, `CONTAINER_APP_NAME`,
   *   `CONTAINER_APP_REVISION`, `CONTAINER_APP_REPLICA_NAME`, `CONTAINER_APP_HOSTNAME`, `CONTAINER_APP_ENV_DNS_SUFFIX`.
   * - imds: `AZURE_POD_IDENTITY_AUTHORITY_HOST` = `url` (MSAL appends `/metadata/identity/oauth2/token`, then
   *   lower-cases the URL and adds a trailing `/`). No `IDENTITY_*`/`MSI_*` variable may be set alongside.
   */
  readonly env: Readonly<Record<string, string>>;
  /** Tenant of the identities (`tid` of healthy tokens). */
  readonly tenantId: string;
  /** The identity header secret (container-apps shape). Treat as a secret: never log it. */
  readonly identityHeader: string;
  /** Resource id of the emulated app (`…/Microsoft.App/containerApps/<name>`): `xms_az_rid` of user-assigned tokens. */
  readonly hostResourceId: string;
  /** The identities attached to the emulated app. */
  readonly identities: {
    /** The app's system-assigned identity; undefined when it has none (`systemAssigned: false`). */
    systemAssigned?: EmulatedIdentity;
    /** The user-assigned identities, in the order given. */
    userAssigned: EmulatedIdentity[];
  };
  /** Signs every token; use `signer.publicJwk` / `signer.jwks()` / `signer.verify()` to check them. */
  readonly signer: TokenSigner;
  /** Every request received, in order (also non-token paths). */
  readonly requests: RecordedIdentityRequest[];
  /** The fault in effect (undefined once a `times`-limited fault is used up). */
  readonly fault: IdentityEndpointFault | undefined;
  /** Sets (or with `undefined` clears) the fault for the following requests. */
  setFault(fault: IdentityEndpointFault | undefined): void;
  /** Mints a token exactly as a request would, without HTTP. */
  mintToken(options?: MintTokenOptions): Promise<string>;
  /** The URL of a token request in this emulator's shape (for direct `fetch` tests). */
  tokenUrl(resource: string, selector?: IdentitySelector): string;
  /** The headers a well-behaved client sends to this emulator (identity header or `Metadata: true`). */
  requestHeaders(): Record<string, string>;
  /** Stops listening and destroys every open connection (including hanging ones). Idempotent. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------------------------

const DEFAULT_SUBSCRIPTION_ID = "0b1f6471-1bf0-4dda-aec3-cb9272f09590";
const DEFAULT_RESOURCE_GROUP = "rg-diag";
const DEFAULT_LIFETIME_SECONDS = 86_399;
/** `xms_tcdt`: the tenant's creation time (a fixed plausible value). */
const TENANT_CREATION_TIME = 1_289_241_547;
const APP_SERVICE_PATH = "/msi/token";
const IMDS_PATH = "/metadata/identity/oauth2/token";

const MSG_NO_IDENTITY_APP_SERVICE = "No managed identity found for the app";
const MSG_IDENTITY_NOT_FOUND = "Identity not found";
const MSG_UNEXPECTED = "An unexpected error occured while fetching the AAD Token.";
const MSG_SEVERAL = "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request";
const MSG_LEGACY_NO_MSI = "No MSI found for specified ClientId/ResourceId.";

/** Application ids of well-known resources (v2 `aud`). Keys: resource URI, lower case, no trailing slash. */
const WELL_KNOWN_APP_IDS: Record<string, string> = {
  "https://vault.azure.net": "cfa8b339-82a2-471a-a3c9-0fc0be7a4093",
  "https://management.azure.com": "797f4846-ba00-4fd7-ba43-dac1f8f63013",
  "https://management.core.windows.net": "797f4846-ba00-4fd7-ba43-dac1f8f63013",
  "https://storage.azure.com": "e406a681-f3d4-42a8-90b6-c2b029497af1",
  "https://graph.microsoft.com": "00000003-0000-0000-c000-000000000000",
};

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

const randomChars = (length: number, alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"): string => {
  const bytes = randomBytes(length);
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[bytes[i] % alphabet.length];
  return out;
};

const normalizeResource = (resource: string): string => {
  let r = resource.trim();
  if (r.endsWith("/.default")) r = r.slice(0, -"/.default".length);
  return r;
};

const sameId = (a: string | undefined, b: string | undefined): boolean =>
  a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

function secretsEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given, "utf8");
  const b = Buffer.from(expected, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

interface ActiveFault {
  fault: IdentityEndpointFault;
  remaining: number | undefined;
  /** Resolved once when the fault is set, so every request of the fault mints the same wrong identity/tenant. */
  wrongIdentity?: EmulatedIdentity;
  wrongTenantId?: string;
}

interface TokenAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  identity?: EmulatedIdentity;
}

// ---------------------------------------------------------------------------------------------------------------
// The emulator
// ---------------------------------------------------------------------------------------------------------------

/**
 * Starts a local managed-identity endpoint on 127.0.0.1 that the real `ManagedIdentityCredential` can use (via
 * `emulator.env`), issuing RS256-signed access tokens shaped like Entra ID's and able to misbehave on demand
 * (see {@link IdentityEndpointFault}).
 *
 * @example
 * ```ts
 * const mi = await startIdentityEndpoint({ userAssigned: [{ name: "uami-reader" }] });
 * // in a fresh process with mi.env set: new ManagedIdentityCredential(mi.identities.userAssigned[0].clientId)
 * mi.setFault({ kind: "status", status: 500, times: 2 });
 * await mi.close();
 * ```
 */
export async function startIdentityEndpoint(options: IdentityEndpointOptions = {}): Promise<IdentityEndpointEmulator> {
  const shape: IdentityEndpointShape = options.shape ?? "container-apps";
  if (shape !== "container-apps" && shape !== "imds") throw new TypeError(`unknown identity endpoint shape: ${String(shape)}`);
  const host = options.host ?? "127.0.0.1";
  const tenantId = options.tenantId ?? options.signer?.tenantId ?? DEFAULT_TENANT_ID;
  const subscriptionId = options.subscriptionId ?? DEFAULT_SUBSCRIPTION_ID;
  const resourceGroup = options.resourceGroup ?? DEFAULT_RESOURCE_GROUP;
  const lifetime = options.tokenLifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS;
  const tokenVersion = options.tokenVersion ?? "1.0";
  const identityHeader = options.identityHeader ?? randomBytes(16).toString("hex");
  const signer = options.signer ?? (await createTokenSigner({ tenantId }));
  const appIds: Record<string, string> = { ...WELL_KNOWN_APP_IDS };
  for (const [k, v] of Object.entries(options.audienceAppIds ?? {})) appIds[k.toLowerCase().replace(/\/+$/, "")] = v;

  const appName = options.containerApp?.name ?? "diag-app";
  const revision = options.containerApp?.revision ?? `${appName}--${randomChars(7)}`;
  const replicaName = options.containerApp?.replicaName ?? `${revision}-${randomChars(10)}-${randomChars(5)}`;
  const envDnsSuffix = options.containerApp?.envDnsSuffix ?? "happy-field-1a2b3c4d.westeurope.azurecontainerapps.io";
  const hostname = options.containerApp?.hostname ?? `${revision}.${envDnsSuffix}`;
  const resourcePrefix = `/subscriptions/${subscriptionId}/resourcegroups/${resourceGroup}/providers`;
  const hostResourceId = `${resourcePrefix}/Microsoft.App/containerApps/${appName}`;

  const makeIdentity = (kind: EmulatedIdentity["kind"], given: Partial<EmulatedIdentity> & { name?: string }): EmulatedIdentity => {
    const name = given.name ?? appName;
    return Object.freeze({
      kind,
      name,
      clientId: given.clientId ?? randomUUID(),
      objectId: given.objectId ?? randomUUID(),
      resourceId:
        given.resourceId ??
        (kind === "system-assigned" ? hostResourceId : `${resourcePrefix}/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`),
    });
  };

  const sys = options.systemAssigned ?? true;
  const systemAssigned = sys === false ? undefined : makeIdentity("system-assigned", sys === true ? {} : { ...sys, name: sys.name ?? appName });
  const userAssigned = (options.userAssigned ?? []).map((u) => makeIdentity("user-assigned", u));
  const identities = Object.freeze({ systemAssigned, userAssigned: Object.freeze([...userAssigned]) as EmulatedIdentity[] });
  const allIdentities = (): EmulatedIdentity[] => (systemAssigned ? [systemAssigned, ...userAssigned] : [...userAssigned]);

  // --- faults -------------------------------------------------------------------------------------------------
  let active: ActiveFault | undefined;
  const setFault = (fault: IdentityEndpointFault | undefined): void => {
    if (fault === undefined) {
      active = undefined;
      return;
    }
    const times = fault.times;
    if (times !== undefined && (!Number.isInteger(times) || times < 0)) throw new RangeError("fault.times must be a non-negative integer");
    active = { fault, remaining: times };
    if (fault.kind === "wrong-identity") {
      active.wrongIdentity =
        fault.identity ??
        (() => {
          const name = `uami-other-${randomChars(6)}`;
          return makeIdentity("user-assigned", { name });
        })();
    }
    if (fault.kind === "wrong-tenant") active.wrongTenantId = fault.tenantId ?? randomUUID();
    if (times === 0) active = undefined;
  };
  /** Takes the fault for one token request, counting down `times`. */
  const takeFault = (): ActiveFault | undefined => {
    const current = active;
    if (!current) return undefined;
    if (current.remaining !== undefined) {
      current.remaining -= 1;
      if (current.remaining <= 0 && active === current) active = undefined;
    }
    return current;
  };
  setFault(options.fault);

  // --- tokens -------------------------------------------------------------------------------------------------
  const buildClaims = (
    identity: EmulatedIdentity,
    resource: string,
    issuedAt: number,
    lifetimeSeconds: number,
    tid: string,
  ): Record<string, unknown> => {
    const audience = normalizeResource(resource);
    const v2 = tokenVersion === "2.0";
    const claims: Record<string, unknown> = {
      aud: v2 ? (appIds[audience.toLowerCase().replace(/\/+$/, "")] ?? audience) : audience,
      iss: v2 ? `https://login.microsoftonline.com/${tid}/v2.0` : `https://sts.windows.net/${tid}/`,
      iat: issuedAt,
      nbf: issuedAt,
      exp: issuedAt + lifetimeSeconds,
      aio: `${randomBytes(48).toString("base64url")}`,
    };
    if (v2) {
      claims.azp = identity.clientId;
      claims.azpacr = "2";
    } else {
      claims.appid = identity.clientId;
      claims.appidacr = "2";
      claims.idp = `https://sts.windows.net/${tid}/`;
    }
    Object.assign(claims, {
      idtyp: "app",
      oid: identity.objectId,
      rh: `1.${randomBytes(48).toString("base64url")}.`,
      sub: identity.objectId,
      tid,
      uti: randomBytes(16).toString("base64url"),
      ver: tokenVersion,
      xms_mirid: identity.resourceId,
    });
    if (identity.kind === "user-assigned") claims.xms_az_rid = hostResourceId;
    claims.xms_tcdt = TENANT_CREATION_TIME;
    return claims;
  };

  const mintToken = async (mintOptions: MintTokenOptions = {}): Promise<string> => {
    const { identity, resource, lifetimeSeconds, ...overrides } = mintOptions;
    const who =
      identity ?? systemAssigned ?? userAssigned[0] ?? makeIdentity("user-assigned", { name: `uami-${randomChars(6)}` });
    const claims = buildClaims(who, resource ?? "https://management.azure.com/", nowSeconds(), lifetimeSeconds ?? lifetime, tenantId);
    return signer.sign({ ...claims, ...overrides });
  };

  // --- error bodies -------------------------------------------------------------------------------------------
  const appServiceError = (status: number, message: string): TokenAnswer => ({
    status,
    body: { statusCode: status, message, correlationId: randomUUID() },
  });
  const imdsError = (status: number, description: string, error = "invalid_request"): TokenAnswer => ({
    status,
    body: { error, error_description: description },
  });
  const shapeError = (status: number, message: string): TokenAnswer =>
    shape === "imds" ? imdsError(status, message) : appServiceError(status, message);
  const noIdentityAnswer = (): TokenAnswer =>
    shape === "imds" ? imdsError(400, MSG_IDENTITY_NOT_FOUND) : appServiceError(400, MSG_NO_IDENTITY_APP_SERVICE);
  const unknownIdAnswer = (): TokenAnswer =>
    shape === "imds" ? imdsError(400, MSG_IDENTITY_NOT_FOUND) : appServiceError(500, MSG_UNEXPECTED);
  const severalAnswer = (): TokenAnswer => shapeError(400, MSG_SEVERAL);
  const legacyAnswer = (): TokenAnswer => ({
    status: 400,
    body: { StatusCode: 400, Message: MSG_LEGACY_NO_MSI, CorrelationId: randomUUID() },
  });

  // --- request handling ---------------------------------------------------------------------------------------
  const requests: RecordedIdentityRequest[] = [];
  const tokenPath = shape === "imds" ? IMDS_PATH : APP_SERVICE_PATH;

  const tokenAnswer = async (record: RecordedIdentityRequest, current: ActiveFault | undefined): Promise<TokenAnswer> => {
    const kind = current?.fault.kind;
    if (current?.fault.kind === "status") {
      const f = current.fault;
      const reason = STATUS_CODES[f.status] ?? "Error";
      const base =
        f.body !== undefined
          ? { status: f.status, body: f.body }
          : shape === "imds"
            ? imdsError(f.status, reason, f.status >= 500 ? "server_error" : "invalid_request")
            : appServiceError(f.status, reason);
      return { ...base, headers: f.headers };
    }
    // Header checks, like the platform.
    if (shape === "container-apps") {
      if (!record.identityHeaderValid) {
        return appServiceError(401, record.identityHeaderPresent ? "The X-IDENTITY-HEADER value is not valid." : "The X-IDENTITY-HEADER header is missing.");
      }
    } else if (!record.metadataHeader) {
      return imdsError(400, "Required metadata header not specified");
    }
    if (!record.apiVersion) {
      return shape === "imds"
        ? imdsError(400, "Required query variable 'api-version' is missing")
        : appServiceError(400, "The api-version query parameter is required.");
    }
    if (!record.resource) {
      return shape === "imds" ? imdsError(400, "Required audience parameter not specified") : appServiceError(400, "The resource query parameter is required.");
    }
    if (kind === "legacy-no-msi") return legacyAnswer();
    if (kind === "several-identities") return severalAnswer();
    if (kind === "unknown-client-id") return unknownIdAnswer();

    // Pick the identity.
    const known = kind === "no-identity" ? [] : allIdentities();
    const named = record.clientId !== undefined || record.objectId !== undefined || record.resourceId !== undefined;
    let identity: EmulatedIdentity | undefined;
    if (named) {
      if (known.length === 0) return noIdentityAnswer();
      identity = known.find(
        (i) =>
          (record.clientId !== undefined && sameId(i.clientId, record.clientId)) ||
          (record.objectId !== undefined && sameId(i.objectId, record.objectId)) ||
          (record.resourceId !== undefined && sameId(i.resourceId, record.resourceId)),
      );
      if (!identity) return unknownIdAnswer();
    } else {
      const sysNow = kind === "no-identity" ? undefined : systemAssigned;
      const usersNow = known.filter((i) => i.kind === "user-assigned");
      if (sysNow) identity = sysNow;
      else if (usersNow.length === 0) return noIdentityAnswer();
      else if (shape === "imds" && usersNow.length === 1) identity = usersNow[0];
      else return severalAnswer();
    }

    // Mint.
    const now = nowSeconds();
    let issuedAt = now;
    let tokenLifetime = lifetime;
    let tid = tenantId;
    let claimsOf = identity;
    let audience = record.resource;
    if (current) {
      const f = current.fault;
      if (f.kind === "expired") {
        const ago = f.secondsAgo ?? 3600;
        tokenLifetime = Math.min(lifetime, 3600);
        issuedAt = now - ago - tokenLifetime;
      } else if (f.kind === "not-yet-valid") {
        issuedAt = now + (f.secondsAhead ?? 600);
      } else if (f.kind === "wrong-audience") {
        audience = f.audience;
      } else if (f.kind === "wrong-identity") {
        claimsOf = current.wrongIdentity ?? claimsOf;
      } else if (f.kind === "wrong-tenant") {
        tid = current.wrongTenantId ?? tid;
      }
    }
    let accessToken: string;
    if (kind === "opaque-token") {
      accessToken = randomBytes(96).toString("base64");
    } else {
      const claims = buildClaims(claimsOf, audience, issuedAt, tokenLifetime, tid);
      accessToken = await signer.sign(claims);
    }
    const expiresOn = String(now + lifetime);
    let body: Record<string, unknown>;
    if (kind === "expires-in-only") {
      body = { access_token: accessToken, expires_in: String(lifetime), resource: record.resource, token_type: "Bearer", client_id: identity.clientId };
    } else if (shape === "imds") {
      body = {
        access_token: accessToken,
        client_id: identity.clientId,
        expires_in: String(lifetime),
        expires_on: expiresOn,
        ext_expires_in: String(lifetime),
        not_before: String(now),
        resource: record.resource,
        token_type: "Bearer",
      };
    } else {
      body = { access_token: accessToken, expires_on: expiresOn, resource: record.resource, token_type: "Bearer", client_id: identity.clientId };
    }
    return { status: 200, body, identity };
  };

  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;
  let closing: Promise<void> | undefined;

  const send = (res: ServerResponse, record: RecordedIdentityRequest, answer: TokenAnswer): void => {
    const text = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body ?? "");
    const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8", ...lowerKeys(answer.headers ?? {}) };
    if (shape === "container-apps") headers["server"] ??= "Kestrel";
    record.status = answer.status;
    record.outcome = answer.status === 200 && answer.identity ? "token" : "error";
    record.identity = answer.status === 200 ? answer.identity : undefined;
    if (res.destroyed) return;
    res.writeHead(answer.status, { ...headers, "content-length": String(Buffer.byteLength(text)) });
    res.end(text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const parsed = new URL(req.url ?? "/", "http://emulator.invalid");
    const query: Record<string, string> = {};
    for (const [k, v] of parsed.searchParams) query[k] = v;
    const headerValue = req.headers["x-identity-header"];
    const given = Array.isArray(headerValue) ? headerValue[0] : headerValue;
    const metadata = req.headers["metadata"];
    const requestId = req.headers["x-ms-client-request-id"];
    const record: RecordedIdentityRequest = {
      time: new Date(),
      method: req.method ?? "GET",
      path: parsed.pathname,
      query,
      resource: query["resource"],
      apiVersion: query["api-version"],
      clientId: query["client_id"] ?? query["clientid"],
      objectId: query["object_id"],
      resourceId: query["mi_res_id"] ?? query["msi_res_id"],
      identityHeaderPresent: given !== undefined,
      identityHeaderValid: given !== undefined && secretsEqual(given, identityHeader),
      metadataHeader: (Array.isArray(metadata) ? metadata[0] : metadata)?.toLowerCase() === "true",
      clientRequestId: Array.isArray(requestId) ? requestId[0] : requestId,
      outcome: "pending",
    };
    requests.push(record);

    // Drain the body (MSAL sends none on GET, but be tolerant).
    req.resume();

    const path = parsed.pathname.replace(/\/+$/, "").toLowerCase();
    if (path === "/jwks" || path.endsWith("/discovery/keys") || path.endsWith("/discovery/v2.0/keys")) {
      send(res, record, { status: 200, body: signer.jwks() });
      record.outcome = "other";
      return;
    }
    if (path !== tokenPath) {
      send(res, record, shapeError(404, `No route for ${parsed.pathname}`));
      return;
    }
    if (record.method !== "GET") {
      send(res, record, shapeError(405, "The requested resource does not support this HTTP method."));
      return;
    }

    const current = takeFault();
    if (current) record.fault = current.fault.kind;
    const kind = current?.fault.kind;
    if (kind === "hang") {
      record.outcome = "hang";
      return; // never answered; the socket is destroyed by close()
    }
    if (kind === "reset") {
      record.outcome = "reset";
      const socket = req.socket;
      if (typeof socket.resetAndDestroy === "function") socket.resetAndDestroy();
      else socket.destroy();
      return;
    }
    if (current?.fault.kind === "delay") {
      const ms = current.fault.ms;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          timers.delete(t);
          resolve();
        }, ms);
        timers.add(t);
      });
      if (closed) return;
    }
    const answer = await tokenAnswer(record, current);
    send(res, record, answer);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(`emulator error: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  // A reset socket may emit errors on the server side; they are expected.
  server.on("clientError", (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // A deep accept queue, as a real endpoint has: with Node's default (511), a burst of thousands of first calls
    // overflows it, dropped SYNs are retried by the kernel after 1, 3, 7, 15, 31 s, and a test measures TCP back-off.
    server.listen({ port: options.port ?? 0, host, backlog: LISTEN_BACKLOG }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  const url = `http://${urlHost}:${port}`;
  const endpoint = `${url}${tokenPath}`;

  const env: Record<string, string> =
    shape === "imds"
      ? { AZURE_POD_IDENTITY_AUTHORITY_HOST: url }
      : {
          IDENTITY_ENDPOINT: endpoint,
          IDENTITY_HEADER: identityHeader,
          MSI_ENDPOINT: endpoint,
          CONTAINER_APP_NAME: appName,
          CONTAINER_APP_REVISION: revision,
          CONTAINER_APP_REPLICA_NAME: replicaName,
          CONTAINER_APP_HOSTNAME: hostname,
          CONTAINER_APP_ENV_DNS_SUFFIX: envDnsSuffix,
        };

  const close = (): Promise<void> => {
    if (closing) return closing;
    closed = true;
    closing = new Promise<void>((resolve) => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      server.closeAllConnections();
    });
    return closing;
  };

  const tokenUrl = (resource: string, selector: IdentitySelector = {}): string => {
    const u = new URL(endpoint);
    u.searchParams.set("api-version", shape === "imds" ? "2018-02-01" : "2019-08-01");
    u.searchParams.set("resource", resource);
    if (selector.clientId) u.searchParams.set("client_id", selector.clientId);
    if (selector.objectId) u.searchParams.set("object_id", selector.objectId);
    if (selector.resourceId) u.searchParams.set(shape === "imds" ? "msi_res_id" : "mi_res_id", selector.resourceId);
    return u.toString();
  };

  return {
    url,
    port,
    endpoint,
    shape,
    env: Object.freeze(env),
    tenantId,
    identityHeader,
    hostResourceId,
    identities,
    signer,
    requests,
    get fault() {
      return active?.fault;
    },
    setFault,
    mintToken,
    tokenUrl,
    requestHeaders: (): Record<string, string> => (shape === "imds" ? { Metadata: "true" } : { "X-IDENTITY-HEADER": identityHeader }),
    close,
  };
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}
