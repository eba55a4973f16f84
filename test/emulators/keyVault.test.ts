import { describe, expect, test } from "vitest";
import { SecretClient } from "@azure/keyvault-secrets";
import { createTrustingHttpClient, startKeyVaultEmulator } from "../../src/testing.js";
import { CLIENT_ID, createTestIssuer, OTHER_TENANT, principal, restError, RESOURCE_GROUP, SUBSCRIPTION, TENANT, useEmulators } from "./helpers.js";

let nowMs = Date.now();
const env = useEmulators((options) => ({
  kv: startKeyVaultEmulator({ ...options, vaultName: "orders-kv", secrets: { "db-password": "s3cret" }, propagationDelayMs: 10 * 60_000, now: () => nowMs }),
}));

function client(claims: Record<string, unknown>, options: { issuedAt?: () => number } = {}) {
  const credential = env.issuer.credential(claims, options);
  return { credential, client: new SecretClient(env.kv.endpoint, credential, { httpClient: env.kv.httpClient }) };
}

type KeyVaultErrorDetails = { error: { code: string; message: string; innerError?: { code: string } } };

describe("Key Vault emulator with the real SecretClient", () => {
  test("serves a secret to a principal with Key Vault Secrets User, after the unauthenticated challenge round trip", async () => {
    const oid = principal(1);
    env.kv.rbac.grant({ principalId: oid, role: "Key Vault Secrets User", scope: env.kv.resourceId }, { propagationDelayMs: 0 });
    const { client: c, credential } = client({ oid });
    const secret = await c.getSecret("db-password");
    expect(secret.value).toBe("s3cret");
    expect(secret.properties.id).toMatch(/^https:\/\/orders-kv\.vault\.azure\.net\/secrets\/db-password\/[0-9a-f]{32}$/);
    // The challenge named the audience and the tenant, and the SDK asked for exactly those.
    expect(credential.scopes).toEqual([["https://vault.azure.net/.default"]]);
    expect(credential.calls[0]?.tenantId).toBe(TENANT);
    const mine = env.kv.requests.filter((r) => r.path.startsWith("/secrets/db-password")).slice(-2);
    expect(mine.map((r) => [r.status, r.errorCode, r.tokenFailure])).toEqual([
      [401, "Unauthorized", "missing"],
      [200, undefined, undefined],
    ]);
  });

  test("the challenge answer: 401 AKV10000 with the Bearer authorization/resource challenge and service headers", async () => {
    const response = await fetchNoToken(`${env.kv.url}/secrets/db-password?api-version=7.6`, env.kv.ca);
    expect(response.status).toBe(401);
    expect(response.headers["www-authenticate"]).toBe(`Bearer authorization="https://login.windows.net/${TENANT}", resource="https://vault.azure.net"`);
    expect(JSON.parse(response.body)).toEqual({ error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." } });
    expect(response.headers["x-ms-keyvault-region"]).toBe("westeurope");
    expect(response.headers["x-ms-keyvault-network-info"]).toMatch(/^conn_type=Ipv4;addr=127\.0\.0\.1;/);
    expect(response.headers["x-ms-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers["x-ms-client-request-id"]).toBe("client-req-1");
  });

  test("a principal without a role gets 403 ForbiddenByRbac with the real multi-line message", async () => {
    const oid = principal(2);
    const error = await restError(client({ oid }).client.getSecret("db-password"));
    expect(error.statusCode).toBe(403);
    expect(error.code).toBe("Forbidden");
    const details = error.details as KeyVaultErrorDetails;
    expect(details.error.innerError?.code).toBe("ForbiddenByRbac");
    const lines = details.error.message.split("\r\n");
    expect(lines[0]).toBe("Caller is not authorized to perform action on resource.");
    expect(lines).toContain(
      `Caller: appid=${CLIENT_ID};oid=${oid};iss=https://sts.windows.net/${TENANT}/;xms_mirid=/subscriptions/${SUBSCRIPTION}/resourcegroups/${RESOURCE_GROUP}/providers/Microsoft.App/containerApps/my-app`,
    );
    expect(lines).toContain("Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'");
    expect(lines).toContain(
      `Resource: '/subscriptions/${SUBSCRIPTION}/resourcegroups/${RESOURCE_GROUP.toLowerCase()}/providers/microsoft.keyvault/vaults/orders-kv/secrets/db-password'`,
    );
    expect(lines).toContain("Assignment: (not found)");
  });

  test("control-plane roles (Owner, Contributor, Key Vault Contributor) at the vault do not open its data", async () => {
    const oid = principal(3);
    for (const role of ["Owner", "Contributor", "Key Vault Contributor"])
      env.kv.rbac.grant({ principalId: oid, role, scope: env.kv.resourceId }, { propagationDelayMs: 0 });
    const error = await restError(client({ oid }).client.getSecret("db-password"));
    expect(error.statusCode).toBe(403);
    expect((error.details as KeyVaultErrorDetails).error.innerError?.code).toBe("ForbiddenByRbac");
  });

  test("scopes: a role on the resource group applies, one on a sibling vault or another secret does not; Secrets User cannot set", async () => {
    const parent = principal(4);
    env.kv.rbac.grant(
      { principalId: parent, role: "Key Vault Secrets Officer", scope: `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}` },
      { propagationDelayMs: 0 },
    );
    const officer = client({ oid: parent }).client;
    await officer.setSecret("api-key", "k1");
    expect((await officer.getSecret("api-key")).value).toBe("k1");

    const sibling = principal(5);
    env.kv.rbac.grant(
      { principalId: sibling, role: "Key Vault Secrets User", scope: env.kv.resourceId.replace("orders-kv", "orders-kv2") },
      { propagationDelayMs: 0 },
    );
    env.kv.rbac.grant({ principalId: sibling, role: "Key Vault Secrets User", scope: `${env.kv.resourceId}/secrets/api-key` }, { propagationDelayMs: 0 });
    const c = client({ oid: sibling }).client;
    expect((await c.getSecret("api-key")).value).toBe("k1");
    expect((await restError(c.getSecret("db-password"))).statusCode).toBe(403);
    const setError = await restError(c.setSecret("api-key", "k2"));
    expect(setError.statusCode).toBe(403);
    expect((setError.details as KeyVaultErrorDetails).error.message).toContain("Action: 'Microsoft.KeyVault/vaults/secrets/setSecret/action'");
  });

  test("wrong audience: 401 AKV10022 naming the audience found", async () => {
    const error = await restError(client({ oid: principal(6), aud: "https://management.azure.com/" }).client.getSecret("db-password"));
    expect(error.statusCode).toBe(401);
    expect(error.code).toBe("Unauthorized");
    expect(error.message).toBe("AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://management.azure.com/.");
  });

  test("wrong tenant: 401 AKV10032 invalid issuer", async () => {
    const error = await restError(client({ oid: principal(7), tid: OTHER_TENANT }).client.getSecret("db-password"));
    expect(error.statusCode).toBe(401);
    expect(error.message).toMatch(
      new RegExp(`^AKV10032: Invalid issuer\\. Expected one of https://sts\\.windows\\.net/${TENANT}/.*found https://sts\\.windows\\.net/${OTHER_TENANT}/\\.$`),
    );
  });

  test("expired token (beyond the 5 minute skew): 401; inside the skew: accepted", async () => {
    const oid = principal(8);
    env.kv.rbac.grant({ principalId: oid, role: "Key Vault Secrets User", scope: env.kv.resourceId }, { propagationDelayMs: 0 });
    const expired = await restError(client({ oid }, { issuedAt: () => nowMs - 2 * 3600_000 }).client.getSecret("db-password"));
    expect(expired.statusCode).toBe(401);
    expect(expired.code).toBe("Unauthorized");
    expect(env.kv.requests.at(-1)?.tokenFailure).toBe("expired");
    const withinSkew = client({ oid }, { issuedAt: () => nowMs - 3600_000 - 4 * 60_000 }).client;
    expect((await withinSkew.getSecret("db-password")).value).toBe("s3cret");
  });

  test("a token signed by another key: 401 AKV10046", async () => {
    const stranger = await createTestIssuer("other-key");
    const c = new SecretClient(env.kv.endpoint, stranger.credential({ oid: principal(9) }), { httpClient: env.kv.httpClient });
    const error = await restError(c.getSecret("db-password"));
    expect(error.statusCode).toBe(401);
    expect(error.message).toBe("AKV10046: Unable to resolve the key used for signature validation.");
  });

  test("firewall: 403 ForbiddenByFirewall after authentication, naming the caller", async () => {
    const oid = principal(10);
    env.kv.rbac.grant({ principalId: oid, role: "Key Vault Secrets User", scope: env.kv.resourceId }, { propagationDelayMs: 0 });
    env.kv.setFirewall(true);
    try {
      const error = await restError(client({ oid }).client.getSecret("db-password"));
      expect(error.statusCode).toBe(403);
      const details = error.details as KeyVaultErrorDetails;
      expect(details.error.innerError?.code).toBe("ForbiddenByFirewall");
      expect(details.error.message).toMatch(
        /^Client address is not authorized and caller is not a trusted service\.\r\nClient address: 127\.0\.0\.1\r\nCaller: appid=/,
      );
    } finally {
      env.kv.setFirewall(false);
    }
  });

  test("propagation: a grant takes effect only after the delay", async () => {
    const oid = principal(11);
    env.kv.rbac.grant({ principalId: oid, role: "Key Vault Secrets User", scope: env.kv.resourceId });
    expect((await restError(client({ oid }).client.getSecret("db-password"))).statusCode).toBe(403);
    nowMs += 9 * 60_000;
    expect((await restError(client({ oid }).client.getSecret("db-password"))).statusCode).toBe(403);
    nowMs += 60_000;
    expect((await client({ oid }).client.getSecret("db-password")).value).toBe("s3cret");
    expect(env.kv.rbac.revoke({ principalId: oid })).toBe(1);
    expect((await restError(client({ oid }).client.getSecret("db-password"))).statusCode).toBe(403);
  });

  test("by address: https://127.0.0.1:<port> with disableChallengeResourceVerification and the trusting client", async () => {
    const oid = principal(12);
    env.kv.rbac.grant({ principalId: oid, role: "Key Vault Secrets User", scope: env.kv.resourceId }, { propagationDelayMs: 0 });
    const c = new SecretClient(env.kv.url, env.issuer.credential({ oid }), {
      httpClient: createTrustingHttpClient(env.kv.ca),
      disableChallengeResourceVerification: true,
    });
    expect((await c.getSecret("db-password")).value).toBe("s3cret");
  });

  test("no request record holds a token", () => {
    expect(JSON.stringify(env.kv.requests)).not.toMatch(/eyJ[\w-]+\.eyJ/);
  });
});

/** A raw request without a token, trusting the emulator CA. */
async function fetchNoToken(url: string, ca: string) {
  const { request } = await import("node:https");
  return new Promise<{ status: number; headers: Record<string, string>; body: string }>((resolve, reject) => {
    request(url, { ca, headers: { "x-ms-client-request-id": "client-req-1" } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers as Record<string, string>, body }));
    })
      .on("error", reject)
      .end();
  });
}
