/**
 * Redaction: the last guard before any text leaves the library (log line, span, metric, error message, Diagnosis).
 * A JWT keeps nothing of itself but a marker; bearer values and known secrets are removed wherever they appear.
 */

import { sharedSlot } from "./processState.js";

// Header and payload are base64url JSON ("eyJ" = '{"').
// Any run that starts like a JWT is removed whole, also a truncated one (a body excerpt may cut a token in half).
const JWT_PATTERN = /eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){0,2}/g;
// An opaque bearer value: a long run of token characters ending at a delimiter. "Bearer or PoP token" (prose) and
// "Bearer authorization_uri=…" (challenge parameters, which are evidence) do not match.
const BEARER_PATTERN = /\b(Bearer)\s+[A-Za-z0-9._~+/-]{16,}=*(?=[\s,"';]|$)/gi;
const SHARED_KEY_PATTERN = /\b(SharedKey|SharedAccessSignature)\s+[^\s,"';]+/gi;
const SIG_PARAM_PATTERN = /([?&](?:sig|signature|code|client_secret|access_token)=)[^&\s"']+/gi;
// What every one of the patterns above needs to match: one scan of text with none of them instead of four
// replace passes (redaction runs on every evidence line; most have nothing to redact).
const ANY_PATTERN = /eyJ|bearer|shared(?:key|accesssignature)|[?&](?:sig|signature|code|client_secret|access_token)=/i;

const knownSecrets = sharedSlot("knownSecrets.v1", () => new Set<string>());
/** Tokens seen in passing (an opaque token the smoke test got): the latest few, so a probe run for months stays bounded. */
const recentTokens = sharedSlot("recentOpaqueTokens.v1", () => new Set<string>());
const MAX_RECENT_TOKENS = 16;

/** Registers a secret value (e.g. IDENTITY_HEADER) that must never be printed. Values under 4 characters are ignored. */
export function registerSecret(value: string | undefined): void {
  if (typeof value === "string" && value.length >= 4) knownSecrets.add(value);
}

/**
 * Registers a token that redaction would not recognise by its shape (not a JWT). JWTs are removed by their shape
 * anyway and are not kept. Only the latest MAX_RECENT_TOKENS are remembered.
 */
export function registerOpaqueToken(value: string): void {
  if (typeof value !== "string" || value.length < 4 || value.startsWith("eyJ") || recentTokens.has(value)) return;
  recentTokens.add(value);
  if (recentTokens.size > MAX_RECENT_TOKENS) recentTokens.delete(recentTokens.values().next().value!);
}

/** Removes tokens, bearer values, signatures and registered secrets from text. Never throws. */
export function redact(text: string): string {
  if (typeof text !== "string" || text.length === 0) return "";
  let out = ANY_PATTERN.test(text)
    ? text.replace(JWT_PATTERN, "[redacted-jwt]").replace(BEARER_PATTERN, "$1 [redacted]").replace(SHARED_KEY_PATTERN, "$1 [redacted]").replace(SIG_PARAM_PATTERN, "$1[redacted]")
    : text;
  for (const secret of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join("[redacted]");
  }
  for (const token of recentTokens) {
    if (out.includes(token)) out = out.split(token).join("[redacted]");
  }
  return out;
}

/** A short, single-line, redacted excerpt of a body: what evidence quotes. */
export function excerpt(text: string | undefined, maxLength = 300): string {
  if (typeof text !== "string" || text.length === 0) return "";
  // Cut before redacting so a huge body costs O(maxLength), but leave room so a JWT cut in half is still recognised.
  const head = text.length > maxLength * 4 ? text.slice(0, maxLength * 4) : text;
  const oneLine = redact(head).replace(/[\u0000-\u001f\u007f]+/g, " ").replace(/\s+/g, " ").trim();
  return oneLine.length > maxLength ? `${oneLine.slice(0, maxLength - 1)}…` : oneLine;
}
