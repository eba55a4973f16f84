import type { TokenCredential } from "@azure/core-auth";
import type { TokenCredentialOptions } from "@azure/identity";
import type { MeterProvider, TracerProvider } from "@opentelemetry/api";
import type { ServiceDefinitionInput } from "../catalog/types.js";
import type { DiagnosisLogEntry } from "../logging/logEntry.js";
import type { VerifyOptions } from "../verify/types.js";

/**
 * Options of DiagnosticCredential: ManagedIdentityCredential's own options (passed through unchanged) plus the
 * diagnostic ones.
 */
export interface DiagnosticCredentialOptions extends TokenCredentialOptions {
  /** Client id of a user-assigned identity (as ManagedIdentityCredential). */
  clientId?: string;
  /** Resource id of a user-assigned identity (as ManagedIdentityCredential). */
  resourceId?: string;
  /** Object (principal) id of a user-assigned identity (as ManagedIdentityCredential). */
  objectId?: string;
  /**
   * Wrap this credential instead of constructing a ManagedIdentityCredential. `clientId`/`resourceId`/`objectId`
   * then only say which identity is meant, for the identity mix-up checks.
   */
  credential?: TokenCredential;
  /** Extra hosts or services for the catalog: emulators, private DNS names, custom domains. */
  services?: ServiceDefinitionInput[];
  /** Where diagnoses go. Default: one JSON line per diagnosis on stderr. `false` turns logging off. */
  logger?: false | ((entry: DiagnosisLogEntry) => void);
  /**
   * Upper bound on one `getToken`, in milliseconds (default 30,000; 0 disables). ManagedIdentityCredential alone
   * waits for ever on an identity endpoint that accepts the connection and never answers. A call that gets no token
   * fails with CredentialUnavailableError (H5) after at least `tokenTimeoutMs` and at most a quarter more (≤ 500 ms
   * more): one watchdog serves every pending call, so no call pays for a timer or a clock read.
   */
  tokenTimeoutMs?: number;
  /** Default: the global OpenTelemetry tracer provider. */
  tracerProvider?: TracerProvider;
  /** Default: the global OpenTelemetry meter provider. */
  meterProvider?: MeterProvider;
  /**
   * When the identity endpoint cannot be reached (H5) but this credential still holds a token for the scope that
   * stays valid for at least a minute, return that token (logged as an H5 warning) instead of failing. MSAL's
   * proactive refresh otherwise fails requests on a network error although its cached token is valid. Default true.
   */
  lastGoodTokenFallback?: boolean;
  /**
   * Concurrent `getToken` calls for the same scopes and the same token options (`claims`, `tenantId`, `enableCae`)
   * share one call to the wrapped credential: every caller gets the same token, or the same error with the same
   * diagnosis. Each caller keeps its own `abortSignal`, `tokenTimeoutMs` deadline and span. Neither
   * ManagedIdentityCredential nor MSAL coalesces: without it, N concurrent cold calls send N requests to the identity
   * endpoint (a 429 convoy on a cold start). Default true.
   */
  singleFlight?: boolean;
  /**
   * Verify H1 and H2 diagnoses against Azure Resource Manager with the app's own identity: whether the identity asked
   * for is attached to the app; which role assignment (or none, or a deny assignment, or a vault's access policies)
   * decides the refused operation. Off by default. Runs after the failure was diagnosed and reported, never on the
   * hot path, never changing the token, the error or what a client throws; bounded in time and calls, cached. The
   * verdict comes as a `source: "verification"` log line, a `DiagnosticCredential.verify` span and through
   * `verifyDiagnosis(error)` (docs/verification.md).
   */
  verify?: boolean | VerifyOptions;
  /**
   * The Resource Manager endpoint verification asks, `https:` only (an emulator, a private link, a sovereign cloud).
   * Default: the cloud of the failure (public, China, US Government). A value that is not an https URL throws a
   * TypeError at construction.
   */
  resourceManagerEndpoint?: string;
  /** Put a user token's personal identifiers (upn, name) in evidence. Default false. Managed identities have none. */
  includePersonalClaims?: boolean;
}

/** The option keys DiagnosticCredential consumes; everything else goes to ManagedIdentityCredential. */
export const DIAGNOSTIC_OPTION_KEYS = [
  "credential",
  "services",
  "logger",
  "tokenTimeoutMs",
  "tracerProvider",
  "meterProvider",
  "includePersonalClaims",
  "lastGoodTokenFallback",
  "singleFlight",
  "verify",
  "resourceManagerEndpoint",
] as const;

export const DEFAULT_TOKEN_TIMEOUT_MS = 30_000;
