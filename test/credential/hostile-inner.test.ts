/**
 * Wrapped credentials that break the TokenCredential contract in ways `await` forgives: the wrapper must forgive them
 * the same way — the caller gets what the raw credential gives, and the process neither hangs nor dies of an
 * unhandled rejection. Each scenario runs in its own process (no unhandledRejection handler), so an unhandled
 * rejection shows as the exit code and a hang as the timeout.
 */
import { describe, expect, it } from "vitest";
import { runScenario, SCENARIO_PRELUDE, scenarioJson } from "../helpers/childScenario.js";

const VAULT = "https://vault.azure.net/.default";

/** Runs `body` with `DiagnosticCredential` and `getInternalFaultCount` in scope; it must end by emitting its result. */
async function scenario<T>(body: string): Promise<{ json: T; durationMs: number }> {
  const result = await runScenario({
    env: {},
    timeoutMs: 15_000,
    code: `${SCENARIO_PRELUDE}
      const { DiagnosticCredential, getInternalFaultCount } = await import("diagnostic-credential");
      ${body}
    `,
  });
  expect(result.timedOut, "the scenario hung").toBe(false);
  expect(result.exitCode, result.stderr.slice(-2000)).toBe(0);
  return { json: scenarioJson<T>(result), durationMs: result.durationMs };
}

describe.concurrent("a wrapped credential that breaks the contract", () => {
  it("a token whose `token` getter throws: getToken resolves with that same object, as the raw credential does (cold, cached, concurrent)", async () => {
    const { json, durationMs } = await scenario<{ raw: boolean; first: boolean; again: boolean; concurrent: boolean[] }>(`
      const hostile = { get token() { throw new Error("token getter"); }, get expiresOnTimestamp() { throw new Error("expiry getter"); } };
      const raw = { getToken: async () => hostile };
      const credential = new DiagnosticCredential({ credential: raw, logger: false, tokenTimeoutMs: 300 });
      const rawResult = await raw.getToken("${VAULT}");
      const first = await credential.getToken("${VAULT}");
      const again = await credential.getToken("${VAULT}");
      const concurrent = await Promise.all(Array.from({ length: 5 }, () => credential.getToken("${VAULT}")));
      // Past tokenTimeoutMs: no late deadline may surface as an unhandled rejection.
      await new Promise((resolve) => setTimeout(resolve, 700));
      emit({ raw: rawResult === hostile, first: first === hostile, again: again === hostile, concurrent: concurrent.map((t) => t === hostile) });
    `);
    expect(json).toEqual({ raw: true, first: true, again: true, concurrent: [true, true, true, true, true] });
    expect(durationMs).toBeLessThan(10_000);
  });

  it("a getToken that returns a plain object (not a promise): getToken resolves with it, no synchronous throw, no late timeout", async () => {
    const { json, durationMs } = await scenario<{ raw: boolean; ours: boolean; nullToken: null; thenable: string; threw: string | undefined }>(`
      const accessToken = { token: "plain", expiresOnTimestamp: Date.now() + 3_600_000 };
      const raw = { getToken: () => accessToken };
      const credential = new DiagnosticCredential({ credential: raw, logger: false, tokenTimeoutMs: 300 });
      let threw;
      let ours;
      try {
        ours = await credential.getToken("${VAULT}");
      } catch (error) {
        threw = String(error);
      }
      const nullToken = await new DiagnosticCredential({ credential: { getToken: () => null }, logger: false, tokenTimeoutMs: 300 }).getToken("${VAULT}");
      const thenable = await new DiagnosticCredential({
        credential: { getToken: () => ({ then: (resolve) => resolve({ token: "from-thenable", expiresOnTimestamp: Date.now() + 3_600_000 }) }) },
        logger: false,
        tokenTimeoutMs: 300,
      }).getToken("${VAULT}");
      // Past tokenTimeoutMs (and two watchdog ticks): a deadline registered for the call must not fire unhandled.
      await new Promise((resolve) => setTimeout(resolve, 700));
      emit({ raw: (await raw.getToken("${VAULT}")) === accessToken, ours: ours === accessToken, nullToken, thenable: thenable.token, threw });
    `);
    expect(json).toEqual({ raw: true, ours: true, nullToken: null, thenable: "from-thenable" });
    expect(durationMs).toBeLessThan(10_000);
  });
});
