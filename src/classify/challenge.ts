/**
 * WWW-Authenticate parsing, tolerant of what services really send:
 * - quoted and unquoted values (`resource="https://vault.azure.net"`, `resource_id=https://storage.azure.com`),
 * - parameters separated by commas or by spaces only (Storage),
 * - several challenges in one header (`HMAC-SHA256, Bearer error="invalid_token", …`) or several headers joined,
 * - escaped quotes inside quoted strings, unterminated quotes, junk.
 * Never throws; input beyond 16 KiB is ignored.
 */

export interface AuthChallenge {
  /** As sent, e.g. "Bearer", "HMAC-SHA256", "PoP". */
  scheme: string;
  /** Parameter names lower case; the first occurrence of a name wins. */
  params: Record<string, string>;
}

/** What the challenges tell the classifier, from the first Bearer (or PoP) challenge that carries parameters. */
export interface ChallengeInfo {
  schemes: string[];
  error?: string;
  errorDescription?: string;
  /** `resource` or `resource_id`: the audience the service expects. */
  resource?: string;
  /** `authorization` or `authorization_uri`. */
  authorizationUri?: string;
  /** The tenant named by the authorization URI (a GUID or a domain), when it names one. */
  tenantId?: string;
  /** Raw `claims` parameter (base64 JSON of a CAE claims challenge). */
  claims?: string;
  /** The decoded claims challenge, when it decodes. */
  claimsDecoded?: unknown;
  realm?: string;
  scope?: string;
  service?: string;
}

const MAX_INPUT = 16 * 1024;
const MAX_CHALLENGES = 16;
const TOKEN_END = /[\s,=]/;

/** Parses a WWW-Authenticate header value (or several joined with ", "). */
export function parseWwwAuthenticate(header: unknown): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  try {
    if (typeof header !== "string" || header.length === 0) return challenges;
    const text = header.length > MAX_INPUT ? header.slice(0, MAX_INPUT) : header;
    let i = 0;
    let current: AuthChallenge | undefined;
    const n = text.length;
    while (i < n && challenges.length <= MAX_CHALLENGES) {
      // Skip separators.
      while (i < n && (text[i] === " " || text[i] === "\t" || text[i] === "," || text[i] === "\r" || text[i] === "\n")) i++;
      if (i >= n) break;
      // Read a token.
      const start = i;
      while (i < n && !TOKEN_END.test(text[i] as string) && text[i] !== '"') i++;
      let token = text.slice(start, i);
      if (token.length === 0) {
        // A stray '=' or '"': skip it (and a quoted string) so we always make progress.
        if (text[i] === '"') {
          i = readQuoted(text, i).end;
        } else {
          i++;
        }
        continue;
      }
      // Look past spaces for '='.
      let j = i;
      while (j < n && (text[j] === " " || text[j] === "\t")) j++;
      if (text[j] === "=") {
        // token68 (`abc==`): '=' runs followed by a separator or the end, right after a scheme.
        let k = j;
        while (k < n && text[k] === "=") k++;
        const afterEquals = k;
        while (k < n && (text[k] === " " || text[k] === "\t")) k++;
        if (afterEquals - j >= 1 && (k >= n || text[k] === ",") && current !== undefined && Object.keys(current.params).length === 0 && afterEquals - j > 1) {
          token += text.slice(j, afterEquals);
          current.params["token68"] = token;
          i = afterEquals;
          continue;
        }
        // A parameter.
        i = j + 1;
        while (i < n && (text[i] === " " || text[i] === "\t")) i++;
        let value: string;
        if (text[i] === '"') {
          const quoted = readQuoted(text, i);
          value = quoted.value;
          i = quoted.end;
        } else {
          const valueStart = i;
          while (i < n && !/[\s,]/.test(text[i] as string)) i++;
          value = text.slice(valueStart, i);
        }
        if (current === undefined) {
          current = { scheme: "", params: {} };
          challenges.push(current);
        }
        const name = token.toLowerCase();
        if (!(name in current.params)) current.params[name] = value;
      } else {
        current = { scheme: token, params: {} };
        challenges.push(current);
      }
    }
  } catch {
    // Keep what was parsed.
  }
  return challenges.slice(0, MAX_CHALLENGES);
}

function readQuoted(text: string, openQuote: number): { value: string; end: number } {
  let i = openQuote + 1;
  let value = "";
  while (i < text.length) {
    const c = text[i] as string;
    if (c === "\\" && i + 1 < text.length) {
      value += text[i + 1];
      i += 2;
      continue;
    }
    if (c === '"') return { value, end: i + 1 };
    value += c;
    i++;
  }
  return { value, end: i };
}

/**
 * Scheme names quoted as evidence: the registered long ones, or any short name. A longer "scheme" is a piece of a
 * garbled header (a token split at a line break, which shape-based redaction no longer recognises): never quoted.
 */
const SCHEME_NAME = /^(?:[A-Za-z][A-Za-z0-9-]{0,10}|HMAC-SHA256|SharedAccessSignature|SharedKeyLite|AWS4-HMAC-SHA256|SCRAM-SHA-256|PrivateToken)$/i;

const TENANT_IN_URI = /^https?:\/\/[^/]+\/([^/?#\s]+)/i;

/** The interesting parameters of the challenges: error, description, expected resource, tenant, claims. */
export function challengeInfo(challenges: readonly AuthChallenge[]): ChallengeInfo | undefined {
  try {
    if (!Array.isArray(challenges) || challenges.length === 0) return undefined;
    const info: ChallengeInfo = { schemes: challenges.map((c) => c.scheme).filter((s) => SCHEME_NAME.test(s)) };
    // Prefer Bearer/PoP challenges; fall back to any challenge with parameters.
    const ordered = [...challenges.filter((c) => /^(bearer|pop)$/i.test(c.scheme)), ...challenges.filter((c) => !/^(bearer|pop)$/i.test(c.scheme))];
    const pick = (...names: string[]): string | undefined => {
      for (const challenge of ordered) {
        for (const name of names) {
          const value = challenge.params[name];
          if (typeof value === "string" && value.length > 0) return value;
        }
      }
      return undefined;
    };
    const set = <K extends keyof ChallengeInfo>(key: K, value: ChallengeInfo[K] | undefined) => {
      if (value !== undefined) info[key] = value;
    };
    set("error", pick("error"));
    set("errorDescription", pick("error_description"));
    set("resource", pick("resource", "resource_id"));
    set("authorizationUri", pick("authorization_uri", "authorization"));
    set("claims", pick("claims"));
    set("realm", pick("realm"));
    set("scope", pick("scope"));
    set("service", pick("service"));
    if (info.authorizationUri !== undefined) {
      const match = TENANT_IN_URI.exec(info.authorizationUri);
      const tenant = match?.[1];
      if (tenant !== undefined && !/^(oauth2|common|organizations)$/i.test(tenant)) info.tenantId = tenant.toLowerCase();
    }
    if (info.claims !== undefined) set("claimsDecoded", decodeClaimsChallenge(info.claims));
    return info;
  } catch {
    return undefined;
  }
}

/** Decodes a CAE claims challenge (base64 or base64url JSON, or plain JSON). Undefined when it does not decode. */
export function decodeClaimsChallenge(claims: string): unknown {
  try {
    if (typeof claims !== "string" || claims.length === 0 || claims.length > 8192) return undefined;
    const trimmed = claims.trim();
    const text = trimmed.startsWith("{") ? trimmed : Buffer.from(trimmed, "base64").toString("utf8");
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === "object" ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** The `nbf` a CAE claims challenge requires (epoch seconds), when it names one: `{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}`. */
export function requiredNotBefore(decoded: unknown): number | undefined {
  try {
    if (decoded === null || typeof decoded !== "object") return undefined;
    const accessToken = (decoded as Record<string, unknown>)["access_token"];
    if (accessToken === null || typeof accessToken !== "object") return undefined;
    const nbf = (accessToken as Record<string, unknown>)["nbf"];
    if (nbf === null || typeof nbf !== "object") return undefined;
    const value = Number((nbf as Record<string, unknown>)["value"]);
    return Number.isFinite(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}
