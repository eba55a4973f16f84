/** The runbook's hypotheses: H1 identity, H2 RBAC, H3 audience, H4 stale token / identity mix-up, H5 endpoint. */
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

export type IdentityKind = "system-assigned" | "user-assigned" | "unknown";

export interface DiagnosisIdentity {
  objectId?: string;
  clientId?: string;
  tenantId?: string;
  kind: IdentityKind;
  resourceId?: string;
}

export interface DiagnosisToken {
  audience?: string;
  issuer?: string;
  issuedAt?: Date;
  expiresAt?: Date;
  scope?: string;
}

/** What the library concluded about one failure, with the facts that led there and what to run. */
export interface Diagnosis {
  hypothesis: Hypothesis | "not-identity" | "unknown";
  code: DiagnosisCode;
  /** Short human title of the code, e.g. "RBAC role missing or wrong scope". */
  title: string;
  confidence: "high" | "medium" | "low";
  /** One line: what a log reader sees first. */
  summary: string;
  /** Observed facts, one line each. Never a token, a signature or IDENTITY_HEADER. */
  evidence: string[];
  /** Ordered; `az` commands filled in with what is known. */
  nextSteps: string[];
  /** Catalog name of the target service: "keyvault", "storage", "servicebus", "cosmos", "graph", "arm", … */
  service?: string;
  status?: number;
  /** The service's own error code: "ForbiddenByRbac", "AuthorizationPermissionMismatch", … */
  errorCode?: string;
  identity?: DiagnosisIdentity;
  token?: DiagnosisToken;
}

/** A plain HTTP answer: what `classifyResponse` reads. */
export interface ResponseLike {
  url: string;
  status: number;
  headers?: Record<string, string | string[] | undefined> | Headers;
  body?: string;
  /** HTTP method, when known ("HEAD" answers carry no body: the headers are all the evidence). */
  method?: string;
}
