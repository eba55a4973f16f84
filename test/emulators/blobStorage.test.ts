import { beforeAll, describe, expect, test } from "vitest";
import { BlobServiceClient, type RestError } from "@azure/storage-blob";
import { createTrustingHttpClient, startBlobStorageEmulator } from "../../src/testing.js";
import { bodyOf, OTHER_TENANT, principal, restError, TENANT, useEmulators } from "./helpers.js";

let nowMs = Date.now();
const env = useEmulators((options) => ({
  storage: startBlobStorageEmulator({
    ...options,
    accountName: "ordersdata",
    containers: ["data", "archive"],
    propagationDelayMs: 30 * 60_000,
    now: () => nowMs,
  }),
}));
beforeAll(() => env.storage.putBlob("data", "report.txt", "quarterly numbers", "text/plain"));

function service(claims: Record<string, unknown>, options: { issuedAt?: () => number } = {}) {
  const credential = env.issuer.credential(claims, options);
  return { credential, service: new BlobServiceClient(env.storage.endpoint, credential, { httpClient: env.storage.httpClient }) };
}
const blob = (claims: Record<string, unknown>, name = "report.txt", container = "data", options: { issuedAt?: () => number } = {}) =>
  service(claims, options).service.getContainerClient(container).getBlockBlobClient(name);

/** storage-blob puts the parsed error (Code, Message, AuthenticationErrorDetail) in `details`. */
type StorageDetails = { errorCode?: string; code?: string; message?: string; authenticationErrorDetail?: string; "www-authenticate"?: string };
const details = (error: RestError) => error.details as StorageDetails;

describe("Blob Storage emulator with the real @azure/storage-blob", () => {
  test("Storage Blob Data Contributor: upload, download, getProperties (HEAD), listBlobsFlat", async () => {
    const oid = principal(1);
    env.storage.rbac.grant({ principalId: oid, role: "Storage Blob Data Contributor", scope: env.storage.resourceId }, { propagationDelayMs: 0 });
    const { service: svc, credential } = service({ oid });
    const container = svc.getContainerClient("data");
    await container.getBlockBlobClient("in/new.json").upload('{"a":1}', 7, { blobHTTPHeaders: { blobContentType: "application/json" } });
    expect((await container.getBlockBlobClient("in/new.json").downloadToBuffer()).toString()).toBe('{"a":1}');
    const props = await container.getBlockBlobClient("in/new.json").getProperties();
    expect(props.contentLength).toBe(7);
    expect(props.contentType).toBe("application/json");
    const names: string[] = [];
    for await (const item of container.listBlobsFlat()) names.push(item.name);
    expect(names).toEqual(["in/new.json", "report.txt"]);
    expect(credential.scopes[0]).toEqual(["https://storage.azure.com/.default"]);
  });

  test("Storage Blob Data Reader reads but cannot write: 403 AuthorizationPermissionMismatch", async () => {
    const oid = principal(2);
    env.storage.rbac.grant(
      { principalId: oid, role: "Storage Blob Data Reader", scope: `${env.storage.resourceId}/blobServices/default/containers/data` },
      { propagationDelayMs: 0 },
    );
    expect((await blob({ oid }).downloadToBuffer()).toString()).toBe("quarterly numbers");
    const error = await restError(blob({ oid }, "x.txt").upload("x", 1));
    expect(error.statusCode).toBe(403);
    expect(error.code).toBe("AuthorizationPermissionMismatch");
    expect(details(error).message).toMatch(/^This request is not authorized to perform this operation using this permission\.\nRequestId:[0-9a-f-]{36}\nTime:/);
    expect(error.response?.headers.get("x-ms-error-code")).toBe("AuthorizationPermissionMismatch");
    // Container scope: the sibling container stays closed.
    expect((await restError(blob({ oid }, "old.txt", "archive").download())).statusCode).toBe(403);
  });

  test("no role: 403 on GET; HEAD carries the code only in x-ms-error-code", async () => {
    const oid = principal(3);
    const get = await restError(blob({ oid }).download());
    expect(get.statusCode).toBe(403);
    expect(get.code).toBe("AuthorizationPermissionMismatch");
    const head = await restError(blob({ oid }).getProperties());
    expect(head.statusCode).toBe(403);
    expect(details(head).errorCode).toBe("AuthorizationPermissionMismatch");
  });

  test("control-plane roles (Owner, Contributor, Storage Account Contributor) on the account give no blob access", async () => {
    const oid = principal(4);
    for (const role of ["Owner", "Contributor", "Storage Account Contributor"])
      env.storage.rbac.grant({ principalId: oid, role, scope: env.storage.resourceId }, { propagationDelayMs: 0 });
    const error = await restError(blob({ oid }).download());
    expect(error.statusCode).toBe(403);
    expect(error.code).toBe("AuthorizationPermissionMismatch");
  });

  test("wrong audience: 401 InvalidAuthenticationInfo, 'Audience validation failed', with the storage challenge", async () => {
    const { service: svc, credential } = service({ oid: principal(5), aud: "https://vault.azure.net" });
    const error = await restError(svc.getContainerClient("data").getBlockBlobClient("report.txt").download());
    expect(error.statusCode).toBe(401);
    expect(error.code).toBe("InvalidAuthenticationInfo");
    expect(details(error).authenticationErrorDetail).toBe("Audience validation failed. Audience did not match.");
    expect(error.response?.headers.get("www-authenticate")).toBe(
      `Bearer authorization_uri=https://login.microsoftonline.com/${TENANT}/oauth2/authorize resource_id=https://storage.azure.com`,
    );
    // The SDK answered the challenge once (tenant from authorization_uri) before giving up.
    expect(credential.calls.at(-1)?.tenantId).toBe(TENANT);
  });

  test("the account URL is an accepted audience too", async () => {
    const oid = principal(6);
    env.storage.rbac.grant({ principalId: oid, role: "Storage Blob Data Reader", scope: env.storage.resourceId }, { propagationDelayMs: 0 });
    expect((await blob({ oid, aud: "https://ordersdata.blob.core.windows.net/" }).downloadToBuffer()).toString()).toBe("quarterly numbers");
  });

  test("expired token: 401 InvalidAuthenticationInfo 'Lifetime validation failed. The token is expired.'", async () => {
    const error = await restError(blob({ oid: principal(7) }, "report.txt", "data", { issuedAt: () => nowMs - 2 * 3600_000 }).download());
    expect(error.statusCode).toBe(401);
    expect(error.code).toBe("InvalidAuthenticationInfo");
    expect(details(error).authenticationErrorDetail).toBe("Lifetime validation failed. The token is expired.");
  });

  test("wrong tenant: 401 InvalidAuthenticationInfo 'Issuer validation failed'", async () => {
    const error = await restError(blob({ oid: principal(8), tid: OTHER_TENANT }).download());
    expect(error.statusCode).toBe(401);
    expect(details(error).authenticationErrorDetail).toBe("Issuer validation failed. Issuer did not match.");
  });

  test("firewall: 403 AuthorizationFailure even with the right role", async () => {
    const oid = principal(9);
    env.storage.rbac.grant({ principalId: oid, role: "Storage Blob Data Reader", scope: env.storage.resourceId }, { propagationDelayMs: 0 });
    env.storage.setFirewall(true);
    try {
      const error = await restError(blob({ oid }).download());
      expect(error.statusCode).toBe(403);
      expect(error.code).toBe("AuthorizationFailure");
      expect(details(error).message).toMatch(/^This request is not authorized to perform this operation\.\n/);
    } finally {
      env.storage.setFirewall(false);
    }
  });

  test("propagation: Storage data roles take effect only after the delay", async () => {
    const oid = principal(10);
    env.storage.rbac.grant({ principalId: oid, role: "Storage Blob Data Reader", scope: env.storage.resourceId });
    expect((await restError(blob({ oid }).download())).statusCode).toBe(403);
    nowMs += 30 * 60_000;
    expect((await blob({ oid }).downloadToBuffer()).toString()).toBe("quarterly numbers");
  });

  test("by address: path-style https://127.0.0.1:<port>/<account> with the trusting client; raw XML error body", async () => {
    const oid = principal(11);
    env.storage.rbac.grant({ principalId: oid, role: "Storage Blob Data Reader", scope: env.storage.resourceId }, { propagationDelayMs: 0 });
    const svc = new BlobServiceClient(`${env.storage.url}/ordersdata`, env.issuer.credential({ oid }), {
      httpClient: createTrustingHttpClient(env.storage.ca),
    });
    expect((await svc.getContainerClient("data").getBlockBlobClient("report.txt").downloadToBuffer()).toString()).toBe("quarterly numbers");
    const missing = await restError(svc.getContainerClient("data").getBlockBlobClient("nope.txt").download());
    expect(missing.statusCode).toBe(404);
    expect(missing.code).toBe("BlobNotFound");
    expect(bodyOf(missing)).toMatch(
      /^\uFEFF?<\?xml version="1\.0" encoding="utf-8"\?><Error><Code>BlobNotFound<\/Code><Message>The specified blob does not exist\.\n/,
    );
  });
});
