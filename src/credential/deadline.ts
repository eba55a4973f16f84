/**
 * Deadlines for getToken without a timer per call: the hot path (a cached token) must cost next to nothing, and
 * setTimeout/clearTimeout per call would dominate it. One unref'd watchdog interval runs only while calls are
 * pending and fails the overdue ones.
 *
 * Pending calls live in a plain array; settling a call only flips its `done` flag (O(1), no allocation). A Set was
 * measurably slow here: one add + delete per call leaves tombstones that force V8 to rehash the table every few
 * calls (~1.5 µs per getToken on a cached token, 10–15 % of the wrapped credential's own cost). Settled entries
 * are dropped by the watchdog, and on `add` once they outnumber the live ones (amortised O(1); the array never
 * holds more than max(64, 2 × live) entries, even in a tight loop that never yields to the timer).
 */
export interface PendingCall {
  /** On the monotonic clock (`performance.now()`): wall-clock jumps neither fire nor delay a deadline. */
  deadline: number;
  onTimeout: () => void;
  /** Settled (or timed out): the watchdog skips and drops it. */
  done: boolean;
}

const COMPACT_AT = 64;

export class DeadlineWatch {
  private calls: PendingCall[] = [];
  private live = 0;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly timeoutMs: number) {}

  get enabled(): boolean {
    return this.timeoutMs > 0;
  }

  /** Calls not yet settled (for tests: bounded state). */
  get pendingCount(): number {
    return this.live;
  }

  /** Entries held, settled ones included (for tests: never more than max(64, 2 × pending) + 1). */
  get heldCount(): number {
    return this.calls.length;
  }

  /** `startedAt`: the call's own `performance.now()` at its start, if it has one (saves a clock read). */
  add(onTimeout: () => void, startedAt = performance.now()): PendingCall {
    const call: PendingCall = { deadline: startedAt + this.timeoutMs, onTimeout, done: false };
    if (this.calls.length >= COMPACT_AT && this.calls.length >= 2 * this.live) this.compact();
    this.calls.push(call);
    this.live++;
    if (this.timer === undefined) {
      // Precision: a quarter of the timeout, at most 250 ms late.
      const tick = Math.max(10, Math.min(250, Math.floor(this.timeoutMs / 4)));
      this.timer = setInterval(() => this.check(), tick);
      this.timer.unref?.();
    }
    return call;
  }

  remove(call: PendingCall): void {
    if (call.done) return;
    call.done = true;
    this.live--;
  }

  private compact(): void {
    const calls = this.calls;
    let kept = 0;
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i]!;
      if (!call.done) calls[kept++] = call;
    }
    calls.length = kept;
  }

  private check(): void {
    const now = performance.now();
    const calls = this.calls;
    const due: PendingCall[] = [];
    let kept = 0;
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i]!;
      if (call.done) continue;
      if (call.deadline <= now) {
        call.done = true;
        this.live--;
        due.push(call);
      } else {
        calls[kept++] = call;
      }
    }
    calls.length = kept;
    for (const call of due) {
      try {
        call.onTimeout();
      } catch {
        // never let one call's handler stop the others
      }
    }
    if (this.live === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.calls = [];
    }
  }
}
