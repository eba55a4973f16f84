/**
 * The network-failure-during-refresh trap, with the REAL ManagedIdentityCredential (MSAL) and the identity emulator
 * in a fresh process, and the process clock moved forward (Date replaced, so MSAL's own `new Date()` sees it too).
 *
 * What MSAL does (read in node_modules, @azure/msal-node 7.2 / @azure/msal-common 16):
 * - BaseManagedIdentitySource.getServerTokenResponse: `refresh_in = expires_in / 2` when the lifetime is over 2 h,
 *   so the AccessToken carries `refreshAfterTimestamp` = issue time + half the lifetime.
 * - ClientCredentialClient.getCachedAuthenticationResult: a cached token past `refreshOn`
 *   (TimeUtils.isTokenExpired(refreshOn, 0)) but not expired (300 s offset) is returned with the outcome
 *   PROACTIVELY_REFRESHED.
 * - ManagedIdentityApplication.acquireToken then AWAITS acquireTokenFromManagedIdentity before returning the cached
 *   token: a network error there rejects the whole call, although the cached token is valid for hours. Azure
 *   Identity rethrows it as CredentialUnavailableError "Network unreachable".
 *
 * DiagnosticCredential returns the last good token instead (H5 warning, source "last-good-token") while it stays
 * valid for more than a minute; never an expired or nearly expired one; and not at all with
 * `lastGoodTokenFallback: false`.
 */
import { describe, expect, it } from "vitest";
import { runScenario, SCENARIO_PRELUDE, scenarioJson } from "../helpers/childScenario.js";

interface Outcome {
  ok: boolean;
  token?: string;
  expiresOnTimestamp?: number;
  refreshAfterTimestamp?: number;
  error?: { name: string; message: string };
  diagnosis?: { hypothesis: string; code: string; summary: string };
  ms: number;
}
interface LastGoodResult {
  lifetimeSeconds: number;
  issued: Outcome;
  rawIssued: Outcome;
  beforeRefreshOn: Outcome;
  requests: { initial: number; beforeRefreshOn: number; outage: number; recovery: number; nearExpiry: number };
  outage: { raw: Outcome; wrapped: Outcome; noFallback: Outcome; again: Outcome };
  refreshing: Outcome;
  recovered: Outcome;
  nearExpiry: { raw: Outcome; wrapped: Outcome };
  logs: Array<{ level: string; source: string; hypothesis: string; code: string; message: string; count: number }>;
  identityHeader: string;
  emulatorRequests: Array<{ path: string; status?: number; outcome: string }>;
}

const HOUR = 3_600_000;
const LIFETIME_SECONDS = 86_399;

/**
 * Runs `code` in a fresh process (see runScenario) after a prelude: a movable clock for everything in that process
 * (`advance(ms)`, `RealDate`, `ShiftedDate`: MSAL uses new Date(), Azure Identity and the wrapper Date.now()), an
 * identity emulator started with `emulatorOptions` (`emulator`) whose environment the process takes, and
 * ManagedIdentityCredential, DiagnosticCredential and getDiagnosis imported after it. Returns what the code emits.
 */
async function shiftedClockScenario<T>(emulatorOptions: Record<string, unknown>, code: string): Promise<T> {
  const result = await runScenario({
    env: {},
    timeoutMs: 60_000,
    code: `${SCENARIO_PRELUDE}
      const RealDate = Date;
      let offsetMs = 0;
      class ShiftedDate extends RealDate {
        constructor(...args) { if (args.length === 0) super(RealDate.now() + offsetMs); else super(...args); }
        static now() { return RealDate.now() + offsetMs; }
      }
      globalThis.Date = ShiftedDate;
      const advance = (ms) => { offsetMs += ms; };

      const { startIdentityEndpoint } = await import("diagnostic-credential/testing");
      const emulator = await startIdentityEndpoint(${JSON.stringify(emulatorOptions)});
      Object.assign(process.env, emulator.env);
      const { ManagedIdentityCredential } = await import("@azure/identity");
      const { DiagnosticCredential, getDiagnosis } = await import("diagnostic-credential");
${code}`,
  });
  return scenarioJson<T>(result);
}

async function lastGoodScenario(): Promise<LastGoodResult> {
  return shiftedClockScenario<LastGoodResult>(
    { tokenLifetimeSeconds: LIFETIME_SECONDS },
    `
      const lifetimeSeconds = ${LIFETIME_SECONDS};
      const logs = [];
      // No retries: each failing call ends after one refused attempt (the fallback does not depend on them).
      const options = { retryOptions: { maxRetries: 0 } };
      const wrapped = new DiagnosticCredential({ ...options, logger: (e) => logs.push(e) });
      const noFallback = new DiagnosticCredential({ ...options, lastGoodTokenFallback: false, logger: false });
      const raw = new ManagedIdentityCredential(options);
      const S = "https://vault.azure.net/.default";
      const run = async (credential) => {
        const started = RealDate.now();
        try {
          const t = await credential.getToken(S);
          return { ok: true, token: t.token, expiresOnTimestamp: t.expiresOnTimestamp, refreshAfterTimestamp: t.refreshAfterTimestamp, ms: RealDate.now() - started };
        } catch (e) {
          const d = getDiagnosis(e);
          return { ok: false, error: { name: e.name, message: e.message }, diagnosis: d && { hypothesis: d.hypothesis, code: d.code, summary: d.summary }, ms: RealDate.now() - started };
        }
      };
      const count = () => emulator.requests.filter((r) => r.path.startsWith("/msi/token")).length;
      const requests = {};

      const issued = await run(wrapped);            // the one request: MSAL caches the token (process-wide)
      const rawIssued = await run(raw);             // same cache entry
      await run(noFallback);                        // this wrapper has seen the token too
      requests.initial = count();

      advance(6 * ${HOUR});                         // +6 h: before refreshOn (half of 24 h) — served from the cache
      const beforeRefreshOn = await run(wrapped);
      requests.beforeRefreshOn = count() - requests.initial;

      advance(7 * ${HOUR});                         // +13 h: past refreshOn, 11 h of validity left
      emulator.setFault({ kind: "reset" });         // the identity endpoint resets every connection
      let mark = count();
      const outage = { raw: await run(raw), wrapped: await run(wrapped), noFallback: await run(noFallback), again: await run(wrapped) };
      requests.outage = count() - mark;

      emulator.setFault(undefined);                 // the endpoint is back: the next refresh succeeds
      mark = count();
      // MSAL refreshes its cache and still returns the cached result it had (ManagedIdentityApplication.acquireToken
      // returns cachedAuthenticationResult after the awaited refresh): the new token comes with the next call.
      const refreshing = await run(wrapped);
      const recovered = await run(wrapped);
      requests.recovery = count() - mark;

      // 30 s before the new token expires (MSAL already treats it as expired: 5 min offset), endpoint down again:
      // a token that would expire in flight is no fallback.
      advance(recovered.expiresOnTimestamp - ShiftedDate.now() - 30_000);
      emulator.setFault({ kind: "reset" });
      mark = count();
      const nearExpiry = { raw: await run(raw), wrapped: await run(wrapped) };
      requests.nearExpiry = count() - mark;

      wrapped.flushLogs();
      emit({
        lifetimeSeconds, issued, rawIssued, beforeRefreshOn, requests, outage, refreshing, recovered, nearExpiry,
        logs: logs.map((l) => ({ level: l.level, source: l.source, hypothesis: l.hypothesis, code: l.code, message: l.message, count: l.count })),
        identityHeader: emulator.identityHeader,
        emulatorRequests: emulator.requests.map((r) => ({ path: r.path, status: r.status, outcome: r.outcome })),
      });
      process.exit(0);
    `,
  );
}

interface RefreshFaultResult {
  issued: Outcome;
  outcome: Outcome & { pending?: boolean };
  logs: Array<{ level: string; source: string; hypothesis: string; message: string }>;
  requests: number;
}

/**
 * Past refreshOn with `fault` active, ONE credential per process: MSAL keeps the managed-identity source, and with
 * it the HTTP client of the first credential that sent a request, in a static (ManagedIdentityClient.identitySource),
 * so a raw credential next to a wrapper would send through the wrapper's client (and its per-request timeout).
 */
async function refreshFaultScenario(
  mode: "raw" | "wrapped",
  fault: Record<string, unknown>,
  options: Record<string, unknown>,
  waitMs: number,
): Promise<RefreshFaultResult> {
  return shiftedClockScenario<RefreshFaultResult>(
    {},
    `
      const logs = [];
      const options = ${JSON.stringify(options)};
      const credential = ${JSON.stringify(mode)} === "raw"
        ? new ManagedIdentityCredential(options.retryOptions ? { retryOptions: options.retryOptions } : {})
        : new DiagnosticCredential({ ...options, logger: (e) => logs.push(e) });
      const S = "https://vault.azure.net/.default";
      const run = async (waitMs) => {
        const started = RealDate.now();
        const attempt = credential.getToken(S).then(
          (t) => ({ ok: true, token: t.token, expiresOnTimestamp: t.expiresOnTimestamp, ms: RealDate.now() - started }),
          (e) => ({ ok: false, error: { name: e.name, message: e.message }, ms: RealDate.now() - started }),
        );
        if (waitMs === undefined) return attempt;
        return Promise.race([attempt, new Promise((resolve) => setTimeout(() => resolve({ ok: false, pending: true, ms: RealDate.now() - started }), waitMs))]);
      };
      const issued = await run();
      advance(13 * ${HOUR});
      emulator.setFault(${JSON.stringify(fault)});
      const before = emulator.requests.length;
      const outcome = await run(${waitMs});
      emit({ issued, outcome, requests: emulator.requests.length - before,
        logs: logs.map((l) => ({ level: l.level, source: l.source, hypothesis: l.hypothesis, message: l.message })) });
      process.exit(0);
    `,
  );
}

describe.concurrent("last-good-token fallback: a network failure during MSAL's proactive refresh", () => {
  it("raw ManagedIdentityCredential throws; DiagnosticCredential returns the still-valid token with an H5 warning", async () => {
    const r = await lastGoodScenario();

    // MSAL's refresh point is half the lifetime (refresh_in), as read in BaseManagedIdentitySource.
    expect(r.issued.ok).toBe(true);
    expect(r.rawIssued.token).toBe(r.issued.token);
    const half = (r.lifetimeSeconds * 1000) / 2;
    expect(Math.abs(r.issued.expiresOnTimestamp! - r.issued.refreshAfterTimestamp! - half)).toBeLessThan(5_000);
    expect(r.requests.initial).toBe(1);
    // Before refreshOn: the cache answers, no request.
    expect(r.beforeRefreshOn).toMatchObject({ ok: true, token: r.issued.token });
    expect(r.requests.beforeRefreshOn).toBe(0);

    // Past refreshOn with the endpoint resetting connections: MSAL did try to refresh (requests reached the endpoint) …
    expect(r.requests.outage).toBeGreaterThanOrEqual(4);
    expect(r.emulatorRequests.some((q) => q.outcome === "reset")).toBe(true);
    // … the raw credential fails although its cached token is valid for 11 more hours …
    expect(r.outage.raw.ok).toBe(false);
    expect(r.outage.raw.error!.name).toBe("CredentialUnavailableError");
    expect(r.outage.raw.error!.message).toMatch(/Network unreachable/);
    // … the wrapper hands out that token (same value, same expiry), every time the refresh fails.
    for (const outcome of [r.outage.wrapped, r.outage.again]) {
      expect(outcome).toMatchObject({ ok: true, token: r.issued.token, expiresOnTimestamp: r.issued.expiresOnTimestamp });
    }
    // With the fallback off, the wrapper fails like the raw credential, with an H5 diagnosis.
    expect(r.outage.noFallback.ok).toBe(false);
    expect(r.outage.noFallback.error!.name).toBe("CredentialUnavailableError");
    expect(r.outage.noFallback.diagnosis).toMatchObject({ hypothesis: "H5", code: "IdentityEndpointUnreachable" });

    // Logged as an H5 warning from "last-good-token" (folded: one line, then a count), naming the reset.
    const fallbackLines = r.logs.filter((l) => l.source === "last-good-token");
    expect(fallbackLines.length).toBeGreaterThanOrEqual(1);
    expect(fallbackLines.length).toBeLessThanOrEqual(2);
    expect(fallbackLines.reduce((sum, l) => sum + l.count, 0)).toBe(2);
    expect(fallbackLines[0]).toMatchObject({ level: "warn", hypothesis: "H5", code: "IdentityEndpointUnreachable" });
    expect(fallbackLines[0]!.message).toMatch(/ECONNRESET|reset/);
    expect(fallbackLines[0]!.message).toMatch(/last good token .*valid until/);
    // The only failure logged as an error is the near-expiry one below (the outage calls did not fail).
    expect(r.logs.filter((l) => l.source === "getToken")).toHaveLength(1);

    // Recovery: the next refresh succeeds (one request; that call still gets the cached token, as MSAL returns it
    // after refreshing) and the new token replaces the old one from the following call on.
    expect(r.refreshing).toMatchObject({ ok: true, token: r.issued.token });
    expect(r.recovered.ok).toBe(true);
    expect(r.recovered.token).not.toBe(r.issued.token);
    expect(r.recovered.expiresOnTimestamp!).toBeGreaterThan(r.issued.expiresOnTimestamp!);
    expect(r.requests.recovery).toBe(1);

    // 30 s before expiry: no fallback, both fail (an expiring token would only fail downstream instead).
    expect(r.nearExpiry.raw.ok).toBe(false);
    expect(r.nearExpiry.wrapped.ok).toBe(false);
    expect(r.nearExpiry.wrapped.error!.name).toBe("CredentialUnavailableError");
    expect(r.nearExpiry.wrapped.diagnosis).toMatchObject({ hypothesis: "H5" });
    expect(r.requests.nearExpiry).toBeGreaterThanOrEqual(2);

    // The identity header never reaches a log line or an error.
    expect(JSON.stringify([r.logs, r.outage, r.nearExpiry])).not.toContain(r.identityHeader);
  }, 60_000);

  it("an endpoint that hangs during the refresh: the raw credential waits for ever, the wrapper answers with the last good token at tokenTimeoutMs", async () => {
    const [raw, wrapped] = await Promise.all([
      refreshFaultScenario("raw", { kind: "hang" }, {}, 2_500),
      refreshFaultScenario("wrapped", { kind: "hang" }, { tokenTimeoutMs: 1_000 }, 10_000),
    ]);
    expect(raw.issued.ok).toBe(true);
    expect(raw.outcome, JSON.stringify(raw.outcome)).toMatchObject({ ok: false, pending: true });
    expect(wrapped.issued.ok).toBe(true);
    expect(wrapped.outcome).toMatchObject({ ok: true, token: wrapped.issued.token, expiresOnTimestamp: wrapped.issued.expiresOnTimestamp });
    expect(wrapped.outcome.ms).toBeGreaterThanOrEqual(900);
    expect(wrapped.outcome.ms).toBeLessThan(1_000 + 1_500);
    expect(wrapped.logs.find((l) => l.source === "last-good-token")).toMatchObject({ level: "warn", hypothesis: "H5" });
  }, 60_000);

  it("a 503 storm during the refresh: MSAL itself keeps the cached token (HTTP errors are swallowed), the wrapper adds nothing", async () => {
    const options = { retryOptions: { maxRetries: 1 } };
    const [raw, wrapped] = await Promise.all([
      refreshFaultScenario("raw", { kind: "status", status: 503 }, options, 30_000),
      refreshFaultScenario("wrapped", { kind: "status", status: 503 }, options, 30_000),
    ]);
    // The refresh was attempted (and retried) …
    expect(raw.requests).toBeGreaterThanOrEqual(2);
    expect(wrapped.requests).toBeGreaterThanOrEqual(2);
    // … and only a network failure rejects: on an HTTP error MSAL returns its cached token, raw or wrapped.
    expect(raw.outcome, JSON.stringify(raw.outcome)).toMatchObject({ ok: true, token: raw.issued.token });
    expect(wrapped.outcome).toMatchObject({ ok: true, token: wrapped.issued.token });
    expect(wrapped.logs.filter((l) => l.source === "last-good-token" || l.source === "getToken")).toEqual([]);
  }, 60_000);
});
