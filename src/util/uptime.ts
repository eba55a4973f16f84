import { sharedSlot } from "./processState.js";

/** Set in the doctor's own process (the CLI): its age says nothing about the app's replica. */
const processAge = sharedSlot("processAge.v1", () => ({ irrelevant: false }));

/** The CLI calls this first: the classifiers then get no process uptime (a fresh CLI is always seconds old). */
export function markProcessAgeIrrelevant(): void {
  processAge.irrelevant = true;
}

/**
 * How long this process has been running, in ms, or undefined where `process.uptime` is missing. Read at the
 * failure and passed to the classifiers (which stay pure): an identity endpoint that refuses connections in the
 * first seconds of a replica is "not ready yet", later it is "not reachable".
 */
export function processUptimeMs(): number | undefined {
  if (processAge.irrelevant) return undefined;
  try {
    const seconds = typeof process !== "undefined" && typeof process.uptime === "function" ? process.uptime() : undefined;
    return typeof seconds === "number" && Number.isFinite(seconds) ? Math.round(seconds * 1000) : undefined;
  } catch {
    return undefined;
  }
}

/** `{ processUptimeMs }` for a classifier's context, or nothing when the uptime cannot be read. */
export function uptimeContext(): { processUptimeMs?: number } {
  const uptime = processUptimeMs();
  return uptime !== undefined ? { processUptimeMs: uptime } : {};
}
