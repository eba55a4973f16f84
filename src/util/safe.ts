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

export function recordInternalFault(error: unknown): void {
  faults.count++;
  try {
    faults.last = error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 200) : typeof error;
  } catch {
    faults.last = "unprintable";
  }
}

/** How many internal diagnostic failures were swallowed in this process (0 in a healthy library). */
export function getInternalFaultCount(): number {
  return faults.count;
}

/** The last swallowed internal failure, for support: name and message only. */
export function getLastInternalFault(): string | undefined {
  return faults.last;
}
