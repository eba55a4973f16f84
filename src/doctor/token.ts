/**
 * The token step: one getToken per scope under a time limit, then the issued token's claims (never the token) and
 * what is wrong with it; a Diagnosis for every failure.
 */
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { CredentialUnavailableError } from "@azure/identity";
import type { ServiceCatalog } from "../catalog/resolve.js";
import { classifyCredentialError, type ConfiguredIdentity } from "../classify/credentialError.js";
import { checkIssuedToken } from "../classify/issuedToken.js";
import { getDiagnosis } from "../diagnosis/attach.js";
import { makeDiagnosis } from "../diagnosis/build.js";
import { registerOpaqueToken } from "../util/redact.js";
import type { Diagnosis } from "../diagnosis/types.js";
import type { HostEnvironment } from "../environment/hostEnvironment.js";
import { clientIdOf, decodeTokenClaims, identityKindOf } from "../jwt/claims.js";
import type { SmokeTestToken, SmokeTestTokenClaims } from "./types.js";
import { errorLine, isoOrUndefined, safeCall } from "./util.js";

/** What a token request is checked against, and how long it may take. */
export interface TokenContext {
  timeoutMs: number;
  configured: ConfiguredIdentity;
  hostEnvironment: HostEnvironment;
  catalog: ServiceCatalog;
  credentialName: string;
}

/** One token request: its report entry, the token (kept in memory for the dependency calls) and further problems found. */
export async function requestToken(
  credential: TokenCredential,
  scope: string,
  context: TokenContext,
): Promise<{ entry: SmokeTestToken; token?: AccessToken; problems: Diagnosis[] }> {
  const startedAt = performance.now();
  const elapsed = () => Math.round(performance.now() - startedAt);
  const outcome = await getTokenWithin(credential, scope, context.timeoutMs);
  if (outcome === "timeout" || "error" in outcome) {
    const { error, diagnosis } = explainFailure(outcome, scope, context);
    return { entry: { scope, ok: false, diagnosis, error: errorLine(error), durationMs: elapsed() }, problems: [] };
  }
  const token = outcome.token;
  if (token === null || typeof token !== "object" || typeof token.token !== "string" || token.token.length === 0) {
    const diagnosis = makeDiagnosis("Unknown", {
      confidence: "low",
      summary: `The credential returned no token for ${scope}`,
      evidence: [`getToken(${scope}) resolved with ${token === null ? "null" : typeof token}`],
      nextSteps: ["Check which credential the app builds and whether it applies in this environment"],
      token: { scope },
    });
    return { entry: { scope, ok: false, diagnosis, error: "no token returned", durationMs: elapsed() }, problems: [] };
  }
  // Opaque tokens are not caught by the JWT pattern of redaction: register this one (the latest few are kept).
  registerOpaqueToken(token.token);
  const decoded = decodeTokenClaims(token.token);
  const problems = safeCall(
    () =>
      checkIssuedToken(decoded, {
        scope,
        configured: context.configured,
        now: Date.now(),
        ...(Number.isFinite(token.expiresOnTimestamp) ? { expiresOnTimestamp: token.expiresOnTimestamp } : {}),
        environment: context.hostEnvironment,
        catalog: context.catalog,
      }),
    [] as Diagnosis[],
  );
  const entry: SmokeTestToken = { scope, ok: problems.length === 0, durationMs: elapsed() };
  if (decoded !== undefined) entry.claims = claimsSummary(decoded);
  if (Number.isFinite(token.expiresOnTimestamp)) entry.expiresAt = isoOrUndefined(token.expiresOnTimestamp) ?? String(token.expiresOnTimestamp);
  if (problems[0] !== undefined) entry.diagnosis = problems[0];
  return { entry, token, problems: problems.slice(1) };
}

type TokenOutcome = { token: AccessToken | null } | { error: unknown } | "timeout";

/** `getToken`, settled: the token, the error, or "timeout" when the credential outlives its time limit. */
async function getTokenWithin(credential: TokenCredential, scope: string, timeoutMs: number): Promise<TokenOutcome> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  // A backstop for credentials that do not honour their own time limit (a given DiagnosticCredential may have none).
  // It waits out the credential's own deadline (which fires up to two watchdog ticks after the limit) so that one
  // speaks first; either way the message states the limit the caller gave, not the backstop's.
  const watchdogTick = Math.max(10, Math.min(250, Math.floor(timeoutMs / 8)));
  const backstopMs = timeoutMs + 2 * watchdogTick + 100;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve("timeout");
    }, backstopMs);
  });
  try {
    return await Promise.race([
      Promise.resolve()
        .then(() => credential.getToken(scope, { abortSignal: controller.signal }))
        .then(
          (token) => ({ token }),
          (error: unknown) => ({ error }),
        ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error of a failed request (the backstop's own for a timeout) and its Diagnosis. */
function explainFailure(outcome: { error: unknown } | "timeout", scope: string, context: TokenContext): { error: unknown; diagnosis: Diagnosis } {
  if (outcome === "timeout") {
    const error = new CredentialUnavailableError(`${context.credentialName} returned no token within ${context.timeoutMs} ms`);
    const diagnosis =
      classifyCredentialError(error, {
        environment: context.hostEnvironment,
        configuredIdentity: context.configured,
        scopes: scope,
        timedOutAfterMs: context.timeoutMs,
        credentialName: context.credentialName,
      }) ?? unknownTokenFailure(scope, error);
    return { error, diagnosis };
  }
  const diagnosis =
    getDiagnosis(outcome.error) ??
    classifyCredentialError(outcome.error, {
      environment: context.hostEnvironment,
      configuredIdentity: context.configured,
      scopes: scope,
      credentialName: context.credentialName,
    }) ??
    unknownTokenFailure(scope, outcome.error);
  return { error: outcome.error, diagnosis };
}

function claimsSummary(claims: NonNullable<ReturnType<typeof decodeTokenClaims>>): SmokeTestTokenClaims {
  const out: SmokeTestTokenClaims = {
    aud: claims.aud,
    iss: claims.iss,
    tid: claims.tid,
    oid: claims.oid,
    appid: clientIdOf(claims),
    xms_mirid: claims.xms_mirid,
    idtyp: claims.idtyp,
    ver: claims.ver,
    identityKind: identityKindOf(claims),
    issuedAt: claims.iat !== undefined ? isoOrUndefined(claims.iat * 1000) : undefined,
    notBefore: claims.nbf !== undefined ? isoOrUndefined(claims.nbf * 1000) : undefined,
    expiresAt: claims.exp !== undefined ? isoOrUndefined(claims.exp * 1000) : undefined,
  };
  for (const key of Object.keys(out) as Array<keyof SmokeTestTokenClaims>) if (out[key] === undefined) delete out[key];
  return out;
}

function unknownTokenFailure(scope: string, error: unknown): Diagnosis {
  return makeDiagnosis("Unknown", {
    confidence: "low",
    summary: `No token for ${scope}: ${errorLine(error)}`,
    evidence: [`error: ${errorLine(error)}`],
    nextSteps: ["Run the app's own credential chain with AZURE_LOG_LEVEL=verbose to see which credential failed and why"],
    token: { scope },
  });
}
