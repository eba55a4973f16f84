/**
 * Redaction: the last guard before any text leaves the library (log line, span, metric, error message, Diagnosis).
 * A JWT keeps nothing of itself but a marker; bearer values and known secrets are removed wherever they appear.
 */

// Header and payload are base64url JSON ("eyJ" = '{"').
// Any run that starts like a JWT is removed whole, also a truncated one (a body excerpt may cut a token in half).
const JWT_PATTERN = /eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){0,2}/g;
// An opaque bearer value: a long run of token characters ending at a delimiter. "Bearer or PoP token" (prose) and
// "Bearer authorization_uri=…" (challenge parameters, which are evidence) do not match.
const BEARER_PATTERN = /\b(Bearer)\s+[A-Za-z0-9._~+/-]{16,}=*(?=[\s,"';]|$)/gi;
const SHARED_KEY_PATTERN = /\b(SharedKey|SharedAccessSignature)\s+[^\s,"';]+/gi;
const SIG_PARAM_PATTERN = /([?&](?:sig|signature|code|client_secret|access_token)=)[^&\s"']+/gi;

const knownSecrets = new Set<string>();

/** Registers a secret value (e.g. IDENTITY_HEADER) that must never be printed. Values under 4 characters are ignored. */
export function registerSecret(value: string | undefined): void {
  if (typeof value === "string" && value.length >= 4) knownSecrets.add(value);
}

/** Removes tokens, bearer values, signatures and registered secrets from text. Never throws. */
export function redact(text: string): string {
  if (typeof text !== "string" || text.length === 0) return "";
  let out = text.replace(JWT_PATTERN, "[redacted-jwt]").replace(BEARER_PATTERN, "$1 [redacted]").replace(SHARED_KEY_PATTERN, "$1 [redacted]").replace(SIG_PARAM_PATTERN, "$1[redacted]");
  for (const secret of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join("[redacted]");
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
