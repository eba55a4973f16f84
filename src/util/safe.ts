import { processState } from "./processState.js";

/**
 * Diagnostics must never break what they diagnose: every diagnostic step runs through `safely`, which swallows
 * and counts its failures. The count is visible through `getInternalFaultCount()` and on the log line of the
 * next diagnosis, so a bug here shows up without ever changing a token or an error.
 */
// Counted once per process, across copies of the library (see processState.ts).
const faults = processState().faults;

export function safely<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch (error) {
    recordInternalFault(error);
    return fallback;
  }
}

/**
 * Counts one internal failure: the one path every swallowed bug of the diagnostics goes through. What failed is not
 * kept: its text could hold a secret from the input, and the count (on every log line) is the signal.
 */
export function recordInternalFault(_error: unknown): void {
  faults.count++;
}

/** How many internal diagnostic failures were swallowed in this process (0 in a healthy library). */
export function getInternalFaultCount(): number {
  return faults.count;
}
