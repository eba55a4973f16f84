import type { ErrorFingerprint, OperationAction, QuotedFact, QuotedFactKind } from "../types.js";

/** Facts, fingerprints and helpers shared by the catalog entries (one module per service family beside this). */

export const GUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

/** A row of an operation → action table: methods (comma-separated, upper case) and path, then the action. */
export function op(methods: string | undefined, path: RegExp | undefined, action: string, extra: Omit<OperationAction, "action"> = {}): OperationAction {
  return { ...(methods !== undefined ? { methods: methods.split(",") } : {}), ...(path !== undefined ? { path } : {}), ...extra, action };
}

export const quote = (fact: QuotedFactKind, pattern: RegExp, needs: string): QuotedFact => ({ fact, pattern, needs });

/**
 * Quotes that hold for every service's text, tried after the services' own: generic principal and object id
 * wordings, scopes, resource ids, the resource's tenant.
 */
export const GENERIC_QUOTES: readonly QuotedFact[] = [
  quote("callerObjectId", new RegExp(`principal (?:id )?(${GUID})\\b`, "i"), "principal "),
  quote("callerObjectId", new RegExp(`object ?id[:=] ?'?(${GUID})`, "i"), "object"),
  quote("resource", /\bon scope '([^']{1,1024})'/gi, "on scope '"),
  quote("resource", /\blinked scope '([^']{1,1024})'/gi, "linked scope '"),
  quote("resource", /(\/subscriptions\/[0-9a-f-]{36}\/[^\s'"\]\)`,;]{1,1024})/gi, "/subscriptions/"),
  quote("resourceTenantId", new RegExp(`use the authority \\(url\\) '?https?://[^/\\s']+/(${GUID})`, "i"), "use the authority (url) "),
];

/** Error names of the AMQP layer shared by the messaging SDKs (their own names are each service's `errorNames`). */
export const AMQP_ERROR_NAMES: readonly string[] = ["MessagingError", "AmqpError"];

/** Request-id headers every Azure service answers with: the first one present is evidence (one is enough). */
export const REQUEST_ID_EVIDENCE_HEADERS: readonly string[] = ["x-ms-request-id", "x-ms-client-request-id", "apim-request-id", "x-ms-correlation-request-id"];

/**
 * Fingerprints that hold for every service. Tried after the service's own specific fingerprints but before its
 * catch-alls (`fallback: true`): "Invalid issuer." under Graph's InvalidAuthenticationToken is a tenant problem.
 */
export const GENERIC_FINGERPRINTS: readonly ErrorFingerprint[] = [
  {
    id: "generic.insufficient-claims",
    code: "StaleTokenOrIdentityMixup",
    confidence: "medium",
    challengeError: "insufficient_claims",
    protocols: ["http"],
    meaning:
      "Continuous Access Evaluation claims challenge: the service revoked the token after it was issued; a managed identity cannot get a fresh one on demand",
  },
  {
    id: "generic.audience",
    code: "WrongAudience",
    confidence: "medium",
    message:
      /(invalid|wrong|incorrect|unexpected) (token )?audience|audience (validation failed|did not match|mismatch)|audience(?: '[^']{0,200}'| "[^"]{0,200}"| \S{1,200})? (is|was) (invalid|incorrect|not valid|wrong|not allowed)|obtained for wrong audience/i,
    protocols: ["http", "amqp", "sql", "redis"],
    meaning: "the service says the token's audience is wrong",
  },
  {
    id: "generic.expired",
    code: "StaleTokenOrIdentityMixup",
    confidence: "medium",
    message: /token (is |has |was )?expired|lifetime validation failed|expired (access )?token|token expiry/i,
    protocols: ["http", "amqp", "sql", "redis"],
    meaning: "the service says the token had expired",
  },
  {
    id: "generic.issuer",
    code: "StaleTokenOrIdentityMixup",
    confidence: "medium",
    message: /(invalid|wrong|unexpected) issuer|issuer validation failed|issuer did not match/i,
    protocols: ["http", "amqp", "sql", "redis"],
    meaning: "the service says the token's issuer (tenant) is wrong",
  },
  {
    id: "generic.tenant",
    code: "StaleTokenOrIdentityMixup",
    confidence: "medium",
    message: /(wrong|invalid|unexpected) tenant|tenant (mismatch|does not match)/i,
    protocols: ["http", "amqp", "sql", "redis"],
    meaning: "the service says the token is from another tenant",
  },
  {
    id: "generic.signature",
    code: "StaleTokenOrIdentityMixup",
    confidence: "low",
    message: /invalid signature|signature validation failed/i,
    protocols: ["http", "amqp", "sql", "redis"],
    meaning: "the service could not validate the token's signature",
  },
  {
    id: "generic.network",
    code: "NotAnIdentityProblem",
    confidence: "medium",
    message:
      /firewall|virtual network|private (endpoint|link)|public network access|ip address .{0,80}not (allowed|authorized)|client ip .{0,80}not (allowed|authorized)|ip filter|network rules?/i,
    protocols: ["http", "amqp", "sql", "redis"],
    meaning: "the service rejected the network path (firewall, private endpoint, IP filter), not the identity",
  },
  {
    id: "generic.permission",
    code: "RoleMissingOrWrongScope",
    confidence: "medium",
    message:
      /not (authorized|allowed) to perform|(does not|do not|doesn't|don't) have (the )?(required |necessary |sufficient )?(permissions?|authorization|access|rights)|insufficient privileges|permission denied|lacks the required|claim\(s\) (are|is) required|no role assignment/i,
    protocols: ["http", "amqp"],
    meaning: "the service says the caller lacks permission",
  },
  {
    id: "generic.invalid-token",
    code: "Unknown",
    confidence: "low",
    fallback: true,
    challengeError: "invalid_token",
    protocols: ["http"],
    meaning: "the service refused the token (the challenge gives no reason)",
  },
];

/** A GUID: v2 tokens carry the resource's application id as `aud`; an unknown GUID audience cannot be judged. */
export const GUID_PATTERN = new RegExp(`^${GUID}$`, "i");
