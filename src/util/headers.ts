/**
 * Defensive reading of whatever the caller hands us: plain records, fetch `Headers`, core-rest-pipeline
 * `HttpHeaders`, Proxies with throwing traps. Nothing here throws; anything unreadable is simply absent.
 */

/** Longest header value kept (a hostile multi-MB header costs nothing more). */
export const MAX_HEADER_VALUE = 16 * 1024;
const MAX_HEADERS = 200;

/** Reads `object[key]` without letting a getter or Proxy trap throw. */
export function safeGet(object: unknown, key: PropertyKey): unknown {
  if (object === null || (typeof object !== "object" && typeof object !== "function")) return undefined;
  try {
    return (object as Record<PropertyKey, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** `value instanceof type` without letting a Proxy's getPrototypeOf trap throw. */
export function safeInstanceOf(value: unknown, type: abstract new (...args: never[]) => unknown): boolean {
  try {
    return value instanceof type;
  } catch {
    return false;
  }
}

/** A string, or undefined: numbers are turned into strings, everything else is dropped. Capped at `max` characters. */
export function safeString(value: unknown, max = MAX_HEADER_VALUE): string | undefined {
  try {
    if (typeof value === "string") return value.length > max ? value.slice(0, max) : value;
    if (typeof value === "number" && Number.isFinite(value)) return String(value);
    return undefined;
  } catch {
    return undefined;
  }
}

/** Header names lower case; repeated values joined with ", " (as HTTP folds them). */
export type HeaderBag = ReadonlyMap<string, string>;

/** Normalises any header container into a lower-case map. Never throws. */
export function readHeaders(input: unknown): HeaderBag {
  const out = new Map<string, string>();
  const add = (name: unknown, value: unknown) => {
    if (out.size >= MAX_HEADERS || typeof name !== "string" || name.length === 0 || name.length > 256) return;
    let text: string | undefined;
    if (Array.isArray(value)) {
      const parts: string[] = [];
      for (const item of value.slice(0, 20)) {
        const part = safeString(item);
        if (part !== undefined) parts.push(part);
      }
      text = parts.length > 0 ? parts.join(", ") : undefined;
    } else {
      text = safeString(value);
    }
    if (text === undefined) return;
    const key = name.toLowerCase();
    const previous = out.get(key);
    const joined = previous === undefined ? text : `${previous}, ${text}`;
    out.set(key, joined.length > MAX_HEADER_VALUE ? joined.slice(0, MAX_HEADER_VALUE) : joined);
  };
  if (input === null || input === undefined || (typeof input !== "object" && typeof input !== "function")) return out;
  try {
    const forEach = safeGet(input, "forEach");
    const iterator = safeGet(input, Symbol.iterator);
    const get = safeGet(input, "get");
    if (typeof forEach === "function" && typeof get === "function") {
      // fetch Headers: forEach(value, key).
      let count = 0;
      (forEach as (cb: (value: unknown, key: unknown) => void) => void).call(input, (value, key) => {
        if (count++ < MAX_HEADERS) add(key, value);
      });
      return out;
    }
    if (typeof iterator === "function") {
      // core-rest-pipeline HttpHeaders and Map: iterate [name, value] pairs.
      let count = 0;
      for (const entry of input as Iterable<unknown>) {
        if (count++ >= MAX_HEADERS) break;
        if (Array.isArray(entry)) add(entry[0], entry[1]);
      }
      return out;
    }
    const toJson = safeGet(input, "toJson");
    if (typeof toJson === "function") {
      // core-http(-compat) HttpHeaders (what Storage's legacy pipeline hands out): neither iterable nor a record.
      const record = (toJson as () => unknown).call(input);
      if (record !== null && typeof record === "object") {
        for (const key of Object.keys(record).slice(0, MAX_HEADERS)) add(key, safeGet(record, key));
      }
      return out;
    }
    const keys = Object.keys(input as object).slice(0, MAX_HEADERS);
    for (const key of keys) add(key, safeGet(input, key));
  } catch {
    // Whatever was read before the failure is kept.
  }
  return out;
}

/**
 * Any header container (core-rest-pipeline or core-http HttpHeaders, fetch Headers, a plain record) as a plain
 * lower-case record, through the classifier's guarded, bounded reader.
 */
export function headersToRecord(headers: unknown): Record<string, string> {
  return Object.fromEntries(readHeaders(headers));
}

/** `decodeURIComponent`, or the text as it is when it is not valid percent-encoding. */
export function decodeUriComponentSafe(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
