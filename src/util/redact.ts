/**
 * Redaction: the last guard before any text leaves the library (log line, span, metric, error message, Diagnosis).
 * A JWT keeps nothing of itself but a marker; bearer values and known secrets are removed wherever they appear, also
 * in the encodings text passes through on its way here (JSON and URL escapes, HTML entities, folded lines) and also
 * when an echo cut them short.
 */

import { sharedSlot } from "./processState.js";

// ── token shapes ────────────────────────────────────────────────────────────────────────────────────────────────
// One character of a token segment: base64url or standard base64 (`+` `/` `=`), also as a JSON escape (`\/`,
// `\u0041`) or URL-encoded (`%2B` `%2F` `%3D`). The alternatives never overlap (each starts differently, or the
// escapes name different characters), so a match never backtracks more than a step.
const B64_CHAR = String.raw`(?:[A-Za-z0-9_\-+/=]|\\/|\\u00(?:[46][1-9A-Fa-f]|[57][0-9Aa]|3[0-9Dd]|2[BbDdFf]|5[Ff])|%2[BbFf]|%3[Dd])`;
// A line break inside a token (a log or a body folded it), real or JSON-escaped, with the indentation around it.
const LINE_BREAK = String.raw`(?:[ \t]*(?:\r\n?|\n|\\r\\n|\\[rn])[ \t]*)`;
// The dot between segments: plain, URL-encoded, an HTML entity or a JSON escape.
const SEGMENT_DOT = String.raw`(?:\.|%2[Ee]|&#0*46;|&#[Xx]0*2[Ee];|\\u002[Ee])`;
// Header and payload are base64url JSON ("eyJ" = '{"'), the start also as JSON escapes (`\u0065yJ`).
const JWT_START = String.raw`(?:e|\\u0065)(?:y|\\u0079)(?:J|\\u004[Aa])`;
const SEGMENT_REST = `${B64_CHAR}*(?:${LINE_BREAK}${B64_CHAR}+)*`;
// Any run that starts like a JWT is removed whole, also a truncated one (a body excerpt may cut a token in half), with
// all the segments that follow (a JWE has five; and a run continued across a line break may reach the next token,
// whose segments must go too).
const JWT_PATTERN = new RegExp(`${JWT_START}${SEGMENT_REST}(?:${LINE_BREAK}?${SEGMENT_DOT}${LINE_BREAK}?${SEGMENT_REST})*`, "g");
// An opaque bearer value: a run of 16 or more token characters (also a JSON-escaped `\/`), whatever follows it — a
// space, quote, bracket, brace, `)`, `\` or an unescaped `=`. "Bearer or PoP token" (prose) and the long challenge
// parameters ("Bearer authorization_uri=…", which are evidence) do not match; nor does a JWT, left to its own
// pattern. Applied first: a JWT run glued to "Bearer" ("…sig=Bearer abc…") would otherwise swallow the scheme.
// (Case-sensitive but for the scheme, so that a value starting "EYJ" is not taken for a JWT.)
const BEARER_PATTERN =
  /\b([Bb][Ee][Aa][Rr][Ee][Rr])(?:\s|%20)+(?!(?:authorization_uri|error_description|authorization|trusted_issuers)=|eyJ)(?:[A-Za-z0-9._~+/-]|\\\/){16,}=*/g;
const SHARED_KEY_PATTERN = /\b(SharedKey|SharedAccessSignature)\s+[^\s,"';]+/gi;
// A signature parameter of a query, also inside XML or HTML (`&amp;sig=`).
const SIG_PARAM_PATTERN = /((?:[?&]|&amp;)(?:sig|signature|code|client_secret|access_token)=)[^&\s"'<]+/gi;
/** The shape patterns, in the order they are applied, and what each match becomes. @internal (a test's oracle) */
export const REDACTION_PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  [BEARER_PATTERN, "$1 [redacted]"],
  [JWT_PATTERN, "[redacted-jwt]"],
  [SHARED_KEY_PATTERN, "$1 [redacted]"],
  [SIG_PARAM_PATTERN, "$1[redacted]"],
];
// What every one of the patterns above needs to match: one scan of text with none of them instead of four
// replace passes (redaction runs on every evidence line; most have nothing to redact).
const ANY_PATTERN = /eyJ|\\u00(?:65|79|4a)|bearer|shared(?:key|accesssignature)|[?&;](?:sig|signature|code|client_secret|access_token)=/i;

// ── registered secrets ──────────────────────────────────────────────────────────────────────────────────────────
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

/** Removes tokens, bearer values, signatures and registered secrets (whole, or any 12-character run of one) from text. Never throws. */
export function redact(text: string): string {
  if (typeof text !== "string" || text.length === 0) return "";
  let out = text;
  if (ANY_PATTERN.test(out)) for (const [pattern, replacement] of REDACTION_PATTERNS) out = out.replace(pattern, replacement);
  for (const secret of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join("[redacted]");
  }
  for (const token of recentTokens) {
    if (out.includes(token)) out = out.split(token).join("[redacted]");
  }
  return removeFragments(out);
}

// ── fragments of registered secrets ─────────────────────────────────────────────────────────────────────────────
/**
 * A registered secret cut short by whatever echoed it ("f3a9c2d1e4b5…") is still a leak: any run of this many
 * characters of one is removed too.
 */
export const MIN_SECRET_FRAGMENT = 12;
// Every run of MIN_SECRET_FRAGMENT characters of a secret holds one of its blocks of ANCHOR characters starting at a
// multiple of ANCHOR, so finding those blocks (one rolling-hash scan) finds every fragment.
const ANCHOR = MIN_SECRET_FRAGMENT / 2;
const HASH_BASE = 0x01000193;
/** Weight of the character leaving the window: HASH_BASE^(ANCHOR-1) mod 2^32. */
const HASH_DROP = Array.from({ length: ANCHOR - 1 }).reduce<number>((power) => Math.imul(power, HASH_BASE), 1);

interface FragmentIndex {
  /** The secrets indexed, in registration order (compared by identity to the registries on each use). */
  secrets: string[];
  /** 16-bit filter of the anchor hashes: most windows of a text are rejected by one array read. */
  filter: Uint8Array;
  /** Anchor hash → [secret index, offset] pairs. */
  anchors: Map<number, number[]>;
}

/** Built from the shared registries, kept with them: every copy of the library sees the same secrets. */
const fragmentIndexSlot = sharedSlot("secretFragmentIndex.v1", () => ({ index: undefined as FragmentIndex | undefined }));

function hashAt(text: string, start: number): number {
  let h = 0;
  for (let i = start; i < start + ANCHOR; i++) h = (Math.imul(h, HASH_BASE) + text.charCodeAt(i)) | 0;
  return h;
}

function currentFragmentIndex(): FragmentIndex | undefined {
  const secrets: string[] = [];
  for (const secret of knownSecrets) if (secret.length >= MIN_SECRET_FRAGMENT) secrets.push(secret);
  for (const token of recentTokens) if (token.length >= MIN_SECRET_FRAGMENT) secrets.push(token);
  if (secrets.length === 0) return undefined;
  const cached = fragmentIndexSlot.index;
  if (cached !== undefined && cached.secrets.length === secrets.length && cached.secrets.every((s, i) => s === secrets[i])) return cached;
  const filter = new Uint8Array(1 << 16);
  const anchors = new Map<number, number[]>();
  secrets.forEach((secret, s) => {
    // A block repeated within one secret is indexed at its first offset only, so that a periodic "secret" cannot make
    // every window of a text a long list of candidates (a random secret repeats no block of 6).
    const seen = new Set<string>();
    for (let offset = 0; offset + ANCHOR <= secret.length; offset += ANCHOR) {
      const block = secret.slice(offset, offset + ANCHOR);
      if (seen.has(block)) continue;
      seen.add(block);
      const h = hashAt(secret, offset);
      filter[h & 0xffff] = 1;
      const list = anchors.get(h);
      if (list === undefined) anchors.set(h, [s, offset]);
      else list.push(s, offset);
    }
  });
  const index = { secrets, filter, anchors };
  fragmentIndexSlot.index = index;
  return index;
}

/** Replaces every run of MIN_SECRET_FRAGMENT or more characters of a registered secret. One pass over the text. */
function removeFragments(text: string): string {
  if (text.length < MIN_SECRET_FRAGMENT) return text;
  const index = currentFragmentIndex();
  if (index === undefined) return text;
  const ranges: number[] = [];
  let i = 0;
  let h = hashAt(text, 0);
  while (i + ANCHOR <= text.length) {
    let next = i + 1;
    if (index.filter[h & 0xffff] === 1) {
      const candidates = index.anchors.get(h);
      if (candidates !== undefined) {
        for (let c = 0; c < candidates.length; c += 2) {
          const secret = index.secrets[candidates[c]!]!;
          const offset = candidates[c + 1]!;
          let right = 0;
          while (i + right < text.length && offset + right < secret.length && text.charCodeAt(i + right) === secret.charCodeAt(offset + right)) right++;
          if (right < ANCHOR) continue; // a hash collision
          let left = 0;
          while (left < offset && left < i && text.charCodeAt(i - left - 1) === secret.charCodeAt(offset - left - 1)) left++;
          if (left + right >= MIN_SECRET_FRAGMENT) {
            ranges.push(i - left, i + right);
            next = Math.max(next, i + right);
          }
        }
      }
    }
    // Past a fragment, the scan resumes at its end: the text is read once whatever it repeats.
    if (next === i + 1 && next + ANCHOR <= text.length) {
      h = (Math.imul(h - Math.imul(text.charCodeAt(i), HASH_DROP), HASH_BASE) + text.charCodeAt(i + ANCHOR)) | 0;
    } else if (next + ANCHOR <= text.length) {
      h = hashAt(text, next);
    }
    i = next;
  }
  if (ranges.length === 0) return text;
  // Fragments found from different anchors may overlap or touch: one marker for each stretch.
  const order = Array.from({ length: ranges.length / 2 }, (_, r) => r).sort((a, b) => ranges[2 * a]! - ranges[2 * b]!);
  let out = "";
  let at = 0;
  for (const r of order) {
    const start = ranges[2 * r]!;
    const end = ranges[2 * r + 1]!;
    if (end <= at) continue;
    const continuesPrevious = at > 0 && start <= at;
    if (!continuesPrevious) out += `${text.slice(at, start)}[redacted]`;
    at = end;
  }
  return out + text.slice(at);
}

// ── excerpts ────────────────────────────────────────────────────────────────────────────────────────────────────
/** How far past the head a word cut by it is followed, so that a token or secret there is redacted whole. */
const HEAD_WORD_SLACK = 8 * 1024;

/** A short, single-line, redacted excerpt of a body: what evidence quotes. */
export function excerpt(text: string | undefined, maxLength = 300): string {
  if (typeof text !== "string" || text.length === 0) return "";
  // A huge body costs O(maxLength): only a head of it is read, but the head ends after the word the cut falls in,
  // and is redacted before it is cut again (a secret cut in half is no longer recognised).
  let end = text.length;
  if (end > maxLength * 4) {
    end = maxLength * 4;
    const limit = Math.min(text.length, end + HEAD_WORD_SLACK);
    while (end < limit && !isSpace(text.charCodeAt(end))) end++;
  }
  let oneLine = redact(end < text.length ? text.slice(0, end) : text)
    .replace(/[\u0000-\u001f\u007f]+/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  // A word longer than the slack was still cut: drop it (it may be part of a token).
  if (end < text.length && !isSpace(text.charCodeAt(end))) {
    const lastSpace = oneLine.lastIndexOf(" ");
    oneLine = lastSpace > 0 ? oneLine.slice(0, lastSpace) : "";
  }
  return oneLine.length > maxLength ? `${oneLine.slice(0, maxLength - 1)}…` : oneLine;
}

function isSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13) || code === 0xa0 || code === 0x2028 || code === 0x2029 || code === 0xfeff;
}
