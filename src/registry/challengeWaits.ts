import { sharedSlot } from "../util/processState.js";
import { safely } from "../util/safe.js";

/**
 * How long the report of a 401 carrying a `WWW-Authenticate` challenge waits for the client to answer the
 * challenge: Key Vault, Storage and CAE challenge handlers get a new token and retry the request once. A retry that
 * succeeds cancels the report (that 401 was not a failure); a retry that fails is reported instead.
 */
export const CHALLENGE_RETRY_WAIT_MS = 1_000;

interface Wait {
  timer: ReturnType<typeof setTimeout>;
  /** Absent for a 401 that needs no report (Key Vault's first request, sent without a token on purpose). */
  report?: () => void;
  owner?: object;
}

/**
 * Challenged 401s waiting for their retry, by request (a request object, or its `x-ms-client-request-id`, which
 * stays the same across a pipeline's retries while the objects may not). Used by the pipeline policy and by
 * zero-config observation. Timers are unref'd; pending reports are written when the process is about to exit.
 */
export class ChallengeWaits {
  private readonly waits = new Map<unknown, Wait>();
  private exitHook = false;

  constructor(private readonly waitMs = CHALLENGE_RETRY_WAIT_MS) {}

  get size(): number {
    return this.waits.size;
  }

  /** The wait of an earlier challenged 401 of this request, cancelled: this attempt is its retry. */
  take(key: unknown): { report?: () => void } | undefined {
    const entry = this.waits.get(key);
    if (entry === undefined) return undefined;
    this.waits.delete(key);
    clearTimeout(entry.timer);
    return entry;
  }

  /** Remembers a challenged 401; `report` runs when no retry of the request comes within the wait. */
  wait(key: unknown, report?: () => void, owner?: object): void {
    this.take(key);
    const timer = setTimeout(() => {
      if (this.waits.get(key)?.timer === timer) this.waits.delete(key);
      if (report !== undefined) safely(report, undefined);
    }, this.waitMs);
    timer.unref?.();
    this.waits.set(key, { timer, ...(report ? { report } : {}), ...(owner ? { owner } : {}) });
    if (report !== undefined) this.installExitHook();
  }

  /** Writes the pending reports now (all, or those of one owner). */
  flush(owner?: object): void {
    for (const [key, entry] of [...this.waits]) {
      if (entry.report === undefined || (owner !== undefined && entry.owner !== owner)) continue;
      this.take(key);
      safely(entry.report, undefined);
    }
  }

  private installExitHook(): void {
    if (this.exitHook) return;
    this.exitHook = true;
    safely(
      () =>
        process.once("beforeExit", () => {
          this.exitHook = false;
          this.flush();
        }),
      undefined,
    );
  }
}

/**
 * The pipeline policy's challenged 401s, process-wide: the policy waits on them, `credential.flushLogs()` writes a
 * credential's pending ones (its internals are the owner).
 */
export function policyChallengeWaits(): ChallengeWaits {
  return sharedSlot("policyChallengeWaits.v1", () => new ChallengeWaits());
}
