/** Small guards the smoke test's steps share: each step reports its failure instead of throwing it. */
import { redact } from "../util/redact.js";

/** The error's name and first line, redacted, for a report field. */
export function errorLine(error: unknown): string {
  try {
    if (error instanceof Error) {
      const first = error.message.split("\n")[0] ?? "";
      return redact(`${error.name}: ${first}`).slice(0, 400);
    }
    return redact(String(error)).slice(0, 400);
  } catch {
    return "unprintable error";
  }
}

/** `ms` as ISO 8601, undefined for a value that is not a date. */
export function isoOrUndefined(ms: number): string | undefined {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** `fn()`, or `fallback` when it throws: a broken input (a hostile option, a throwing callback) never stops the test. */
export function safeCall<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

/** The host (and port) of a URL for a report line, or the text itself when it is no URL. */
export function hostOfUrl(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
