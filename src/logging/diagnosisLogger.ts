import { writeSync } from "node:fs";
import { isSpanContextValid, trace, type Span } from "@opentelemetry/api";
import type { Diagnosis } from "../diagnosis/types.js";
import type { Recovery } from "../telemetry/recovery.js";
import { sharedSlot } from "../util/processState.js";
import { getInternalFaultCount, recordInternalFault } from "../util/safe.js";
import { toLogEntry, toRecoveryLogEntry, type DiagnosisLogEntry, type LogContext } from "./logEntry.js";

export type LogSink = (entry: DiagnosisLogEntry) => void;

/** Default sink: one JSON line on stderr, where Container Apps console logs pick it up. */
export const stderrSink: LogSink = (entry) => {
  process.stderr.write(`${JSON.stringify(entry)}\n`);
};

/**
 * Loggers holding folded repeat counts not yet written, across every copy of the library in the process. Held only
 * while something is pending (at most one fold window), so a collected credential's logger is not kept.
 */
const pendingLoggers = sharedSlot("pendingLogFolds.v1", () => new Set<{ flushAll(sync?: boolean): void }>());

/**
 * Writes pending folded counts before the process ends: on `beforeExit` (the event loop ran dry: a job or CLI that
 * ends naturally) and on `exit` (process.exit(): synchronously, nothing asynchronous runs after it). A process ended
 * by a signal or frozen by its host emits neither: such apps call `flushLogs()` themselves (README, "Logs").
 * Neither listener keeps the process alive.
 */
const exitHooks = sharedSlot("logExitHooks.v1", () => ({ installed: false }));

function flushPendingLoggers(sync: boolean): void {
  for (const logger of [...pendingLoggers]) {
    try {
      logger.flushAll(sync);
    } catch (error) {
      recordInternalFault(error);
    }
  }
}

function installExitHooks(): void {
  if (exitHooks.installed) return;
  exitHooks.installed = true;
  try {
    process.on("beforeExit", () => flushPendingLoggers(false));
    process.on("exit", () => flushPendingLoggers(true));
  } catch (error) {
    recordInternalFault(error);
  }
}

export interface FoldingOptions {
  /** Repeats of one diagnosis within this window are counted, not written. */
  windowMs?: number;
  /** Most distinct diagnoses tracked at once; the oldest is flushed when more arrive. */
  maxKeys?: number;
}

interface Fold {
  firstAt: number;
  suppressed: number;
  last: { diagnosis: Diagnosis; context: LogContext };
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * Writes diagnoses, folding repeats: the first of a kind is written at once; repeats within the window are
 * counted and written once when the window closes, as one line with `count`. A flood of 10,000 identical
 * failures a second costs one line per window.
 */
export class DiagnosisLogger {
  private readonly folds = new Map<string, Fold>();
  private readonly windowMs: number;
  private readonly maxKeys: number;
  /** Lines written, for tests and self-checks. */
  written = 0;
  /** Folds with a timer (repeats counted, not yet written). */
  private pending = 0;

  constructor(
    private readonly sink: LogSink | false,
    options: FoldingOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 60_000;
    this.maxKeys = options.maxKeys ?? 256;
  }

  log(diagnosis: Diagnosis, context: LogContext): void {
    if (this.sink === false) return;
    try {
      if (context.traceId === undefined) context = withTraceOf(context, undefined);
      const key = foldKeyOf(diagnosis, context.source);
      const now = Date.now();
      const fold = this.folds.get(key);
      if (fold !== undefined && now - fold.firstAt < this.windowMs) {
        fold.suppressed++;
        // Updated in place: a storm folds thousands of repeats a second, and each would allocate here.
        fold.last.diagnosis = diagnosis;
        fold.last.context = context;
        if (fold.timer === undefined) {
          fold.timer = setTimeout(() => this.flush(key), this.windowMs - (now - fold.firstAt));
          fold.timer.unref?.();
          this.pending++;
          pendingLoggers.add(this);
          installExitHooks();
        }
        return;
      }
      if (fold !== undefined) this.flush(key);
      if (this.folds.size >= this.maxKeys) {
        const oldest = this.folds.keys().next().value;
        if (oldest !== undefined) this.flush(oldest);
      }
      this.folds.set(key, { firstAt: now, suppressed: 0, last: { diagnosis, context } });
      this.write(diagnosis, context, 1);
    } catch (error) {
      recordInternalFault(error);
    }
  }

  /**
   * Writes one `[recovered]` line (level info) at once: a recovery ends an episode, so there is nothing to fold.
   * `span`: the span the recovery is recorded on (else the active one), for `traceId`/`spanId`.
   */
  logRecovery(recovery: Recovery, context: Pick<LogContext, "containerApp" | "platform" | "credentialName">, span?: Span): void {
    if (this.sink === false) return;
    try {
      const entry = toRecoveryLogEntry(recovery, withTraceOf(context, span), getInternalFaultCount());
      this.sink(entry);
      this.written++;
    } catch (error) {
      recordInternalFault(error);
    }
  }

  /**
   * Writes all pending folded counts now (tests, shutdown). `sync`: on process exit, where the default sink writes
   * with a synchronous system call.
   */
  flushAll(sync = false): void {
    for (const key of [...this.folds.keys()]) this.flush(key, sync);
  }

  private flush(key: string, sync = false): void {
    const fold = this.folds.get(key);
    if (fold === undefined) return;
    this.folds.delete(key);
    if (fold.timer !== undefined) {
      clearTimeout(fold.timer);
      if (--this.pending === 0) pendingLoggers.delete(this);
    }
    if (fold.suppressed > 0) this.write(fold.last.diagnosis, fold.last.context, fold.suppressed, sync);
  }

  private write(diagnosis: Diagnosis, context: LogContext, count: number, sync = false): void {
    if (this.sink === false) return;
    try {
      const entry = toLogEntry(diagnosis, context, count, getInternalFaultCount());
      if (sync && this.sink === stderrSink) writeSync(2, `${JSON.stringify(entry)}\n`);
      else this.sink(entry);
      this.written++;
    } catch (error) {
      // A throwing user logger must not break getToken.
      recordInternalFault(error);
    }
  }
}

/**
 * The fold key of a diagnosis, made once per diagnosis object: a storm logs the same (reused) diagnosis thousands of
 * times, and the same key string keeps its hash, where a fresh one is hashed again on every lookup.
 */
const foldKeys = new WeakMap<Diagnosis, { source: string; key: string }>();

function foldKeyOf(diagnosis: Diagnosis, source: string): string {
  const cached = foldKeys.get(diagnosis);
  if (cached !== undefined && cached.source === source) return cached.key;
  const key = `${source}|${diagnosis.code}|${diagnosis.service ?? ""}|${diagnosis.status ?? ""}|${diagnosis.errorCode ?? ""}|${diagnosis.summary}`;
  foldKeys.set(diagnosis, { source, key });
  return key;
}

/** The context plus the W3C ids of `span` (or of the active span), when there is a valid one. */
export function withTraceOf<T extends object>(context: T, span: Span | undefined): T & { traceId?: string; spanId?: string } {
  const target = span ?? trace.getActiveSpan();
  if (target === undefined) return context;
  const spanContext = target.spanContext();
  if (!isSpanContextValid(spanContext)) return context;
  return { ...context, traceId: spanContext.traceId, spanId: spanContext.spanId };
}
