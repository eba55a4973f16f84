/**
 * The repeat fast path: in a 401/403 storm the same answer comes back thousands of times. An identical answer reuses
 * the diagnosis made for the first one (no second classification), and is still counted and folded in the log; a
 * different answer (body, status, token, URL) is classified anew; the memory is bounded.
 */
import { describe, expect, it } from "vitest";
import { DiagnosticCredential, type DiagnosisLogEntry } from "../../src/index.js";
import { credentialInternalsOf } from "../../src/credential/internals.js";
import { RepeatAnswers } from "../../src/credential/repeatAnswers.js";

const kvBody = (secret: string) =>
  JSON.stringify({
    error: {
      code: "Forbidden",
      message: `Caller is not authorized to perform action on resource. Caller: appid=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee;oid=11111111-2222-3333-4444-555555555555 Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action' Resource: '/subscriptions/0d0d0d0d-0000-1111-2222-333333333333/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv-orders/secrets/${secret}' Assignment: (not found)`,
      innererror: { code: "ForbiddenByRbac" },
    },
  });

const answer = (secret = "db-password") => ({
  url: `https://kv-orders.vault.azure.net/secrets/${secret}`,
  status: 403,
  method: "GET",
  headers: { "content-type": "application/json" },
  body: kvBody(secret),
});

describe("repeated 401/403 answers", () => {
  it("an identical answer reuses the first diagnosis (the same object), and every repeat is still counted in the log", () => {
    const lines: DiagnosisLogEntry[] = [];
    const credential = new DiagnosticCredential({ credential: { getToken: async () => null }, logger: (entry) => lines.push(entry) });
    const internals = credentialInternalsOf(credential)!;
    const first = internals.diagnoseResponse(answer(), undefined, "response");
    const repeats = Array.from({ length: 99 }, () => internals.diagnoseResponse(answer(), undefined, "response"));
    expect(first).toMatchObject({ hypothesis: "H2", errorCode: "ForbiddenByRbac" });
    expect(repeats.every((diagnosis) => diagnosis === first)).toBe(true);
    credential.flushLogs();
    expect(lines.map((line) => line.count)).toEqual([1, 99]);
  });

  it("a different body, status, token or URL is classified anew", () => {
    const credential = new DiagnosticCredential({ credential: { getToken: async () => null }, logger: false });
    const internals = credentialInternalsOf(credential)!;
    const first = internals.diagnoseResponse(answer(), undefined, "response");
    const otherSecret = internals.diagnoseResponse(answer("api-key"), undefined, "response");
    const otherToken = internals.diagnoseResponse(answer(), "opaque-token-value-0001", "response");
    const otherStatus = internals.diagnoseResponse({ ...answer(), status: 401 }, undefined, "response");
    for (const other of [otherSecret, otherToken, otherStatus]) expect(other).not.toBe(first);
    expect(otherSecret!.evidence.join("\n")).toContain("secrets/api-key");
  });

  it("remembers at most 64 answers, each for 10 s, and skips bodies over 8 KB", () => {
    const repeats = new RepeatAnswers();
    const diagnosis = { hypothesis: "H2" } as never;
    const keys = Array.from({ length: 65 }, (_, i) => repeats.keyOf(answer(`s${i}`), undefined)!);
    keys.forEach((key) => repeats.set(key, diagnosis, 0));
    expect(repeats.get(keys[0]!, 1)).toBeUndefined();
    expect(repeats.get(keys[64]!, 1)).toBe(diagnosis);
    expect(repeats.get(keys[64]!, 10_001)).toBeUndefined();
    expect(repeats.keyOf({ ...answer(), body: "x".repeat(8 * 1024 + 1) }, undefined)).toBeUndefined();
  });
});
