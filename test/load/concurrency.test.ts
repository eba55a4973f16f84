/**
 * 1,000 concurrent getToken callers against the REAL ManagedIdentityCredential and the identity emulator, in fresh
 * processes (MSAL's cache is per process): every caller gets a correct token, and DiagnosticCredential sends no
 * more identity-endpoint requests than the raw credential does under the same load. FULL=1: 5,000 callers over
 * three scopes.
 */
import { describe, expect, it } from "vitest";
import { runScenario, SCENARIO_PRELUDE, scenarioJson } from "../helpers/childScenario.js";
import { FULL } from "./helpers.js";

const CALLERS = FULL ? 5_000 : 1_000;
const SCOPES = FULL
  ? ["https://vault.azure.net/.default", "https://storage.azure.com/.default", "https://management.azure.com/.default"]
  : ["https://vault.azure.net/.default"];

interface WaveResult {
  ok: number;
  failed: number;
  errors: string[];
  distinctTokens: number;
  verified: number;
  wrongAudience: number;
  requests: number;
  ms: number;
}
interface ConcurrencyResult {
  mode: "raw" | "wrapped";
  first: WaveResult;
  cached: WaveResult;
  logs: number;
}

function concurrencyScenario(mode: "raw" | "wrapped"): Promise<ConcurrencyResult> {
  return runScenario({
    env: {},
    timeoutMs: FULL ? 180_000 : 60_000,
    code: `${SCENARIO_PRELUDE}
      import { startIdentityEndpoint } from "diagnostic-credential/testing";
      // Each answer takes 150 ms, so every caller of the first wave is in flight before the first token arrives.
      const emulator = await startIdentityEndpoint({ fault: { kind: "delay", ms: 150 } });
      Object.assign(process.env, emulator.env);
      const { ManagedIdentityCredential } = await import("@azure/identity");
      const { DiagnosticCredential } = await import("diagnostic-credential");
      const logs = [];
      const mode = ${JSON.stringify(mode)};
      const credential = mode === "raw" ? new ManagedIdentityCredential() : new DiagnosticCredential({ logger: (e) => logs.push(e) });
      const scopes = ${JSON.stringify(SCOPES)};
      const callers = ${CALLERS};
      const wave = async () => {
        const before = emulator.requests.length;
        const started = Date.now();
        const settled = await Promise.allSettled(Array.from({ length: callers }, (_, i) => credential.getToken(scopes[i % scopes.length]).then((t) => ({ t, scope: scopes[i % scopes.length] }))));
        const ms = Date.now() - started;
        const tokens = new Map();
        const errors = [];
        let wrongAudience = 0;
        for (const s of settled) {
          if (s.status === "fulfilled") tokens.set(s.value.t.token, s.value.scope);
          else errors.push(s.reason?.name + ": " + String(s.reason?.message).slice(0, 200));
        }
        let verified = 0;
        for (const [token, scope] of tokens) {
          try {
            const payload = await emulator.signer.verify(token);
            if (payload.aud !== scope.replace("/.default", "") && payload.aud !== scope.replace("/.default", "/")) wrongAudience++;
            else verified++;
          } catch { /* counted as not verified */ }
        }
        return { ok: settled.length - errors.length, failed: errors.length, errors: errors.slice(0, 5), distinctTokens: tokens.size, verified, wrongAudience, requests: emulator.requests.length - before, ms };
      };
      const first = await wave();
      emulator.setFault(undefined);
      const cached = await wave();
      // Exit only once stdout is flushed (a large result can exceed a pipe's buffer).
      process.stdout.write(JSON.stringify({ mode, first, cached, logs: logs.length }) + "\\n", () => process.exit(0));
    `,
  }).then((result) => scenarioJson<ConcurrencyResult>(result));
}

describe(`${CALLERS.toLocaleString()} concurrent getToken callers`, () => {
  it(
    "every caller gets a valid token; the raw credential sends one identity-endpoint request per caller, the wrapper one per scope (single-flight)",
    async () => {
      // Separate processes: a fresh MSAL cache each (it is a per-process static).
      const [raw, wrapped] = await Promise.all([concurrencyScenario("raw"), concurrencyScenario("wrapped")]);
      console.info(
        `[load] ${CALLERS} concurrent callers, ${SCOPES.length} scope(s): identity-endpoint requests raw ${raw.first.requests} / wrapped ${wrapped.first.requests} ` +
          `(first wave ${raw.first.ms} / ${wrapped.first.ms} ms; cached wave ${raw.cached.requests} / ${wrapped.cached.requests} requests, ${raw.cached.ms} / ${wrapped.cached.ms} ms)`,
      );
      for (const r of [raw, wrapped]) {
        expect(r.first.errors).toEqual([]);
        expect(r.first.ok).toBe(CALLERS);
        // Every distinct token handed out was issued by the emulator (signature checks) for the scope asked for.
        expect(r.first.verified).toBe(r.first.distinctTokens);
        expect(r.first.wrongAudience).toBe(0);
        expect(r.cached.ok).toBe(CALLERS);
        expect(r.cached.verified).toBe(r.cached.distinctTokens);
        // Second wave: every scope is cached, one token per scope, no request at all.
        expect(r.cached.requests).toBe(0);
        expect(r.cached.distinctTokens).toBe(SCOPES.length);
      }
      // MSAL does not coalesce concurrent acquisitions: one request per caller. The wrapper's callers share one per scope.
      expect(raw.first.requests).toBe(CALLERS);
      expect(wrapped.first.requests).toBe(SCOPES.length);
      // A healthy run logs nothing.
      expect(wrapped.logs).toBe(0);
    },
    FULL ? 400_000 : 120_000,
  );
});
