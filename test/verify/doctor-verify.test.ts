/**
 * The doctor's `--verify` / `--arm-endpoint` (argument parsing) and the smoke test's `verify` (a "Verified" section),
 * plus what verification costs and how it is bounded, in process: a wrapped TokenCredential minting tokens with the
 * identity emulator's signer, Key Vault and Resource Manager emulators reached through their routing httpClient.
 */
import { randomUUID } from "node:crypto";
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DiagnosticCredential, diagnosticPolicy, getInternalFaultCount, runSmokeTest, verifyDiagnosis } from "../../src/index.js";
import { parseCommand } from "../../src/doctor/args.js";
import { formatReport } from "../../src/doctor/report.js";
import {
  createTestCertificateAuthority,
  startIdentityEndpoint,
  startKeyVaultEmulator,
  startResourceManagerEmulator,
  type EmulatedIdentity,
  type IdentityEndpointEmulator,
  type KeyVaultEmulator,
  type ResourceManagerEmulator,
} from "../../src/testing.js";
import { SecretClient } from "@azure/keyvault-secrets";

const SUB = "7a0f3c2e-1b4d-4e5f-8a9b-0c1d2e3f4a5b";
const RG = "rg-doctor";
let mi: IdentityEndpointEmulator;
let kv: KeyVaultEmulator;
let arm: ResourceManagerEmulator;
const vaultId = () => `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.KeyVault/vaults/${kv.vaultName}`;

beforeAll(async () => {
  mi = await startIdentityEndpoint({ systemAssigned: false, subscriptionId: SUB, resourceGroup: RG });
  const ca = createTestCertificateAuthority();
  const base = { issuerKeys: mi.signer.jwks(), tenantId: mi.tenantId, subscriptionId: SUB, resourceGroup: RG, certificateAuthority: ca };
  [kv, arm] = await Promise.all([startKeyVaultEmulator({ ...base, vaultName: "kv-doctor", secrets: { s: "v" } }), startResourceManagerEmulator(base)]);
  arm.putResource({ id: vaultId(), properties: { enableRbacAuthorization: true } });
});
afterAll(async () => {
  await Promise.all([mi.close(), kv.close(), arm.close()]);
});

function identity(): EmulatedIdentity {
  const name = `uami-${randomUUID().slice(0, 6)}`;
  return {
    kind: "user-assigned",
    name,
    clientId: randomUUID(),
    objectId: randomUUID(),
    resourceId: `/subscriptions/${SUB}/resourcegroups/${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`,
  };
}

function minting(who: EmulatedIdentity): TokenCredential {
  return {
    async getToken(scopes: string | string[]): Promise<AccessToken> {
      const scope = Array.isArray(scopes) ? scopes[0]! : scopes;
      return { token: await mi.mintToken({ identity: who, resource: scope.replace(/\/\.default$/, "") }), expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
}

describe("doctor --verify", () => {
  test("--verify and --arm-endpoint parse; --arm-endpoint implies --verify and must be https", () => {
    expect(parseCommand(["doctor", "--verify"])).toMatchObject({ kind: "doctor", verify: true });
    expect(parseCommand(["doctor", "--arm-endpoint", "https://arm.contoso.internal/"])).toMatchObject({
      verify: true,
      resourceManagerEndpoint: "https://arm.contoso.internal",
    });
    expect(parseCommand(["doctor", "--arm-endpoint", "http://127.0.0.1:1"])).toMatchObject({
      kind: "usage-error",
      message: expect.stringContaining("--arm-endpoint"),
    });
    expect(parseCommand(["doctor"])).not.toHaveProperty("verify");
  });

  test("the smoke test's Verified section: H2 confirmed missing for the dependency", async () => {
    const who = identity();
    arm.rbac.grant({ principalId: who.objectId, role: "Reader", scope: `/subscriptions/${SUB}` });
    const report = await runSmokeTest({
      credential: minting(who),
      clientId: who.clientId,
      dependencies: [`${kv.endpoint}/secrets/s`],
      httpClient: kv.httpClient,
      probeIdentityEndpoint: false,
      verify: { httpClient: arm.httpClient },
    });
    expect(report.diagnoses[0]).toMatchObject({ hypothesis: "H2" });
    expect(report.verified).toHaveLength(1);
    expect(report.verified![0]!.verification).toMatchObject({ outcome: "confirmed", endpoint: "https://management.azure.com" });
    const text = formatReport(report, { color: false });
    expect(text).toContain("Verified");
    expect(text).toContain("[H2 confirmed] Confirmed: no assignment grants Microsoft.KeyVault/vaults/secrets/getSecret/action at any scope above the resource");
  });

  test("without verify: no Verified section and no Resource Manager call", async () => {
    const who = identity();
    const before = arm.requests.length;
    const report = await runSmokeTest({
      credential: minting(who),
      clientId: who.clientId,
      dependencies: [`${kv.endpoint}/secrets/s`],
      httpClient: kv.httpClient,
      probeIdentityEndpoint: false,
    });
    expect(report.verified).toBeUndefined();
    expect(formatReport(report, { color: false })).not.toContain("Verified");
    expect(arm.requests.slice(before).filter((r) => r.principalId === who.objectId)).toEqual([]);
  });
});

describe("cost and bounds", () => {
  async function failingGet(credential: DiagnosticCredential): Promise<unknown> {
    try {
      await new SecretClient(kv.endpoint, credential, { httpClient: kv.httpClient, additionalPolicies: [diagnosticPolicy(credential)] }).getSecret("s");
    } catch (error) {
      return error;
    }
    throw new Error("expected a 403");
  }

  test("a verdict is cached: the same failure again makes no Resource Manager call; the error is the same without verify", async () => {
    const who = identity();
    arm.rbac.grant({ principalId: who.objectId, role: "Reader", scope: `/subscriptions/${SUB}` });
    const credential = new DiagnosticCredential({ credential: minting(who), logger: false, verify: { httpClient: arm.httpClient } });
    const plain = new DiagnosticCredential({ credential: minting(who), logger: false });
    const first = await failingGet(credential);
    const started = performance.now();
    const v1 = await verifyDiagnosis(first);
    const ms = performance.now() - started;
    const second = await failingGet(credential);
    const v2 = await verifyDiagnosis(second);
    expect(v1!.verification).toMatchObject({ outcome: "confirmed" });
    // Vault, permissions, role assignments, deny assignments (Reader's definition: one more) — at most the budget.
    expect(v1!.verification!.calls).toBeGreaterThanOrEqual(4);
    expect(v1!.verification!.calls).toBeLessThanOrEqual(8);
    expect(v2!.verification).toMatchObject({ outcome: "confirmed", calls: 0 });
    expect(ms).toBeLessThan(5_000);
    const without = await failingGet(plain);
    expect((without as Error).name).toBe((first as Error).name);
    expect((without as { statusCode?: number }).statusCode).toBe((first as { statusCode?: number }).statusCode);
    console.log(`verification cost (emulators): ${v1!.verification!.calls} calls, ${v1!.verification!.durationMs} ms; cached: 0 calls`);
  });

  test("maxCallsPerDiagnosis bounds the reads; a throwing credential is an unavailable verdict, swallowed", async () => {
    const who = identity();
    arm.rbac.grant({ principalId: who.objectId, role: "Reader", scope: `/subscriptions/${SUB}` });
    const budget = new DiagnosticCredential({ credential: minting(who), logger: false, verify: { httpClient: arm.httpClient, maxCallsPerDiagnosis: 1 } });
    const v = await verifyDiagnosis(await failingGet(budget));
    expect(v!.verification!.calls).toBe(1);

    const broken = new DiagnosticCredential({
      credential: {
        getToken: async (scopes: string | string[]) => {
          if (String(scopes).includes("management")) throw new TypeError("boom");
          return minting(identity()).getToken(scopes);
        },
      },
      logger: false,
      verify: { httpClient: arm.httpClient },
    });
    const faults = getInternalFaultCount();
    const error = await failingGet(broken);
    expect((error as Error).name).toBe("RestError");
    const verified = await verifyDiagnosis(error);
    expect(verified!.verification).toMatchObject({ outcome: "unavailable", calls: 0 });
    expect(verified!.summary).toBe((error as { diagnosis?: { summary: string } }).diagnosis?.summary ?? verified!.summary);
    expect(getInternalFaultCount()).toBe(faults);
  });

  test("verifyDiagnosis with a credential runs on demand even with verify off; a diagnosis is never changed in place", async () => {
    const who = identity();
    arm.rbac.grant({ principalId: who.objectId, role: "Reader", scope: `/subscriptions/${SUB}` });
    const credential = new DiagnosticCredential({ credential: minting(who), logger: false });
    const error = await failingGet(credential);
    expect(await verifyDiagnosis(error)).toBeUndefined();
    const before = JSON.stringify((error as { diagnosis?: unknown }).diagnosis ?? null);
    const verified = await verifyDiagnosis(error, { credential, url: `${kv.endpoint}/secrets/s` });
    expect(verified!.verification).toBeDefined();
    expect(JSON.stringify((error as { diagnosis?: unknown }).diagnosis ?? null)).toBe(before);
    expect(await verifyDiagnosis(new Error("no diagnosis"), { credential })).toBeUndefined();
  });
});
