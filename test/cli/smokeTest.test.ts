/**
 * runSmokeTest in-process, with a wrapped credential (tokens minted by the identity emulator's signer) and the Key
 * Vault emulator reached through its routing httpClient (or fetch for transport failures). The probe goes to the
 * identity emulator: this file's process has IDENTITY_ENDPOINT set to it (vitest runs each file in its own process).
 */
import { createServer, type Server, type Socket } from "node:net";
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DiagnosticCredential, runSmokeTest, type SmokeTestProgress } from "../../src/index.js";
import { startIdentityEndpoint, startKeyVaultEmulator, unusedPort, type IdentityEndpointEmulator, type KeyVaultEmulator } from "../../src/testing.js";
import { ARM_SCOPE, VAULT_SCOPE } from "./helpers.js";

let identity: IdentityEndpointEmulator;
let kv: KeyVaultEmulator;
let hanging: Server;
let hangingPort: number;
const sockets = new Set<Socket>();
const minted: string[] = [];

/** A TokenCredential (not a DiagnosticCredential) minting the emulator's tokens for the requested resource. */
function mintingCredential(overrides: Record<string, unknown> = {}): TokenCredential & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async getToken(scopes): Promise<AccessToken> {
      const scope = Array.isArray(scopes) ? scopes[0]! : scopes;
      calls.push(scope);
      const token = await identity.mintToken({ resource: scope.replace(/\/\.default$/, ""), ...overrides });
      minted.push(token);
      return { token, expiresOnTimestamp: Date.now() + 3600_000, tokenType: "Bearer" };
    },
  };
}

beforeAll(async () => {
  identity = await startIdentityEndpoint({ containerApp: { name: "ca-unit" } });
  Object.assign(process.env, identity.env);
  kv = await startKeyVaultEmulator({
    issuerKeys: identity.signer.jwks(),
    tenantId: identity.tenantId,
    vaultName: "unit-kv",
    secrets: { "db-password": "s3cret", other: "x" },
  });
  kv.rbac.grant(
    { principalId: identity.identities.systemAssigned!.objectId, role: "Key Vault Secrets User", scope: `${kv.resourceId}/secrets/db-password` },
    { propagationDelayMs: 0 },
  );
  hanging = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => hanging.listen(0, "127.0.0.1", resolve));
  hangingPort = (hanging.address() as { port: number }).port;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all([identity?.close(), kv?.close(), new Promise((resolve) => hanging?.close(resolve))]);
});

describe.concurrent("runSmokeTest in-process", () => {
  it("a wrapped credential: environment, probe, claims, and a 200, 403, 401 and an expected 403", async () => {
    const credential = mintingCredential();
    const progress: SmokeTestProgress[] = [];
    const base = `${kv.endpoint}/secrets`;
    const report = await runSmokeTest({
      credential,
      httpClient: kv.httpClient,
      dependencies: [
        `${base}/db-password`,
        { url: `${base}/other` },
        { url: `${base}/db-password`, scope: ARM_SCOPE, headers: { "x-ms-client-request-id": "smoke-1" } },
        { url: `${base}/other`, expectStatus: [403] },
      ],
      onProgress: (p) => progress.push(p),
    });
    const system = identity.identities.systemAssigned!;

    expect(report.ok).toBe(false);
    expect(report.environment).toMatchObject({
      source: "AppService",
      hostKind: "container-apps",
      identityHeaderSet: true,
      identityEndpoint: identity.endpoint,
      containerApp: { name: "ca-unit" },
      nodeVersion: process.version,
    });
    expect(JSON.stringify(report.environment)).not.toContain(identity.identityHeader);
    expect(report.identityEndpoint).toMatchObject({ url: identity.endpoint, reachable: true, status: 401 });
    expect(report.tokens.map((t) => [t.scope, t.ok])).toEqual([
      [VAULT_SCOPE, true],
      [ARM_SCOPE, true],
    ]);
    expect(credential.calls).toEqual([VAULT_SCOPE, ARM_SCOPE]);
    expect(report.tokens[0]!.claims).toMatchObject({
      aud: "https://vault.azure.net",
      oid: system.objectId,
      appid: system.clientId,
      identityKind: "system-assigned",
    });
    expect(report.dependencies.map((d) => [d.status, d.ok, d.diagnosis?.hypothesis, d.service])).toEqual([
      [200, true, undefined, "keyvault"],
      [403, false, "H2", "keyvault"],
      [401, false, "H3", "keyvault"],
      [403, true, undefined, "keyvault"],
    ]);
    expect(report.dependencies[2]).toMatchObject({ scope: ARM_SCOPE, expectedScope: VAULT_SCOPE });
    expect(report.diagnoses.map((d) => d.hypothesis)).toEqual(["H2", "H3"]);
    expect(progress.filter((p) => p.phase === "start").map((p) => p.step)).toEqual([
      "environment",
      "identity-endpoint",
      "token",
      "token",
      "dependency",
      "dependency",
      "dependency",
      "dependency",
    ]);
    // Every step that starts ends, with its limit and how long it took.
    expect(progress.filter((p) => p.phase === "end")).toHaveLength(8);
    expect(progress.find((p) => p.step === "token" && p.phase === "end")).toMatchObject({ limitMs: 10_000, durationMs: expect.any(Number) });
    const text = JSON.stringify(report);
    for (const token of minted) expect(text.includes(token.split(".")[2]!)).toBe(false);
  });

  it("a DiagnosticCredential is used as is; its configured client id is the identity meant (H4 mix-up)", async () => {
    const wrapped = new DiagnosticCredential({ credential: mintingCredential(), clientId: "11111111-2222-3333-4444-555555555555", logger: false });
    const report = await runSmokeTest({ credential: wrapped, scopes: [VAULT_SCOPE], probeIdentityEndpoint: false });
    expect(report.identityEndpoint).toEqual({ reachable: false, skipped: "probe turned off" });
    expect(report.environment.configuredIdentity).toEqual({ clientId: "11111111-2222-3333-4444-555555555555" });
    expect(report.tokens[0]).toMatchObject({ ok: false, diagnosis: { hypothesis: "H4", code: "StaleTokenOrIdentityMixup" } });
    expect(report.ok).toBe(false);
  });

  it("no scopes and no dependencies: one token for Resource Manager", async () => {
    const report = await runSmokeTest({ credential: mintingCredential() });
    expect(report.tokens.map((t) => t.scope)).toEqual([ARM_SCOPE]);
    expect(report.ok).toBe(true);
  });

  it("network failures of dependencies are findings of their own; each step honours timeoutMs", async () => {
    const refused = await unusedPort();
    const started = Date.now();
    const report = await runSmokeTest({
      credential: mintingCredential(),
      timeoutMs: 600,
      dependencies: [
        { url: `https://127.0.0.1:${refused}/x`, scope: VAULT_SCOPE },
        { url: `https://127.0.0.1:${hangingPort}/x`, scope: VAULT_SCOPE },
        "https://api.example.invalid/x",
      ],
    });
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(report.ok).toBe(false);
    expect(report.dependencies).toEqual([
      expect.objectContaining({ ok: false, failure: "network", errorCode: "ECONNREFUSED", error: expect.stringMatching(/^ECONNREFUSED/) }),
      expect.objectContaining({ ok: false, failure: "timeout", errorCode: "TIMEOUT", error: "no answer within 600 ms" }),
      expect.objectContaining({ ok: false, failure: "no-scope", error: expect.stringMatching(/no scope known for api\.example\.invalid/) }),
    ]);
    expect(report.dependencies[1]!.durationMs).toBeLessThan(1_500);
    expect(report.diagnoses).toEqual([]);
  });

  it("a credential that throws or never answers: a diagnosis, no throw", async () => {
    const failing: TokenCredential = {
      async getToken() {
        const error = new Error("ManagedIdentityCredential: Network unreachable. Message: network_error");
        error.name = "CredentialUnavailableError";
        throw error;
      },
    };
    const never: TokenCredential = { getToken: () => new Promise<AccessToken>(() => undefined) };
    const [a, b] = await Promise.all([
      runSmokeTest({ credential: failing, scopes: [VAULT_SCOPE], probeIdentityEndpoint: false }),
      runSmokeTest({
        credential: never,
        scopes: [VAULT_SCOPE],
        timeoutMs: 300,
        dependencies: [`${kv.endpoint}/secrets/db-password`],
        httpClient: kv.httpClient,
      }),
    ]);
    expect(a.ok).toBe(false);
    expect(a.tokens[0]).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^CredentialUnavailableError: /),
      diagnosis: expect.objectContaining({ code: expect.any(String) }),
    });
    expect(b.ok).toBe(false);
    expect(b.tokens[0]).toMatchObject({ ok: false, diagnosis: { hypothesis: "H5" } });
    expect(b.tokens[0]!.durationMs).toBeLessThan(1_500);
    expect(b.dependencies[0]).toMatchObject({ ok: false, failure: "no-token" });
    expect(`${b.tokens[0]!.error} ${b.tokens[0]!.diagnosis!.summary}`).not.toMatch(/within (?!300 ms)\d+ ms/);
  });

  it("a given credential without a time limit: the backstop's message states timeoutMs, not its own wait", async () => {
    const never: TokenCredential = { getToken: () => new Promise<AccessToken>(() => undefined) };
    const credential = new DiagnosticCredential({ credential: never, tokenTimeoutMs: 0, logger: false });
    const report = await runSmokeTest({ credential, scopes: [VAULT_SCOPE], timeoutMs: 400, probeIdentityEndpoint: false });
    const token = report.tokens[0]!;
    expect(token).toMatchObject({
      ok: false,
      error: "CredentialUnavailableError: DiagnosticCredential returned no token within 400 ms",
      diagnosis: { hypothesis: "H5" },
    });
    expect(token.diagnosis!.summary).toMatch(/^DiagnosticCredential got no token within 400 ms/);
    expect(token.durationMs).toBeGreaterThanOrEqual(400);
  });
});
