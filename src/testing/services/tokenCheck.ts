import { compactVerify, createLocalJWKSet, type JWK } from "jose";
import { decodeTokenClaims, type TokenClaims } from "../../jwt/claims.js";

/** The keys tokens are signed with: one JWK, several, or a JWKS document (`{ keys: [...] }`). */
export type IssuerKeys =
  | JWK
  | readonly JWK[]
  | {
      /** The public keys. */
      keys: readonly JWK[];
    };

/** Why a token was refused, in the order the checks run. */
export type TokenFailureReason = "missing" | "malformed" | "signature" | "audience" | "tenant" | "expired" | "not-yet-valid";

/** The outcome of checking one request's token. Never carries the token itself. */
export type TokenCheckResult = { ok: true; claims: TokenClaims } | { ok: false; reason: TokenFailureReason; claims?: TokenClaims };

export interface TokenCheckerOptions {
  issuerKeys: IssuerKeys;
  tenantId: string;
  /** Accepted `aud` values (compared case-insensitively, trailing slash ignored). */
  audiences: readonly string[];
  /** The emulator's clock, epoch ms. */
  now: () => number;
}

/** Entra ID tolerates this much clock skew on `exp` and `nbf`. */
export const CLOCK_SKEW_SECONDS = 300;

export type TokenChecker = (token: string | undefined) => Promise<TokenCheckResult>;

/**
 * Checks a bearer token like Entra-protected services do: signature against the issuer's keys, then `aud`, then the
 * tenant (`tid`, else the tenant in `iss`), then `exp`/`nbf` with 5 minutes of skew.
 */
export function createTokenChecker(options: TokenCheckerOptions): TokenChecker {
  const keySet = createLocalJWKSet({ keys: jwkList(options.issuerKeys) });
  const audiences = new Set(options.audiences.map(normalizeAudience));
  const tenant = options.tenantId.toLowerCase();
  return async (token) => {
    if (!token) return { ok: false, reason: "missing" };
    const claims = decodeTokenClaims(token);
    if (!claims || token.split(".").length !== 3) return { ok: false, reason: "malformed" };
    try {
      await compactVerify(token, keySet);
    } catch {
      return { ok: false, reason: "signature", claims };
    }
    if (claims.aud === undefined || !audiences.has(normalizeAudience(claims.aud))) return { ok: false, reason: "audience", claims };
    if (tenantOf(claims)?.toLowerCase() !== tenant) return { ok: false, reason: "tenant", claims };
    const nowSeconds = options.now() / 1000;
    if (claims.exp === undefined || nowSeconds > claims.exp + CLOCK_SKEW_SECONDS) return { ok: false, reason: "expired", claims };
    if (claims.nbf !== undefined && nowSeconds < claims.nbf - CLOCK_SKEW_SECONDS) return { ok: false, reason: "not-yet-valid", claims };
    return { ok: true, claims };
  };
}

/** The token from `Authorization: Bearer …`. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  return match?.[1];
}

export function normalizeAudience(audience: string): string {
  return audience.trim().toLowerCase().replace(/\/+$/, "");
}

/** The token's tenant: `tid`, else the GUID in `iss` (`https://sts.windows.net/<tid>/`, `…/<tid>/v2.0`). */
export function tenantOf(claims: TokenClaims): string | undefined {
  return claims.tid ?? /^https:\/\/[^/]+\/([0-9a-f-]{36})\//i.exec(claims.iss ?? "")?.[1];
}

function jwkList(keys: IssuerKeys): JWK[] {
  if (Array.isArray(keys)) return [...(keys as readonly JWK[])];
  if ("keys" in keys && Array.isArray(keys.keys)) return [...keys.keys];
  return [keys as JWK];
}
