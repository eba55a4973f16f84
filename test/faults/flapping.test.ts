/**
 * The identity endpoint flaps — resets connections, hangs, answers 5xx, refuses connections (closed), recovers —
 * while requests keep coming, with the REAL ManagedIdentityCredential in a fresh process. Every call either returns
 * a valid token (signature and expiry checked) or throws CredentialUnavailableError carrying a diagnosis, within
 * tokenTimeoutMs plus the watchdog's slack; after the endpoint recovers, calls succeed again.
 *
 * The emulator issues 200-second tokens: MSAL treats a token as expired 300 s early, so EVERY getToken goes to the
 * endpoint (nothing is served from the cache), which is what makes the flapping visible to each call. Two wrappers
 * run side by side: one with the last-good-token fallback (default), one without (so the error path is exercised
 * too). FULL=1 runs three flapping cycles with longer phases.
 */
import { describe, expect, it } from "vitest";
import { runScenario, SCENARIO_PRELUDE, scenarioJson } from "../helpers/childScenario.js";
import { FULL } from "../load/helpers.js";

const TOKEN_TIMEOUT_MS = 500;
/** Watchdog precision (a quarter of the timeout, ≤ 250 ms) plus event-loop lag on a loaded two-core machine. */
const SLACK_MS = 1_200;
const PHASE_MS = FULL ? 1_500 : 600;
const CYCLES = FULL ? 3 : 1;
/** A phase waiting for its calls gives up after this long (then the per-phase assertions fail, naming it). */
const MAX_PHASE_MS = 15_000;

interface CallRecord {
  worker: string;
  phase: string;
  ok: boolean;
  ms: number;
  startedAt: number;
  token?: string;
  valid?: boolean;
  errorName?: string;
  hypothesis?: string;
  hasDiagnosis?: boolean;
  fresh?: boolean;
}
interface FlappingResult {
  calls: CallRecord[];
  recoveredAt: number;
  endedAt: number;
  phases: string[];
  logs: Array<{ source: string; hypothesis: string; level: string; count: number }>;
  identityHeader: string;
  tokenRequests: number;
}

describe("identity endpoint flapping under continuous requests", () => {
  it(
    "every call returns a valid token or throws CredentialUnavailableError with a diagnosis, in time; calls succeed after recovery",
    async () => {
      const result = await runScenario({
        env: {},
        timeoutMs: FULL ? 240_000 : 60_000,
        code: `${SCENARIO_PRELUDE}
        const { startIdentityEndpoint } = await import("diagnostic-credential/testing");
        let emulator = await startIdentityEndpoint({ tokenLifetimeSeconds: 200 });
        const first = emulator;
        Object.assign(process.env, emulator.env);
        const { DiagnosticCredential, getDiagnosis } = await import("diagnostic-credential");
        const logs = [];
        const options = { tokenTimeoutMs: ${TOKEN_TIMEOUT_MS}, retryOptions: { maxRetries: 1 }, logger: (e) => logs.push(e) };
        const withFallback = new DiagnosticCredential(options);
        const withoutFallback = new DiagnosticCredential({ ...options, lastGoodTokenFallback: false });
        const S = "https://vault.azure.net/.default";
        let tokenRequests = 0;
        const countRequests = () => emulator.requests.filter((r) => r.path.startsWith("/msi/token")).length;

        // "refused": nothing listens on the port; then the same endpoint comes back (same port, header, identity, key).
        const refuse = async () => { tokenRequests += countRequests(); await emulator.close(); };
        const reopen = async () => {
          emulator = await startIdentityEndpoint({ port: first.port, identityHeader: first.identityHeader, systemAssigned: first.identities.systemAssigned, signer: first.signer, containerApp: { name: first.env.CONTAINER_APP_NAME, revision: first.env.CONTAINER_APP_REVISION }, tokenLifetimeSeconds: 200 });
        };

        let phase = "healthy";
        let phaseIndex = 0;
        // Which workers started a call in each phase (by index): phases advance on these, not on the clock alone.
        const startedIn = new Map();
        let stop = false;
        const calls = [];
        const lastTokenBefore = new Map();
        const worker = async (name, credential) => {
          while (!stop) {
            const startedAt = Date.now();
            const startedPhase = phase;
            if (!startedIn.has(phaseIndex)) startedIn.set(phaseIndex, new Set());
            startedIn.get(phaseIndex).add(name);
            try {
              const t = await credential.getToken(S);
              let valid = false;
              try { await first.signer.verify(t.token); valid = t.expiresOnTimestamp > Date.now(); } catch {}
              const fresh = lastTokenBefore.get(name) !== t.token;
              lastTokenBefore.set(name, t.token);
              calls.push({ worker: name, phase: startedPhase, ok: true, ms: Date.now() - startedAt, startedAt, token: t.token.slice(-16), valid, fresh });
            } catch (e) {
              const d = getDiagnosis(e);
              calls.push({ worker: name, phase: startedPhase, ok: false, ms: Date.now() - startedAt, startedAt, errorName: e?.name, hypothesis: d?.hypothesis, hasDiagnosis: d !== undefined && e.diagnosis === d });
            }
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        };
        const workers = [worker("fallback-1", withFallback), worker("fallback-2", withFallback), worker("strict-1", withoutFallback), worker("strict-2", withoutFallback)];
        const WORKERS = workers.length;
        const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
        const phases = [];
        const enter = (name) => { phase = name; phaseIndex++; phases.push(name); };
        // A phase lasts at least minMs AND until every worker has started a call in it and, for a fault the emulator
        // answers, a token request carried that fault: on a loaded machine calls pending from the previous phase
        // (they end only at their deadline) could otherwise let a short phase pass with no call in it.
        const faultedRequests = (kind) => emulator.requests.filter((r) => r.fault === kind).length;
        const hold = async (minMs, faultKind) => {
          const index = phaseIndex;
          const since = Date.now();
          const before = faultKind ? faultedRequests(faultKind) : 0;
          const observed = () => (startedIn.get(index)?.size ?? 0) >= WORKERS && (!faultKind || faultedRequests(faultKind) > before);
          while (Date.now() - since < minMs || !observed()) {
            if (Date.now() - since > ${MAX_PHASE_MS}) break; // the assertions then say which phase saw no call
            await wait(10);
          }
        };

        await hold(${PHASE_MS});
        for (let cycle = 0; cycle < ${CYCLES}; cycle++) {
          enter("reset");      emulator.setFault({ kind: "reset" });                 await hold(${PHASE_MS}, "reset");
          enter("healthy");    emulator.setFault(undefined);                         await hold(${PHASE_MS});
          enter("hang");       emulator.setFault({ kind: "hang" });                  await hold(${PHASE_MS} * 2, "hang");
          enter("503");        emulator.setFault({ kind: "status", status: 503 });   await hold(${PHASE_MS}, "status");
          enter("refused");    await refuse();                                       await hold(${PHASE_MS});
          await reopen();
          enter("500");        emulator.setFault({ kind: "status", status: 500 });   await hold(${PHASE_MS}, "status");
          enter("healthy");    emulator.setFault(undefined);                         await hold(${PHASE_MS});
        }
        enter("recovered");
        const recoveredAt = Date.now();
        // Recovered: at least the settle time, then until every worker has made 3 calls past it.
        const settledAt = recoveredAt + ${TOKEN_TIMEOUT_MS} + 200;
        const settledCalls = (name) => calls.filter((c) => c.worker === name && c.startedAt >= settledAt).length;
        while (Date.now() < recoveredAt + Math.max(1_600, ${TOKEN_TIMEOUT_MS} * 3) || ["fallback-1", "fallback-2", "strict-1", "strict-2"].some((n) => settledCalls(n) < 3)) {
          if (Date.now() - recoveredAt > ${MAX_PHASE_MS}) break;
          await wait(10);
        }
        stop = true;
        await Promise.all(workers);
        tokenRequests += countRequests();
        withFallback.flushLogs();
        withoutFallback.flushLogs();
        // Exit only once stdout is flushed: the result of a long run is larger than a pipe's buffer.
        const out = JSON.stringify({ calls, recoveredAt, endedAt: Date.now(), phases, tokenRequests, identityHeader: first.identityHeader,
          logs: logs.map((l) => ({ source: l.source, hypothesis: l.hypothesis, level: l.level, count: l.count, message: l.message })) });
        process.stdout.write(out + "\\n", () => process.exit(0));
      `,
      });
      const r = scenarioJson<FlappingResult>(result);

      const failures = r.calls.filter((c) => !c.ok);
      const byPhase = new Map<string, { ok: number; failed: number; maxMs: number }>();
      for (const call of r.calls) {
        const entry = byPhase.get(call.phase) ?? { ok: 0, failed: 0, maxMs: 0 };
        if (call.ok) entry.ok++;
        else entry.failed++;
        entry.maxMs = Math.max(entry.maxMs, call.ms);
        byPhase.set(call.phase, entry);
      }
      console.info(
        `[faults] flapping: ${r.calls.length} calls, ${failures.length} failed, ${r.tokenRequests} identity-endpoint requests; by phase ${JSON.stringify(Object.fromEntries(byPhase))}`,
      );

      expect(r.calls.length).toBeGreaterThan(40);
      // Every worker made calls during every kind of fault (phases wait for them: see hold()).
      for (const phase of ["reset", "hang", "503", "refused", "500"])
        expect(new Set(r.calls.filter((c) => c.phase === phase).map((c) => c.worker)).size, phase).toBe(4);
      // Every call: a valid token, or CredentialUnavailableError with the diagnosis attached (H5: the endpoint).
      for (const call of r.calls) {
        if (call.ok) expect(call.valid, JSON.stringify(call)).toBe(true);
        else {
          expect(call.errorName, JSON.stringify(call)).toBe("CredentialUnavailableError");
          expect(call.hasDiagnosis, JSON.stringify(call)).toBe(true);
          expect(call.hypothesis, JSON.stringify(call)).toBe("H5");
        }
        // … and in time, whatever the phase (the raw credential would hang for ever in "hang").
        expect(call.ms, JSON.stringify(call)).toBeLessThanOrEqual(TOKEN_TIMEOUT_MS + SLACK_MS);
      }
      // The faults were felt: the strict wrapper failed at least once, the fallback wrapper answered through outages.
      expect(failures.filter((c) => c.worker.startsWith("strict")).length).toBeGreaterThan(0);
      expect(r.logs.some((l) => l.source === "last-good-token")).toBe(true);
      // After recovery (once calls pending from the last fault have settled), every call succeeds, for both wrappers.
      const afterRecovery = r.calls.filter((c) => c.startedAt >= r.recoveredAt + TOKEN_TIMEOUT_MS + 200);
      expect(afterRecovery.length).toBeGreaterThan(8);
      expect(afterRecovery.filter((c) => !c.ok)).toEqual([]);
      expect(new Set(afterRecovery.map((c) => c.worker)).size).toBe(4);
      // Logs: warnings and errors only about the endpoint, folded; never the identity header.
      for (const line of r.logs) expect(["H5"]).toContain(line.hypothesis);
      expect(JSON.stringify([r.calls, r.logs]).includes(r.identityHeader)).toBe(false);
    },
    FULL ? 300_000 : 90_000,
  );
});
