/**
 * Deadlines for getToken without a timer per call: the hot path (a cached token) must cost next to nothing, and
 * setTimeout/clearTimeout per call would dominate it. One unref'd watchdog interval runs only while calls are
 * pending and fails the overdue ones.
 */
export interface PendingCall {
  deadline: number;
  onTimeout: () => void;
}

export class DeadlineWatch {
  private readonly pending = new Set<PendingCall>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly timeoutMs: number) {}

  get enabled(): boolean {
    return this.timeoutMs > 0;
  }

  add(onTimeout: () => void): PendingCall {
    const call: PendingCall = { deadline: Date.now() + this.timeoutMs, onTimeout };
    this.pending.add(call);
    if (this.timer === undefined) {
      // Precision: a quarter of the timeout, at most 250 ms late.
      const tick = Math.max(10, Math.min(250, Math.floor(this.timeoutMs / 4)));
      this.timer = setInterval(() => this.check(), tick);
      this.timer.unref?.();
    }
    return call;
  }

  remove(call: PendingCall): void {
    this.pending.delete(call);
  }

  private check(): void {
    const now = Date.now();
    for (const call of this.pending) {
      if (call.deadline <= now) {
        this.pending.delete(call);
        try {
          call.onTimeout();
        } catch {
          // never let one call's handler stop the others
        }
      }
    }
    if (this.pending.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
