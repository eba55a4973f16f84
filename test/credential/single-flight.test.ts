/**
 * Single-flight: concurrent getToken calls for the same scopes and token options share one call to the wrapped
 * credential. First with the REAL ManagedIdentityCredential (wrapped by the BUILT DiagnosticCredential) against the
 * identity emulator, one process per scenario (MSAL's cache is per process), counting the emulator's token requests;
 * then in process with a scriptable inner credential for the deadline, abort and option rules.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { describe, expect, it } from "vitest";
import { DiagnosticCredential, getDiagnosis, type DiagnosisLogEntry } from "../../src/index.js";
import { runScenario, SCENARIO_PRELUDE, scenarioJson } from "../helpers/childScenario.js";

const VAULT = "https://vault.azure.net/.default";
const STORAGE = "https://storage.azure.com/.default";
const CALLERS = 20;

interface CallerOutcome {
  i: number;
  ok: boolean;
  token?: string;
  /** Index of the first caller that got the identical object (token or error). */
  sameAs: number;
  name?: string;
  hypothesis?: string;
  /** Index of the first caller whose error carried the identical Diagnosis object. */
  diagnosisSameAs?: number;
  ms: number;
}

interface FlightResult {
  callers: CallerOutcome[];
  /** Token requests the emulator received for the wrapper's calls. */
  requests: number;
  /** Token requests the raw ManagedIdentityCredential sent for the same number of concurrent cold calls (another scope). */
  rawRequests?: number;
  logs: DiagnosisLogEntry[];
  messages: string[];
}

/**
 * In a fresh process: `CALLERS` concurrent cold calls of the wrapper (options of caller i from `optionsFor`), and with
 * `compareRaw` the same number of concurrent cold calls of a raw ManagedIdentityCredential for another scope first.
 */
async function runFlight(setup: {
  emulator?: Record<string, unknown>;
  credentialOptions?: Record<string, unknown>;
  optionsFor?: string;
  compareRaw?: boolean;
}): Promise<FlightResult> {
  const result = await runScenario({
    env: {},
    timeoutMs: 30_000,
    code: `${SCENARIO_PRELUDE}
      const { startIdentityEndpoint } = await import("diagnostic-credential/testing");
      const emulator = await startIdentityEndpoint(${JSON.stringify(setup.emulator ?? {})});
      Object.assign(process.env, emulator.env);
      const { DiagnosticCredential, getDiagnosis } = await import("diagnostic-credential");
      const { ManagedIdentityCredential } = await import("@azure/identity");
      const tokenRequests = () => emulator.requests.filter((r) => r.path === "/msi/token").length;
      let rawRequests;
      if (${setup.compareRaw === true}) {
        const raw = new ManagedIdentityCredential(${JSON.stringify(setup.credentialOptions ?? {})});
        await Promise.all(Array.from({ length: ${CALLERS} }, () => raw.getToken("${STORAGE}").catch(() => undefined)));
        rawRequests = tokenRequests();
      }
      const before = tokenRequests();
      const logs = [];
      const credential = new DiagnosticCredential({ ...${JSON.stringify(setup.credentialOptions ?? {})}, logger: (entry) => logs.push(entry) });
      const optionsFor = ${setup.optionsFor ?? "() => undefined"};
      const started = Date.now();
      const settled = await Promise.all(Array.from({ length: ${CALLERS} }, (_, i) =>
        credential.getToken("${VAULT}", optionsFor(i)).then(
          (value) => ({ ok: true, value, ms: Date.now() - started }),
          (value) => ({ ok: false, value, ms: Date.now() - started }),
        )));
      const callers = settled.map((s, i) => ({
        i,
        ok: s.ok,
        ms: s.ms,
        sameAs: settled.findIndex((o) => o.value === s.value),
        ...(s.ok ? { token: s.value.token } : {
          name: s.value.name,
          hypothesis: getDiagnosis(s.value)?.hypothesis,
          diagnosisSameAs: settled.findIndex((o) => o.value?.diagnosis !== undefined && o.value.diagnosis === s.value.diagnosis && getDiagnosis(o.value) === s.value.diagnosis),
        }),
      }));
      const messages = [...new Set(settled.filter((s) => !s.ok).map((s) => s.value.message))];
      emit({ callers, requests: tokenRequests() - before, rawRequests, logs, messages });
      await emulator.close();
    `,
  });
  expect(result.exitCode, result.stderr.slice(-2000)).toBe(0);
  return scenarioJson<FlightResult>(result);
}

describe.concurrent("single-flight with the real ManagedIdentityCredential", () => {
  it(`${CALLERS} concurrent cold calls: 1 identity-endpoint request (the raw credential sends ${CALLERS}), every caller gets the same token`, async () => {
    const r = await runFlight({ compareRaw: true });
    expect(r.rawRequests).toBe(CALLERS);
    expect(r.requests).toBe(1);
    expect(r.callers.every((c) => c.ok && c.sameAs === 0)).toBe(true);
    expect(new Set(r.callers.map((c) => c.token)).size).toBe(1);
    expect(r.logs).toEqual([]);
  });

  it("an identity-endpoint fault: every caller gets the same error object with the same diagnosis, logged once", async () => {
    const r = await runFlight({ emulator: { systemAssigned: false }, credentialOptions: { retryOptions: { maxRetries: 0 } } });
    expect(r.requests).toBe(1);
    for (const c of r.callers) {
      expect(c).toMatchObject({ ok: false, name: "CredentialUnavailableError", hypothesis: "H1", sameAs: 0, diagnosisSameAs: 0 });
    }
    // The summary is appended to the shared error's message once.
    expect(r.messages).toHaveLength(1);
    expect(r.messages[0]!.match(/DiagnosticCredential \[H1 IdentityNotAssigned\]/g)).toHaveLength(1);
    expect(r.logs.filter((l) => l.source === "getToken")).toHaveLength(1);
    expect(r.logs.filter((l) => l.source === "getToken")[0]).toMatchObject({ hypothesis: "H1", count: 1 });
  });

  it("the caller that started the request aborts: only it rejects (AbortError), the others get the token from the one request", async () => {
    const r = await runFlight({
      emulator: { fault: { kind: "delay", ms: 400 } },
      optionsFor: "(i) => (i === 0 ? { abortSignal: AbortSignal.timeout(50) } : i % 2 === 0 ? { abortSignal: new AbortController().signal } : undefined)",
    });
    expect(r.requests).toBe(1);
    expect(r.callers[0]).toMatchObject({ ok: false, name: "AbortError" });
    expect(r.callers[0]!.ms).toBeLessThan(350);
    const others = r.callers.slice(1);
    expect(others.every((c) => c.ok && c.sameAs === 1)).toBe(true);
  });

  it("different claims, tenantId or enableCae: separate calls (one per variant), shared within each variant", async () => {
    const r = await runFlight({
      optionsFor: `(i) => [undefined, { claims: '{"access_token":{"xms_cc":{"values":["cp1"]}}}' }, { tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47" }, { enableCae: true }][i % 4]`,
    });
    expect(r.requests).toBe(4);
    expect(r.callers.every((c) => c.ok)).toBe(true);
    for (const c of r.callers) expect(c.sameAs).toBe(c.i % 4);
    expect(new Set(r.callers.map((c) => c.token)).size).toBe(4);
  });

  it(`singleFlight: false: ${CALLERS} concurrent cold calls send ${CALLERS} requests, as the raw credential does`, async () => {
    const r = await runFlight({ credentialOptions: { singleFlight: false } });
    expect(r.requests).toBe(CALLERS);
    expect(r.callers.every((c) => c.ok)).toBe(true);
  });
});

/** Answers every call after `delayMs` (never when undefined) with a new token; records the options each call got. */
function scriptedCredential(delayMs: number | undefined, fail?: () => Error): TokenCredential & { calls: Array<GetTokenOptions | undefined> } {
  const credential = {
    calls: [] as Array<GetTokenOptions | undefined>,
    getToken(_scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
      const n = credential.calls.push(options);
      return new Promise((resolve, reject) => {
        if (delayMs === undefined) return;
        setTimeout(() => (fail ? reject(fail()) : resolve({ token: `token-${n}`, expiresOnTimestamp: Date.now() + 3_600_000, tokenType: "Bearer" })), delayMs);
      });
    },
  };
  return credential;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("single-flight rules (in process)", () => {
  it("each caller keeps its own deadline: a caller that joined later times out later; a call after the first timeout starts afresh", async () => {
    const inner = scriptedCredential(undefined);
    const credential = new DiagnosticCredential({ credential: inner, tokenTimeoutMs: 300, logger: false });
    const started = performance.now();
    const timeOf = (p: Promise<unknown>) =>
      p.then(
        () => -1,
        (e: Error) => (e.name === "CredentialUnavailableError" && getDiagnosis(e)?.hypothesis === "H5" ? performance.now() - started : -2),
      );
    const first = timeOf(credential.getToken(VAULT));
    await sleep(150);
    const joined = timeOf(credential.getToken(VAULT));
    expect(inner.calls).toHaveLength(1);
    const firstMs = await first;
    // The first caller's deadline passed: a new caller does not join a call that may hang.
    const fresh = credential.getToken(VAULT).catch(() => undefined);
    expect(inner.calls).toHaveLength(2);
    const joinedMs = await joined;
    expect(firstMs).toBeGreaterThanOrEqual(295);
    expect(joinedMs).toBeGreaterThanOrEqual(150 + 295);
    expect(joinedMs - firstMs).toBeGreaterThan(100);
    await fresh;
  });

  it("the wrapped call gets a signal of its own: one caller's abort leaves it running; it is aborted when every caller has aborted", async () => {
    const inner = scriptedCredential(undefined);
    const credential = new DiagnosticCredential({ credential: inner, logger: false });
    const a = new AbortController();
    const b = new AbortController();
    const pa = credential.getToken(VAULT, { abortSignal: a.signal }).catch((e: Error) => e.name);
    const pb = credential.getToken(VAULT, { abortSignal: b.signal }).catch((e: Error) => e.name);
    expect(inner.calls).toHaveLength(1);
    const innerSignal = inner.calls[0]!.abortSignal!;
    expect(innerSignal).not.toBe(a.signal);
    a.abort();
    expect(await pa).toBe("AbortError");
    expect(innerSignal.aborted).toBe(false);
    b.abort();
    expect(await pb).toBe("AbortError");
    expect(innerSignal.aborted).toBe(true);
    // An abandoned call is not joined: the next caller calls the wrapped credential again.
    void credential.getToken(VAULT).catch(() => undefined);
    expect(inner.calls).toHaveLength(2);
  });

  it("one failure, many callers: diagnosed and logged once; every caller gets the same error object and diagnosis", async () => {
    const logs: DiagnosisLogEntry[] = [];
    const inner = scriptedCredential(20, () =>
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:42356"), { name: "CredentialUnavailableError", code: "ECONNREFUSED" }),
    );
    const credential = new DiagnosticCredential({ credential: inner, logger: (entry) => logs.push(entry) });
    const errors = await Promise.all(
      Array.from({ length: CALLERS }, () =>
        credential.getToken(VAULT).then(
          () => undefined,
          (e: unknown) => e,
        ),
      ),
    );
    expect(inner.calls).toHaveLength(1);
    expect(new Set(errors).size).toBe(1);
    const diagnosis = getDiagnosis(errors[0]);
    expect(diagnosis?.hypothesis).toBe("H5");
    for (const error of errors) expect(getDiagnosis(error)).toBe(diagnosis);
    expect(logs.filter((l) => l.source === "getToken")).toHaveLength(1);
  });

  it("options that change what the token is, or that this code does not know, get a call of their own", async () => {
    const inner = scriptedCredential(10);
    const credential = new DiagnosticCredential({ credential: inner, logger: false });
    const pop = { proofOfPossessionOptions: { nonce: "n", resourceRequestMethod: "GET", resourceRequestUrl: "https://example.test/" } } as GetTokenOptions;
    const newer = { someFutureOption: 1 } as GetTokenOptions;
    const harmless: GetTokenOptions = { requestOptions: { timeout: 1_000 }, tracingOptions: {}, enableCae: false };
    const tokens = await Promise.all([
      credential.getToken(VAULT),
      credential.getToken(VAULT, harmless),
      credential.getToken(VAULT, pop),
      credential.getToken(VAULT, newer),
      credential.getToken(STORAGE),
    ]);
    expect(tokens.map((t) => t!.token)).toEqual(["token-1", "token-1", "token-2", "token-3", "token-4"]);
    // Without a signal (and without telemetry) the caller's options object reaches the wrapped credential as given.
    expect(inner.calls[1]).toBe(pop);
    expect(inner.calls[2]).toBe(newer);
  });

  it("after the answer the flight is over: the next call calls the wrapped credential (its cache decides), and nothing is left pending", async () => {
    const inner = scriptedCredential(5);
    const credential = new DiagnosticCredential({ credential: inner, tokenTimeoutMs: 1_000, logger: false });
    await Promise.all([credential.getToken(VAULT), credential.getToken(VAULT)]);
    await credential.getToken(VAULT);
    expect(inner.calls).toHaveLength(2);
    const state = credential as unknown as { calls: { deadlines: { pendingCount: number } }; scopes: Map<string, { flights: unknown }> };
    expect(state.calls.deadlines.pendingCount).toBe(0);
    expect(state.scopes.get(VAULT)!.flights).toBeUndefined();
  });
});
