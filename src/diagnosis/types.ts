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
