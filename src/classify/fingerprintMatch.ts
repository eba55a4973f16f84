/**
 * The one fingerprint matcher: a service's answer (catalog/services.ts fingerprints, read by reason.ts) and a failed
 * `getToken` (catalog/tokenFailures.ts, read by credentialError.ts) are matched by the same rules. Every field the
 * fingerprint sets must match the evidence; a field it leaves out matches anything.
 */
import type { FailureProtocol } from "../catalog/types.js";
import { safeExec } from "./roleAdvice.js";

/** What a fingerprint may require. ErrorFingerprint and TokenFailureFingerprint both have this shape. */
export interface FingerprintFields {
  /** Where the failure is seen; default `["http"]`. */
  protocols?: readonly FailureProtocol[];
  /** The answer's status, or one of several. */
  status?: number | readonly number[];
  /** Error codes, compared case-insensitively with the evidence's codes. */
  errorCode?: string | readonly string[];
  /** Cosmos DB `x-ms-substatus`. */
  substatus?: string | readonly string[];
  /** WWW-Authenticate `error` parameter. */
  challengeError?: string;
  /** Transport codes (ECONNREFUSED…), compared case-insensitively. */
  transportCode?: string | readonly string[];
  /** Matched against the evidence's text; its named groups are returned. */
  message?: RegExp;
}

/** The failure as the matcher reads it. */
export interface MatchEvidence {
  protocol: FailureProtocol;
  status?: number;
  /** Error codes of the failure (any case). */
  codes: readonly string[];
  substatus?: string;
  challengeError?: string;
  transportCode?: string;
  /** The text `message` patterns run on. */
  text: string;
}

export interface FingerprintMatched {
  /** Named groups of `message`. */
  groups: Record<string, string>;
  /** The text the message pattern matched, when it has one. */
  text?: string;
}

const listOf = <T>(value: T | readonly T[]): readonly T[] => (Array.isArray(value) ? (value as readonly T[]) : [value as T]);

/** Whether `fp` matches the evidence, with the named groups of its message; undefined when it does not. */
export function matchFingerprintFields(fp: FingerprintFields, evidence: MatchEvidence): FingerprintMatched | undefined {
  if (fp === null || typeof fp !== "object") return undefined;
  const protocols = Array.isArray(fp.protocols) ? fp.protocols : ["http"];
  if (!protocols.includes(evidence.protocol)) return undefined;
  if (fp.status !== undefined) {
    if (evidence.status === undefined || !listOf(fp.status).includes(evidence.status)) return undefined;
  }
  if (fp.errorCode !== undefined) {
    const wanted = listOf(fp.errorCode).map((c) => String(c).toLowerCase());
    if (!evidence.codes.some((code) => wanted.includes(code.toLowerCase()))) return undefined;
  }
  if (fp.substatus !== undefined) {
    if (evidence.substatus === undefined || !listOf(fp.substatus).map(String).includes(evidence.substatus)) return undefined;
  }
  if (fp.challengeError !== undefined && evidence.challengeError?.toLowerCase() !== String(fp.challengeError).toLowerCase()) return undefined;
  if (fp.transportCode !== undefined) {
    const wanted = listOf(fp.transportCode).map((c) => String(c).toUpperCase());
    if (evidence.transportCode === undefined || !wanted.includes(evidence.transportCode.toUpperCase())) return undefined;
  }
  const matched: FingerprintMatched = { groups: {} };
  if (fp.message !== undefined) {
    if (!(fp.message instanceof RegExp)) return undefined;
    const found = safeExec(fp.message, evidence.text);
    if (found === null) return undefined;
    matched.text = found[0];
    for (const [key, value] of Object.entries(found.groups ?? {})) if (typeof value === "string") matched.groups[key] = value;
  }
  return matched;
}
