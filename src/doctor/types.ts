/**
 * The smoke test's public shapes: its options, the dependencies it calls and the report it returns (re-exported by
 * smokeTest.ts and the package index).
 */
import type { TokenCredential } from "@azure/core-auth";
import type { HttpClient } from "@azure/core-rest-pipeline";
import type { ServiceDefinitionInput } from "../catalog/types.js";
import type { Diagnosis, IdentityKind } from "../diagnosis/types.js";
import type { VerifyOptions } from "../verify/types.js";
import type { ContainerAppContext, HostEnvironment } from "../environment/hostEnvironment.js";
import type { DiagnosisLogEntry } from "../logging/logEntry.js";

/** One dependency to call: a URL, or the URL with the scope, method, headers and the statuses that count as success. */
export interface SmokeTestDependency {
  /** The https URL to call (a bearer token is only sent over TLS). */
  url: string;
  /** Scope of the token to send. Default: the catalog's scope for the URL's host (`scopeForUrl`). */
  scope?: string;
  /** HTTP method. Default `GET`. */
  method?: string;
  /** Extra request headers (`Authorization` is set by the smoke test). */
  headers?: Record<string, string>;
  /** Request body, for methods that take one. */
  body?: string;
  /** Statuses that count as success. Default: any 2xx. */
  expectStatus?: number | number[];
}

/** What the smoke test reports about one step as it starts: for progress lines. */
export interface SmokeTestProgress {
  /** The step that starts, in this order: environment, identity-endpoint probe, each token, the dependencies. */
  step: "environment" | "identity-endpoint" | "token" | "dependency";
  /** The endpoint, scope or URL being worked on. */
  target?: string;
}

/** Options of {@link runSmokeTest}. */
export interface SmokeTestOptions {
  /**
   * The credential to test. A DiagnosticCredential is used as is; any other TokenCredential is wrapped in one.
   * Default: `new DiagnosticCredential(clientId)` (ManagedIdentityCredential underneath), as the app would make it.
   */
  credential?: TokenCredential;
  /** Client id of the user-assigned identity to test (default credential), or the one meant (given credential). */
  clientId?: string;
  /** Dependencies to call with a token. */
  dependencies?: Array<string | SmokeTestDependency>;
  /**
   * Scopes to request a token for, besides the dependencies' scopes. When neither `scopes` nor `dependencies` is
   * given: `https://management.azure.com/.default`.
   */
  scopes?: string[];
  /** Time limit of each step (identity-endpoint probe, each token, each dependency call), ms. Default 10,000. */
  timeoutMs?: number;
  /**
   * The `fetch` that calls the dependencies. Default `globalThis.fetch`. Pass one with your own agent/dispatcher
   * to trust a private CA (or start the process with `NODE_EXTRA_CA_CERTS`).
   */
  fetch?: typeof fetch;
  /**
   * An `@azure/core-rest-pipeline` HttpClient that calls the dependencies instead of `fetch` (for example the
   * service emulators' `httpClient`, which routes real host names to local emulators).
   */
  httpClient?: HttpClient;
  /** Extra hosts/services for the catalog (scope lookup and classification), as DiagnosticCredential's option. */
  services?: ServiceDefinitionInput[];
  /** Probe the identity endpoint (plain HTTP, no secret sent). Default true. */
  probeIdentityEndpoint?: boolean;
  /**
   * Log sink of the DiagnosticCredential the smoke test makes (default credential, or the wrapper of a given one).
   * Default `false`: the report carries every diagnosis.
   */
  logger?: false | ((entry: DiagnosisLogEntry) => void);
  /** Called as each step starts (progress display). */
  onProgress?: (progress: SmokeTestProgress) => void;
  /**
   * Verify each H1/H2 diagnosis against Azure Resource Manager (as DiagnosticCredential's `verify` option): the
   * report's `verified`. Default false: no Resource Manager call.
   */
  verify?: boolean | VerifyOptions;
  /** The Resource Manager verification asks (https; default: the cloud of the failure). A non-https value throws a TypeError. */
  resourceManagerEndpoint?: string;
}

/** The Container Apps replica, from its environment variables. */
export type SmokeTestContainerApp = ContainerAppContext;

/**
 * What the process environment says about managed identity, as the Azure SDK reads it (the same reading the
 * credential makes), plus what the test asked for. No secret values.
 */
export interface SmokeTestEnvironment extends HostEnvironment {
  /** The identity the test asked for (`clientId`, or the given DiagnosticCredential's). Empty: system-assigned. */
  configuredIdentity: {
    /** Client id of the user-assigned identity asked for. */
    clientId?: string;
    /** ARM resource id of the user-assigned identity asked for. */
    resourceId?: string;
    /** Object (principal) id of the user-assigned identity asked for. */
    objectId?: string;
  };
  /** `process.version`. */
  nodeVersion: string;
  /** Hints about the environment worth reading first (one line each). */
  notes: string[];
}

/** Whether the identity endpoint answers at all: a plain HTTP request without any secret. */
export interface SmokeTestIdentityEndpoint {
  /** The URL probed (no query string). */
  url?: string;
  /** Any HTTP answer came (whatever its status). False when the probe failed or was skipped. */
  reachable: boolean;
  /** Time to the first byte of the answer, ms. */
  latencyMs?: number;
  /** Time to the TCP connection, ms. */
  connectMs?: number;
  /** Status of the answer (a 400/401 is normal: the probe sends no credentials and asks for no token). */
  status?: number;
  /** Why it is not reachable: refused, reset, no answer in time, malformed URL… */
  error?: string;
  /** The transport error code: ECONNREFUSED, ECONNRESET, TIMEOUT, ENOTFOUND, … */
  errorCode?: string;
  /** Set when no probe was made, with the reason. */
  skipped?: string;
}

/** The claims of an issued token worth showing: who it is for and who it is. Never the token. */
export interface SmokeTestTokenClaims {
  /** Audience: the resource the token is for. */
  aud?: string;
  /** Issuer: names the tenant and the cloud. */
  iss?: string;
  /** Tenant id. */
  tid?: string;
  /** Object (principal) id: what role assignments name. */
  oid?: string;
  /** Client id (`appid`, or `azp` in v2 tokens). */
  appid?: string;
  /** Managed identity resource id. */
  xms_mirid?: string;
  /** Kind of caller: `app` for an app or managed identity, `user` for a person. */
  idtyp?: string;
  /** Token version: "1.0" or "2.0". */
  ver?: string;
  /** User- or system-assigned, read from `xms_mirid`; `unknown` without it. */
  identityKind: IdentityKind;
  /** `iat`, ISO 8601. */
  issuedAt?: string;
  /** `nbf`, ISO 8601. */
  notBefore?: string;
  /** `exp`, ISO 8601. */
  expiresAt?: string;
}

/** One token request. */
export interface SmokeTestToken {
  /** The scope requested. */
  scope: string;
  /** A token was issued and nothing is wrong with it (audience, lifetime, identity). */
  ok: boolean;
  /** Claims of the issued token (undefined when none was issued, or it is not a JWT). */
  claims?: SmokeTestTokenClaims;
  /** `expiresOnTimestamp` of the AccessToken, ISO 8601. */
  expiresAt?: string;
  /** Why the token was not issued, or what is wrong with it (the first problem; the others are in the report's `diagnoses`). */
  diagnosis?: Diagnosis;
  /** The error's name and first line, when no token was issued. */
  error?: string;
  /** Time the request took, ms. */
  durationMs: number;
}

/** One dependency call. */
export interface SmokeTestDependencyResult {
  /** The dependency's URL as given, redacted. */
  url: string;
  /** HTTP method used, upper case. */
  method: string;
  /** Scope of the token sent. Undefined when no scope is known for the host (then nothing was sent). */
  scope?: string;
  /** The catalog's scope for the host, when it differs from `scope`. */
  expectedScope?: string;
  /** Catalog name of the service: "keyvault", "storage", … */
  service?: string;
  /** It answered with an expected status (`expectStatus`, default any 2xx). */
  ok: boolean;
  /** HTTP status of the answer. Absent when it was not called or no answer came. */
  status?: number;
  /** Why a 401/403 answer was refused. Absent for other answers and when a 401/403 was expected. */
  diagnosis?: Diagnosis;
  /** Time the call took, ms. */
  durationMs: number;
  /** What went wrong when there is no diagnosis: a network error, a timeout, an unexpected status, no token. */
  error?: string;
  /** The kind of failure: "network", "timeout", "status", "no-token", "no-scope". */
  failure?: "network" | "timeout" | "status" | "no-token" | "no-scope";
  /** Transport error code of a network failure (ECONNREFUSED, ENOTFOUND, CERT_HAS_EXPIRED, …). */
  errorCode?: string;
  /** What the smoke test added to the request for the service, from its catalog entry's `probe` rule (e.g. `api-version=7.5`). */
  notes?: string[];
}

/** What {@link runSmokeTest} found. */
export interface SmokeTestReport {
  /** Every token issued and sound, every dependency answered as expected. */
  ok: boolean;
  /** Start time, ISO 8601. */
  startedAt: string;
  /** Time the whole test took, ms. */
  durationMs: number;
  /** What the environment says about managed identity. */
  environment: SmokeTestEnvironment;
  /** The identity-endpoint probe. */
  identityEndpoint: SmokeTestIdentityEndpoint;
  /** One entry per scope requested, in order. */
  tokens: SmokeTestToken[];
  /** One entry per dependency, in the order given. */
  dependencies: SmokeTestDependencyResult[];
  /** Every distinct diagnosis, in the order found. */
  diagnoses: Diagnosis[];
  /** With `verify`: the verified copy of each H1/H2 diagnosis (its `verification` says what Resource Manager said). */
  verified?: Diagnosis[];
}
