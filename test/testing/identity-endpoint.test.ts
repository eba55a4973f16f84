import { describe, expect, it } from "vitest";
import type { TestContext } from "vitest";
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { createTokenSigner, DEFAULT_TENANT_ID, startIdentityEndpoint, unusedPort } from "../../src/testing.js";
import type { IdentityEndpointEmulator, IdentityEndpointOptions } from "../../src/testing.js";
import { runScenario, SCENARIO_PRELUDE } from "../helpers/childScenario.js";

const VAULT = "https://vault.azure.net";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A `start` bound to one test: every emulator it starts is closed when that test ends (safe with concurrent tests). */
function starter(ctx: TestContext) {
  return async (options: IdentityEndpointOptions = {}): Promise<IdentityEndpointEmulator> => {
    const emulator = await startIdentityEndpoint(options);
    ctx.onTestFinished(() => emulator.close());
    return emulator;
  };
}

interface CallResult {
  ok: boolean;
  token?: string;
  expiresOnTimestamp?: number;
  refreshAfterTimestamp?: number;
  err?: { name: string; message: string; cause?: { name?: string; status?: number; errorCode?: string } };
}

/**
 * Runs the REAL ManagedIdentityCredential in a fresh process against `emulator.env`, calling getToken `calls` times.
 * `credentialArgs` is the constructor argument list as JS source.
 */
async function credentialInChild(
  emulator: { env: Readonly<Record<string, string>> } | { env: Record<string, string> },
  credentialArgs = "{ retryOptions: { maxRetries: 0 } }",
  { calls = 1, scope = `${VAULT}/.default`, timeoutMs = 15_000 } = {},
) {
  const result = await runScenario({
    env: { ...emulator.env },
    timeoutMs,
    code: `${SCENARIO_PRELUDE}
      import { ManagedIdentityCredential } from "@azure/identity";
      const credential = new ManagedIdentityCredential(${credentialArgs});
      const results = [];
      for (let i = 0; i < ${calls}; i++) {
        try {
          const t = await credential.getToken(${JSON.stringify(scope)});
          results.push({ ok: true, token: t.token, expiresOnTimestamp: t.expiresOnTimestamp, refreshAfterTimestamp: t.refreshAfterTimestamp });
        } catch (err) {
          results.push({ ok: false, err: describeError(err) });
        }
      }
      emit(results);`,
  });
  if (result.timedOut) return { ...result, results: [] as CallResult[] };
  expect(result.exitCode, result.stderr).toBe(0);
  return { ...result, results: result.json as CallResult[] };
}

describe("createTokenSigner", () => {
  it("signs RS256 JWTs with a stable kid and verifies them", async () => {
    const signer = await createTokenSigner();
    expect(signer.kid).toMatch(GUID);
    expect(signer.tenantId).toBe(DEFAULT_TENANT_ID);
    expect(signer.issuer).toBe(`https://sts.windows.net/${DEFAULT_TENANT_ID}/`);
    expect(signer.publicJwk).toMatchObject({ kty: "RSA", kid: signer.kid, alg: "RS256", use: "sig" });
    expect(signer.publicJwk).not.toHaveProperty("d");
    expect(signer.jwks()).toEqual({ keys: [signer.publicJwk] });

    const now = Math.floor(Date.now() / 1000);
    const token = await signer.sign({ aud: VAULT, sub: "x", iat: now, exp: now + 60 });
    expect(decodeProtectedHeader(token)).toEqual({ alg: "RS256", typ: "JWT", kid: signer.kid });
    const payload = await signer.verify(token, { audience: VAULT, issuer: signer.issuer });
    expect(payload).toMatchObject({ aud: VAULT, iss: signer.issuer, sub: "x" });
    // A service emulator can verify with the published key set alone.
    await expect(jwtVerify(token, createLocalJWKSet(signer.jwks()))).resolves.toBeTruthy();

    await expect(signer.verify(token, { audience: "https://storage.azure.com" })).rejects.toMatchObject({ code: "ERR_JWT_CLAIM_VALIDATION_FAILED" });
    const other = await createTokenSigner({ kid: signer.kid });
    await expect(other.verify(token)).rejects.toMatchObject({ code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });
    const expired = await signer.sign({ aud: VAULT, exp: now - 10 });
    await expect(signer.verify(expired)).rejects.toMatchObject({ code: "ERR_JWT_EXPIRED" });
  });
});

describe("unusedPort", () => {
  it("gives a port where connections are refused", async () => {
    const port = await unusedPort();
    expect(port).toBeGreaterThan(0);
    const err = await fetch(`http://127.0.0.1:${port}/msi/token`).catch((e: unknown) => e);
    expect((err as { cause?: { code?: string } }).cause?.code).toBe("ECONNREFUSED");
  });
});

describe("startIdentityEndpoint: emulator surface", () => {
  it("describes a Container Apps replica with system- and user-assigned identities", async (ctx) => {
    const start = starter(ctx);
    const mi = await start({ containerApp: { name: "orders-api" }, userAssigned: [{ name: "uami-orders", clientId: "00000000-0000-0000-0000-00000000000a" }] });
    expect(mi.shape).toBe("container-apps");
    expect(mi.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(mi.endpoint).toBe(`${mi.url}/msi/token`);
    expect(mi.env).toMatchObject({
      IDENTITY_ENDPOINT: mi.endpoint,
      IDENTITY_HEADER: mi.identityHeader,
      CONTAINER_APP_NAME: "orders-api",
    });
    expect(mi.env.CONTAINER_APP_REVISION).toMatch(/^orders-api--[a-z0-9]{7}$/);
    expect(mi.env.CONTAINER_APP_REPLICA_NAME.startsWith(mi.env.CONTAINER_APP_REVISION)).toBe(true);
    expect(mi.env.CONTAINER_APP_HOSTNAME.startsWith(`${mi.env.CONTAINER_APP_REVISION}.`)).toBe(true);
    expect(mi.tenantId).toBe(DEFAULT_TENANT_ID);
    const sys = mi.identities.systemAssigned!;
    expect(sys).toMatchObject({ kind: "system-assigned", name: "orders-api" });
    expect(sys.clientId).toMatch(GUID);
    expect(sys.objectId).toMatch(GUID);
    expect(sys.resourceId).toMatch(/^\/subscriptions\/[0-9a-f-]{36}\/resourcegroups\/rg-diag\/providers\/Microsoft\.App\/containerApps\/orders-api$/);
    expect(mi.hostResourceId).toBe(sys.resourceId);
    const [ua] = mi.identities.userAssigned;
    expect(ua).toMatchObject({ kind: "user-assigned", name: "uami-orders", clientId: "00000000-0000-0000-0000-00000000000a" });
    expect(ua.resourceId).toMatch(/\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/uami-orders$/);

    const imds = await start({ shape: "imds", systemAssigned: false });
    expect(imds.endpoint).toBe(`${imds.url}/metadata/identity/oauth2/token`);
    expect(imds.env).toEqual({ AZURE_POD_IDENTITY_AUTHORITY_HOST: imds.url });
    expect(imds.identities.systemAssigned).toBeUndefined();
  });

  it("mints v1 and v2 tokens without HTTP", async (ctx) => {
    const start = starter(ctx);
    const mi = await start({ userAssigned: [{ name: "uami" }] });
    const sys = mi.identities.systemAssigned!;
    const token = await mi.mintToken({ resource: `${VAULT}/.default` });
    const claims = await mi.signer.verify(token, { audience: VAULT, issuer: `https://sts.windows.net/${mi.tenantId}/` });
    expect(claims).toMatchObject({
      aud: VAULT,
      tid: mi.tenantId,
      oid: sys.objectId,
      sub: sys.objectId,
      appid: sys.clientId,
      appidacr: "2",
      idp: `https://sts.windows.net/${mi.tenantId}/`,
      idtyp: "app",
      ver: "1.0",
      xms_mirid: sys.resourceId,
    });
    expect(claims).not.toHaveProperty("xms_az_rid");
    expect(typeof claims.xms_tcdt).toBe("number");
    expect(claims.exp! - claims.iat!).toBe(86_399);
    expect(claims.nbf).toBe(claims.iat);

    const ua = mi.identities.userAssigned[0];
    const uaClaims = decodeJwt(await mi.mintToken({ identity: ua, lifetimeSeconds: 60, roles: ["x"] }));
    expect(uaClaims).toMatchObject({
      aud: "https://management.azure.com/",
      appid: ua.clientId,
      xms_mirid: ua.resourceId,
      xms_az_rid: mi.hostResourceId,
      roles: ["x"],
    });
    expect(uaClaims.exp! - uaClaims.iat!).toBe(60);

    const v2 = await start({ tokenVersion: "2.0", tenantId: "11111111-1111-1111-1111-111111111111" });
    const v2Claims = decodeJwt(await v2.mintToken({ resource: VAULT }));
    expect(v2Claims).toMatchObject({
      aud: "cfa8b339-82a2-471a-a3c9-0fc0be7a4093",
      iss: "https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0",
      azp: v2.identities.systemAssigned!.clientId,
      ver: "2.0",
    });
    expect(v2Claims).not.toHaveProperty("appid");
    expect(decodeJwt(await v2.mintToken({ resource: "https://contoso.example" })).aud).toBe("https://contoso.example");
  });
});

describe("startIdentityEndpoint: wire protocol (direct HTTP)", () => {
  it("Container Apps shape: header check, token body, identity selection, error bodies; never records the secret", async (ctx) => {
    const start = starter(ctx);
    const mi = await start({ userAssigned: [{ name: "uami-a" }, { name: "uami-b" }] });
    const [a] = mi.identities.userAssigned;

    const missing = await fetch(mi.tokenUrl(VAULT));
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ statusCode: 401 });
    const wrong = await fetch(mi.tokenUrl(VAULT), { headers: { "X-IDENTITY-HEADER": "nope" } });
    expect(wrong.status).toBe(401);

    const ok = await fetch(mi.tokenUrl(VAULT, { clientId: a.clientId.toUpperCase() }), { headers: mi.requestHeaders() });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as Record<string, string>;
    expect(Object.keys(body).sort()).toEqual(["access_token", "client_id", "expires_on", "resource", "token_type"]);
    expect(body).toMatchObject({ resource: VAULT, token_type: "Bearer", client_id: a.clientId });
    expect(Number(body.expires_on) - Date.now() / 1000).toBeGreaterThan(86_000);
    expect(decodeJwt(body.access_token)).toMatchObject({ aud: VAULT, oid: a.objectId });

    const byRes = await fetch(mi.tokenUrl(VAULT, { resourceId: a.resourceId }), { headers: mi.requestHeaders() });
    expect(((await byRes.json()) as { client_id: string }).client_id).toBe(a.clientId);

    const unknown = await fetch(mi.tokenUrl(VAULT, { clientId: "99999999-9999-9999-9999-999999999999" }), { headers: mi.requestHeaders() });
    expect(unknown.status).toBe(500);
    const unknownBody = (await unknown.json()) as Record<string, unknown>;
    expect(unknownBody).toMatchObject({ statusCode: 500, message: "An unexpected error occured while fetching the AAD Token." });
    expect(unknownBody.correlationId).toMatch(GUID);

    mi.setFault({ kind: "legacy-no-msi" });
    const legacy = await fetch(mi.tokenUrl(VAULT, { clientId: a.clientId }), { headers: mi.requestHeaders() });
    expect(legacy.status).toBe(400);
    expect(await legacy.json()).toMatchObject({ StatusCode: 400, Message: "No MSI found for specified ClientId/ResourceId." });
    mi.setFault(undefined);

    const records = mi.requests;
    expect(records).toHaveLength(6);
    expect(records[0]).toMatchObject({ identityHeaderPresent: false, identityHeaderValid: false, status: 401, outcome: "error" });
    expect(records[1]).toMatchObject({ identityHeaderPresent: true, identityHeaderValid: false, status: 401 });
    expect(records[2]).toMatchObject({
      path: "/msi/token",
      apiVersion: "2019-08-01",
      resource: VAULT,
      identityHeaderValid: true,
      status: 200,
      outcome: "token",
    });
    expect(records[2].identity?.clientId).toBe(a.clientId);
    expect(records[3].resourceId).toBe(a.resourceId);
    expect(records[5].fault).toBe("legacy-no-msi");
    expect(JSON.stringify(records)).not.toContain(mi.identityHeader);
  });

  it("Container Apps shape: no identity named and no system-assigned identity", async (ctx) => {
    const start = starter(ctx);
    const none = await start({ systemAssigned: false });
    const r1 = await fetch(none.tokenUrl(VAULT), { headers: none.requestHeaders() });
    expect(r1.status).toBe(400);
    expect(await r1.json()).toMatchObject({ statusCode: 400, message: "No managed identity found for the app" });

    const one = await start({ systemAssigned: false, userAssigned: [{ name: "only" }] });
    const r2 = await fetch(one.tokenUrl(VAULT), { headers: one.requestHeaders() });
    expect(r2.status).toBe(400);
    expect(((await r2.json()) as { message: string }).message).toMatch(/^Multiple user assigned identities exist/);
  });

  it("IMDS shape: Metadata header, body fields, trailing slash, single user-assigned default, several", async (ctx) => {
    const start = starter(ctx);
    const mi = await start({ shape: "imds", systemAssigned: false, userAssigned: [{ name: "solo" }] });
    const [solo] = mi.identities.userAssigned;
    const noHeader = await fetch(mi.tokenUrl(VAULT));
    expect(noHeader.status).toBe(400);
    expect(await noHeader.json()).toEqual({ error: "invalid_request", error_description: "Required metadata header not specified" });

    const res = await fetch(`${mi.endpoint}/?api-version=2018-02-01&resource=${encodeURIComponent(VAULT)}`, { headers: { Metadata: "true" } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, string>;
    expect(Object.keys(body).sort()).toEqual([
      "access_token",
      "client_id",
      "expires_in",
      "expires_on",
      "ext_expires_in",
      "not_before",
      "resource",
      "token_type",
    ]);
    expect(body).toMatchObject({ client_id: solo.clientId, expires_in: "86399", resource: VAULT, token_type: "Bearer" });

    const byRes = await fetch(mi.tokenUrl(VAULT, { resourceId: solo.resourceId }), { headers: mi.requestHeaders() });
    expect(mi.requests.at(-1)?.query).toHaveProperty("msi_res_id", solo.resourceId);
    expect(byRes.status).toBe(200);

    const several = await start({ shape: "imds", systemAssigned: false, userAssigned: [{ name: "a" }, { name: "b" }] });
    const r = await fetch(several.tokenUrl(VAULT), { headers: several.requestHeaders() });
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({
      error: "invalid_request",
      error_description: "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request",
    });
    const unknown = await fetch(several.tokenUrl(VAULT, { objectId: "99999999-9999-9999-9999-999999999999" }), { headers: several.requestHeaders() });
    expect(await unknown.json()).toEqual({ error: "invalid_request", error_description: "Identity not found" });
  });

  it("status faults with `times` recover; setFault/fault reflect the state", async (ctx) => {
    const start = starter(ctx);
    const mi = await start({ fault: { kind: "status", status: 503, times: 2, headers: { "Retry-After": "1" } } });
    expect(mi.fault?.kind).toBe("status");
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await fetch(mi.tokenUrl(VAULT), { headers: mi.requestHeaders() });
      statuses.push(r.status);
      if (i === 0) {
        expect(r.headers.get("retry-after")).toBe("1");
        expect(await r.json()).toMatchObject({ statusCode: 503, message: "Service Unavailable" });
      } else await r.arrayBuffer();
    }
    expect(statuses).toEqual([503, 503, 200]);
    expect(mi.fault).toBeUndefined();

    mi.setFault({ kind: "status", status: 410, body: "" });
    const gone = await fetch(mi.tokenUrl(VAULT), { headers: mi.requestHeaders() });
    expect(gone.status).toBe(410);
    expect(await gone.text()).toBe("");
    mi.setFault(undefined);
    expect(mi.fault).toBeUndefined();
  });

  it("hang never answers (the real credential would wait for ever) and close() still returns at once", async (ctx) => {
    const start = starter(ctx);
    const mi = await start({ fault: { kind: "hang" } });
    const started = Date.now();
    const err = await fetch(mi.tokenUrl(VAULT), { headers: mi.requestHeaders(), signal: AbortSignal.timeout(300) }).catch((e: unknown) => e);
    expect((err as Error).name).toBe("TimeoutError");
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(mi.requests[0]).toMatchObject({ outcome: "hang", fault: "hang" });
    expect(mi.requests[0].status).toBeUndefined();
    // Leave one request hanging on an open socket: close() must destroy it.
    void fetch(mi.tokenUrl(VAULT), { headers: mi.requestHeaders() }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    const closing = Date.now();
    await mi.close();
    await mi.close(); // idempotent
    expect(Date.now() - closing).toBeLessThan(1000);
  });

  it("reset destroys the connection; delay answers late", async (ctx) => {
    const start = starter(ctx);
    const mi = await start({ fault: { kind: "reset", times: 1 } });
    const err = await fetch(mi.tokenUrl(VAULT), { headers: mi.requestHeaders() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as { cause?: { code?: string } }).cause?.code).toMatch(/ECONNRESET|UND_ERR_SOCKET/);
    expect(mi.requests[0].outcome).toBe("reset");
    expect((await fetch(mi.tokenUrl(VAULT), { headers: mi.requestHeaders() })).status).toBe(200);

    mi.setFault({ kind: "delay", ms: 250 });
    const t0 = Date.now();
    expect((await fetch(mi.tokenUrl(VAULT), { headers: mi.requestHeaders() })).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(240);
  });
});

describe.concurrent("the real ManagedIdentityCredential against the emulator (one child process each)", () => {
  for (const shape of ["container-apps", "imds"] as const) {
    it(`${shape}: system-assigned token, cached on the second call, claims verified`, async (ctx) => {
      const start = starter(ctx);
      const mi = await start({ shape });
      const sys = mi.identities.systemAssigned!;
      const { results } = await credentialInChild(mi, undefined, { calls: 2 });
      expect(results.map((r) => r.ok)).toEqual([true, true]);
      expect(results[1].token).toBe(results[0].token);
      expect(mi.requests).toHaveLength(1); // MSAL cache hit
      const req = mi.requests[0];
      if (shape === "imds") {
        // MSAL lower-cases the pod-identity URL and adds a trailing slash.
        expect(req).toMatchObject({ path: "/metadata/identity/oauth2/token/", apiVersion: "2018-02-01", metadataHeader: true });
      } else {
        expect(req).toMatchObject({ path: "/msi/token", apiVersion: "2019-08-01", identityHeaderPresent: true, identityHeaderValid: true });
      }
      expect(req.resource).toBe(VAULT);
      expect(req.clientRequestId).toMatch(GUID);
      const claims = await mi.signer.verify(results[0].token!, { audience: VAULT, issuer: `https://sts.windows.net/${mi.tenantId}/` });
      expect(claims).toMatchObject({ oid: sys.objectId, appid: sys.clientId, tid: mi.tenantId, xms_mirid: sys.resourceId, idtyp: "app", ver: "1.0" });
      expect(claims).not.toHaveProperty("xms_az_rid");
      expect(Math.abs(results[0].expiresOnTimestamp! - claims.exp! * 1000)).toBeLessThan(5000);
      expect(results[0].refreshAfterTimestamp).toBeLessThan(results[0].expiresOnTimestamp!);
    });

    it(`${shape}: user-assigned by clientId and by resourceId`, async (ctx) => {
      const start = starter(ctx);
      const mi = await start({ shape, userAssigned: [{ name: "uami-a" }, { name: "uami-b" }] });
      const b = mi.identities.userAssigned[1];
      const [byClient, byResource] = await Promise.all([
        credentialInChild(mi, `{ clientId: "${b.clientId}", retryOptions: { maxRetries: 0 } }`),
        credentialInChild(mi, `{ resourceId: "${b.resourceId}", retryOptions: { maxRetries: 0 } }`),
      ]);
      for (const { results } of [byClient, byResource]) {
        expect(results[0].ok, JSON.stringify(results[0].err)).toBe(true);
        const claims = await mi.signer.verify(results[0].token!, { audience: VAULT });
        expect(claims).toMatchObject({ oid: b.objectId, appid: b.clientId, xms_mirid: b.resourceId, xms_az_rid: mi.hostResourceId });
      }
      const queries = mi.requests.map((r) => r.query);
      expect(queries).toContainEqual(expect.objectContaining({ client_id: b.clientId }));
      expect(queries).toContainEqual(expect.objectContaining(shape === "imds" ? { msi_res_id: b.resourceId } : { mi_res_id: b.resourceId }));
    });
  }

  it("imds no-identity → CredentialUnavailableError 'Identity not found'", async (ctx) => {
    const start = starter(ctx);
    const mi = await start({ shape: "imds", fault: { kind: "no-identity" } });
    const { results } = await credentialInChild(mi);
    expect(results[0].err).toMatchObject({ name: "CredentialUnavailableError", cause: { name: "ServerError", status: 400, errorCode: "invalid_request" } });
    expect(results[0].err!.message).toContain("ManagedIdentityCredential: Authentication failed. Message invalid_request:");
    expect(results[0].err!.message).toContain("Description: Identity not found");
  });

  it("container-apps no-identity → CredentialUnavailableError with the platform message", async (ctx) => {
    const start = starter(ctx);
    const mi = await start({ fault: { kind: "no-identity" } });
    const { results } = await credentialInChild(mi);
    expect(results[0].err).toMatchObject({ name: "CredentialUnavailableError", cause: { status: 400 } });
    expect(results[0].err!.message).toContain("Description: No managed identity found for the app");
  });

  it("container-apps unknown client id → 500 'unexpected error occured'", async (ctx) => {
    const start = starter(ctx);
    const mi = await start({ userAssigned: [{ name: "uami" }] });
    const { results } = await credentialInChild(mi, `{ clientId: "99999999-9999-9999-9999-999999999999", retryOptions: { maxRetries: 0 } }`);
    expect(results[0].err).toMatchObject({ name: "CredentialUnavailableError", cause: { status: 500 } });
    expect(results[0].err!.message).toMatch(/^ManagedIdentityCredential: Authentication failed\. Message : Error\(s\): Not Available/);
    expect(results[0].err!.message).toContain("An unexpected error occured while fetching the AAD Token.");
    expect(mi.requests[0]).toMatchObject({ clientId: "99999999-9999-9999-9999-999999999999", status: 500, outcome: "error" });
  });

  it("container-apps stale IDENTITY_HEADER → 401 'Authentication failed'", async (ctx) => {
    const start = starter(ctx);
    const mi = await start();
    const { results } = await credentialInChild({ env: { ...mi.env, IDENTITY_HEADER: "stale-header-value" } });
    expect(results[0].err).toMatchObject({ name: "CredentialUnavailableError", cause: { name: "ServerError", status: 401 } });
    expect(results[0].err!.message).toContain("Description: The X-IDENTITY-HEADER value is not valid.");
    expect(mi.requests[0]).toMatchObject({ identityHeaderPresent: true, identityHeaderValid: false, status: 401 });
    expect(JSON.stringify(mi.requests)).not.toContain("stale-header-value");
  });

  it("imds several identities → 'Multiple user assigned identities exist'", async (ctx) => {
    const start = starter(ctx);
    const mi = await start({ shape: "imds", systemAssigned: false, userAssigned: [{ name: "a" }, { name: "b" }] });
    const { results } = await credentialInChild(mi);
    expect(results[0].err?.name).toBe("CredentialUnavailableError");
    expect(results[0].err!.message).toContain(
      "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request",
    );
  });

  it("legacy-no-msi → AuthenticationRequiredError (MSAL does not read `Message`)", async (ctx) => {
    const start = starter(ctx);
    const mi = await start({ fault: { kind: "legacy-no-msi" } });
    const { results } = await credentialInChild(mi);
    expect(results[0].err).toEqual({
      name: "AuthenticationRequiredError",
      message: 'Response had no "expiresOn" property.',
      constructorName: "AuthenticationRequiredError",
    });
  });

  it("500 twice then healthy → token after retries, same client request id", async (ctx) => {
    const start = starter(ctx);
    const mi = await start({ fault: { kind: "status", status: 500, times: 2 } });
    const { results } = await credentialInChild(mi, "{ retryOptions: { maxRetries: 3, retryDelayInMs: 10 } }");
    expect(results[0].ok).toBe(true);
    expect(mi.requests.map((r) => r.status)).toEqual([500, 500, 200]);
    expect(new Set(mi.requests.map((r) => r.clientRequestId)).size).toBe(1);
  });

  it("404 once then healthy → token (imdsRetryPolicy)", async (ctx) => {
    const start = starter(ctx);
    const mi = await start({ fault: { kind: "status", status: 404, times: 1 } });
    const { results } = await credentialInChild(mi, "{ retryOptions: { maxRetries: 2 } }");
    expect(results[0].ok).toBe(true);
    expect(mi.requests.map((r) => r.status)).toEqual([404, 200]);
  });

  it("500 with no retries → 'Authentication failed' naming the status text", async (ctx) => {
    const start = starter(ctx);
    const mi = await start({ shape: "imds", fault: { kind: "status", status: 503 } });
    const { results } = await credentialInChild(mi);
    expect(results[0].err).toMatchObject({ name: "CredentialUnavailableError", cause: { status: 503, errorCode: "server_error" } });
    expect(results[0].err!.message).toContain("Description: Service Unavailable");
  });

  it("reset and refused → 'Network unreachable' (transport error discarded); reset once then healthy → token", async (ctx) => {
    const start = starter(ctx);
    const reset = await start({ fault: { kind: "reset" } });
    const resetOnce = await start({ fault: { kind: "reset", times: 1 } });
    const port = await unusedPort();
    const [a, b, c] = await Promise.all([
      credentialInChild(reset),
      credentialInChild(resetOnce, "{ retryOptions: { maxRetries: 2, retryDelayInMs: 10 } }"),
      credentialInChild({ env: { IDENTITY_ENDPOINT: `http://127.0.0.1:${port}/msi/token`, IDENTITY_HEADER: "x" } }),
    ]);
    const unreachable = "ManagedIdentityCredential: Network unreachable. Message: network_error: See https://aka.ms/msal.js.errors#network_error for details";
    expect(a.results[0].err).toMatchObject({ name: "CredentialUnavailableError", message: unreachable, cause: { errorCode: "network_error" } });
    expect(c.results[0].err).toMatchObject({ name: "CredentialUnavailableError", message: unreachable });
    expect(b.results[0].ok).toBe(true);
    expect(resetOnce.requests.map((r) => r.outcome)).toEqual(["reset", "token"]);
  });

  it("hang → the real credential never returns (still waiting 1.5 s after its request arrived)", async (ctx) => {
    const start = starter(ctx);
    const mi = await start({ fault: { kind: "hang" } });
    const controller = new AbortController();
    const running = runScenario({
      env: { ...mi.env },
      signal: controller.signal,
      timeoutMs: 20_000,
      code: `import { ManagedIdentityCredential } from "@azure/identity";
        await new ManagedIdentityCredential({ retryOptions: { maxRetries: 0 } }).getToken("${VAULT}/.default");
        console.log(JSON.stringify({ returned: true }));`,
    });
    await expect.poll(() => mi.requests.length, { timeout: 15_000, interval: 50 }).toBe(1);
    await new Promise((r) => setTimeout(r, 1500));
    controller.abort();
    const r = await running;
    expect(r).toMatchObject({ aborted: true, timedOut: false, stdout: "" });
    expect(mi.requests[0].outcome).toBe("hang");
  });

  it("token faults: wrong audience, wrong identity, wrong tenant, expired, not yet valid, opaque", async (ctx) => {
    const start = starter(ctx);
    const other = {
      kind: "user-assigned" as const,
      name: "x",
      clientId: "aaaaaaaa-0000-0000-0000-000000000001",
      objectId: "aaaaaaaa-0000-0000-0000-000000000002",
      resourceId: "/x",
    };
    const emulators = await Promise.all([
      start({ fault: { kind: "wrong-audience", audience: "https://storage.azure.com" } }),
      start({ fault: { kind: "wrong-identity", identity: other } }),
      start({ fault: { kind: "wrong-tenant", tenantId: "bbbbbbbb-0000-0000-0000-000000000000" } }),
      start({ fault: { kind: "expired" } }),
      start({ fault: { kind: "not-yet-valid", secondsAhead: 900 } }),
      start({ shape: "imds", fault: { kind: "opaque-token" } }),
    ]);
    const runs = await Promise.all(emulators.map((mi, i) => credentialInChild(mi, undefined, { calls: i === 3 ? 2 : 1 })));
    for (const r of runs) expect(r.results[0].ok, JSON.stringify(r.results[0].err)).toBe(true);
    const [aud, ident, tenant, expired, future, opaque] = runs.map((r) => r.results[0]);
    const now = Date.now() / 1000;

    expect(decodeJwt(aud.token!).aud).toBe("https://storage.azure.com");
    expect(emulators[0].requests[0].resource).toBe(VAULT);

    expect(decodeJwt(ident.token!)).toMatchObject({ oid: other.objectId, appid: other.clientId, xms_mirid: "/x" });

    const t = decodeJwt(tenant.token!);
    expect(t).toMatchObject({ tid: "bbbbbbbb-0000-0000-0000-000000000000", iss: "https://sts.windows.net/bbbbbbbb-0000-0000-0000-000000000000/" });

    expect(decodeJwt(expired.token!).exp!).toBeLessThan(now);
    expect(expired.expiresOnTimestamp!).toBeGreaterThan(Date.now() + 3600_000); // MSAL believes the body
    expect(runs[3].results[1].token).toBe(expired.token); // and serves it from cache
    expect(emulators[3].requests).toHaveLength(1);
    await expect(emulators[3].signer.verify(expired.token!)).rejects.toMatchObject({ code: "ERR_JWT_EXPIRED" });

    const f = decodeJwt(future.token!);
    expect(f.nbf! - now).toBeGreaterThan(800);
    await expect(emulators[4].signer.verify(future.token!)).rejects.toMatchObject({ code: "ERR_JWT_CLAIM_VALIDATION_FAILED" });

    expect(opaque.token!.split(".").length).toBeLessThan(3);
    expect(() => decodeJwt(opaque.token!)).toThrow();
  });

  it("expires-in-only → MSAL treats the token as expired at once and calls the endpoint every time", async (ctx) => {
    const start = starter(ctx);
    const mi = await start({ shape: "imds", fault: { kind: "expires-in-only" } });
    const started = Date.now();
    const { results } = await credentialInChild(mi, undefined, { calls: 2 });
    expect(results.every((r) => r.ok)).toBe(true);
    expect(results[0].expiresOnTimestamp!).toBeLessThan(started + 60_000);
    expect(results[0].refreshAfterTimestamp).toBeUndefined();
    expect(mi.requests).toHaveLength(2);
  });
});
