import { recordInternalFault } from "../util/safe.js";

/**
 * Deadlines for getToken without a timer or a clock read per call: the hot path (a cached token) must cost next to
 * nothing, and setTimeout/clearTimeout per call would dominate it — even one `performance.now()` measured 0.1–0.2 µs
 * there (1–2 % of a cached call). One unref'd watchdog interval runs only while calls are pending: the first tick that
 * sees a call stamps its deadline (tick time + timeout: the call started before that tick, so it never times out
 * early), a later tick times it out. A call thus fails between `timeoutMs` and `timeoutMs` + 2 ticks after it began;
 * a tick is an eighth of the timeout, at most 250 ms.
 *
 * The pending call is itself the entry (no wrapper object, no closure per call). Pending calls live in a plain
 * array; settling a call only flips its `done` flag (O(1), no allocation). A Set was measurably slow here: one
 * add + delete per call leaves tombstones that force V8 to rehash the table every few calls (~1.5 µs per getToken
 * on a cached token, 10–15 % of the wrapped credential's own cost). Settled entries are dropped by the watchdog,
 * all at once on `add` when no call is pending (the sequential cached path: the array never grows), and otherwise
 * on `add` once they outnumber the live ones (amortised O(1); the array never holds more than max(64, 2 × live)
 * entries, even in a tight loop that never yields to the timer).
 */
export interface PendingCall {
  /**
   * 0 until the watchdog first sees the call, then on the monotonic clock (`performance.now()`): wall-clock jumps
   * neither fire nor delay a deadline.
   */
  deadline: number;
  /** Settled (or timed out): the watchdog skips and drops it. Set only through the watch. */
  done: boolean;
  /** Called once, by the watchdog, when the deadline passed before the call settled (`done` is already true). */
  onTimeout(): void;
}

const COMPACT_AT = 64;

export class DeadlineWatch {
  /** Entries 0 … size-1 are held; the array is reused (truncating it would reallocate it on the next add). */
  private calls: (PendingCall | undefined)[] = [];
  private size = 0;
  private live = 0;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(readonly timeoutMs: number) {}

  get enabled(): boolean {
    return this.timeoutMs > 0;
  }

  /** Calls not yet settled (for tests: bounded state). */
  get pendingCount(): number {
    return this.live;
  }

  /** Entries held, settled ones included (for tests: never more than max(64, 2 × pending) + 1). */
  get heldCount(): number {
    return this.size;
  }

  add(call: PendingCall): void {
    if (this.live === 0) {
      // Every entry held is settled: drop them all (the common case, sequential calls, costs nothing more).
      this.size = 0;
    } else if (this.size >= COMPACT_AT && this.size >= 2 * this.live) {
      this.compact();
    }
    this.calls[this.size++] = call;
    this.live++;
    if (this.timer === undefined) {
      const tick = Math.max(10, Math.min(250, Math.floor(this.timeoutMs / 8)));
      this.timer = setInterval(() => this.check(), tick);
      this.timer.unref?.();
    }
  }

  /**
   * Marks a call settled. False when it already was (timed out, aborted or settled before): whoever gets true
   * settles the call, exactly once. `watched`: the call was added (a call made while deadlines are disabled was not).
   */
  settle(call: PendingCall, watched: boolean): boolean {
    if (call.done) return false;
    call.done = true;
    if (watched) this.live--;
    return true;
  }

  private compact(): void {
    const calls = this.calls;
    let kept = 0;
    for (let i = 0; i < this.size; i++) {
      const call = calls[i]!;
      if (!call.done) calls[kept++] = call;
    }
    this.release(kept);
  }

  /** Keeps entries 0 … kept-1 and lets go of the settled calls held after them. */
  private release(kept: number): void {
    for (let i = kept; i < this.size; i++) this.calls[i] = undefined;
    this.size = kept;
  }

  private check(): void {
    const now = performance.now();
    const calls = this.calls;
    const due: PendingCall[] = [];
    let kept = 0;
    for (let i = 0; i < this.size; i++) {
      const call = calls[i]!;
      if (call.done) continue;
      if (call.deadline === 0) {
        call.deadline = now + this.timeoutMs;
        calls[kept++] = call;
      } else if (call.deadline <= now) {
        call.done = true;
        this.live--;
        due.push(call);
      } else {
        calls[kept++] = call;
      }
    }
    this.release(kept);
    for (const call of due) {
      try {
        call.onTimeout();
      } catch (error) {
        // Never let one call's handler stop the others; a throwing handler is a bug of ours.
        recordInternalFault(error);
      }
    }
    if (this.live === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.calls = [];
      this.size = 0;
    }
  }
}
