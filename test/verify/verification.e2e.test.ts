/**
 * Verification end to end: the real ManagedIdentityCredential (through DiagnosticCredential with `verify`) against
 * the identity emulator, Key Vault through the real SecretClient with diagnosticPolicy, and the Resource Manager
 * emulator as the ARM endpoint (`resourceManagerEndpoint`). Each scenario runs in its own process (MSAL's cache and
 * identity source are per process); the children import the BUILT package (`npm run build` first).
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Diagnosis, DiagnosisLogEntry } from "../../src/index.js";
import {
  createTestCertificateAuthority,
  createTokenSigner,
  startIdentityEndpoint,
  startKeyVaultEmulator,
  startResourceManagerEmulator,
  type EmulatedIdentity,
  type IdentityEndpointEmulator,
  type KeyVaultEmulator,
  type ResourceManagerEmulator,
} from "../../src/testing.js";
import { runScenario, SCENARIO_PRELUDE } from "../helpers/childScenario.js";

const SUBSCRIPTION = "6a0f3c2e-1b4d-4e5f-8a9b-0c1d2e3f4a5b";
const RG = "rg-verify";
const rgScope = `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}`;
const vaultId = (name: string) => `${rgScope}/providers/Microsoft.KeyVault/vaults/${name}`;
const ACTION = "Microsoft.KeyVault/vaults/secrets/getSecret/action";

let signer: Awaited<ReturnType<typeof createTokenSigner>>;
let authority: ReturnType<typeof createTestCertificateAuthority>;
let arm: ResourceManagerEmulator;
let caFile: string;
let hanging: net.Server;
const sockets: net.Socket[] = [];
const closables: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  signer = await createTokenSigner();
  authority = createTestCertificateAuthority();
  caFile = path.join(mkdtempSync(path.join(tmpdir(), "verify-ca-")), "ca.pem");
  writeFileSync(caFile, authority.cert);
  arm = await startResourceManagerEmulator({
    issuerKeys: signer.jwks(),
    tenantId: signer.tenantId,
    subscriptionId: SUBSCRIPTION,
    resourceGroup: RG,
    certificateAuthority: authority,
  });
  closables.push(arm);
  // Accepts connections and never answers: a Resource Manager that hangs.
  hanging = net.createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => hanging.listen(0, "127.0.0.1", resolve));
});
afterAll(async () => {
  await Promise.all(closables.map((c) => c.close()));
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => hanging.close(() => resolve()));
});

async function vault(name: string): Promise<KeyVaultEmulator> {
  const kv = await startKeyVaultEmulator({
    issuerKeys: signer.jwks(),
    tenantId: signer.tenantId,
    subscriptionId: SUBSCRIPTION,
    resourceGroup: RG,
    certificateAuthority: authority,
    vaultName: name,
    secrets: { s: "v" },
  });
  closables.push(kv);
  return kv;
}

async function app(options: { systemAssigned?: boolean; userAssigned: string[] }): Promise<IdentityEndpointEmulator> {
  const endpoint = await startIdentityEndpoint({
    signer,
    subscriptionId: SUBSCRIPTION,
    resourceGroup: RG,
    containerApp: { name: `ca-${randomUUID().slice(0, 6)}` },
    systemAssigned: options.systemAssigned ?? false,
    userAssigned: options.userAssigned.map((name) => ({ name })),
  });
  closables.push(endpoint);
  return endpoint;
}

interface ChildResult {
  error: { name?: string; message?: string };
  rawError: { name?: string; message?: string };
  errorAfterMs: number;
  diagnosis: Diagnosis | null;
  verified: Diagnosis | null;
  verifiedAfterMs: number;
  logs: DiagnosisLogEntry[];
}

/** In a child: the failing call (getToken, or getSecret with the policy), then `verifyDiagnosis(error)`. */
async function runChild(
  endpoint: IdentityEndpointEmulator,
  options: { clientId: string; kv?: KeyVaultEmulator; verify?: unknown; armUrl?: string },
): Promise<ChildResult> {
  const config = {
    clientId: options.clientId,
    vault: options.kv?.endpoint,
    routes: options.kv?.routes ?? {},
    ca: authority.cert,
    verify: options.verify ?? null,
    armUrl: options.armUrl ?? arm.url,
  };
  const code = `
${SCENARIO_PRELUDE}
import { DiagnosticCredential, diagnosticPolicy, getDiagnosis, verifyDiagnosis } from "diagnostic-credential";
import { createEmulatorHttpClient } from "diagnostic-credential/testing";
import { ManagedIdentityCredential } from "@azure/identity";
const cfg = JSON.parse(process.env.SCENARIO);
const logs = [];
const credential = new DiagnosticCredential({
  clientId: cfg.clientId,
  logger: (entry) => logs.push(entry),
  ...(cfg.verify !== null ? { verify: cfg.verify, resourceManagerEndpoint: cfg.armUrl } : {}),
});
const raw = new ManagedIdentityCredential({ clientId: cfg.clientId });
let call;
if (cfg.vault) {
  const { SecretClient } = await import("@azure/keyvault-secrets");
  const httpClient = createEmulatorHttpClient({ ca: cfg.ca, routes: cfg.routes });
  call = (c, policy) => new SecretClient(cfg.vault, c, { httpClient, ...(policy ? { additionalPolicies: [diagnosticPolicy(credential)] } : {}) }).getSecret("s");
} else {
  call = (c) => c.getToken("https://vault.azure.net/.default");
}
const started = Date.now();
let error;
try { await call(credential, true); } catch (e) { error = e; }
const errorAfterMs = Date.now() - started;
let rawError;
try { await call(raw, false); } catch (e) { rawError = e; }
const verified = await verifyDiagnosis(error);
const verifiedAfterMs = Date.now() - started;
await new Promise((resolve) => setTimeout(resolve, 50));
credential.flushLogs();
const strip = (e) => e && { name: e.name, message: String(e.message).split("\\n")[0] };
emit({ error: strip(error), rawError: strip(rawError), errorAfterMs, diagnosis: getDiagnosis(error) ?? null, verified: verified ?? null, verifiedAfterMs, logs });
process.exit(0);
`;
  const result = await runScenario({ env: { ...endpoint.env, NODE_EXTRA_CA_CERTS: caFile, SCENARIO: JSON.stringify(config) }, code, timeoutMs: 60_000 });
  const json = result.json as ChildResult | undefined;
  if (!json) throw new Error(`child failed (exit ${result.exitCode}):\n${result.stderr.slice(-3000)}`);
  expect(JSON.stringify(json)).not.toMatch(/eyJ[\w-]{10,}\.[\w-]{10,}\./);
  expect(JSON.stringify(json)).not.toContain(endpoint.identityHeader);
  return json;
}

const verificationLine = (logs: DiagnosisLogEntry[]) => logs.find((l) => l.source === "verification");
const armChecks = (d: Diagnosis | null) => (d?.checks ?? []).filter((c) => c.confirmedBy === "arm");
const identityOf = (endpoint: IdentityEndpointEmulator, name: string): EmulatedIdentity => endpoint.identities.userAssigned.find((u) => u.name === name)!;

describe.concurrent("verification against Resource Manager (real ManagedIdentityCredential, child processes)", () => {
  test("H1 confirmed: the identity asked for is not attached; ARM lists what is (read as the system-assigned identity)", async () => {
    const endpoint = await app({ systemAssigned: true, userAssigned: ["uami-a", "uami-b"] });
    const a = identityOf(endpoint, "uami-a");
    const b = identityOf(endpoint, "uami-b");
    const system = endpoint.identities.systemAssigned!;
    arm.putResource({
      id: endpoint.hostResourceId,
      identity: {
        type: "SystemAssigned, UserAssigned",
        principalId: system.objectId,
        tenantId: signer.tenantId,
        userAssignedIdentities: Object.fromEntries([a, b].map((u) => [u.resourceId, { principalId: u.objectId, clientId: u.clientId }])),
      },
    });
    arm.rbac.grant({ principalId: system.objectId, role: "Reader", scope: endpoint.hostResourceId });
    const wanted = randomUUID();
    const r = await runChild(endpoint, { clientId: wanted, verify: true });
    expect(r.error.name).toBe(r.rawError.name);
    expect(r.diagnosis).toMatchObject({ hypothesis: "H1", code: "IdentityNotAssigned" });
    expect(r.diagnosis!.verification).toBeUndefined();
    expect(r.verified!.verification).toMatchObject({ outcome: "confirmed", calls: 1 });
    expect(r.verified!.summary).toBe(
      `Confirmed: the identity asked for (clientId ${wanted}) is not attached to ${endpoint.hostResourceId.split("/").pop()}; attached: system-assigned, uami-a (clientId ${a.clientId}), uami-b (clientId ${b.clientId})`,
    );
    expect(r.verified!.confidence).toBe("high");
    expect(armChecks(r.verified)).toEqual([
      { kind: "identity-assignment", expected: `clientId ${wanted}`, actual: expect.stringContaining("uami-a"), verdict: "fail", confirmedBy: "arm" },
    ]);
    expect(r.verified!.nextSteps[0]).toMatch(
      /^Attach the user-assigned identity to the app: az containerapp identity assign --name "ca-[a-z0-9-]+" --resource-group "rg-verify"/,
    );
    expect(verificationLine(r.logs)).toMatchObject({ level: "warn", hypothesis: "H1", verification: { outcome: "confirmed" } });
  });

  test("H2 confirmed missing: no assignment grants getSecret at or above the vault", async () => {
    const endpoint = await app({ userAssigned: ["uami-missing"] });
    const id = identityOf(endpoint, "uami-missing");
    const kv = await vault(`kvm${randomUUID().slice(0, 6)}`);
    arm.putResource({ id: vaultId(kv.vaultName), properties: { enableRbacAuthorization: true, tenantId: signer.tenantId } });
    arm.rbac.grant({ principalId: id.objectId, role: "Reader", scope: vaultId(kv.vaultName) });
    const r = await runChild(endpoint, { clientId: id.clientId, kv, verify: true });
    expect(r.error.name).toBe("RestError");
    expect(r.error).toEqual(r.rawError);
    expect(r.diagnosis).toMatchObject({ hypothesis: "H2", errorCode: "ForbiddenByRbac" });
    expect(r.verified!.verification).toMatchObject({ outcome: "confirmed" });
    expect(r.verified!.summary).toBe(`Confirmed: no assignment grants ${ACTION} at any scope above the resource: confirmed missing`);
    expect(armChecks(r.verified)).toContainEqual({
      kind: "role",
      expected: `${ACTION} at ${vaultId(kv.vaultName).toLowerCase()} or above`,
      actual: "no assignment grants it",
      verdict: "fail",
      confirmedBy: "arm",
    });
    expect(armChecks(r.verified)).toContainEqual(expect.objectContaining({ kind: "access-model", verdict: "pass" }));
    // The role fix of the inference stays among the next steps.
    expect(r.verified!.nextSteps.join("\n")).toContain('--role "Key Vault Secrets User"');
    expect(verificationLine(r.logs)).toMatchObject({ source: "verification", hypothesis: "H2", host: `${kv.vaultName}.vault.azure.net` });
  });

  test("H2 propagating: the role was assigned 2 min ago at the vault; ARM knows it, Key Vault does not yet", async () => {
    const endpoint = await app({ userAssigned: ["uami-new"] });
    const id = identityOf(endpoint, "uami-new");
    const kv = await vault(`kvp${randomUUID().slice(0, 6)}`);
    arm.putResource({ id: vaultId(kv.vaultName), properties: { enableRbacAuthorization: true } });
    arm.rbac.grant({ principalId: id.objectId, role: "Reader", scope: rgScope });
    arm.rbac.grant({ principalId: id.objectId, role: "Key Vault Secrets User", scope: vaultId(kv.vaultName), createdOn: Date.now() - 120_000 });
    const r = await runChild(endpoint, { clientId: id.clientId, kv, verify: true });
    expect(r.verified!.verification).toMatchObject({ outcome: "propagating" });
    expect(r.verified!.summary).toBe(
      `Verified: granted by 'Key Vault Secrets User' assigned 2 min ago at ${vaultId(kv.vaultName)}: still propagating, expect it within ~8 min`,
    );
    expect(r.verified!.nextSteps[0]).toMatch(/^Wait ~8 min and retry/);
  });

  test("H2 at a sibling scope: the role is on another vault", async () => {
    const endpoint = await app({ userAssigned: ["uami-sib"] });
    const id = identityOf(endpoint, "uami-sib");
    const kv = await vault(`kvs${randomUUID().slice(0, 6)}`);
    arm.putResource({ id: vaultId(kv.vaultName), properties: { enableRbacAuthorization: true } });
    arm.rbac.grant({ principalId: id.objectId, role: "Reader", scope: `/subscriptions/${SUBSCRIPTION}` });
    arm.rbac.grant({ principalId: id.objectId, role: "Key Vault Secrets User", scope: vaultId("kv-billing") });
    const r = await runChild(endpoint, { clientId: id.clientId, kv, verify: true });
    expect(r.verified!.verification).toMatchObject({ outcome: "sibling-scope" });
    expect(r.verified!.summary).toBe(
      `Confirmed: granted at a sibling scope: 'Key Vault Secrets User' is assigned at ${vaultId("kv-billing")}, which does not contain ${vaultId(kv.vaultName).toLowerCase()}`,
    );
  });

  test("access-policy vault: enableRbacAuthorization false, read from the vault's properties", async () => {
    const endpoint = await app({ userAssigned: ["uami-ap"] });
    const id = identityOf(endpoint, "uami-ap");
    const kv = await vault(`kva${randomUUID().slice(0, 6)}`);
    arm.putResource({ id: vaultId(kv.vaultName), properties: { enableRbacAuthorization: false, accessPolicies: [] } });
    arm.rbac.grant({ principalId: id.objectId, role: "Reader", scope: vaultId(kv.vaultName) });
    const r = await runChild(endpoint, { clientId: id.clientId, kv, verify: true });
    expect(r.verified!.verification).toMatchObject({ outcome: "access-policies", calls: 1 });
    expect(r.verified!.summary).toContain("the vault uses access policies, not RBAC (enableRbacAuthorization: false)");
    expect(r.verified!.nextSteps[0]).toBe(
      `Give the identity an access policy: az keyvault set-policy --name "${kv.vaultName}" --object-id "${id.objectId}" --secret-permissions get list`,
    );
  });

  test("ARM refuses the reads (no Reader): the inference stands, with the read permission and scope that would verify it", async () => {
    const endpoint = await app({ userAssigned: ["uami-noread"] });
    const id = identityOf(endpoint, "uami-noread");
    const kv = await vault(`kvr${randomUUID().slice(0, 6)}`);
    arm.putResource({ id: vaultId(kv.vaultName), properties: { enableRbacAuthorization: true } });
    const r = await runChild(endpoint, { clientId: id.clientId, kv, verify: true });
    const target = vaultId(kv.vaultName).toLowerCase();
    expect(r.verified!.verification).toMatchObject({ outcome: "not-permitted" });
    expect(r.verified!.verification!.needs).toEqual([
      { permission: "Microsoft.KeyVault/vaults/read", scope: target },
      { permission: "Microsoft.Authorization/permissions/read", scope: target },
      { permission: "Microsoft.Authorization/roleAssignments/read", scope: `/subscriptions/${SUBSCRIPTION}` },
      { permission: "Microsoft.Authorization/roleAssignments/read", scope: target },
    ]);
    // Fallback: the inference's summary and confidence are unchanged.
    expect(r.verified!.summary).toBe(r.diagnosis!.summary);
    expect(r.verified!.confidence).toBe(r.diagnosis!.confidence);
    expect(r.verified!.nextSteps[0]).toBe(
      `To let verification read (Reader is the least-privilege built-in role with every read it makes): az role assignment create --assignee-object-id "${id.objectId}" --assignee-principal-type ServicePrincipal --role "Reader" --scope "${target}"`,
    );
    expect(armChecks(r.verified)).toEqual([]);
    expect(r.verified!.checks).toContainEqual({
      kind: "verification",
      expected: `GET ${target}/providers/Microsoft.Authorization/permissions`,
      actual: "HTTP 403 AuthorizationFailed",
      verdict: "unknown",
    });
    // Verification's own 403s are not diagnosed as the app's failures.
    expect(r.logs.filter((l) => l.service === "arm")).toEqual([]);
  });

  test("ARM unreachable (accepts, never answers): bounded by timeoutMs, the app's call unaffected", async () => {
    const endpoint = await app({ userAssigned: ["uami-hang"] });
    const id = identityOf(endpoint, "uami-hang");
    const kv = await vault(`kvh${randomUUID().slice(0, 6)}`);
    const port = (hanging.address() as net.AddressInfo).port;
    const r = await runChild(endpoint, { clientId: id.clientId, kv, verify: { timeoutMs: 800 }, armUrl: `https://127.0.0.1:${port}` });
    expect(r.error).toEqual(r.rawError);
    expect(r.verified!.verification).toMatchObject({ outcome: "unavailable", calls: 1 });
    expect(r.verified!.verification!.durationMs).toBeLessThan(2_000);
    expect(r.verified!.summary).toBe(r.diagnosis!.summary);
    expect(verificationLine(r.logs)).toMatchObject({ level: "info", verification: { outcome: "unavailable" } });
  });

  test("verification off (the default): no Resource Manager call at all, nothing to await", async () => {
    const endpoint = await app({ userAssigned: ["uami-off"] });
    const id = identityOf(endpoint, "uami-off");
    const kv = await vault(`kvo${randomUUID().slice(0, 6)}`);
    const before = arm.requests.length;
    const r = await runChild(endpoint, { clientId: id.clientId, kv });
    expect(r.diagnosis).toMatchObject({ hypothesis: "H2" });
    expect(r.verified).toBeNull();
    expect(verificationLine(r.logs)).toBeUndefined();
    expect(arm.requests.slice(before).filter((q) => q.principalId === id.objectId)).toEqual([]);
  });
});
