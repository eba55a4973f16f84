/**
 * Diagnostics must never break what they diagnose: every diagnostic step runs through `safely`, which swallows
 * and counts its failures. The count is visible through `getInternalFaultCount()` and on the log line of the
 * next diagnosis, so a bug here shows up without ever changing a token or an error.
 */
let internalFaults = 0;
let lastInternalFault: string | undefined;

export function safely<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch (error) {
    recordInternalFault(error);
    return fallback;
  }
}

export function recordInternalFault(error: unknown): void {
  internalFaults++;
  try {
    lastInternalFault = error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 200) : typeof error;
  } catch {
    lastInternalFault = "unprintable";
  }
}

/** How many internal diagnostic failures were swallowed in this process (0 in a healthy library). */
export function getInternalFaultCount(): number {
  return internalFaults;
}

/** The last swallowed internal failure, for support: name and message only. */
export function getLastInternalFault(): string | undefined {
  return lastInternalFault;
}
