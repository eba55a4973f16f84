/**
 * The vocabulary of a Diagnosis's structured findings: what a check is about (`CHECK_KINDS`) and which rule sets a
 * rule comes from (`RULE_SOURCES`). Users, log queries and tests switch on these instead of parsing evidence.
 */

/**
 * The kinds of {@link DiagnosisCheck}: `diagnosis.checks.find((c) => c.kind === CHECK_KINDS.audience)`. Each check
 * is the structured twin of one evidence line ("audience check: …", "lifetime check: …"). New kinds may be added.
 */
export const CHECK_KINDS = {
  /**
   * The token's audience (`aud`) against what the target accepts. `expected`: the scope to request (or the
   * resource asked for); `actual`: the token's `aud`. Confirmed by the token, or by the answer when no token was
   * read and the service said the audience is wrong.
   */
  audience: "audience",
  /**
   * The token's validity window against the time of the failure (or of issue). `expected`: "valid at <time>";
   * `actual`: "expires <time>", "expired at <time>" or "not valid before <time>".
   */
  lifetime: "lifetime",
  /** The token's tenant (`tid`) against the resource's tenant (challenge or error body), or the tenant seen before. */
  tenant: "tenant",
  /**
   * The identity a request was made as against the one meant: the configured identity (`clientId=…`, `objectId=…`,
   * `resourceId=…`, `user-assigned`), the principal the service saw, or the one seen earlier in this process.
   */
  identity: "identity",
  /**
   * Whether the identity asked for is assigned to the host (H1). `expected`: the identity requested; `actual`: what
   * the identity endpoint (or the environment) says.
   */
  identityAssignment: "identity-assignment",
  /** The requested scope: exactly one, a known audience, spelt right. `expected`: the scope to request; `actual`: the one requested. */
  scope: "scope",
  /**
   * A role that allows the operation (H2). `expected`: the least-privilege role, with its scope when it has one;
   * `actual`: what the service or the token says the caller has ("no role assignment", the token's `roles`).
   */
  role: "role",
  /**
   * The service's own error code. `actual`: the codes it sent; `expected`: the code the deciding rule keys on.
   * `fail` when a rule recognised the answer, `unknown` when none did.
   */
  serviceCode: "service-code",
  /**
   * The token request to the identity endpoint. `expected`: "HTTP 200"; `actual`: its status ("HTTP 503") or its
   * transport code ("ECONNREFUSED", "TIMEOUT"), or "no answer within <n> ms".
   */
  identityEndpoint: "identity-endpoint",
  /** The identity variables the platform sets (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`): set, and a valid URL. */
  identityVariables: "identity-variables",
  /**
   * AKS workload identity: a federated credential of the identity matching the projected token. `expected`: its
   * issuer, subject and audience; `actual`: what Entra said (the part that matched none).
   */
  federatedCredential: "federated-credential",
  /** A CAE claims challenge: the token must be issued after the time it names. `expected`: "issued after <time>"; `actual`: "issued at <time>". */
  claimsChallenge: "claims-challenge",
  /**
   * A deny assignment that blocks the operation (verification, `confirmedBy: "arm"`). `expected`: "no deny
   * assignment for <action>"; `actual`: the deny assignment's name and scope.
   */
  denyAssignment: "deny-assignment",
  /**
   * The permission model of the target (verification: a Key Vault's `enableRbacAuthorization`). `expected`: "Azure
   * RBAC"; `actual`: "access policies (enableRbacAuthorization: false)".
   */
  accessModel: "access-model",
  /**
   * A read verification made of Azure Resource Manager, when it did not answer: `expected`: the read ("GET
   * <scope>/providers/Microsoft.Authorization/roleAssignments"); `actual`: "HTTP 403 AuthorizationFailed", "TIMEOUT".
   * Always `unknown`.
   */
  verification: "verification",
} as const;

/** One of the {@link CHECK_KINDS} values. */
export type CheckKind = (typeof CHECK_KINDS)[keyof typeof CHECK_KINDS];

/**
 * The rule sets a {@link DiagnosisRule} comes from: its `source`. Catalog fingerprints are named by their service
 * (`catalog:keyvault`, `catalog:generic`, and `services:<name>` for those added through the `services` option); the
 * classifiers' own rules by the classifier. A rule's `id` starts with its set's name: `claims.expired`.
 */
export const RULE_SOURCES = {
  /** Prefix of a built-in catalog entry's fingerprints: `catalog:keyvault`. */
  catalogPrefix: "catalog:",
  /** The fingerprints that hold for every service (`generic.expired`, `generic.issuer`, …). */
  genericCatalog: "catalog:generic",
  /** Prefix of fingerprints added through the `services` option: `services:my-api`. */
  servicesOptionPrefix: "services:",
  /** Downstream answers: the claims of the token that was sent decided (audience, lifetime, tenant, identity). */
  claims: "claims",
  /** Downstream answers: the WWW-Authenticate challenge decided (a CAE claims challenge). */
  challenge: "challenge",
  /** Downstream answers: the HTTP status alone decided (no fingerprint matched, the token said nothing wrong). */
  status: "status",
  /** A failed `getToken`: the rules of `classifyCredentialError`. */
  tokenTime: "token-time",
  /** A token that was just issued, checked against what was asked for and what was seen before. */
  tokenCheck: "token-check",
  /** The requested scope, checked before any request. */
  scopeCheck: "scope-check",
} as const;

/** A rule of one of the classifiers' own rule sets: `{ id: "claims.expired", source: "claims" }`. */
export function ruleOf(source: string, name: string): { id: string; source: string } {
  return { id: `${source}.${name}`, source };
}
