/**
 * Recovery tracking: a dependency that failed with H2 answering 2xx again for the same identity (an RBAC grant
 * that finished propagating), and getToken working again after H5/H1. One `[recovered]` log line (level info), one
 * `diagnostic_credential.recovered` span event, one recovery-duration data point; nothing at all otherwise.
 */
import { SpanStatusCode, type Span } from "@opentelemetry/api";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { DiagnosticCredential, SPAN_GET_TOKEN, type DiagnosisLogEntry } from "../../src/index.js";
import { credentialInternalsOf } from "../../src/credential/internals.js";
import { makeDiagnosis } from "../../src/diagnosis/build.js";
import { RecoveryTracker, watchedHosts } from "../../src/telemetry/recovery.js";
import { EVENT_RECOVERED, METRIC_RECOVERY_DURATION } from "../../src/telemetry/telemetry.js";
import { createSdk, enableContext, eventsOf, type TestSdk } from "./otel.js";
import {
  accessToken,
  CA_ATTRIBUTES,
  CONTAINER_APP,
  identityNotFound,
  networkUnreachable,
  PRINCIPAL,
  scriptedCredential,
  setContainerAppEnv,
  sleep,
  startVault,
  vaultClient,
  VAULT_SCOPE,
  type Vault,
} from "./fixtures.js";

setContainerAppEnv();
enableContext();

const MIN = 60_000;
/** Longer than zero-config observation's grace period (100 ms). */
const OBSERVER_SETTLE_MS = 250;

function h2(objectId: string | undefined) {
  return makeDiagnosis("RoleMissingOrWrongScope", {
    confidence: "high",
    summary: "403",
    evidence: [],
    nextSteps: [],
    service: "keyvault",
    status: 403,
    ...(objectId ? { identity: { kind: "system-assigned", objectId } } : {}),
  });
}

/** A JWT-shaped token with only the claims recovery reads (not signed: nothing verifies it here). */
function fakeJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none" })}.${part(claims)}.sig`;
}

describe("RecoveryTracker", () => {
  it("H2 on a host opens an episode; a 2xx from that host for the same identity closes it, once, with the first-failure time", () => {
    let now = 1_000_000;
    const tracker = new RecoveryTracker(() => now);
    expect(tracker.watching).toBe(false);
    tracker.noteFailure(h2("oid-a"), "response", "https://orders-kv.vault.azure.net/secrets/x?api-version=7.6");
    expect(tracker.watching).toBe(true);
    expect(watchedHosts.get("orders-kv.vault.azure.net")).toBe(1);
    now += 4 * MIN;
    tracker.noteFailure(h2("oid-a"), "observed", "https://orders-kv.vault.azure.net/secrets/y");
    now += 2 * MIN;
    // Another host, another identity: not a recovery.
    expect(tracker.noteSuccess("https://other.vault.azure.net/secrets/x", `Bearer ${fakeJwt({ oid: "oid-a" })}`)).toBeUndefined();
    expect(tracker.noteSuccess("https://orders-kv.vault.azure.net/secrets/x", `Bearer ${fakeJwt({ oid: "oid-b" })}`)).toBeUndefined();
    expect(tracker.watching).toBe(true);
    const recovery = tracker.noteSuccess(
      "https://ORDERS-KV.vault.azure.net/secrets/x?api-version=7.6",
      { get: () => `Bearer ${fakeJwt({ oid: "OID-A" })}` },
      200,
    );
    expect(recovery).toEqual({
      kind: "dependency",
      hypothesis: "H2",
      code: "RoleMissingOrWrongScope",
      service: "keyvault",
      host: "orders-kv.vault.azure.net",
      status: 200,
      identity: { kind: "system-assigned", objectId: "oid-a" },
      firstFailureAt: 1_000_000,
      lastFailureAt: 1_000_000 + 4 * MIN,
      recoveredAt: 1_000_000 + 6 * MIN,
      failures: 2,
    });
    expect(tracker.noteSuccess("https://orders-kv.vault.azure.net/secrets/x", `Bearer ${fakeJwt({ oid: "oid-a" })}`)).toBeUndefined();
    expect(tracker.watching).toBe(false);
    expect(watchedHosts.has("orders-kv.vault.azure.net")).toBe(false);
  });

  it("only H2 opens a dependency episode; H5/H1 of getToken open the token episode", () => {
    const tracker = new RecoveryTracker(() => 5);
    tracker.noteFailure({ ...h2("o"), hypothesis: "H3", code: "WrongAudience" }, "response", "https://a.vault.azure.net/");
    tracker.noteFailure({ ...h2("o"), hypothesis: "not-identity", code: "NotAnIdentityProblem" }, "response", "https://a.vault.azure.net/");
    expect(tracker.watching).toBe(false);
    tracker.noteFailure(makeDiagnosis("IdentityEndpointUnreachable", { confidence: "high", summary: "x", evidence: [], nextSteps: [] }), "getToken", undefined);
    expect(tracker.tokenEpisode).toBeDefined();
    expect(tracker.noteTokenSuccess()).toMatchObject({ kind: "identity-endpoint", hypothesis: "H5", failures: 1 });
    expect(tracker.noteTokenSuccess()).toBeUndefined();
  });

  it("an episode with no failure for 24 h is forgotten: no recovery line for it, its host no longer watched", () => {
    let now = 0;
    const tracker = new RecoveryTracker(() => now);
    tracker.noteFailure(h2("o"), "response", "https://stale.vault.azure.net/secrets/a");
    now += 23 * 60 * MIN;
    tracker.noteFailure(h2("o2"), "response", "https://fresh.vault.azure.net/secrets/a");
    now += 2 * 60 * MIN;
    tracker.prune();
    expect(tracker.openCount).toEqual({ episodes: 1, token: false });
    expect(watchedHosts.has("stale.vault.azure.net")).toBe(false);
    expect(tracker.noteSuccess("https://fresh.vault.azure.net/secrets/a", fakeJwt({ oid: "o2" }))).toMatchObject({ host: "fresh.vault.azure.net" });
    expect(watchedHosts.size).toBe(0);
  });

  it("a failure without a known identity is closed by any identity's success; clear() releases the watched hosts", () => {
    const tracker = new RecoveryTracker(() => 0);
    tracker.noteFailure(h2(undefined), "diagnose", "https://a.blob.core.windows.net/c/b");
    tracker.noteFailure(h2("x"), "diagnose", "https://b.blob.core.windows.net/c/b");
    expect(tracker.noteSuccess("https://a.blob.core.windows.net/c/b", undefined)).toMatchObject({ host: "a.blob.core.windows.net" });
    expect(watchedHosts.get("b.blob.core.windows.net")).toBe(1);
    tracker.clear();
    expect(watchedHosts.size).toBe(0);
    expect(tracker.watching).toBe(false);
  });
});

describe("dependency recovery after H2 (Key Vault emulator: a role granted at run time takes effect after a propagation delay)", () => {
  let vault: Vault;
  beforeAll(async () => {
    vault = await startVault({ propagationDelayMs: 10 * MIN });
  });
  afterAll(() => vault.close());
  afterEach(() => {
    vi.useRealTimers();
  });

  async function inAppSpan<T>(sdk: TestSdk, name: string, fn: () => Promise<T>): Promise<T | undefined> {
    return sdk.tracerProvider.getTracer("app").startActiveSpan(name, async (span: Span) => {
      try {
        return await fn();
      } catch {
        return undefined;
      } finally {
        span.end();
      }
    });
  }

  it("through the pipeline policy: 403, 403, then 200 after 11 min → one [recovered] line, one event, one data point", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2025-06-02T09:00:00.000Z"));
    const sdk = createSdk();
    const secret = "recover-policy";
    vault.kv.setSecret(secret, "s3cret");
    vault.kv.rbac.grant({ principalId: PRINCIPAL, role: "Key Vault Secrets User", scope: `${vault.kv.resourceId}/secrets/${secret}` });
    const { client, logs, credential } = vaultClient(
      vault,
      {},
      { credentialOptions: { tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider } },
    );

    // Zero-config observation sees the same answers and stands down for the policy's within a few (real) seconds:
    // let its grace timer run before the fake clock jumps, as real time would.
    const settle = () => sleep(OBSERVER_SETTLE_MS);
    expect(await inAppSpan(sdk, "attempt 1", () => client.getSecret(secret))).toBeUndefined();
    await settle();
    vi.setSystemTime(new Date("2025-06-02T09:05:00.000Z"));
    expect(await inAppSpan(sdk, "attempt 2", () => client.getSecret(secret))).toBeUndefined();
    await settle();
    vi.setSystemTime(new Date("2025-06-02T09:11:00.000Z"));
    expect((await inAppSpan(sdk, "attempt 3", () => client.getSecret(secret)))?.value).toBe("s3cret");
    // Later successes say nothing more.
    expect((await inAppSpan(sdk, "attempt 4", () => client.getSecret(secret)))?.value).toBe("s3cret");
    credential.flushLogs();

    const failures = logs.filter((l) => l.source === "response");
    expect(failures.map((l) => [l.hypothesis, l.status, l.level])).toEqual([
      ["H2", 403, "error"],
      ["H2", 403, "error"],
    ]);
    const recovered = logs.filter((l) => l.source === "recovery");
    expect(recovered).toHaveLength(1);
    const line = recovered[0]!;
    expect(line).toMatchObject({
      level: "info",
      hypothesis: "H2",
      code: "RoleMissingOrWrongScope",
      service: "keyvault",
      host: "orders-kv.vault.azure.net",
      status: 200,
      identity: { objectId: PRINCIPAL },
      containerApp: CONTAINER_APP,
      count: 1,
      recovery: {
        kind: "dependency",
        hypothesis: "H2",
        code: "RoleMissingOrWrongScope",
        firstFailureAt: "2025-06-02T09:00:00.000Z",
        lastFailureAt: "2025-06-02T09:05:00.000Z",
        recoveredAt: "2025-06-02T09:11:00.000Z",
        afterMs: 11 * MIN,
        afterMinutes: 11,
        failures: 2,
      },
    });
    expect(line.message).toBe(
      `DiagnosticCredential [recovered] H2 RoleMissingOrWrongScope: keyvault orders-kv.vault.azure.net answers 200 again for identity ${PRINCIPAL}; first failure 2025-06-02T09:00:00.000Z, 2 failures: recovered after 11 min`,
    );

    const attempt3 = sdk.spans("attempt 3")[0]!;
    expect(line.traceId).toBe(attempt3.spanContext().traceId);
    expect(attempt3.status.code).toBe(SpanStatusCode.UNSET);
    expect(eventsOf(attempt3, EVENT_RECOVERED)).toEqual([
      {
        "diagnostic_credential.hypothesis": "H2",
        "diagnostic_credential.code": "RoleMissingOrWrongScope",
        "diagnostic_credential.source": "dependency",
        "diagnostic_credential.recovery.first_failure_at": "2025-06-02T09:00:00.000Z",
        "diagnostic_credential.recovery.after_ms": 11 * MIN,
        "diagnostic_credential.recovery.failures": 2,
        "diagnostic_credential.service": "keyvault",
        "server.address": "orders-kv.vault.azure.net",
        "http.response.status_code": 200,
        "diagnostic_credential.identity.object_id": PRINCIPAL,
        "diagnostic_credential.identity.client_id": expect.any(String),
      },
    ]);
    expect(sdk.spans("attempt 4")[0]!.events).toEqual([]);
    const points = await sdk.points(METRIC_RECOVERY_DURATION);
    expect(points).toHaveLength(1);
    expect(points[0]!.attributes).toEqual({
      ...CA_ATTRIBUTES,
      "diagnostic_credential.hypothesis": "H2",
      "diagnostic_credential.code": "RoleMissingOrWrongScope",
      "diagnostic_credential.service": "keyvault",
    });
    expect(points[0]!.value).toMatchObject({ count: 1, sum: 11 * 60 });
    expect(watchedHosts.size).toBe(0);
  });

  it("through zero-config observation only (no policy): the 2xx seen on node:http closes the episode", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2025-06-03T12:00:00.000Z"));
    const secret = "recover-zero-config";
    vault.kv.setSecret(secret, "s3cret");
    vault.kv.rbac.grant({ principalId: PRINCIPAL, role: "Key Vault Secrets User", scope: `${vault.kv.resourceId}/secrets/${secret}` });
    const { client, logs } = vaultClient(vault, {}, { policy: false });
    await expect(client.getSecret(secret)).rejects.toMatchObject({ statusCode: 403 });
    // Zero-config observation reports after a short grace period (the policy, when present, goes first).
    for (let i = 0; i < 50 && !logs.some((l) => l.source === "observed"); i++) await sleep(20);
    expect(logs.map((l) => [l.hypothesis, l.source])).toEqual([["H2", "observed"]]);
    vi.setSystemTime(new Date("2025-06-03T12:10:30.000Z"));
    expect((await client.getSecret(secret)).value).toBe("s3cret");
    const recovered = logs.filter((l) => l.source === "recovery");
    expect(recovered.map((l) => [l.level, l.recovery?.afterMinutes, l.recovery?.firstFailureAt])).toEqual([["info", 10.5, "2025-06-03T12:00:00.000Z"]]);
    expect(recovered[0]!.message).toMatch(/^DiagnosticCredential \[recovered\] H2 RoleMissingOrWrongScope: .* recovered after 10\.5 min$/);
  });

  it("a 2xx for another identity is not a recovery of this one", async () => {
    const logs: DiagnosisLogEntry[] = [];
    const credential = new DiagnosticCredential({ credential: scriptedCredential([accessToken(fakeJwt({ oid: "oid-1" }))]), logger: (e) => logs.push(e) });
    credentialInternalsOf(credential)!.report(h2("oid-1"), { level: "error", source: "response", url: "https://kv1.vault.azure.net/secrets/a" });
    credentialInternalsOf(credential)!.noteSuccess("https://kv1.vault.azure.net/secrets/a", fakeJwt({ oid: "oid-2" }), 200);
    expect(logs.filter((l) => l.source === "recovery")).toEqual([]);
    credentialInternalsOf(credential)!.noteSuccess("https://kv1.vault.azure.net/secrets/a", fakeJwt({ oid: "oid-1" }), 200);
    expect(logs.filter((l) => l.source === "recovery")).toHaveLength(1);
  });
});

describe("identity-endpoint recovery (getToken works again)", () => {
  it("after H5: the first successful getToken span carries the event; one [recovered] line; the failures stay ERROR", async () => {
    const sdk = createSdk();
    const logs: DiagnosisLogEntry[] = [];
    const credential = new DiagnosticCredential({
      credential: scriptedCredential([networkUnreachable(), networkUnreachable(), accessToken(fakeJwt({ oid: PRINCIPAL }))]),
      tracerProvider: sdk.tracerProvider,
      meterProvider: sdk.meterProvider,
      logger: (e) => logs.push(e),
    });
    await expect(credential.getToken(VAULT_SCOPE)).rejects.toMatchObject({ diagnosis: { hypothesis: "H5" } });
    await expect(credential.getToken(VAULT_SCOPE)).rejects.toMatchObject({ diagnosis: { hypothesis: "H5" } });
    await credential.getToken(VAULT_SCOPE);
    await credential.getToken(VAULT_SCOPE);
    credential.flushLogs();
    const spans = sdk.spans(SPAN_GET_TOKEN);
    expect(spans.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.ERROR, SpanStatusCode.UNSET, SpanStatusCode.UNSET]);
    expect(spans.map((s) => eventsOf(s, EVENT_RECOVERED).length)).toEqual([0, 0, 1, 0]);
    expect(eventsOf(spans[2]!, EVENT_RECOVERED)[0]).toMatchObject({
      "diagnostic_credential.hypothesis": "H5",
      "diagnostic_credential.source": "identity-endpoint",
      "diagnostic_credential.recovery.failures": 2,
    });
    const recovered = logs.filter((l) => l.source === "recovery");
    expect(recovered).toHaveLength(1);
    expect(recovered[0]).toMatchObject({
      level: "info",
      hypothesis: "H5",
      code: "IdentityEndpointUnreachable",
      containerApp: CONTAINER_APP,
      recovery: { kind: "identity-endpoint", failures: 2 },
    });
    expect(recovered[0]!.message).toMatch(
      /^DiagnosticCredential \[recovered\] H5 IdentityEndpointUnreachable: .*returns tokens again; first failure \S+Z, 2 failures: recovered after 0 min$/,
    );
    expect(recovered[0]!.spanId).toBe(spans[2]!.spanContext().spanId);
    expect((await sdk.points(METRIC_RECOVERY_DURATION)).map((p) => p.attributes["diagnostic_credential.hypothesis"])).toEqual(["H5"]);
  });

  it("after H1 (identity assigned later)", async () => {
    const logs: DiagnosisLogEntry[] = [];
    const credential = new DiagnosticCredential({
      credential: scriptedCredential([identityNotFound(), accessToken(fakeJwt({ oid: PRINCIPAL }))]),
      logger: (e) => logs.push(e),
    });
    await expect(credential.getToken(VAULT_SCOPE)).rejects.toThrow();
    await credential.getToken(VAULT_SCOPE);
    expect(logs.map((l) => [l.source, l.hypothesis, l.level])).toEqual([
      ["getToken", "H1", "error"],
      ["recovery", "H1", "info"],
    ]);
  });

  it("nothing failed: no recovery line, no event, and 2xx answers cost one field read (nothing watched)", async () => {
    const sdk = createSdk();
    const logs: DiagnosisLogEntry[] = [];
    const credential = new DiagnosticCredential({
      credential: scriptedCredential([accessToken(fakeJwt({ oid: PRINCIPAL }))]),
      tracerProvider: sdk.tracerProvider,
      logger: (e) => logs.push(e),
    });
    await credential.getToken(VAULT_SCOPE);
    for (let i = 0; i < 1000; i++) credentialInternalsOf(credential)!.noteSuccess("https://kv1.vault.azure.net/secrets/a", "not-read");
    expect(logs).toEqual([]);
    expect(sdk.spans().flatMap((s) => s.events)).toEqual([]);
    expect(watchedHosts.size).toBe(0);
  });
});
