/**
 * The real path: `new DiagnosticCredential({ clientId })` → the real ManagedIdentityCredential → the identity
 * emulator (Container Apps protocol), with the real SDK clients against the service emulators, in child processes
 * (MSAL caches tokens and its identity source per process). One child per identity-endpoint behaviour, each covering
 * one hypothesis family across services, with the policy / diagnosticHttpClient and with zero-config only, and the
 * same calls through a raw ManagedIdentityCredential for the "error unchanged" comparison. The children import the
 * BUILT package by name (`npm run build` first).
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Diagnosis, DiagnosisLogEntry } from "../../src/index.js";
import {
  createTestCertificateAuthority,
  createTokenSigner,
  startBlobStorageEmulator,
  startCosmosEmulator,
  startIdentityEndpoint,
  startKeyVaultEmulator,
  startResourceManagerEmulator,
  type IdentityEndpointEmulator,
  type IdentityEndpointFault,
  type ServiceEmulator,
} from "../../src/testing.js";
import { runScenario, SCENARIO_PRELUDE } from "../helpers/childScenario.js";
import { RESOURCE_GROUP, SUBSCRIPTION } from "./helpers.js";

const APP = { name: "uami-orders", clientId: randomUUID(), objectId: randomUUID() };
let emulators: ServiceEmulator[] = [];
let kv: ServiceEmulator;
let lockedKv: ServiceEmulator;
let storage: ServiceEmulator;
let cosmos: ServiceEmulator;
let arm: ServiceEmulator;
let ca: string;
let signer: Awaited<ReturnType<typeof createTokenSigner>>;
const endpoints: IdentityEndpointEmulator[] = [];

beforeAll(async () => {
  signer = await createTokenSigner();
  const authority = createTestCertificateAuthority();
  ca = authority.cert;
  const base = {
    issuerKeys: signer.jwks(),
    tenantId: signer.tenantId,
    subscriptionId: SUBSCRIPTION,
    resourceGroup: RESOURCE_GROUP,
    certificateAuthority: authority,
  };
  emulators = [
    (kv = await startKeyVaultEmulator({ ...base, vaultName: "mi-kv", secrets: { granted: "hello", other: "x", "other-zc": "x" } })),
    (lockedKv = await startKeyVaultEmulator({ ...base, vaultName: "mi-locked-kv", firewall: true, secrets: { granted: "x" } })),
    (storage = await startBlobStorageEmulator({ ...base, accountName: "mistorage" })),
    (cosmos = await startCosmosEmulator({ ...base, accountName: "mi-cosmos" })),
    (arm = await startResourceManagerEmulator(base)),
  ];
  // The app's identity may read one secret, and everything behind the firewall.
  kv.rbac.grant({ principalId: APP.objectId, role: "Key Vault Secrets User", scope: `${kv.resourceId}/secrets/granted` });
  lockedKv.rbac.grant({ principalId: APP.objectId, role: "Key Vault Secrets User", scope: lockedKv.resourceId });
});
afterAll(async () => {
  await Promise.all([...emulators.map((e) => e.close()), ...endpoints.map((e) => e.close())]);
});

async function identityEndpoint(fault?: IdentityEndpointFault): Promise<IdentityEndpointEmulator> {
  const endpoint = await startIdentityEndpoint({
    signer,
    systemAssigned: false,
    userAssigned: [APP],
    containerApp: { name: "ca-orders" },
    ...(fault ? { fault } : {}),
  });
  endpoints.push(endpoint);
  return endpoint;
}

type Operation = "kvPolicy" | "kvZeroConfig" | "kvGranted" | "kvFirewall" | "storage" | "cosmos" | "armPolicy" | "armZeroConfig";

interface Outcome {
  ok: boolean;
  error?: { name?: string; constructor?: string; statusCode?: number; code?: unknown; message?: string };
  diagnosis?: Diagnosis | null;
  /** The same call through a raw ManagedIdentityCredential and no policy. */
  raw?: Outcome;
}

/** Runs the operations in a child process whose identity endpoint is `endpoint`; returns outcomes and log entries. */
async function runChild(
  endpoint: IdentityEndpointEmulator,
  operations: Operation[],
): Promise<{ outcomes: Record<Operation, Outcome>; logs: DiagnosisLogEntry[] }> {
  const routes = Object.assign({}, ...emulators.map((e) => e.routes));
  const config = {
    ca,
    routes,
    clientId: APP.clientId,
    operations,
    kv: kv.endpoint,
    lockedKv: lockedKv.endpoint,
    storage: storage.endpoint,
    cosmos: cosmos.endpoint,
    subscription: SUBSCRIPTION,
    group: RESOURCE_GROUP,
  };
  const code = `
${SCENARIO_PRELUDE}
import { DiagnosticCredential, diagnosticPolicy, diagnosticHttpClient, getDiagnosis } from "diagnostic-credential";
import { createEmulatorHttpClient } from "diagnostic-credential/testing";
import { ManagedIdentityCredential } from "@azure/identity";
const cfg = JSON.parse(process.env.SCENARIO);
// Only the SDKs this child uses (each costs a second of start-up on a small machine).
const uses = (prefix) => cfg.operations.some((name) => name.startsWith(prefix));
const { SecretClient } = uses("kv") ? await import("@azure/keyvault-secrets") : {};
const { BlobServiceClient } = uses("storage") ? await import("@azure/storage-blob") : {};
const { CosmosClient } = uses("cosmos") ? await import("@azure/cosmos") : {};
const { ResourceManagementClient } = uses("arm") ? await import("@azure/arm-resources") : {};
const httpClient = createEmulatorHttpClient({ ca: cfg.ca, routes: cfg.routes });
const logs = [];
const credential = new DiagnosticCredential({ clientId: cfg.clientId, logger: (entry) => logs.push(entry) });
const raw = new ManagedIdentityCredential({ clientId: cfg.clientId });
const mask = (text) => typeof text === "string" ? text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, "<id>").replace(/\\d{4}-\\d{2}-\\d{2}T[\\d:.]+Z?/g, "<time>").replace(/\\d{1,2}\\/\\d{1,2}\\/\\d{4} [\\d:]+ [AP]M/g, "<time>") : text;
const attempt = async (fn) => {
  try { await fn(); return { ok: true }; }
  catch (e) { return { ok: false, error: { name: e.name, constructor: e.constructor?.name, statusCode: e.statusCode, code: e.code, message: mask(e.message) }, diagnosis: getDiagnosis(e) ?? null }; }
};
const kvClient = (url, cred, policy) => new SecretClient(url, cred, { httpClient, ...(policy ? { additionalPolicies: [diagnosticPolicy(credential)] } : {}) });
const blob = (cred, diagnose) => new BlobServiceClient(cfg.storage, cred, { httpClient: diagnose ? diagnosticHttpClient(credential, httpClient) : httpClient }).getContainerClient("data").getBlockBlobClient("mi.txt");
const items = (cred, diagnose) => new CosmosClient({ endpoint: cfg.cosmos, aadCredentials: cred, httpClient: diagnose ? diagnosticHttpClient(credential, httpClient) : httpClient }).database("appdb").container("items");
const armClient = (cred, policy) => new ResourceManagementClient(cred, cfg.subscription, { httpClient, ...(policy ? { additionalPolicies: [diagnosticPolicy(credential)] } : {}) });
const calls = {
  kvPolicy: (c, diagnose) => kvClient(cfg.kv, c, diagnose).getSecret("other"),
  kvZeroConfig: (c) => kvClient(cfg.kv, c, false).getSecret("other-zc"),
  kvGranted: (c, diagnose) => kvClient(cfg.kv, c, diagnose).getSecret("granted"),
  kvFirewall: (c, diagnose) => kvClient(cfg.lockedKv, c, diagnose).getSecret("granted"),
  storage: (c, diagnose) => blob(c, diagnose).upload("x", 1),
  cosmos: (c, diagnose) => items(c, diagnose).items.create({ id: "mi-1" }),
  armPolicy: (c, diagnose) => armClient(c, diagnose).resourceGroups.get(cfg.group),
  armZeroConfig: (c) => armClient(c, false).resourceGroups.get(cfg.group + "-zc"),
};
const outcomes = {};
await Promise.all(cfg.operations.map(async (name) => { outcomes[name] = await attempt(() => calls[name](credential, true)); }));
await new Promise((resolve) => setTimeout(resolve, 1300));
credential.flushLogs();
const seen = [...logs];
// Then the same calls without the library. MSAL's cache is per process: the raw credential hands out the very same
// tokens, which zero-config would recognise as ours; the logs above were taken before.
for (const name of cfg.operations) outcomes[name].raw = await attempt(() => calls[name](raw, false));
emit({ outcomes, logs: seen });
process.exit(0);
`;
  const result = await runScenario({ env: { ...endpoint.env, SCENARIO: JSON.stringify(config) }, code, timeoutMs: 40_000 });
  const json = result.json as { outcomes: Record<Operation, Outcome>; logs: DiagnosisLogEntry[] } | undefined;
  if (!json) throw new Error(`child failed (exit ${result.exitCode}):\n${result.stderr.slice(-3000)}`);
  // Never a token or the identity header in anything the child logged.
  const everything = JSON.stringify(json.logs);
  expect(everything).not.toMatch(/eyJ[\w-]{10,}\.[\w-]{10,}\./);
  expect(everything).not.toContain(endpoint.identityHeader);
  return json;
}

/** The error the app sees is the same with the library (policy or not) as with a raw ManagedIdentityCredential. */
function expectUnchanged(outcome: Outcome): void {
  expect(outcome.ok).toBe(false);
  expect(outcome.raw?.ok).toBe(false);
  expect(outcome.error).toEqual(outcome.raw?.error);
}

const downstream = (logs: DiagnosisLogEntry[], host: string, source: string) => logs.filter((e) => e.host === host && e.source === source);

describe.concurrent("the real ManagedIdentityCredential (identity emulator, child processes)", () => {
  test("healthy endpoint: H2 on Key Vault (policy and zero-config), Storage, Cosmos, ARM; not-identity behind the firewall; a 2xx stays silent", async () => {
    const { outcomes, logs } = await runChild(await identityEndpoint(), [
      "kvPolicy",
      "kvZeroConfig",
      "kvGranted",
      "kvFirewall",
      "storage",
      "cosmos",
      "armPolicy",
    ]);
    for (const name of ["kvPolicy", "kvZeroConfig", "kvFirewall", "storage", "cosmos", "armPolicy"] as const) expectUnchanged(outcomes[name]);
    expect(outcomes.kvGranted).toMatchObject({ ok: true, raw: { ok: true } });

    expect(outcomes.kvPolicy.diagnosis).toMatchObject({
      hypothesis: "H2",
      service: "keyvault",
      errorCode: "ForbiddenByRbac",
      identity: { objectId: APP.objectId, clientId: APP.clientId },
    });
    const steps = outcomes.kvPolicy.diagnosis!.nextSteps.join("\n");
    expect(steps).toContain(
      `az role assignment create --assignee-object-id ${APP.objectId} --assignee-principal-type ServicePrincipal --role "Key Vault Secrets User" --scope "${`/subscriptions/${SUBSCRIPTION}/resourcegroups/${RESOURCE_GROUP}`.toLowerCase()}/providers/microsoft.keyvault/vaults/mi-kv"`,
    );
    expect(outcomes.storage.diagnosis).toMatchObject({ hypothesis: "H2", service: "storage", errorCode: "AuthorizationPermissionMismatch" });
    expect(outcomes.cosmos.diagnosis).toMatchObject({ hypothesis: "H2", service: "cosmos", status: 403 });
    expect(outcomes.cosmos.diagnosis!.nextSteps.join("\n")).toContain(`--principal-id ${APP.objectId}`);
    expect(outcomes.armPolicy.diagnosis).toMatchObject({ hypothesis: "H2", service: "arm", errorCode: "AuthorizationFailed" });
    expect(outcomes.kvFirewall.diagnosis).toMatchObject({ hypothesis: "not-identity", code: "NotAnIdentityProblem", errorCode: "ForbiddenByFirewall" });
    // Zero-config: no policy, no getDiagnosis, but the log line.
    expect(outcomes.kvZeroConfig.diagnosis).toBeNull();

    const [policyLine] = downstream(logs, "mi-kv.vault.azure.net", "response");
    expect(policyLine?.message).toMatch(/^DiagnosticCredential \[H2 RoleMissingOrWrongScope\] 403 Forbidden from mi-kv\.vault\.azure\.net \(ForbiddenByRbac\)/);
    expect(policyLine?.containerApp).toMatchObject({ name: "ca-orders" });
    expect(downstream(logs, "mi-kv.vault.azure.net", "observed").map((e) => e.hypothesis)).toEqual(["H2"]);
    expect(downstream(logs, "mi-locked-kv.vault.azure.net", "response").map((e) => e.hypothesis)).toEqual(["not-identity"]);
    // Each failure once: the policy's, never again from zero-config.
    expect(downstream(logs, "mistorage.blob.core.windows.net", "observed")).toEqual([]);
    expect(downstream(logs, "management.azure.com", "observed")).toEqual([]);
    expect(logs.filter((e) => e.source === "response" || e.source === "observed").length).toBe(6);
  });

  test("wrong-audience tokens: H3 at token time (early warning) and on every service's 401", async () => {
    const endpoint = await identityEndpoint({ kind: "wrong-audience", audience: "https://cognitiveservices.azure.com" });
    const { outcomes, logs } = await runChild(endpoint, ["kvPolicy", "storage", "armZeroConfig"]);
    for (const name of ["kvPolicy", "storage", "armZeroConfig"] as const) expectUnchanged(outcomes[name]);
    expect(outcomes.kvPolicy.error).toMatchObject({ statusCode: 401, code: "Unauthorized" });
    expect(outcomes.kvPolicy.diagnosis).toMatchObject({ hypothesis: "H3", code: "WrongAudience", service: "keyvault" });
    expect(outcomes.storage.diagnosis).toMatchObject({ hypothesis: "H3", code: "WrongAudience", service: "storage", errorCode: "InvalidAuthenticationInfo" });
    expect(logs.some((e) => e.source === "token-check" && e.hypothesis === "H3")).toBe(true);
    expect(downstream(logs, "management.azure.com", "observed").map((e) => [e.hypothesis, e.status])).toEqual([["H3", 401]]);
  });

  test("expired tokens: H4 on Key Vault (policy) and Resource Manager (zero-config)", async () => {
    const endpoint = await identityEndpoint({ kind: "expired" });
    const { outcomes, logs } = await runChild(endpoint, ["kvPolicy", "armZeroConfig"]);
    expectUnchanged(outcomes.kvPolicy);
    expectUnchanged(outcomes.armZeroConfig);
    expect(outcomes.kvPolicy.diagnosis).toMatchObject({ hypothesis: "H4", code: "StaleTokenOrIdentityMixup", status: 401 });
    expect(outcomes.kvPolicy.diagnosis!.summary).toContain("the token sent had expired");
    expect(outcomes.armZeroConfig.error).toMatchObject({ statusCode: 401, code: "ExpiredAuthenticationToken" });
    expect(downstream(logs, "management.azure.com", "observed").map((e) => e.hypothesis)).toEqual(["H4"]);
  });

  test("the endpoint hands out another identity's token: H4 identity mix-up on Key Vault and Cosmos DB", async () => {
    const endpoint = await identityEndpoint({ kind: "wrong-identity" });
    const { outcomes, logs } = await runChild(endpoint, ["kvGranted", "cosmos"]);
    expectUnchanged(outcomes.kvGranted);
    expectUnchanged(outcomes.cosmos);
    expect(outcomes.kvGranted.diagnosis).toMatchObject({ hypothesis: "H4", code: "StaleTokenOrIdentityMixup", errorCode: "ForbiddenByRbac" });
    expect(outcomes.kvGranted.diagnosis!.summary).toContain(`but the app is configured for clientId ${APP.clientId}`);
    expect(outcomes.cosmos.diagnosis).toMatchObject({ hypothesis: "H4", code: "StaleTokenOrIdentityMixup", service: "cosmos" });
    expect(logs.some((e) => e.source === "token-check" && e.hypothesis === "H4")).toBe(true);
  });
});
