import type { Diagnosis, ResponseLike } from "../diagnosis/types.js";

/** Bodies up to this size take part (the key holds them whole); a larger answer is classified each time. */
const MAX_BODY = 8 * 1024;
/** Distinct answers remembered, least recently used first out. */
const MAX_ENTRIES = 64;
/** How long a diagnosis is reused: token lifetimes and role propagation change verdicts in minutes, not seconds. */
const TTL_MS = 10_000;
/** The headers that can change a verdict (challenge, service error code, Cosmos substatus). */
const VERDICT_HEADERS = ["www-authenticate", "x-ms-error-code", "x-ms-substatus"];

/**
 * The repeat fast path: a 401/403 storm is the same answer thousands of times a second. An answer identical to one
 * already diagnosed (same method, URL, status, verdict headers, body and token) reuses that diagnosis instead of
 * classifying it again; it is still counted, folded and recorded by the caller. Only failures reach it (a 2xx never
 * does), the memory is bounded (64 entries of at most 8 KB of body each) and entries live 10 s.
 */
export class RepeatAnswers {
  /**
   * By a short key (method, URL, status, body length): hashing a fresh key that held the whole body cost more than
   * the rest of a repeat. The entry keeps the parts that must be equal too (compared, not hashed).
   */
  private readonly entries = new Map<string, RepeatEntry>();

  /** The answer's identity, or undefined when it does not take part (a large body, headers that cannot be read). */
  keyOf(response: ResponseLike, token: string | undefined): RepeatKey | undefined {
    const body = response.body;
    if (body !== undefined && body.length > MAX_BODY) return undefined;
    let headers = "";
    const given = response.headers;
    if (given !== undefined) {
      for (const name of VERDICT_HEADERS) {
        const value = typeof (given as Headers).get === "function" ? (given as Headers).get(name) : headerOf(given as Record<string, unknown>, name);
        if (value !== null && value !== undefined) headers += `${name}:${String(value)}\n`;
      }
    }
    return { short: `${response.method ?? ""} ${response.status} ${body?.length ?? -1} ${response.url}`, headers, token: token ?? "", body: body ?? "" };
  }

  get(key: RepeatKey, now: number): Diagnosis | undefined {
    const entry = this.entries.get(key.short);
    if (entry === undefined || entry.body !== key.body || entry.token !== key.token || entry.headers !== key.headers) return undefined;
    if (now - entry.at > TTL_MS) {
      this.entries.delete(key.short);
      return undefined;
    }
    return entry.diagnosis;
  }

  set(key: RepeatKey, diagnosis: Diagnosis, now: number): void {
    this.entries.delete(key.short);
    this.entries.set(key.short, { ...key, diagnosis, at: now });
    if (this.entries.size > MAX_ENTRIES) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }
}

/** What makes two answers the same (see RepeatAnswers). */
export interface RepeatKey {
  short: string;
  headers: string;
  token: string;
  body: string;
}

interface RepeatEntry extends RepeatKey {
  diagnosis: Diagnosis;
  at: number;
}

/** A header of a plain record, by exact or lower-case name (the classifier's reader does the same, fully). */
function headerOf(record: Record<string, unknown>, name: string): unknown {
  if (name in record) return record[name];
  for (const key of Object.keys(record)) if (key.toLowerCase() === name) return record[key];
  return undefined;
}
