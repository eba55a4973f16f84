// Public types of the identity-endpoint emulator: its options, the identities it serves, the emulator handle and
// the request log. The fault types live in faults/faultTypes.ts.
import type { TokenSigner } from "../tokenSigner.js";
import type { IdentityEndpointFault, IdentityEndpointFaultKind } from "./faults/faultTypes.js";
import type { EmulatedIdentity } from "./identity.js";

export type { EmulatedIdentity };

/**
 * The wire protocol an {@link IdentityEndpointEmulator} speaks.
 * - `"container-apps"`: the App Service / Functions / Container Apps endpoint (`IDENTITY_ENDPOINT` +
 *   `IDENTITY_HEADER`, `GET /msi/token?api-version=2019-08-01`, header `X-IDENTITY-HEADER`). MSAL calls this
 *   source "AppService".
 * - `"imds"`: the Azure Instance Metadata Service (`GET /metadata/identity/oauth2/token?api-version=2018-02-01`,
 *   header `Metadata: true`), reached through `AZURE_POD_IDENTITY_AUTHORITY_HOST`.
 */
export type IdentityEndpointShape = "container-apps" | "imds";

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
  userAssigned?: Array<
    Partial<EmulatedIdentity> & {
      /** The identity resource's name: its resource id ends in it. */
      name: string;
    }
  >;
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
   * What happened: a token, an error status, a never-answered request, a reset connection, a connection closed
   * without an answer, or `"other"` for a non-token path that was answered (`/jwks`).
   */
  outcome: "pending" | "token" | "error" | "hang" | "reset" | "closed" | "other";
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
