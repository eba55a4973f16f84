/**
 * The logger: one JSON line per diagnosis on stderr by default, repeats folded into `count`, a throwing user logger
 * never breaks getToken, the Container Apps context on every line, trace ids only when an SDK records, the
 * `[recovered]` line's exact shape.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { DiagnosticCredential, getInternalFaultCount, type DiagnosisLogEntry } from "../../src/index.js";
import { DiagnosisLogger } from "../../src/logging/diagnosisLogger.js";
import { formatRecoveryMessage, minutesOf, toRecoveryLogEntry } from "../../src/logging/logEntry.js";
import { makeDiagnosis } from "../../src/diagnosis/build.js";
import { accessToken, CONTAINER_APP, identityNotFound, scriptedCredential, setContainerAppEnv, VAULT_SCOPE } from "../telemetry/fixtures.js";

const diagnosis = makeDiagnosis("RoleMissingOrWrongScope", {
  confidence: "high",
  summary: "403 from kv: no role",
  evidence: ["e1"],
  nextSteps: ["n1"],
  service: "keyvault",
  status: 403,
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("DiagnosisLogger", () => {
  it("writes the first of a kind at once and folds repeats into one line with count", () => {
    const lines: DiagnosisLogEntry[] = [];
    const logger = new DiagnosisLogger((e) => lines.push(e), { windowMs: 60_000 });
    const context = { level: "error" as const, source: "response", url: "https://kv.vault.azure.net/secrets/a", containerApp: CONTAINER_APP };
    for (let i = 0; i < 1000; i++) logger.log(diagnosis, context);
    expect(lines.map((l) => l.count)).toEqual([1]);
    logger.flushAll();
    expect(lines.map((l) => l.count)).toEqual([1, 999]);
    expect(lines.reduce((sum, l) => sum + l.count, 0)).toBe(1000);
    expect(lines[1]).toMatchObject({ hypothesis: "H2", host: "kv.vault.azure.net", containerApp: CONTAINER_APP });
  });

  it("the default sink writes one JSON line per entry on stderr", async () => {
    setContainerAppEnv();
    const writes: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    const credential = new DiagnosticCredential({ credential: scriptedCredential([identityNotFound()]) });
    await credential.getToken(VAULT_SCOPE).catch(() => undefined);
    vi.restoreAllMocks();
    const ours = writes.filter((w) => w.includes("DiagnosticCredential ["));
    expect(ours).toHaveLength(1);
    expect(ours[0]!.endsWith("\n")).toBe(true);
    expect(ours[0]!.trimEnd().includes("\n")).toBe(false);
    expect(JSON.parse(ours[0]!)).toMatchObject({ level: "error", hypothesis: "H1", containerApp: CONTAINER_APP, count: 1 });
  });

  it("a throwing user logger does not break getToken; the fault is counted", async () => {
    const before = getInternalFaultCount();
    const credential = new DiagnosticCredential({
      credential: scriptedCredential([identityNotFound()]),
      logger: () => {
        throw new Error("logger down");
      },
    });
    await expect(credential.getToken(VAULT_SCOPE)).rejects.toMatchObject({ name: "CredentialUnavailableError", diagnosis: { hypothesis: "H1" } });
    expect(getInternalFaultCount()).toBeGreaterThan(before);
  });

  it("logger: false writes nothing; the credential still works", async () => {
    const writes: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    const credential = new DiagnosticCredential({ credential: scriptedCredential([identityNotFound()]), logger: false });
    await expect(credential.getToken(VAULT_SCOPE)).rejects.toThrow();
    vi.restoreAllMocks();
    expect(writes.filter((w) => w.includes("DiagnosticCredential ["))).toEqual([]);
  });

  it("outside Container Apps the line has an empty containerApp object (read at construction)", async () => {
    for (const key of ["CONTAINER_APP_NAME", "CONTAINER_APP_REVISION", "CONTAINER_APP_REPLICA_NAME"]) delete process.env[key];
    const lines: DiagnosisLogEntry[] = [];
    const credential = new DiagnosticCredential({ credential: scriptedCredential([identityNotFound()]), logger: (e) => lines.push(e) });
    setContainerAppEnv();
    await credential.getToken(VAULT_SCOPE).catch(() => undefined);
    expect(lines[0]!.containerApp).toEqual({});
    const inApp: DiagnosisLogEntry[] = [];
    const later = new DiagnosticCredential({ credential: scriptedCredential([identityNotFound()]), logger: (e) => inApp.push(e) });
    await later.getToken(VAULT_SCOPE).catch(() => undefined);
    expect(inApp[0]!.containerApp).toEqual(CONTAINER_APP);
  });

  it("a credential that only succeeds writes nothing", async () => {
    const lines: DiagnosisLogEntry[] = [];
    const header = Buffer.from('{"alg":"none"}').toString("base64url");
    const payload = Buffer.from(JSON.stringify({ aud: "https://vault.azure.net", oid: "o", tid: "t", exp: Math.floor(Date.now() / 1000) + 3600 })).toString(
      "base64url",
    );
    const credential = new DiagnosticCredential({ credential: scriptedCredential([accessToken(`${header}.${payload}.sig`)]), logger: (e) => lines.push(e) });
    for (let i = 0; i < 10; i++) await credential.getToken(VAULT_SCOPE);
    credential.flushLogs();
    expect(lines).toEqual([]);
  });
});

describe("the [recovered] line", () => {
  const recovery = {
    kind: "dependency" as const,
    hypothesis: "H2" as const,
    code: "RoleMissingOrWrongScope" as const,
    service: "keyvault",
    host: "orders-kv.vault.azure.net",
    status: 200,
    identity: { kind: "system-assigned" as const, objectId: "33333333-3333-3333-3333-333333333333" },
    firstFailureAt: Date.parse("2025-06-02T09:00:00.000Z"),
    lastFailureAt: Date.parse("2025-06-02T09:04:00.000Z"),
    recoveredAt: Date.parse("2025-06-02T09:07:30.000Z"),
    failures: 14,
  };

  it("says what recovered, from which hypothesis, since when, and after how many minutes", () => {
    expect(formatRecoveryMessage(recovery)).toBe(
      "DiagnosticCredential [recovered] H2 RoleMissingOrWrongScope: keyvault orders-kv.vault.azure.net answers 200 again for identity 33333333-3333-3333-3333-333333333333; first failure 2025-06-02T09:00:00.000Z, 14 failures: recovered after 7.5 min",
    );
    expect(formatRecoveryMessage({ ...recovery, kind: "identity-endpoint", hypothesis: "H5", code: "IdentityEndpointUnreachable", failures: 1 })).toMatch(
      /^DiagnosticCredential \[recovered\] H5 IdentityEndpointUnreachable: ManagedIdentityCredential returns tokens again; first failure 2025-06-02T09:00:00\.000Z, 1 failure: recovered after 7\.5 min$/,
    );
    expect([minutesOf(0), minutesOf(29_000), minutesOf(31_000), minutesOf(11 * 60_000), minutesOf(-5)]).toEqual([0, 0.5, 0.5, 11, 0]);
  });

  it("is an info line with source recovery and the recovery object", () => {
    const entry = toRecoveryLogEntry(recovery, { containerApp: CONTAINER_APP }, 0);
    expect(entry).toMatchObject({
      time: "2025-06-02T09:07:30.000Z",
      level: "info",
      hypothesis: "H2",
      code: "RoleMissingOrWrongScope",
      source: "recovery",
      count: 1,
      nextSteps: [],
      containerApp: CONTAINER_APP,
      recovery: {
        kind: "dependency",
        firstFailureAt: "2025-06-02T09:00:00.000Z",
        lastFailureAt: "2025-06-02T09:04:00.000Z",
        recoveredAt: "2025-06-02T09:07:30.000Z",
        afterMs: 450_000,
        afterMinutes: 7.5,
        failures: 14,
      },
    });
    expect(entry.internalFaults).toBeUndefined();
  });
});
