/**
 * tokenTimeoutMs and abortSignal under concurrency: hundreds of callers at once, each settled exactly once, by
 * whichever comes first — the token, the deadline or the caller's abort — within the watchdog's precision; no call
 * left hanging, no internal state left behind. In process with a scriptable inner credential, then with the REAL
 * ManagedIdentityCredential against a hanging identity endpoint in a fresh process.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { describe, expect, it } from "vitest";
import { DiagnosticCredential, getDiagnosis } from "../../src/index.js";
import { runScenario, SCENARIO_PRELUDE, scenarioJson } from "../helpers/childScenario.js";
import { FULL } from "../load/helpers.js";

const SCOPE = "https://vault.azure.net/.default";
const CALLERS = FULL ? 5_000 : 400;
/** Watchdog precision (a call fails by timeout + 2 ticks; a tick is an eighth of the timeout, ≤ 250 ms) plus event-loop lag on a loaded machine. */
const SLACK_MS = 600;

/** Answers each call after the delay `delayFor(i)` (undefined: never), counting calls. */
function scriptedCredential(delayFor: (i: number) => number | undefined): TokenCredential & { calls: number } {
  const credential = {
    calls: 0,
    getToken(_scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken | null> {
      const i = credential.calls++;
      const delay = delayFor(i);
      return new Promise((resolve) => {
        if (delay !== undefined) setTimeout(() => resolve({ token: `token-${i}`, expiresOnTimestamp: Date.now() + 3_600_000, tokenType: "Bearer" }), delay);
      });
    },
  };
  return credential;
}

interface Settled {
  i: number;
  outcome: "token" | "timeout" | "abort" | "other";
  ms: number;
  settlements: number;
  token?: string;
  hypothesis?: string;
}

/** Runs `count` concurrent calls; counts how many times each call's promise settled (must be exactly once). */
async function concurrently(credential: DiagnosticCredential, count: number, optionsFor: (i: number) => GetTokenOptions): Promise<Settled[]> {
  const results: Settled[] = [];
  await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const started = performance.now();
      const record: Settled = { i, outcome: "other", ms: 0, settlements: 0 };
      results.push(record);
      try {
        const token = await credential.getToken(SCOPE, optionsFor(i));
        record.outcome = "token";
        record.token = token?.token;
      } catch (error) {
        const name = (error as Error).name;
        record.outcome = name === "AbortError" ? "abort" : name === "CredentialUnavailableError" ? "timeout" : "other";
        record.hypothesis = getDiagnosis(error)?.hypothesis;
      }
      record.settlements++;
      record.ms = performance.now() - started;
    }),
  );
  return results;
}

function deadlinesOf(credential: DiagnosticCredential): { pendingCount: number; heldCount: number } {
  return (credential as unknown as { calls: { deadlines: { pendingCount: number; heldCount: number } } }).calls.deadlines;
}

describe(`tokenTimeoutMs and abortSignal with ${CALLERS.toLocaleString()} concurrent callers`, () => {
  it.each([true, false])(
    "an inner credential that never answers: every caller fails at tokenTimeoutMs with an H5 diagnosis (singleFlight %s)",
    async (singleFlight) => {
      const inner = scriptedCredential(() => undefined);
      const credential = new DiagnosticCredential({ credential: inner, tokenTimeoutMs: 300, logger: false, singleFlight });
      const results = await concurrently(credential, CALLERS, () => ({}));
      const times = results.map((r) => r.ms).sort((a, b) => a - b);
      console.info(
        `[faults] ${CALLERS} never-answered calls, tokenTimeoutMs 300, singleFlight ${singleFlight}: settled after ${times[0]!.toFixed(0)}–${times.at(-1)!.toFixed(0)} ms`,
      );
      // Single-flight: the callers share one call, each keeps its own deadline.
      expect(inner.calls).toBe(singleFlight ? 1 : CALLERS);
      for (const r of results) {
        expect(r).toMatchObject({ outcome: "timeout", hypothesis: "H5", settlements: 1 });
        expect(r.ms).toBeGreaterThanOrEqual(295);
        expect(r.ms).toBeLessThan(300 + SLACK_MS);
      }
      expect(deadlinesOf(credential).pendingCount).toBe(0);
    },
  );

  it("callers' abort signals fire at different times: each aborts at its own time, the others are unaffected", async () => {
    const inner = scriptedCredential(() => undefined);
    const credential = new DiagnosticCredential({ credential: inner, tokenTimeoutMs: 5_000, logger: false });
    const abortAfter = (i: number) => 20 + ((i * 37) % 400);
    const results = await concurrently(credential, CALLERS, (i) => ({ abortSignal: AbortSignal.timeout(abortAfter(i)) }));
    for (const r of results) {
      expect(r).toMatchObject({ outcome: "abort", settlements: 1 });
      expect(r.ms).toBeGreaterThanOrEqual(abortAfter(r.i) - 5);
      expect(r.ms).toBeLessThan(abortAfter(r.i) + SLACK_MS);
    }
    // Aborted calls leave nothing behind in the watchdog.
    expect(deadlinesOf(credential).pendingCount).toBe(0);
  });

  it("token, deadline and abort racing: whichever comes first wins, exactly once, and the right token goes to the right caller", async () => {
    const TIMEOUT = 250;
    // Answers at 0–500 ms; a third of the callers abort at 50–350 ms.
    const answerAt = (i: number) => (i * 53) % 500;
    const abortAt = (i: number) => (i % 3 === 0 ? 50 + ((i * 29) % 300) : undefined);
    const inner = scriptedCredential(answerAt);
    // One call of the inner credential per caller (no single-flight), so that each caller has its own answer time.
    const credential = new DiagnosticCredential({
      credential: inner,
      tokenTimeoutMs: TIMEOUT,
      lastGoodTokenFallback: false,
      logger: false,
      singleFlight: false,
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const results = await concurrently(credential, CALLERS, (i) => {
        const at = abortAt(i);
        return at === undefined ? {} : { abortSignal: AbortSignal.timeout(at) };
      });
      const counts = { token: 0, timeout: 0, abort: 0, other: 0 };
      const MARGIN = 60; // events closer than this can go either way on a busy machine
      for (const r of results) {
        counts[r.outcome]++;
        expect(r.settlements).toBe(1);
        const answer = answerAt(r.i);
        const abort = abortAt(r.i) ?? Infinity;
        const first = Math.min(answer, abort, TIMEOUT);
        if (r.outcome === "token") {
          expect(r.token).toBe(`token-${r.i}`); // inner calls are made in caller order
          expect(answer).toBeLessThanOrEqual(Math.min(abort, TIMEOUT + 250) + MARGIN);
        } else if (r.outcome === "abort") {
          expect(abort).toBeLessThanOrEqual(Math.min(answer, TIMEOUT + 250) + MARGIN);
        } else {
          expect(r.outcome).toBe("timeout");
          expect(r.hypothesis).toBe("H5");
          expect(TIMEOUT).toBeLessThanOrEqual(Math.min(answer, abort) + MARGIN);
        }
        expect(r.ms).toBeLessThan(first + SLACK_MS);
      }
      console.info(`[faults] racing ${CALLERS} callers: ${JSON.stringify(counts)}`);
      expect(counts.token).toBeGreaterThan(0);
      expect(counts.timeout).toBeGreaterThan(0);
      expect(counts.abort).toBeGreaterThan(0);
      expect(counts.other).toBe(0);
      // Late answers (after the deadline or an abort) must not surface anywhere.
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(unhandled).toEqual([]);
      expect(deadlinesOf(credential).pendingCount).toBe(0);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("calls started at different moments between watchdog ticks: none times out early, each within two ticks of its deadline", async () => {
    const TIMEOUT = 200; // tick: 25 ms
    const inner = scriptedCredential(() => undefined);
    const credential = new DiagnosticCredential({ credential: inner, tokenTimeoutMs: TIMEOUT, logger: false });
    const outcomes: Array<Promise<{ ms: number; message: string; hypothesis?: string }>> = [];
    for (let i = 0; i < 40; i++) {
      const started = performance.now();
      outcomes.push(
        credential.getToken(SCOPE).then(
          () => ({ ms: -1, message: "a token" }),
          (error: Error) => ({ ms: performance.now() - started, message: error.message, hypothesis: getDiagnosis(error)?.hypothesis }),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 3 + (i % 5) * 4)); // 3–19 ms apart: every phase of a tick
    }
    const results = await Promise.all(outcomes);
    const times = results.map((r) => r.ms).sort((a, b) => a - b);
    console.info(`[faults] 40 staggered never-answered calls, tokenTimeoutMs ${TIMEOUT}: failed after ${times[0]!.toFixed(0)}–${times.at(-1)!.toFixed(0)} ms`);
    for (const r of results) {
      expect(r.hypothesis).toBe("H5");
      expect(r.message).toContain(`returned no token within ${TIMEOUT} ms (tokenTimeoutMs)`);
      expect(r.ms).toBeGreaterThanOrEqual(TIMEOUT - 1); // never early (1 ms: timer rounding)
      expect(r.ms).toBeLessThan(TIMEOUT + SLACK_MS);
    }
    // Two ticks (50 ms) is the watchdog's own lateness; the median is well inside it unless the machine stalls.
    expect(times[times.length >> 1]!).toBeLessThan(TIMEOUT + 50 + 100);
    expect(deadlinesOf(credential).pendingCount).toBe(0);
  });

  it("the watchdog holds at most one entry for sequential calls, and at most max(64, 2 × pending) + 1 while calls pile up", async () => {
    // Every 10th call never answers; the others answer at once. Awaiting only microtasks, the watchdog never ticks:
    // the bound must come from `add` itself.
    let n = 0;
    const inner: TokenCredential = {
      getToken: () => (n++ % 10 === 9 ? new Promise<never>(() => {}) : Promise.resolve({ token: "t", expiresOnTimestamp: Date.now() + 3_600_000 })),
    };
    // Each call its own inner call (no single-flight): the calls that never answer pile up in the watchdog.
    const credential = new DiagnosticCredential({ credential: inner, tokenTimeoutMs: 60_000, logger: false, singleFlight: false });
    const sequential = new DiagnosticCredential({
      credential: { getToken: () => Promise.resolve({ token: "t", expiresOnTimestamp: Date.now() + 3_600_000 }) },
      logger: false,
    });
    let maxHeldSequential = 0;
    for (let i = 0; i < 2_000; i++) {
      await sequential.getToken(SCOPE);
      maxHeldSequential = Math.max(maxHeldSequential, deadlinesOf(sequential).heldCount);
    }
    expect(maxHeldSequential).toBe(1);
    let worst = 0;
    for (let i = 0; i < 5_000; i++) {
      const call = credential.getToken(SCOPE);
      if (i % 10 !== 9) await call;
      const { pendingCount, heldCount } = deadlinesOf(credential);
      worst = Math.max(worst, heldCount - Math.max(64, 2 * pendingCount) - 1);
    }
    expect(deadlinesOf(credential).pendingCount).toBe(500);
    expect(worst).toBeLessThanOrEqual(0);
  });

  it("an already aborted signal rejects at once without calling the inner credential", async () => {
    const inner = scriptedCredential(() => 0);
    const credential = new DiagnosticCredential({ credential: inner, logger: false });
    const controller = new AbortController();
    controller.abort();
    await expect(credential.getToken(SCOPE, { abortSignal: controller.signal })).rejects.toMatchObject({ name: "AbortError" });
    expect(inner.calls).toBe(0);
  });

  it("REAL ManagedIdentityCredential, hanging endpoint: concurrent callers with and without abort signals all settle in time; later calls succeed once it answers", async () => {
    const callers = FULL ? 1_000 : 100;
    const result = await runScenario({
      env: {},
      timeoutMs: 60_000,
      code: `${SCENARIO_PRELUDE}
        const { startIdentityEndpoint } = await import("diagnostic-credential/testing");
        const emulator = await startIdentityEndpoint({ fault: { kind: "hang" } });
        Object.assign(process.env, emulator.env);
        const { DiagnosticCredential, getDiagnosis } = await import("diagnostic-credential");
        const credential = new DiagnosticCredential({ tokenTimeoutMs: 700, logger: false });
        const S = "${SCOPE}";
        const call = async (i) => {
          const started = Date.now();
          const abortAt = i % 2 === 0 ? 100 + (i % 400) : undefined;
          try {
            const t = await credential.getToken(S, abortAt === undefined ? {} : { abortSignal: AbortSignal.timeout(abortAt) });
            return { i, ok: true, ms: Date.now() - started, abortAt };
          } catch (e) {
            return { i, ok: false, name: e.name, hypothesis: getDiagnosis(e)?.hypothesis, ms: Date.now() - started, abortAt };
          }
        };
        const hanging = await Promise.all(Array.from({ length: ${callers} }, (_, i) => call(i)));
        emulator.setFault(undefined);
        const after = await Promise.all(Array.from({ length: 20 }, (_, i) => call(1 + 2 * i)));
        // Exit only once stdout is flushed (a large result can exceed a pipe's buffer).
        process.stdout.write(JSON.stringify({ hanging, after }) + "\\n", () => process.exit(0));
      `,
    });
    const r = scenarioJson<{
      hanging: Array<{ ok: boolean; name?: string; hypothesis?: string; ms: number; abortAt?: number }>;
      after: Array<{ ok: boolean; ms: number }>;
    }>(result);
    for (const call of r.hanging) {
      expect(call.ok).toBe(false);
      if (call.abortAt !== undefined) {
        expect(call.name).toBe("AbortError");
        expect(call.ms).toBeLessThan(call.abortAt + SLACK_MS);
      } else {
        expect(call).toMatchObject({ name: "CredentialUnavailableError", hypothesis: "H5" });
        expect(call.ms).toBeLessThan(700 + SLACK_MS);
      }
    }
    expect(r.after.every((call) => call.ok)).toBe(true);
  }, 60_000);
});
