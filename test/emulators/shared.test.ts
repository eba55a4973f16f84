import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { get } from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ResourceManagementClient } from "@azure/arm-resources";
import { CosmosClient } from "@azure/cosmos";
import { SecretClient } from "@azure/keyvault-secrets";
import { BlobServiceClient } from "@azure/storage-blob";
import { SignJWT } from "jose";
import { BUILT_IN_ROLES, createTestCertificateAuthority, startServiceEmulators, type ServiceEmulators } from "../../src/testing.js";
import { createRbacTable } from "../../src/testing/services/rbac.js";
import { createTokenChecker } from "../../src/testing/services/tokenCheck.js";
import { createTestIssuer, principal, RESOURCE_GROUP, send, SUBSCRIPTION, TENANT, type TestIssuer } from "./helpers.js";

let issuer: TestIssuer;
let all: ServiceEmulators;

beforeAll(async () => {
  issuer = await createTestIssuer();
  all = await startServiceEmulators({
    issuerKeys: { keys: [issuer.publicJwk] },
    tenantId: TENANT,
    subscriptionId: SUBSCRIPTION,
    resourceGroup: RESOURCE_GROUP,
    keyVault: { secrets: { greeting: "hello" } },
    rbac: [
      { principalId: principal(1), role: "Key Vault Secrets User", scope: `/subscriptions/${SUBSCRIPTION}` },
      { principalId: principal(1), role: "Storage Blob Data Contributor", scope: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}` },
      { principalId: principal(1), role: "Reader", scope: `/subscriptions/${SUBSCRIPTION}` },
      { principalId: principal(1), role: "Azure Service Bus Data Sender", scope: `/subscriptions/${SUBSCRIPTION}` },
    ],
    cosmos: { rbac: [{ principalId: principal(1), role: "Cosmos DB Built-in Data Contributor", scope: "/" }] },
  });
});
afterAll(() => all.close());

describe("startServiceEmulators: six services, one CA, one httpClient with the real host names", () => {
  test("every real SDK client reaches its emulator through the shared httpClient", async () => {
    const credential = issuer.credential({ oid: principal(1), roles: ["User.Read.All"] });
    const httpClient = all.httpClient;
    expect((await new SecretClient("https://myvault.vault.azure.net", credential, { httpClient }).getSecret("greeting")).value).toBe("hello");
    const blob = new BlobServiceClient("https://mystorageacct.blob.core.windows.net", credential, { httpClient })
      .getContainerClient("data")
      .getBlockBlobClient("x.txt");
    await blob.upload("x", 1);
    expect((await blob.downloadToBuffer()).toString()).toBe("x");
    const cosmos = new CosmosClient({ endpoint: "https://mycosmos.documents.azure.com", aadCredentials: credential, httpClient });
    expect((await cosmos.database("appdb").container("items").items.create({ id: "1" })).statusCode).toBe(201);
    const arm = new ResourceManagementClient(credential, SUBSCRIPTION, { httpClient });
    expect((await arm.resourceGroups.get(RESOURCE_GROUP)).name).toBe(RESOURCE_GROUP);
    const graphToken = (await credential.getToken("https://graph.microsoft.com/.default"))!.token;
    expect((await send(httpClient, "https://graph.microsoft.com/v1.0/users", { token: graphToken })).status).toBe(200);
    const sbToken = (await credential.getToken("https://servicebus.azure.net//.default"))!.token;
    expect((await send(httpClient, "https://mynamespace.servicebus.windows.net/orders/messages", { method: "POST", token: sbToken, body: "m" })).status).toBe(
      201,
    );
    // The recorded hosts are the real ones, and every service saw its request.
    expect(all.all.map((e) => e.requests.some((r) => r.host === e.host && r.status < 300))).toEqual([true, true, true, true, true, true]);
    expect(new Set(all.all.map((e) => e.ca))).toEqual(new Set([all.ca]));
  });

  test("each server certificate is issued by the shared CA for the real host, localhost and 127.0.0.1", async () => {
    const ca = new X509Certificate(all.ca);
    expect(ca.ca).toBe(true);
    for (const emulator of all.all) {
      const cert = await peerCertificate(emulator.port, emulator.host, all.ca);
      expect(cert.subjectAltName).toBe(`DNS:${emulator.host}, DNS:localhost, IP Address:127.0.0.1`);
      expect(cert.checkIssued(ca)).toBe(true);
      expect(cert.verify(ca.publicKey)).toBe(true);
    }
  });

  test("TLS is real: without the CA, or for a name the certificate lacks, the handshake fails", async () => {
    const kv = all.keyVault;
    await expect(peerCertificate(kv.port, kv.host)).rejects.toThrow(/unable to verify the first certificate|self-signed|UNABLE_TO_VERIFY/i);
    await expect(peerCertificate(kv.port, "other.vault.azure.net", all.ca)).rejects.toThrow(/Hostname\/IP does not match certificate's altnames/);
    const stranger = createTestCertificateAuthority();
    await expect(peerCertificate(kv.port, kv.host, stranger.cert)).rejects.toThrow();
  });

  test("a child process trusts the emulators through NODE_EXTRA_CA_CERTS", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "emulator-ca-"));
    const caFile = path.join(dir, "ca.pem");
    writeFileSync(caFile, all.ca);
    const code = `const r = await fetch(${JSON.stringify(`${all.keyVault.url}/secrets/greeting?api-version=7.6`)}); console.log(r.status, r.headers.get("www-authenticate"));`;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", code], {
      env: { PATH: process.env.PATH, NODE_EXTRA_CA_CERTS: caFile },
    });
    expect(stdout.trim()).toBe(`401 Bearer authorization="https://login.windows.net/${TENANT}", resource="https://vault.azure.net"`);
  });
});

describe("role assignment table", () => {
  const roles = { ...BUILT_IN_ROLES, Custom: { dataActions: ["Microsoft.Storage/*/blobs/read"] } };
  const sub = `/subscriptions/${SUBSCRIPTION}`;
  const vault = `${sub}/resourceGroups/rg-a/providers/Microsoft.KeyVault/vaults/kv1`;
  const read = "Microsoft.KeyVault/vaults/secrets/getSecret/action";

  test("parent scopes apply, siblings and prefixes-of-names do not; case-insensitive", () => {
    let now = 0;
    const table = createRbacTable({
      now: () => now,
      roles,
      assignments: [{ principalId: "p", role: "key vault secrets user", scope: `${sub}/RESOURCEGROUPS/rg-a/` }],
    });
    expect(table.allows("P", "dataAction", read, `${vault}/secrets/s`)).toBe(true);
    expect(table.allows("p", "dataAction", read, vault.replace("rg-a", "rg-b"))).toBe(false);
    expect(table.allows("p", "dataAction", read, vault.replace("rg-a", "rg-ab"))).toBe(false);
    expect(table.allows("p", "action", read, vault)).toBe(false);
    expect(table.allows("q", "dataAction", read, vault)).toBe(false);
  });

  test("wildcards span segments; control-plane '*' grants no data action", () => {
    const table = createRbacTable({
      now: () => 0,
      roles,
      assignments: [
        { principalId: "p", role: "Custom", scope: sub },
        { principalId: "o", role: "Owner", scope: sub },
      ],
    });
    expect(table.allows("p", "dataAction", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", `${sub}/x`)).toBe(true);
    expect(table.allows("p", "dataAction", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write", `${sub}/x`)).toBe(false);
    expect(table.allows("o", "action", "Microsoft.Resources/subscriptions/resourceGroups/read", `${sub}/resourceGroups/x`)).toBe(true);
    expect(table.allows("o", "dataAction", read, vault)).toBe(false);
  });

  test("grant with a propagation delay, list with effectiveAt, revoke by partial match", () => {
    let now = 1_000;
    const table = createRbacTable({ now: () => now, roles, propagationDelayMs: 600_000 });
    table.grant({ principalId: "p", role: "Key Vault Secrets User", scope: vault });
    table.grant({ principalId: "p", role: "Reader", scope: sub }, { propagationDelayMs: 0 });
    expect(table.list().map((a) => a.effectiveAt)).toEqual([601_000, 1_000]);
    expect(table.allows("p", "dataAction", read, vault)).toBe(false);
    now = 601_000;
    expect(table.allows("p", "dataAction", read, vault)).toBe(true);
    expect(table.revoke({ role: "reader" })).toBe(1);
    expect(table.revoke({ principalId: "p", scope: `${vault}/` })).toBe(1);
    expect(table.list()).toEqual([]);
  });
});

describe("token checks", () => {
  test("order and skew: signature, audience (trailing slash tolerant), tenant, then exp/nbf with 5 minutes of skew", async () => {
    const other = await createTestIssuer("other");
    let now = Date.now();
    const check = createTokenChecker({ issuerKeys: [issuer.publicJwk], tenantId: TENANT, audiences: ["https://vault.azure.net/"], now: () => now });
    const t = Math.floor(now / 1000);
    expect(await check(undefined)).toEqual({ ok: false, reason: "missing" });
    expect(await check("not-a-jwt")).toEqual({ ok: false, reason: "malformed" });
    expect(await check(await other.mint("https://vault.azure.net"))).toMatchObject({ ok: false, reason: "signature" });
    expect(await check("eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln")).toMatchObject({ ok: false, reason: "signature" });
    expect(await check(await issuer.mint("https://vault.azure.net"))).toMatchObject({ ok: true, claims: { aud: "https://vault.azure.net" } });
    expect(await check(await issuer.mint("https://VAULT.azure.net/"))).toMatchObject({ ok: true });
    expect(await check(await issuer.mint("https://vault.azure.cn"))).toMatchObject({ ok: false, reason: "audience" });
    expect(await check(await issuer.mint("https://vault.azure.net", { tid: "99999999-9999-9999-9999-999999999999" }))).toMatchObject({
      ok: false,
      reason: "tenant",
    });
    expect(await check(await issuer.mint("https://vault.azure.net", {}, { issuedAt: t - 3600 - 299 }))).toMatchObject({ ok: true });
    expect(await check(await issuer.mint("https://vault.azure.net", {}, { issuedAt: t - 3600 - 301 }))).toMatchObject({ ok: false, reason: "expired" });
    expect(await check(await issuer.mint("https://vault.azure.net", {}, { issuedAt: t + 299 }))).toMatchObject({ ok: true });
    expect(await check(await issuer.mint("https://vault.azure.net", {}, { issuedAt: t + 301 }))).toMatchObject({ ok: false, reason: "not-yet-valid" });
    now += 2 * 3600_000;
    expect(await check(await issuer.mint("https://vault.azure.net", {}, { issuedAt: t }))).toMatchObject({ ok: false, reason: "expired" });
  });

  test("a token without kid is checked against a single JWK; tenant from iss when tid is absent", async () => {
    const { generateKeyPair, exportJWK } = await import("jose");
    const { privateKey, publicKey } = await generateKeyPair("RS256");
    const check = createTokenChecker({ issuerKeys: await exportJWK(publicKey), tenantId: TENANT, audiences: ["https://storage.azure.com"], now: Date.now });
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ aud: "https://storage.azure.com", iss: `https://login.microsoftonline.com/${TENANT}/v2.0`, exp: now + 600, oid: "x" })
      .setProtectedHeader({ alg: "RS256" })
      .sign(privateKey);
    expect(await check(token)).toMatchObject({ ok: true, claims: { oid: "x" } });
  });
});

function peerCertificate(port: number, servername: string, ca?: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const req = get({ host: "127.0.0.1", port, servername, headers: { host: servername }, path: "/", ...(ca ? { ca } : {}), agent: false }, (res) => {
      const socket = res.socket as import("node:tls").TLSSocket;
      const raw = socket.getPeerCertificate(false).raw;
      res.resume();
      resolve(new X509Certificate(raw));
    });
    req.on("error", reject);
  });
}
