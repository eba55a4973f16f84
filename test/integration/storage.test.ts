/**
 * Blob Storage, through the real @azure/storage-blob 12.34 clients (BlobServiceClient → getContainerClient →
 * getBlockBlobClient). A named policy in `additionalPolicies` breaks these clients ("Duplicate policy names not
 * allowed in pipeline"): the supported path is `httpClient: diagnosticHttpClient(credential, inner)`.
 */
import { describe, expect, test } from "vitest";
import type { TokenCredential } from "@azure/core-auth";
import { BlobServiceClient, ContainerClient } from "@azure/storage-blob";
import { diagnosticHttpClient, diagnosticPolicy, getDiagnosis, type DiagnosticCredential } from "../../src/index.js";
import { startBlobStorageEmulator, type BlobStorageEmulator } from "../../src/testing.js";
import {
  diagnosticSetup,
  downstreamLog,
  expectDiagnosis,
  expectLogLine,
  expectRoleAdvice,
  expiredClaims,
  failure,
  failWithAndWithoutLibrary,
  newIdentity,
  otherTenantClaims,
  resourceIdOf,
  settledDownstream,
  testReportedOnce,
  uniqueName,
  useEmulators,
  type TokenPlan,
} from "./helpers.js";

const env = useEmulators((base) => ({
  storage: startBlobStorageEmulator({ ...base, accountName: "ordersdata", containers: ["data", "archive"] }),
  locked: startBlobStorageEmulator({ ...base, accountName: "lockeddata", firewall: true }),
}));
const ACCOUNT_ID = resourceIdOf("Microsoft.Storage/storageAccounts/ordersdata");
const ACCOUNT_SCOPE = "$(az storage account show --name ordersdata --query id --output tsv)";
const HOST = "ordersdata.blob.core.windows.net";

function container(
  credential: TokenCredential,
  options: { diagnose?: DiagnosticCredential; account?: BlobStorageEmulator; name?: string } = {},
): ContainerClient {
  const account = options.account ?? env.storage;
  const httpClient = options.diagnose ? diagnosticHttpClient(options.diagnose, account.httpClient) : account.httpClient;
  return new BlobServiceClient(account.endpoint, credential, { httpClient }).getContainerClient(options.name ?? "data");
}

/** Uploads a blob with the diagnosing httpClient (or zero-config only), then without the library: same error. */
async function upload(plan: TokenPlan, options: { policy: boolean; account?: BlobStorageEmulator; configured?: TokenPlan["identity"] }) {
  const blob = `${uniqueName("b")}.txt`;
  const result = await failWithAndWithoutLibrary(env.mi, plan, options, (credential, diagnose) =>
    container(credential, { diagnose, account: options.account }).getBlockBlobClient(blob).upload("x", 1),
  );
  return { ...result, blob };
}

function grant(principalId: string, role: string, scope = ACCOUNT_ID) {
  env.storage.rbac.grant({ principalId, role, scope });
}

describe.concurrent("Storage: the additionalPolicies trap and the diagnosticHttpClient path", () => {
  test("a named policy in additionalPolicies throws 'Duplicate policy names not allowed in pipeline' (service and container clients)", async () => {
    const identity = newIdentity();
    grant(identity.objectId, "Storage Blob Data Contributor");
    const { credential } = diagnosticSetup(env.mi, { identity });
    const options = { httpClient: env.storage.httpClient, additionalPolicies: [diagnosticPolicy(credential)] };
    const service = new BlobServiceClient(env.storage.endpoint, credential, options);
    await expect(service.getContainerClient("data").getBlockBlobClient("trap.txt").upload("x", 1)).rejects.toThrow(
      "Duplicate policy names not allowed in pipeline",
    );
    const direct = new ContainerClient(`${env.storage.endpoint}/data`, credential, options);
    await expect(direct.getBlockBlobClient("trap.txt").upload("x", 1)).rejects.toThrow("Duplicate policy names not allowed in pipeline");
  });

  test("2xx through diagnosticHttpClient (upload, download, list, properties): no diagnosis, no log line", async () => {
    const identity = newIdentity();
    grant(identity.objectId, "Storage Blob Data Contributor");
    const { credential, logs } = diagnosticSetup(env.mi, { identity });
    const client = container(credential, { diagnose: credential });
    await client.getBlockBlobClient("ok.txt").upload("hello", 5);
    expect((await client.getBlockBlobClient("ok.txt").downloadToBuffer()).toString()).toBe("hello");
    expect((await client.getBlockBlobClient("ok.txt").getProperties()).contentLength).toBe(5);
    const names: string[] = [];
    for await (const item of client.listBlobsFlat()) names.push(item.name);
    expect(names).toContain("ok.txt");
    expect(await settledDownstream(logs, credential)).toEqual([]);
  });

  test("diagnosticHttpClient(credential) with no inner client sends the storage-blob (core-http v1) request itself", async () => {
    const identity = newIdentity();
    const { credential } = diagnosticSetup(env.mi, { identity });
    // No emulator routing: the real (unreachable here) host; what matters is that the v1 request is accepted and sent.
    const client = new BlobServiceClient("https://127.0.0.1:1/devstoreaccount1", credential, {
      httpClient: diagnosticHttpClient(credential),
      retryOptions: { maxTries: 1 },
    });
    const error = await failure(client.getContainerClient("data").getBlockBlobClient("x.txt").upload("x", 1));
    expect(error).toMatchObject({ name: "RestError", code: "ECONNREFUSED" });
  });
});

describe.concurrent("Storage with diagnosticHttpClient (upload through getContainerClient)", () => {
  test("H2 no role: 403 AuthorizationPermissionMismatch → Storage Blob Data Contributor on the account", async () => {
    const identity = newIdentity();
    const { error, logs } = await upload({ identity }, { policy: true });
    expect(error).toMatchObject({ name: "RestError", statusCode: 403, code: "AuthorizationPermissionMismatch" });
    expect(error.details.errorCode).toBe("AuthorizationPermissionMismatch");
    const diagnosis = expectDiagnosis(error, {
      hypothesis: "H2",
      code: "RoleMissingOrWrongScope",
      service: "storage",
      status: 403,
      errorCode: "AuthorizationPermissionMismatch",
      confidence: "high",
    });
    expectRoleAdvice(diagnosis, {
      role: "Storage Blob Data Contributor",
      scope: ACCOUNT_SCOPE,
      principalId: identity.objectId,
      command: /: az role assignment create .*--role "Storage Blob Data Contributor"/,
    });
    expect(diagnosis.nextSteps.join("\n")).toContain("up to 30 minutes");
    expectLogLine(await downstreamLog(logs), { hypothesis: "H2", code: "RoleMissingOrWrongScope", status: 403, host: HOST, source: "response" });
  });

  test("H2 control-plane roles only (Owner, Storage Account Contributor): 403, named as giving no data access", async () => {
    const identity = newIdentity();
    grant(identity.objectId, "Owner");
    grant(identity.objectId, "Storage Account Contributor");
    const { error } = await upload({ identity }, { policy: true });
    const diagnosis = expectDiagnosis(error, { hypothesis: "H2", errorCode: "AuthorizationPermissionMismatch" });
    expect(diagnosis.nextSteps.join("\n")).toContain(
      '"Owner", "Contributor", "Storage Account Contributor" are control-plane roles: they give no data access to Azure Storage',
    );
  });

  test("H2 data role at a sibling scope (another container) and a read-only role: 403 → the write role", async () => {
    const identity = newIdentity();
    grant(identity.objectId, "Storage Blob Data Contributor", `${ACCOUNT_ID}/blobServices/default/containers/archive`);
    grant(identity.objectId, "Storage Blob Data Reader", `${ACCOUNT_ID}/blobServices/default/containers/data`);
    const { error } = await upload({ identity }, { policy: true });
    const diagnosis = expectDiagnosis(error, { hypothesis: "H2", errorCode: "AuthorizationPermissionMismatch" });
    expectRoleAdvice(diagnosis, {
      role: "Storage Blob Data Contributor",
      scope: ACCOUNT_SCOPE,
      principalId: identity.objectId,
      command: /: az role assignment create/,
    });
  });

  test("H2 on a download: the HEAD 403 has no body, the code comes from x-ms-error-code (error.details.errorCode)", async () => {
    const identity = newIdentity();
    env.storage.putBlob("data", "report.csv", "a,b");
    const { credential } = diagnosticSetup(env.mi, { identity });
    const error = await failure(container(credential, { diagnose: credential }).getBlockBlobClient("report.csv").downloadToBuffer());
    expect(error.statusCode).toBe(403);
    expect(error.details.errorCode).toBe("AuthorizationPermissionMismatch");
    expectDiagnosis(error, { hypothesis: "H2", errorCode: "AuthorizationPermissionMismatch", status: 403 });
  });

  test("H3 token for the wrong audience: 401 InvalidAuthenticationInfo 'Audience validation failed'", async () => {
    const identity = newIdentity();
    grant(identity.objectId, "Storage Blob Data Contributor");
    const { error, logs } = await upload({ identity, audience: "https://vault.azure.net" }, { policy: true });
    expect(error).toMatchObject({ statusCode: 401, code: "InvalidAuthenticationInfo" });
    const diagnosis = expectDiagnosis(error, { hypothesis: "H3", code: "WrongAudience", service: "storage", errorCode: "InvalidAuthenticationInfo" });
    expect(diagnosis.nextSteps[0]).toContain('Request the token for "https://storage.azure.com/.default"');
    expectLogLine(await downstreamLog(logs), { hypothesis: "H3", code: "WrongAudience", status: 401, host: HOST, source: "response" });
  });

  test("H4 expired token: 401 'Lifetime validation failed'", async () => {
    const identity = newIdentity();
    grant(identity.objectId, "Storage Blob Data Contributor");
    const { error } = await upload({ identity, claims: expiredClaims }, { policy: true });
    const diagnosis = expectDiagnosis(error, { hypothesis: "H4", code: "StaleTokenOrIdentityMixup", errorCode: "InvalidAuthenticationInfo" });
    expect(diagnosis.summary).toContain("the token sent had expired");
  });

  test("H4 token from another tenant: 401, the challenge names the account's tenant", async () => {
    const identity = newIdentity();
    grant(identity.objectId, "Storage Blob Data Contributor");
    const { error } = await upload({ identity, claims: otherTenantClaims }, { policy: true });
    const diagnosis = expectDiagnosis(error, { hypothesis: "H4", code: "StaleTokenOrIdentityMixup" });
    expect(diagnosis.summary).toContain(`belongs to tenant ${env.mi.tenantId}`);
  });

  test("H4 identity mix-up: the token is another identity's than the configured one", async () => {
    const configured = newIdentity();
    const other = newIdentity();
    grant(configured.objectId, "Storage Blob Data Contributor");
    const { error } = await upload({ identity: other }, { policy: true, configured });
    const diagnosis = expectDiagnosis(error, { hypothesis: "H4", code: "StaleTokenOrIdentityMixup", errorCode: "AuthorizationPermissionMismatch" });
    expect(diagnosis.summary).toContain(`request made as clientId ${other.clientId}`);
  });

  test("not-identity: network rules (403 AuthorizationFailure) even with the right role", async () => {
    const identity = newIdentity();
    env.locked.rbac.grant({ principalId: identity.objectId, role: "Storage Blob Data Contributor", scope: env.locked.resourceId });
    const { error, logs } = await upload({ identity }, { policy: true, account: env.locked });
    expect(error).toMatchObject({ statusCode: 403, code: "AuthorizationFailure" });
    expectDiagnosis(error, { hypothesis: "not-identity", code: "NotAnIdentityProblem", service: "storage", errorCode: "AuthorizationFailure" });
    expectLogLine(await downstreamLog(logs), {
      hypothesis: "not-identity",
      code: "NotAnIdentityProblem",
      status: 403,
      host: "lockeddata.blob.core.windows.net",
    });
  });

  testReportedOnce("with diagnosticHttpClient AND zero-config observation active, one failure is reported once", (plan) => upload(plan, { policy: true }));
});

describe.concurrent("Storage with zero-config observation only (node:http)", () => {
  test("H2: logged from status + x-ms-error-code with the real host; credential.diagnose(error) gives the same verdict", async () => {
    const identity = newIdentity();
    const { error, logs, credential } = await upload({ identity }, { policy: false });
    const entry = await downstreamLog(logs);
    expectLogLine(entry, { hypothesis: "H2", code: "RoleMissingOrWrongScope", status: 403, host: HOST, source: "observed" });
    expect(entry.errorCode).toBe("AuthorizationPermissionMismatch");
    expect(getDiagnosis(error)).toBeUndefined();
    expect(credential.diagnose(error)).toMatchObject({ hypothesis: "H2", errorCode: "AuthorizationPermissionMismatch", service: "storage" });
  });

  test("H3 wrong audience", async () => {
    const { logs } = await upload({ identity: newIdentity(), audience: "https://management.azure.com" }, { policy: false });
    expectLogLine(await downstreamLog(logs), { hypothesis: "H3", code: "WrongAudience", status: 401, host: HOST, source: "observed" });
  });

  test("H4 expired token", async () => {
    const { logs } = await upload({ identity: newIdentity(), claims: expiredClaims }, { policy: false });
    expectLogLine(await downstreamLog(logs), { hypothesis: "H4", code: "StaleTokenOrIdentityMixup", status: 401, host: HOST, source: "observed" });
  });

  test("not-identity: the firewall's code is in x-ms-error-code, so zero-config sees it too", async () => {
    const identity = newIdentity();
    env.locked.rbac.grant({ principalId: identity.objectId, role: "Storage Blob Data Contributor", scope: env.locked.resourceId });
    const { logs } = await upload({ identity }, { policy: false, account: env.locked });
    const entry = await downstreamLog(logs);
    expectLogLine(entry, {
      hypothesis: "not-identity",
      code: "NotAnIdentityProblem",
      status: 403,
      host: "lockeddata.blob.core.windows.net",
      source: "observed",
    });
  });
});
