/**
 * The request a dependency call sends: the caller's URL and headers, what the service's catalog entry says its calls
 * need (its `probe` rule: api-version, x-ms-version, the form it takes the token in) and the token. There is no
 * per-service code here: a service's rule is data in its catalog entry, or in an entry of the `services` option.
 */
import type { ServiceProbeRule } from "../catalog/types.js";
import { redact } from "../util/redact.js";

/** How the token is sent when the service's rule does not say. */
const BEARER: NonNullable<ServiceProbeRule["authorization"]> = { template: "Bearer {token}" };

/** The request to send, and what was added to it for the service ("added api-version=7.5") for the report. */
export interface PreparedRequest {
  url: string;
  headers: Record<string, string>;
  notes: string[];
}

/** Applies the service's probe rule (when it has one) to the caller's URL and headers, and sets Authorization. */
export function prepareRequest(request: { url: string; headers: Record<string, string> }, rule: ServiceProbeRule | undefined, token: string): PreparedRequest {
  const notes: string[] = [];
  const headers: Record<string, string> = {};
  // The smoke test sets Authorization itself: a caller's one never replaces the token under test.
  for (const [key, value] of Object.entries(request.headers)) if (key.toLowerCase() !== "authorization") headers[key] = value;
  const has = (name: string) => Object.keys(headers).some((key) => key.toLowerCase() === name.toLowerCase());
  const parsed = new URL(request.url);
  let url = request.url;
  if (rule !== undefined && appliesToPath(rule, parsed.pathname)) {
    for (const [name, value] of Object.entries(rule.query ?? {})) {
      if (parsed.searchParams.has(name)) continue;
      parsed.searchParams.set(name, value);
      url = parsed.href;
      notes.push(`added ${name}=${value}`);
    }
    for (const [name, value] of Object.entries(rule.headers ?? {})) {
      if (has(name)) continue;
      headers[name] = value;
      notes.push(`added header ${name}: ${value}`);
    }
    if (rule.dateHeader !== undefined && !has(rule.dateHeader)) headers[rule.dateHeader] = new Date().toUTCString();
  }
  const authorization = rule?.authorization ?? BEARER;
  // split/join, not replace: a replacement string would give `$` sequences a meaning.
  const value = authorization.template.split("{token}").join(token);
  headers["authorization"] = authorization.urlEncode === true ? encodeURIComponent(value) : value;
  if (!has("accept")) headers["accept"] = "application/json";
  if (!has("user-agent")) headers["user-agent"] = "diagnostic-credential-doctor";
  // Rules from the `services` option are user data: the report shows their values through redaction only.
  return { url, headers, notes: notes.map((note) => redact(note)) };
}

function appliesToPath(rule: ServiceProbeRule, path: string): boolean {
  if (!(rule.path instanceof RegExp)) return true;
  rule.path.lastIndex = 0;
  return rule.path.test(path);
}
