import type { AccessToken, GetTokenOptions } from "@azure/core-auth";
import type { Span } from "@opentelemetry/api";
import type { ScopeFinding } from "../classify/credentialError.js";
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
}

/** How a call's outcome is turned into what its caller gets (the credential's side). */
export interface TokenCallHost {
  readonly deadlines: DeadlineWatch;
  succeeded(call: TokenCall, token: AccessToken | null): void;
  failed(call: TokenCall, error: unknown): void;
  timedOut(call: TokenCall): void;
  aborted(call: TokenCall): void;
}

/**
 * One pending getToken call: the wrapped credential's answer, the deadline and the caller's abort signal race, and
 * exactly one of them settles the call. A single object per call is all the cached path allocates besides its
 * promise: it is the deadline watch's entry, so the deadline needs no closure. (The abort listener is a closure, made
 * only when there is a signal: an AbortSignalLike need not accept EventListener objects.)
 */
export class TokenCall implements PendingCall {
  done = false;
  deadline = 0;
  private readonly watched: boolean;
  private onAbort: (() => void) | undefined;
  resolve!: (token: AccessToken | null) => void;
  reject!: (error: unknown) => void;

  constructor(
    private readonly host: TokenCallHost,
    readonly scope: ScopeState,
    readonly scopes: string | string[],
    readonly span: Span | undefined,
    /** `performance.now()` at the call's start when telemetry records its duration or span, else 0 (no clock read). */
    readonly startedAt: number,
    /** The identity-endpoint exchange log's mark at the call's start: the requests this call may have made follow it. */
    readonly exchangeMark: number,
    private readonly abortSignal: GetTokenOptions["abortSignal"],
  ) {
    this.watched = host.deadlines.enabled;
  }

  /** Starts the race; the returned promise is what the caller gets. */
  run(inner: Promise<AccessToken | null>): Promise<AccessToken | null> {
    const promise = new Promise<AccessToken | null>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (this.watched) this.host.deadlines.add(this);
    if (this.abortSignal !== undefined) {
      const onAbort = () => {
        if (this.settle()) this.host.aborted(this);
      };
      try {
        this.abortSignal.addEventListener("abort", onAbort, { once: true });
        this.onAbort = onAbort;
      } catch {
        // A signal that cannot be listened to is the caller's: the call goes on without it, as the inner credential's would.
      }
    }
    inner.then(
      (token) => {
        if (!this.settle()) return;
        try {
          this.host.succeeded(this, token);
        } catch (fault) {
          // A bug of ours must not leave the caller waiting for ever: it gets the token as the wrapped credential gave it.
          recordInternalFault(fault);
          this.resolve(token);
        }
      },
      (error: unknown) => {
        if (!this.settle()) return;
        try {
          this.host.failed(this, error);
        } catch (fault) {
          recordInternalFault(fault);
          this.reject(error);
        }
      },
    );
    return promise;
  }

  /** The deadline passed first (the watch has marked the call done). */
  onTimeout(): void {
    this.stopListening();
    this.host.timedOut(this);
  }

  private settle(): boolean {
    if (!this.host.deadlines.settle(this, this.watched)) return false;
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
