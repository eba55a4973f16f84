import { normalizeAudience, scopeToResource } from "../catalog/resolve.js";
import type { TokenClaims } from "../jwt/claims.js";
import { sharedSlot } from "../util/processState.js";

/** A token this library's credentials handed out: lets a downstream 401/403 be correlated with its token. */
export interface IssuedToken {
  scope: string;
  audience: string;
  claims: TokenClaims | undefined;
  issuedAt: number;
  owner: object;
}

const MAX_TOKENS = 128;
/**
 * By raw token value. Process-wide on purpose (zero-config observation sees requests, not credentials), and shared
 * by every copy of the library: a policy of the CJS copy finds the tokens the ESM copy's credential issued.
 */
const byValue = sharedSlot("issuedTokens.v1", () => new Map<string, IssuedToken>());

export function rememberIssuedToken(token: string, info: Omit<IssuedToken, "audience">): IssuedToken {
  const entry: IssuedToken = { ...info, audience: normalizeAudience(scopeToResource(info.scope)) };
  byValue.delete(token);
  byValue.set(token, entry);
  if (byValue.size > MAX_TOKENS) {
    const oldest = byValue.keys().next().value;
    if (oldest !== undefined) byValue.delete(oldest);
  }
  return entry;
}

/** The issued token with this raw value, if one of our credentials issued it. O(1). */
export function lookupIssuedToken(token: string): IssuedToken | undefined {
  return byValue.get(token);
}
