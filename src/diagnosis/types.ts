import type { CheckKind } from "./findings.js";
import type { HostingPlatform, PlatformInstance, PlatformKey } from "../environment/hostEnvironment.js";

/**
 * The five causes of a managed-identity failure: H1 no identity assigned to the app (or not the one requested); H2
 * RBAC role missing, at the wrong scope, control-plane instead of data-plane, or still propagating; H3 token
 * audience or scope wrong for the target; H4 stale or expired token, or another identity's or tenant's token; H5
 * identity endpoint unreachable or not answering.
 */
export type Hypothesis = "H1" | "H2" | "H3" | "H4" | "H5";

/** Stable, low-cardinality codes; one per hypothesis. Also the span's `error.type`. */
export type DiagnosisCode =
  | "IdentityNotAssigned"
  | "RoleMissingOrWrongScope"
  | "WrongAudience"
  | "StaleTokenOrIdentityMixup"
  | "IdentityEndpointUnreachable"
  | "NotAnIdentityProblem"
  | "Unknown";

/**
 * Which managed identity: a user-assigned one (its resource id names a `userAssignedIdentities` resource), the
 * host's system-assigned one, or `unknown` when nothing seen says which.
 */
export type IdentityKind = "system-assigned" | "user-assigned" | "unknown";

/**
 * The identity a diagnosis is about: the caller named by the token that was sent or by the service's error, or, for
 * a failed `getToken`, the identity the credential was configured to ask for. Only what is known is set.
 */
export interface DiagnosisIdentity {
  /** Object (principal) id: what a role assignment's `--assignee-object-id` takes. Token `oid`. */
  objectId?: string;
  /** Client (application) id. Token `appid` (v1) or `azp` (v2). */
  clientId?: string;
  /** Entra ID tenant id. Token `tid`; absent when no token was read. */
  tenantId?: string;
  /**
   * User- or system-assigned, from the token's `xms_mirid`; for a failed `getToken`, `user-assigned` when a client,
   * object or resource id was configured, else `system-assigned`. `unknown` when neither says.
   */
  kind: IdentityKind;
  /** ARM resource id of the identity: the user-assigned identity, or the host resource. Token `xms_mirid`. */
  resourceId?: string;
}

/**
 * Facts read from the claims of the access token involved (never the token itself), or only the scope that was
 * requested when no token was issued or it could not be decoded. Only what is known is set.
 */
export interface DiagnosisToken {
  /** The token's audience (`aud`): the resource it is valid for. */
  audience?: string;
  /** The token's issuer (`iss`): tells the tenant and the cloud. */
  issuer?: string;
  /** When the token was issued (`iat`). */
  issuedAt?: Date;
  /** When the token expires (`exp`). */
  expiresAt?: Date;
  /** The scope that was requested from the credential, e.g. `https://vault.azure.net/.default`. */
  scope?: string;
}

/**
 * The rule that decided a diagnosis: a catalog fingerprint or one of the classifiers' own rules. `id` is stable and
 * unique, dotted, and starts with the name of its rule set; `source` names the rule set (see {@link RULE_SOURCES}):
 * - `catalog:<service>`: a fingerprint of the built-in catalog entry `<service>` (`keyvault.forbidden-by-rbac`);
 * - `catalog:generic`: a fingerprint that holds for every service (`generic.expired`);
 * - `services:<service>`: a fingerprint added through the `services` option;
 * - `claims`: the claims of the token that was sent decided (`claims.wrong-audience`, `claims.expired`, …);
 * - `challenge`: the WWW-Authenticate challenge decided (`challenge.insufficient-claims`);
 * - `status`: the HTTP status alone decided (`status.forbidden`, `status.unexplained-401`, …);
 * - `token-time`: a rule of the failed-`getToken` classifier (`token-time.identity-not-found`, …);
 * - `token-check`: a check of a token just issued (`token-check.wrong-audience`, …);
 * - `scope-check`: a check of the requested scope before any request (`scope-check.typo`, …).
 */
export interface DiagnosisRule {
  /** Stable id of the rule: `keyvault.forbidden-by-rbac`, `claims.expired`, `token-time.transport-error`. */
  id: string;
  /** The rule set it belongs to: `catalog:keyvault`, `catalog:generic`, `claims`, `token-time`, … */
  source: string;
}

/** What a check found: `pass` the fact is as it should be, `fail` it is the problem (or part of it), `unknown` it could not be judged. */
export type CheckVerdict = "pass" | "fail" | "unknown";

/**
 * What the verdict rests on: `token` the claims of the token involved; `answer` what a service or the identity
 * endpoint answered; `environment` the host's identity variables; `arm` Azure Resource Manager, asked to verify.
 */
export type CheckConfirmation = "token" | "answer" | "environment" | "arm";

/**
 * One check the classifier made, beside its line of prose evidence: what was expected, what was found, the
 * verdict. `kind` is one of {@link CHECK_KINDS} (switch on it; new kinds may be added). `expected` and `actual` are
 * short, redacted values (an audience, a time, an id, a status or transport code), never a token.
 */
export interface DiagnosisCheck {
  /** What was checked: one of {@link CHECK_KINDS}, e.g. `audience`, `lifetime`, `identity-endpoint`. */
  kind: CheckKind;
  /** What it should be, when there is a definite answer: `https://vault.azure.net/.default`, `HTTP 200`. */
  expected?: string;
  /** What was found: the token's audience, its expiry, the identity endpoint's status or transport code. */
  actual?: string;
  /** `fail`: this is the problem (or part of it); `pass`: it is fine; `unknown`: could not be judged. */
  verdict: CheckVerdict;
  /** What the verdict rests on; absent for a check of the request alone (a scope's spelling). */
  confirmedBy?: CheckConfirmation;
}

/** The hosting platform a diagnosis was made on, as the environment tells it. */
export interface DiagnosisPlatform {
  /** The OpenTelemetry `cloud.platform` value (`azure.container_apps`, `azure.functions`, …), `azure.arc`, or `unknown`. */
  name: HostingPlatform;
  /** The platform table's entry whose commands the next steps give (`container-apps-job`, `vmss`); absent when unknown. */
  key?: PlatformKey;
  /** When the platform is unknown: the ones it may be, whose commands the next steps give, each named. */
  candidates?: PlatformKey[];
  /** The instance names: site and instance, pod and namespace, app/revision/replica, job execution. Only what is set. */
  instance: PlatformInstance;
}

/** What the library concluded about one failure, with the facts that led there and what to run. */
export interface Diagnosis {
  /**
   * The cause this failure matches (H1–H5, see {@link Hypothesis}); `not-identity` when the cause is elsewhere
   * (firewall, private link, quota), `unknown` when the evidence does not decide.
   */
  hypothesis: Hypothesis | "not-identity" | "unknown";
  /** Stable code of the conclusion, one per hypothesis: what to alert and query on. */
  code: DiagnosisCode;
  /** Short human title of the code, e.g. "RBAC role missing or wrong scope". */
  title: string;
  /**
   * How direct the evidence is: `high` when the token's claims or an unambiguous answer decide (a known error code,
   * the identity endpoint's own words); from the HTTP status alone, `medium` on a known service, `low` on an
   * unknown host.
   */
  confidence: "high" | "medium" | "low";
  /** One line: what a log reader sees first. */
  summary: string;
  /** Observed facts, one line each. Never a token, a signature or IDENTITY_HEADER. */
  evidence: string[];
  /** Ordered; `az` commands filled in with what is known. */
  nextSteps: string[];
  /** Catalog name of the target service: "keyvault", "storage", "servicebus", "cosmos", "graph", "arm", … */
  service?: string;
  /**
   * HTTP status of the refused request (401, 403, …); for an AMQP failure the broker's status code. Absent for a
   * failed `getToken` and for errors that carry no status.
   */
  status?: number;
  /** The service's own error code: "ForbiddenByRbac", "AuthorizationPermissionMismatch", … */
  errorCode?: string;
  /** The identity involved. Absent when neither a token nor the error names one. */
  identity?: DiagnosisIdentity;
  /** Claims of the token involved, or just the requested scope. Absent when no token or scope is known. */
  token?: DiagnosisToken;
  /** The rule that decided this diagnosis (which catalog entry or classifier rule). */
  rule?: DiagnosisRule;
  /**
   * The checks made, in the order they were made: the structured form of the evidence lines such as "audience check:
   * …" (what was expected, what was found, the verdict). Absent when no check applied.
   */
  checks?: DiagnosisCheck[];
  /** The hosting platform and instance, when the environment was read (a credential's diagnoses; a context's `environment`). */
  platform?: DiagnosisPlatform;
  /**
   * What Azure Resource Manager said when asked to verify this diagnosis (option `verify`, doctor `--verify`). Only
   * on the verified copy that `verifyDiagnosis` resolves to, the `source: "verification"` log line and the doctor's
   * report; the diagnosis attached to an error when it was thrown never changes.
   */
  verification?: DiagnosisVerification;
}

/**
 * The verdict of a verification:
 * - `confirmed`: ARM confirms the diagnosis (the identity asked for is not attached; no assignment grants the action
 *   at or above the resource);
 * - `propagating`: an assignment grants it, created within the service's propagation delay;
 * - `sibling-scope`: a role grants it, at a scope that does not contain the resource;
 * - `denied`: a deny assignment blocks it;
 * - `access-policies`: the vault uses access policies, not RBAC (`enableRbacAuthorization: false`);
 * - `refuted`: ARM shows what the diagnosis says is missing (the identity is attached; the action was granted long ago);
 * - `not-permitted`: ARM refused the reads: `needs` says which permission on which scope would allow them;
 * - `unavailable`: no answer (unreachable, timed out, no token for ARM, call budget or rate limit reached);
 * - `not-applicable`: nothing to verify (not H1/H2, or no scope or principal known).
 */
export type VerificationOutcome =
  "confirmed" | "propagating" | "sibling-scope" | "denied" | "access-policies" | "refuted" | "not-permitted" | "unavailable" | "not-applicable";

/** What verification against Azure Resource Manager found (see {@link Diagnosis.verification}). */
export interface DiagnosisVerification {
  /** The verdict (see {@link VerificationOutcome}). */
  outcome: VerificationOutcome;
  /** One line: "Confirmed: the identity asked for (clientId …) is not attached; attached: id-a, id-b". */
  summary: string;
  /** With `not-permitted`: the read permissions (and the scope of each) that would let verification run. */
  needs?: Array<{
    /** The permission ARM refused: `Microsoft.Authorization/roleAssignments/read`. */
    permission: string;
    /** The scope it is needed on. */
    scope: string;
  }>;
  /** The Resource Manager endpoint asked: `https://management.azure.com`. */
  endpoint?: string;
  /** HTTP calls made to Resource Manager (cached answers made none). */
  calls: number;
  /** Wall time of the verification, in milliseconds. */
  durationMs: number;
  /** ISO 8601 time the verification finished. */
  verifiedAt: string;
}

/** A plain HTTP answer: what `classifyResponse` reads. */
export interface ResponseLike {
  /** URL of the request that got this answer: decides the service and the scope expected. */
  url: string;
  /** HTTP status. Only 401 and 403 are classified. */
  status: number;
  /** Response headers (names in any case), e.g. `WWW-Authenticate`, `x-ms-error-code`, request ids. */
  headers?: Record<string, string | string[] | undefined> | Headers;
  /** Response body as text: the service's error JSON or XML. */
  body?: string;
  /** HTTP method, when known ("HEAD" answers carry no body: the headers are all the evidence). */
  method?: string;
}
