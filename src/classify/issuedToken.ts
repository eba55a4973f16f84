import { normalizeAudience, scopeToResource, type ServiceCatalog } from "../catalog/resolve.js";
import { makeDiagnosis } from "../diagnosis/build.js";
import { commandContextOf, listRoleAssignmentsStep, passClientIdInCode, restartRevisionStep, showIdentityStep } from "../diagnosis/commands.js";
import type { Diagnosis, DiagnosisCheck } from "../diagnosis/types.js";
import { CHECK_KINDS, RULE_SOURCES, ruleOf } from "../diagnosis/findings.js";
import type { HostEnvironment } from "../environment/hostEnvironment.js";
import { clientIdOf, describeClaims, identityKindOf, identityOfClaims, tokenFactsOfClaims, type TokenClaims } from "../jwt/claims.js";
import type { ConfiguredIdentity } from "./credentialError.js";
import { recordInternalFault } from "../util/safe.js";
import { refusedValuesEvidence } from "../util/shellSafe.js";

/** Clock skew Entra ID and Azure services tolerate. */
export const CLOCK_SKEW_SECONDS = 300;

/** What was seen before in this process for the same configured identity. */
export interface SeenIdentity {
  objectId?: string;
  clientId?: string;
  tenantId?: string;
}

export interface IssuedTokenContext {
  scope: string;
  configured: ConfiguredIdentity;
  previous?: SeenIdentity;
  /** ms epoch */
  now: number;
  /** AccessToken.expiresOnTimestamp as handed out. */
  expiresOnTimestamp?: number;
  environment?: HostEnvironment;
  catalog: ServiceCatalog;
  includePersonalClaims?: boolean;
}

/**
 * Checks a token that was just issued against what was asked for (H3) and what identity was meant (H4).
 * Returns the problems found, most serious first; an empty list for a good token. Pure; never throws.
 */
export function checkIssuedToken(claims: TokenClaims | undefined, context: IssuedTokenContext): Diagnosis[] {
  try {
    return check(claims, context);
  } catch (error) {
    // A bug of ours, not bad input (the claims were decoded defensively): counted, never thrown.
    recordInternalFault(error);
    return [];
  }
}

/** A rule of the issued-token checks: `token-check.<name>`. */
const tokenCheckRule = (name: string) => ruleOf(RULE_SOURCES.tokenCheck, name);

function check(claims: TokenClaims | undefined, context: IssuedTokenContext): Diagnosis[] {
  const found: Diagnosis[] = [];
  const ctx = commandContextOf(context.environment, {
    ...(context.configured.clientId ? { clientId: context.configured.clientId } : {}),
    ...(context.configured.resourceId ? { resourceId: context.configured.resourceId } : {}),
  });
  const nowSeconds = Math.floor(context.now / 1000);
  if (claims === undefined) {
    // Opaque token: nothing to check but the expiry the credential handed out.
    if (context.expiresOnTimestamp !== undefined && context.expiresOnTimestamp <= context.now) {
      found.push(
        makeDiagnosis("StaleTokenOrIdentityMixup", {
          confidence: "high",
          summary: `The credential handed out a token for ${context.scope} that expired at ${new Date(context.expiresOnTimestamp).toISOString()}`,
          evidence: [`expiresOnTimestamp=${new Date(context.expiresOnTimestamp).toISOString()}, now=${new Date(context.now).toISOString()}`],
          rule: tokenCheckRule("expired"),
          // No claims to read: the expiry is what the credential handed out with the token.
          checks: [
            {
              kind: CHECK_KINDS.lifetime,
              expected: `valid at ${new Date(context.now).toISOString()}`,
              actual: `expired at ${new Date(context.expiresOnTimestamp).toISOString()}`,
              verdict: "fail",
            },
          ],
          nextSteps: [restartRevisionStep(ctx)],
          token: { scope: context.scope },
        }),
      );
    }
    return found;
  }
  const identity = identityOfClaims(claims);
  const token = tokenFactsOfClaims(claims, context.scope);
  const claimsLine = describeClaims(claims, { includePersonal: context.includePersonalClaims === true });
  const base = { identity, token };

  // H3: the audience is not the one asked for.
  const requested = normalizeAudience(scopeToResource(context.scope));
  if (claims.aud !== undefined && normalizeAudience(claims.aud) !== requested) {
    const requestedService = context.catalog.serviceForAudience(requested);
    const tokenService = context.catalog.serviceForAudience(claims.aud);
    const sameService = requestedService !== undefined && requestedService === tokenService;
    if (!sameService) {
      found.push(
        makeDiagnosis("WrongAudience", {
          ...base,
          confidence: "high",
          summary: `Token for scope ${context.scope} has audience ${claims.aud}${tokenService ? ` (${tokenService.displayName})` : ""}: the target will reject it`,
          evidence: [`requested resource: ${requested}`, claimsLine],
          rule: tokenCheckRule("wrong-audience"),
          checks: [{ kind: CHECK_KINDS.audience, expected: context.scope, actual: claims.aud, verdict: "fail", confirmedBy: "token" }],
          nextSteps: [
            "Check what sits between the app and the identity endpoint (a proxy or sidecar answering for another resource)",
            `Request ${context.scope} and compare \`aud\` with the target's audience`,
          ],
        }),
      );
    }
  }

  // H4: lifetime.
  if (claims.exp !== undefined && claims.exp <= nowSeconds) {
    found.push(
      makeDiagnosis("StaleTokenOrIdentityMixup", {
        ...base,
        confidence: "high",
        summary: `The token handed out for ${context.scope} is already expired (exp ${new Date(claims.exp * 1000).toISOString()}, ${nowSeconds - claims.exp} s ago)`,
        evidence: [claimsLine, `now: ${new Date(context.now).toISOString()}`],
        rule: tokenCheckRule("expired"),
        checks: [
          {
            kind: CHECK_KINDS.lifetime,
            expected: `valid at ${new Date(context.now).toISOString()}`,
            actual: `expired at ${new Date(claims.exp * 1000).toISOString()}`,
            verdict: "fail",
            confirmedBy: "token",
          },
        ],
        nextSteps: ["Check the container's clock against a time source: date -u", restartRevisionStep(ctx)],
      }),
    );
  } else {
    const notBefore = claims.nbf ?? claims.iat;
    if (notBefore !== undefined && notBefore > nowSeconds + CLOCK_SKEW_SECONDS) {
      found.push(
        makeDiagnosis("StaleTokenOrIdentityMixup", {
          ...base,
          confidence: "high",
          summary: `The token for ${context.scope} is not valid yet (nbf ${new Date(notBefore * 1000).toISOString()}, ${notBefore - nowSeconds} s ahead): this host's clock is behind`,
          evidence: [claimsLine, `now: ${new Date(context.now).toISOString()}`],
          rule: tokenCheckRule("not-yet-valid"),
          checks: [
            {
              kind: CHECK_KINDS.lifetime,
              expected: `valid at ${new Date(context.now).toISOString()}`,
              actual: `not valid before ${new Date(notBefore * 1000).toISOString()}`,
              verdict: "fail",
              confirmedBy: "token",
            },
          ],
          nextSteps: [
            "Fix the clock of this host or replica (services reject tokens outside a 5-minute skew); check it with: date -u",
            restartRevisionStep(ctx),
          ],
        }),
      );
    }
  }

  // H4: identity mix-up against the configuration.
  const configured = context.configured;
  const tokenClientId = clientIdOf(claims);
  const mismatches: string[] = [];
  const identityChecks: DiagnosisCheck[] = [];
  const mismatch = (expected: string, actual: string) =>
    identityChecks.push({ kind: CHECK_KINDS.identity, expected, actual, verdict: "fail", confirmedBy: "token" });
  if (configured.clientId && tokenClientId && configured.clientId.toLowerCase() !== tokenClientId.toLowerCase()) {
    mismatches.push(`clientId ${configured.clientId} was configured, the token's appid is ${tokenClientId}`);
    mismatch(`clientId=${configured.clientId}`, `clientId=${tokenClientId}`);
  }
  if (configured.objectId && claims.oid && configured.objectId.toLowerCase() !== claims.oid.toLowerCase()) {
    mismatches.push(`objectId ${configured.objectId} was configured, the token's oid is ${claims.oid}`);
    mismatch(`objectId=${configured.objectId}`, `objectId=${claims.oid}`);
  }
  if (configured.resourceId && claims.xms_mirid && configured.resourceId.toLowerCase() !== claims.xms_mirid.toLowerCase()) {
    mismatches.push(`resourceId ${configured.resourceId} was configured, the token's xms_mirid is ${claims.xms_mirid}`);
    mismatch(`resourceId=${configured.resourceId}`, `resourceId=${claims.xms_mirid}`);
  }
  const kind = identityKindOf(claims);
  const wantsUserAssigned = Boolean(configured.clientId || configured.objectId || configured.resourceId);
  if (wantsUserAssigned && kind === "system-assigned") {
    mismatches.push("a user-assigned identity was configured, but the token belongs to the system-assigned identity");
    mismatch("user-assigned", "system-assigned");
  } else if (!wantsUserAssigned && kind === "user-assigned") {
    mismatches.push("no identity was selected (system-assigned meant), but the token belongs to a user-assigned identity");
    mismatch("system-assigned", "user-assigned");
  }
  if (mismatches.length > 0) {
    found.push(
      makeDiagnosis("StaleTokenOrIdentityMixup", {
        ...base,
        confidence: "high",
        summary: `Identity mix-up: the token for ${context.scope} belongs to ${describeIdentity(claims)}, not the configured identity`,
        evidence: [...mismatches, claimsLine],
        rule: tokenCheckRule("identity-mixup"),
        checks: identityChecks,
        nextSteps: [passClientIdInCode(configured.clientId ?? tokenClientId), showIdentityStep(ctx), listRoleAssignmentsStep(claims.oid)],
      }),
    );
  }

  // H4: the identity or tenant changed within this process.
  const previous = context.previous;
  if (previous !== undefined) {
    if (previous.objectId && claims.oid && previous.objectId !== claims.oid) {
      found.push(
        makeDiagnosis("StaleTokenOrIdentityMixup", {
          ...base,
          confidence: "medium",
          summary: `The identity changed during this process: tokens came from oid ${previous.objectId} before, now from oid ${claims.oid}`,
          evidence: [`previous oid=${previous.objectId} appid=${previous.clientId ?? "?"}`, claimsLine],
          rule: tokenCheckRule("identity-changed"),
          checks: [
            { kind: CHECK_KINDS.identity, expected: `objectId=${previous.objectId}`, actual: `objectId=${claims.oid}`, verdict: "fail", confirmedBy: "token" },
          ],
          nextSteps: [
            restartRevisionStep(ctx, "An identity swap leaves instances with tokens of both identities; restart so every instance uses the new one"),
            listRoleAssignmentsStep(claims.oid),
          ],
        }),
      );
    }
    if (previous.tenantId && claims.tid && previous.tenantId !== claims.tid) {
      found.push(
        makeDiagnosis("StaleTokenOrIdentityMixup", {
          ...base,
          confidence: "high",
          summary: `The token's tenant changed during this process: ${previous.tenantId} before, ${claims.tid} now`,
          evidence: [claimsLine],
          rule: tokenCheckRule("tenant-changed"),
          checks: [{ kind: CHECK_KINDS.tenant, expected: previous.tenantId, actual: claims.tid, verdict: "fail", confirmedBy: "token" }],
          nextSteps: ["Check which tenant the target resource lives in: a managed identity only gets tokens of its own tenant", restartRevisionStep(ctx)],
        }),
      );
    }
  }
  const refusedLine = refusedValuesEvidence(ctx.refused ?? []);
  if (refusedLine !== undefined) for (const diagnosis of found) diagnosis.evidence.push(refusedLine);
  return found;
}

function describeIdentity(claims: TokenClaims): string {
  const kind = identityKindOf(claims);
  return `${kind === "unknown" ? "identity" : `the ${kind} identity`} oid ${claims.oid ?? "?"} (appid ${clientIdOf(claims) ?? "?"})`;
}
