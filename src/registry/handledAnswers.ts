import type { Diagnosis } from "../diagnosis/types.js";
import { sharedSlot } from "../util/processState.js";

/**
 * Which downstream answers are already taken care of, so that one failure is reported once: the pipeline policy
 * (which sees the body) marks each 401/403 it handles, and zero-config observation marks a 401 challenge that the
 * pipeline answered successfully on retry. Zero-config observation reports an answer only when it is not marked.
 * Process-wide on purpose (observation sees requests, not clients); entries live a few seconds.
 */
const handled = sharedSlot("handledAnswers.v1", () => new Map<string, number>());
const TTL_MS = 5_000;
const MAX_ENTRIES = 256;

/**
 * The identity of one answer for de-duplication: method, URL without query (scheme and host lower-cased, an empty
 * path as "/"), status. The policy and node:http/undici observation spell the same URL differently
 * (`https://acct.documents.azure.com` vs `https://acct.documents.azure.com/`); this key does not.
 */
export function responseKey(response: { method?: string; url: string; status: number }): string {
  return `${(response.method ?? "GET").toUpperCase()} ${normalizeUrl(response.url)} ${response.status}`;
}

/**
 * A URL whose scheme, host and path need no normalising (a host name of plain labels whose last one starts with a
 * letter, so not an IPv4 form; no port or credentials; a path of unreserved characters without dot segments): the common case, read without a URL parser (it runs per 401/403).
 */
const PLAIN_URL = /^(https?):\/\/((?:[A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*)((?:\/(?!\.\.?(?:[/?#]|$))[A-Za-z0-9._~-]*)*)(?:[?#]|$)/;

/** The last URL normalised and its result: a storm repeats one URL (equal strings compare cheaper than a regex). */
let lastUrl: { url: string; normalized: string } | undefined;

function normalizeUrl(url: string): string {
  if (lastUrl !== undefined && lastUrl.url === url) return lastUrl.normalized;
  const normalized = normalizeUrlOnce(url);
  lastUrl = { url, normalized };
  return normalized;
}

function normalizeUrlOnce(url: string): string {
  const plain = PLAIN_URL.exec(url);
  if (plain !== null) return `${plain[1]!.toLowerCase()}://${plain[2]!.toLowerCase()}${plain[3] || "/"}`;
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname || "/"}`;
  } catch {
    return String(url).split("?")[0] ?? "";
  }
}

export function markHandled(key: string): void {
  const now = Date.now();
  handled.delete(key);
  handled.set(key, now);
  if (handled.size > MAX_ENTRIES) {
    for (const [oldKey, at] of handled) {
      if (handled.size <= MAX_ENTRIES && now - at < TTL_MS) break;
      handled.delete(oldKey);
    }
  }
}

export function isHandled(key: string): boolean {
  const at = handled.get(key);
  return at !== undefined && Date.now() - at < TTL_MS;
}

/** Log level of a downstream diagnosis: a refused token (401 that is not a missing role) warns, the rest is an error. */
export function responseLogLevel(status: number, diagnosis: Diagnosis): "warn" | "error" {
  return status === 401 && diagnosis.hypothesis !== "H2" ? "warn" : "error";
}

/**
 * A diagnosis made from status and headers only (zero-config observation: the body stays with the client). When it
 * rests on the status alone (a missing role, or unknown) the service's own error code could say otherwise (a 403 is
 * also what a firewall or private-link rule answers): say so, and how to get the full verdict.
 */
export function withoutBodyCaveat(diagnosis: Diagnosis): Diagnosis {
  if (diagnosis.hypothesis !== "H2" && diagnosis.hypothesis !== "unknown") return diagnosis;
  if (diagnosis.errorCode !== undefined) return diagnosis;
  return {
    ...diagnosis,
    evidence: [...diagnosis.evidence, "seen without the response body (zero-config observation): the service's error code was not read"],
    nextSteps: [
      ...diagnosis.nextSteps,
      "To rule out a network rule (firewall, private link), which answers with the same status, read the service's error code: pass the error to credential.diagnose(error), or add diagnosticPolicy(credential) to the client (diagnosticHttpClient for Storage and Cosmos DB).",
    ],
  };
}
