import type { AccessToken, GetTokenOptions } from "@azure/core-auth";
import type { Span } from "@opentelemetry/api";
import type { ScopeFinding } from "../classify/credentialError.js";
import type { Diagnosis } from "../diagnosis/types.js";
import { recordInternalFault } from "../util/safe.js";
import type { DeadlineWatch, PendingCall } from "./deadline.js";

/** What one credential knows about one scope key (the scopes of a call, joined by spaces). */
export interface ScopeState {
  readonly key: string;
  /** The scope check's finding, made once per key; null: the scope looks right. */
  readonly finding: ScopeFinding | null;
  /** The last token returned for the key: a token seen before was checked before. */
  lastToken: AccessToken | undefined;
  /** Its `token` string, read once (the object is the wrapped credential's: its getter may throw). */
  lastValue: string | undefined;
  /** The calls to the wrapped credential under way for this key that later callers may share (a list through `nextFlight`). */
  flights: TokenCall | undefined;
}

/** What a failed call to the wrapped credential means, worked out once and shared by every caller waiting on it. */
export interface FailureOutcome {
  readonly diagnosis: Diagnosis | undefined;
  readonly errorName: string;
  /** Identity-endpoint requests made by the call. */
  readonly attempts: number;
  /** The last good token handed out instead of failing (H5 with a valid token at hand). */
  readonly lastGood: AccessToken | undefined;
}

/** How a call's outcome is turned into what its caller gets (the credential's side). */
export interface TokenCallHost {
  readonly deadlines: DeadlineWatch;
  /** One caller's success (each waiter of a shared call gets its own). */
  succeeded(call: TokenCall, token: AccessToken | null): void;
  /** Classifies, attaches, logs a failure of the wrapped credential: once per call to it, whoever waits on it. */
  diagnose(flight: TokenCall, first: TokenCall, error: unknown): FailureOutcome;
  /** One caller's failure, with the shared outcome. */
  failed(call: TokenCall, error: unknown, outcome: FailureOutcome): void;
  timedOut(call: TokenCall): void;
  aborted(call: TokenCall): void;
  /** Every caller of a call to the wrapped credential left it (aborted or timed out) before it answered. */
  abandoned(flight: TokenCall, timedOut: boolean): void;
}

/**
 * One pending getToken call: the answer of the wrapped credential, the deadline and the caller's abort signal race,
 * and exactly one of them settles the call. A single object per call is all the cached path allocates besides its
 * promise: it is the deadline watch's entry, so the deadline needs no closure. (The abort listener is a closure, made
 * only when there is a signal: an AbortSignalLike need not accept EventListener objects.)
 *
 * Single-flight: the call that calls the wrapped credential (the leader, `run`) is also the shared call ("flight")
 * that later callers of the same scope key and token options wait on (`join`), so the cached path allocates no flight
 * object. The flight hands its one answer (the same token, or the same error with one diagnosis) to every waiter
 * still waiting; each waiter keeps its own deadline, abort signal and span.
 */
export class TokenCall implements PendingCall {
  done = false;
  deadline = 0;
  private readonly watched: boolean;
  private onAbort: (() => void) | undefined;
  resolve!: (token: AccessToken | null) => void;
  reject!: (error: unknown) => void;
  /** The shared call this call waits on (itself for a leader). */
  flight: TokenCall = this;
  // The leader's (flight's) side:
  /** Token options that make a different token: only calls with the same ones share a flight. */
  claims: string | undefined = undefined;
  tenantId: string | undefined = undefined;
  enableCae = false;
  /** Waiters that joined after the leader; made on the first join. */
  private joiners: TokenCall[] | undefined = undefined;
  /** Waiters (the leader included) not yet settled. */
  private waiting = 1;
  /** Listed in `scope.flights`: later callers may join. */
  private listed = false;
  /** The wrapped credential answered (or every waiter left). */
  private over = false;
  /** The next flight of the same scope key. */
  nextFlight: TokenCall | undefined = undefined;
  /** Aborts the wrapped call once every waiter has left; only when the leader gave a signal (see getToken). */
  controller: AbortController | undefined = undefined;

  constructor(
    private readonly host: TokenCallHost,
    readonly scope: ScopeState,
    readonly scopes: string | string[],
    readonly span: Span | undefined,
    /** `performance.now()` at the call's start when telemetry records its duration or span, else 0 (no clock read). */
    readonly startedAt: number,
    /** The identity-endpoint exchange log's mark at the start of the call to the wrapped credential (the flight's). */
    readonly exchangeMark: number,
    private readonly abortSignal: GetTokenOptions["abortSignal"],
  ) {
    this.watched = host.deadlines.enabled;
  }

  /** The shared call of `scope` with these token options that a caller may still join, if any. */
  static flightOf(scope: ScopeState, claims: string | undefined, tenantId: string | undefined, enableCae: boolean): TokenCall | undefined {
    for (let flight = scope.flights; flight !== undefined; flight = flight.nextFlight) {
      if (flight.claims === claims && flight.tenantId === tenantId && flight.enableCae === enableCae) return flight;
    }
    return undefined;
  }

  /**
   * Starts the race on the wrapped credential's answer; the returned promise is what the caller gets. `shared`: list
   * the call so that callers of the same scope key and token options join it until it answers.
   */
  run(inner: Promise<AccessToken | null>, shared: boolean): Promise<AccessToken | null> {
    const promise = this.start();
    if (shared) {
      this.nextFlight = this.scope.flights;
      this.scope.flights = this;
      this.listed = true;
    }
    inner.then(
      (token) => this.answered(token),
      (error: unknown) => this.failed(error),
    );
    return promise;
  }

  /** Waits on `flight` (a call under way for the same scope key and token options) instead of calling the credential. */
  join(flight: TokenCall): Promise<AccessToken | null> {
    this.flight = flight;
    this.waiting = 0;
    const promise = this.start();
    (flight.joiners ??= []).push(this);
    flight.waiting++;
    return promise;
  }

  /**
   * The deadline passed first (the watch has marked the call done). The call it waited on has now outlived a
   * deadline: later callers start a call of their own instead of joining one that may hang (those already waiting
   * keep their own deadlines).
   */
  onTimeout(): void {
    this.flight.waiting--;
    this.flight.unlist();
    this.stopListening();
    this.left(true);
    this.host.timedOut(this);
  }

  private start(): Promise<AccessToken | null> {
    const promise = new Promise<AccessToken | null>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (this.watched) this.host.deadlines.add(this);
    if (this.abortSignal !== undefined) {
      const onAbort = () => {
        if (!this.settle()) return;
        this.left(false);
        this.host.aborted(this);
      };
      try {
        this.abortSignal.addEventListener("abort", onAbort, { once: true });
        this.onAbort = onAbort;
      } catch {
        // A signal that cannot be listened to is the caller's: the call goes on without it, as the inner credential's would.
      }
    }
    return promise;
  }

  /** The wrapped credential's token: to every waiter still waiting. */
  private answered(token: AccessToken | null): void {
    this.close();
    if (this.settle()) this.succeed(token);
    const joiners = this.joiners;
    if (joiners !== undefined) for (const waiter of joiners) if (waiter.settle()) waiter.succeed(token);
  }

  /** The wrapped credential's error: diagnosed once, the same error (and diagnosis) to every waiter still waiting. */
  private failed(error: unknown): void {
    this.close();
    let outcome: FailureOutcome | undefined;
    const fail = (waiter: TokenCall): void => {
      try {
        outcome ??= this.host.diagnose(this, waiter, error);
        this.host.failed(waiter, error, outcome);
      } catch (fault) {
        // A bug of ours must not leave the caller waiting for ever: it gets the error as the wrapped credential gave it.
        recordInternalFault(fault);
        waiter.reject(error);
      }
    };
    if (this.settle()) fail(this);
    const joiners = this.joiners;
    if (joiners !== undefined) for (const waiter of joiners) if (waiter.settle()) fail(waiter);
  }

  private succeed(token: AccessToken | null): void {
    try {
      this.host.succeeded(this, token);
    } catch (fault) {
      recordInternalFault(fault);
      this.resolve(token);
    }
  }

  /** The flight answered: no one joins it any more. */
  private close(): void {
    this.over = true;
    this.unlist();
  }

  private unlist(): void {
    if (!this.listed) return;
    this.listed = false;
    const scope = this.scope;
    if (scope.flights === this) {
      scope.flights = this.nextFlight;
    } else {
      for (let flight = scope.flights; flight !== undefined; flight = flight.nextFlight) {
        if (flight.nextFlight === this) {
          flight.nextFlight = this.nextFlight;
          break;
        }
      }
    }
    this.nextFlight = undefined;
  }

  /**
   * This waiter left before the answer (aborted or timed out). When it was the last one, the flight is abandoned:
   * later callers start a new call, and the wrapped call is aborted (its signal; on a timeout its requests too).
   */
  private left(timedOut: boolean): void {
    const flight = this.flight;
    if (flight.over || flight.waiting > 0) return;
    flight.over = true;
    flight.unlist();
    try {
      flight.controller?.abort();
      this.host.abandoned(flight, timedOut);
    } catch (fault) {
      recordInternalFault(fault);
    }
  }

  private settle(): boolean {
    if (!this.host.deadlines.settle(this, this.watched)) return false;
    this.flight.waiting--;
    this.stopListening();
    return true;
  }

  private stopListening(): void {
    if (this.onAbort === undefined) return;
    try {
      this.abortSignal!.removeEventListener("abort", this.onAbort);
    } catch {
      // The caller's signal: whatever it throws must not keep the call from settling.
    }
  }
}
