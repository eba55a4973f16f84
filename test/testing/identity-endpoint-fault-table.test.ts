/**
 * The identity-endpoint emulator's wire contract, fault by fault and shape by shape: status, headers and the exact
 * body text (random parts masked) of a well-formed token request, plus what each token fault does to the claims.
 * Direct HTTP, no credential: the real-credential behaviour is in identity-endpoint.test.ts. This pins the bytes
 * the fault table and the shape strategies produce, so a refactor of either cannot change them unnoticed.
 */
import { describe, expect, it } from "vitest";
import type { TestContext } from "vitest";
import { decodeJwt } from "jose";
import { createTokenSigner, startIdentityEndpoint } from "../../src/testing.js";
import type { IdentityEndpointEmulator, IdentityEndpointFault, IdentityEndpointOptions, IdentityEndpointShape } from "../../src/testing.js";

const VAULT = "https://vault.azure.net";
const SYSTEM = { clientId: "11111111-0000-0000-0000-000000000001", objectId: "11111111-0000-0000-0000-000000000002" };
const OTHER = {
  kind: "user-assigned" as const,
  name: "other",
  clientId: "44444444-0000-0000-0000-000000000001",
  objectId: "44444444-0000-0000-0000-000000000002",
  resourceId: "/other",
};
const signer = await createTokenSigner();

/** Random parts of a body replaced by placeholders; everything else, key order included, kept as sent. */
const mask = (text: string): string =>
  text
    .replace(/"(correlationId|CorrelationId)":"[0-9a-f-]{36}"/g, '"$1":"<uuid>"')
    .replace(/"access_token":"[^"]+"/, '"access_token":"<token>"')
    .replace(/"(expires_on|not_before)":"\d+"/g, '"$1":"<time>"')
    .replace(/\\r\\nTrace ID: [0-9a-f-]{36}\\r\\nCorrelation ID: [0-9a-f-]{36}\\r\\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/, "<trace>");

const caError = (status: number, message: string) => `{"statusCode":${status},"message":"${message}","correlationId":"<uuid>"}`;
const imdsError = (error: string, description: string) => `{"error":"${error}","error_description":"${description}"}`;
const SEVERAL = "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request";
const LEGACY = '{"StatusCode":400,"Message":"No MSI found for specified ClientId/ResourceId.","CorrelationId":"<uuid>"}';
const CA_TOKEN = `{"access_token":"<token>","expires_on":"<time>","resource":"${VAULT}","token_type":"Bearer","client_id":"${SYSTEM.clientId}"}`;
const IMDS_TOKEN =
  `{"access_token":"<token>","client_id":"${SYSTEM.clientId}","expires_in":"86399","expires_on":"<time>","ext_expires_in":"86399",` +
  `"not_before":"<time>","resource":"${VAULT}","token_type":"Bearer"}`;
const EXPIRES_IN_ONLY = `{"access_token":"<token>","expires_in":"86399","resource":"${VAULT}","token_type":"Bearer","client_id":"${SYSTEM.clientId}"}`;

/** What a well-formed request sees: an answer, or a connection that never answers / is reset / is closed. */
type Seen = { status: number; body: string } | "hang" | "reset" | "closed";

// Entra's refusals as the endpoint relays them (the AADSTS sentences: src/testing/entra/entraErrors.ts).
const ROLE_REQUIRED = `AADSTS501051: Application '${SYSTEM.clientId}'(diag-app) is not assigned to a role for the application '${VAULT}'(${VAULT}).<trace>`;
const ORDERS_ROLE_REQUIRED = `AADSTS501051: Application '${SYSTEM.clientId}'(diag-app) is not assigned to a role for the application 'api://orders'(orders-api).<trace>`;
const NO_PRINCIPAL =
  `AADSTS500011: The resource principal named ${VAULT} was not found in the tenant named Contoso. This can happen if the application has not been ` +
  "installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.<trace>";
const INVALID_SCOPE = `AADSTS70011: The provided value for the input parameter 'scope' is not valid. The scope ${VAULT} is not valid.<trace>`;
const UNEXPECTED = "An unexpected error occured while fetching the AAD Token.";

const CASES: Array<{ fault: IdentityEndpointFault; "container-apps": Seen; imds: Seen }> = [
  {
    fault: { kind: "no-identity" },
    "container-apps": { status: 400, body: caError(400, "No managed identity found for the app") },
    imds: { status: 400, body: imdsError("invalid_request", "Identity not found") },
  },
  {
    fault: { kind: "unknown-client-id" },
    "container-apps": { status: 500, body: caError(500, "An unexpected error occured while fetching the AAD Token.") },
    imds: { status: 400, body: imdsError("invalid_request", "Identity not found") },
  },
  { fault: { kind: "legacy-no-msi" }, "container-apps": { status: 400, body: LEGACY }, imds: { status: 400, body: LEGACY } },
  {
    fault: { kind: "several-identities" },
    "container-apps": { status: 400, body: caError(400, SEVERAL) },
    imds: { status: 400, body: imdsError("invalid_request", SEVERAL) },
  },
  {
    fault: { kind: "status", status: 503 },
    "container-apps": { status: 503, body: caError(503, "Service Unavailable") },
    imds: { status: 503, body: imdsError("server_error", "Service Unavailable") },
  },
  {
    fault: { kind: "status", status: 429 },
    "container-apps": { status: 429, body: caError(429, "Too Many Requests") },
    imds: { status: 429, body: imdsError("invalid_request", "Too Many Requests") },
  },
  { fault: { kind: "status", status: 410, body: "" }, "container-apps": { status: 410, body: "" }, imds: { status: 410, body: "" } },
  {
    fault: { kind: "status", status: 500, body: { custom: true } },
    "container-apps": { status: 500, body: '{"custom":true}' },
    imds: { status: 500, body: '{"custom":true}' },
  },
  { fault: { kind: "hang" }, "container-apps": "hang", imds: "hang" },
  { fault: { kind: "reset" }, "container-apps": "reset", imds: "reset" },
  { fault: { kind: "close" }, "container-apps": "closed", imds: "closed" },
  {
    fault: { kind: "entra-error", code: 501051 },
    "container-apps": { status: 400, body: caError(400, ROLE_REQUIRED) },
    imds: { status: 400, body: imdsError("invalid_grant", ROLE_REQUIRED) },
  },
  {
    fault: { kind: "entra-error", code: 501051, facts: { resource: "api://orders", resourceName: "orders-api" } },
    "container-apps": { status: 400, body: caError(400, ORDERS_ROLE_REQUIRED) },
    imds: { status: 400, body: imdsError("invalid_grant", ORDERS_ROLE_REQUIRED) },
  },
  {
    fault: { kind: "entra-error", code: 500011 },
    "container-apps": { status: 400, body: caError(400, NO_PRINCIPAL) },
    imds: { status: 400, body: imdsError("invalid_resource", NO_PRINCIPAL) },
  },
  {
    fault: { kind: "entra-error", code: 70011 },
    "container-apps": { status: 400, body: caError(400, INVALID_SCOPE) },
    imds: { status: 400, body: imdsError("invalid_scope", INVALID_SCOPE) },
  },
  {
    fault: { kind: "unknown-audience" },
    "container-apps": { status: 500, body: caError(500, UNEXPECTED) },
    imds: { status: 400, body: imdsError("invalid_resource", NO_PRINCIPAL) },
  },
  { fault: { kind: "delay", ms: 20 }, "container-apps": { status: 200, body: CA_TOKEN }, imds: { status: 200, body: IMDS_TOKEN } },
  {
    fault: { kind: "wrong-audience", audience: "https://storage.azure.com" },
    "container-apps": { status: 200, body: CA_TOKEN },
    imds: { status: 200, body: IMDS_TOKEN },
  },
  { fault: { kind: "wrong-identity", identity: OTHER }, "container-apps": { status: 200, body: CA_TOKEN }, imds: { status: 200, body: IMDS_TOKEN } },
  {
    fault: { kind: "wrong-tenant", tenantId: "55555555-0000-0000-0000-000000000000" },
    "container-apps": { status: 200, body: CA_TOKEN },
    imds: { status: 200, body: IMDS_TOKEN },
  },
  { fault: { kind: "expired" }, "container-apps": { status: 200, body: CA_TOKEN }, imds: { status: 200, body: IMDS_TOKEN } },
  { fault: { kind: "not-yet-valid" }, "container-apps": { status: 200, body: CA_TOKEN }, imds: { status: 200, body: IMDS_TOKEN } },
  { fault: { kind: "expires-in-only" }, "container-apps": { status: 200, body: EXPIRES_IN_ONLY }, imds: { status: 200, body: EXPIRES_IN_ONLY } },
  { fault: { kind: "opaque-token" }, "container-apps": { status: 200, body: CA_TOKEN }, imds: { status: 200, body: IMDS_TOKEN } },
];
const SHAPES: IdentityEndpointShape[] = ["container-apps", "imds"];

async function start(ctx: TestContext, options: IdentityEndpointOptions): Promise<IdentityEndpointEmulator> {
  const emulator = await startIdentityEndpoint({ signer, systemAssigned: SYSTEM, userAssigned: [{ name: "uami-a" }], ...options });
  ctx.onTestFinished(() => emulator.close());
  return emulator;
}

/** One well-formed token request for the vault; a hang is cut short after 300 ms. */
async function tokenRequest(mi: IdentityEndpointEmulator): Promise<{ seen: Seen; response?: Response; text?: string }> {
  try {
    const response = await fetch(mi.tokenUrl(VAULT), { headers: mi.requestHeaders(), signal: AbortSignal.timeout(300) });
    const text = await response.text();
    return { seen: { status: response.status, body: mask(text) }, response, text };
  } catch (err) {
    const name = (err as Error).name;
    // undici: "other side closed" (UND_ERR_SOCKET) for a FIN without an answer, ECONNRESET for a reset.
    const cause = (err as { cause?: { code?: string } }).cause;
    return { seen: name === "TimeoutError" ? "hang" : cause?.code === "UND_ERR_SOCKET" ? "closed" : "reset" };
  }
}

describe("identity endpoint: every fault kind, both shapes, on the wire", () => {
  const cases = SHAPES.flatMap((shape) => CASES.map((c) => ({ shape, fault: c.fault, expected: c[shape], label: JSON.stringify(c.fault) })));
  it.for(cases)("$shape: $label", async ({ shape, fault, expected }, ctx) => {
    const mi = await start(ctx, { shape, fault });
    const { seen, response, text } = await tokenRequest(mi);
    expect(seen).toEqual(expected);
    expect(mi.requests.map((r) => r.fault)).toEqual([fault.kind]);
    if (response === undefined || text === undefined) return;
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(response.headers.get("content-length")).toBe(String(Buffer.byteLength(text)));
    expect(response.headers.get("server")).toBe(shape === "container-apps" ? "Kestrel" : null);
  });

  it.for(SHAPES)("%s: a status fault's headers are sent, its Content-Type replacing the default", async (shape, ctx) => {
    const mi = await start(ctx, {
      shape,
      fault: { kind: "status", status: 429, body: "slow down", headers: { "Retry-After": "7", "Content-Type": "text/plain" } },
    });
    const { response, seen } = await tokenRequest(mi);
    expect(seen).toEqual({ status: 429, body: "slow down" });
    expect(response?.headers.get("retry-after")).toBe("7");
    expect(response?.headers.get("content-type")).toBe("text/plain");
  });

  it.for(SHAPES)("%s: a status fault answers before the request is checked; refusals come after", async (shape, ctx) => {
    const mi = await start(ctx, { shape, fault: { kind: "status", status: 503 } });
    const unchecked = await fetch(mi.tokenUrl(VAULT)); // no identity/Metadata header
    expect(unchecked.status).toBe(503);
    mi.setFault({ kind: "legacy-no-msi" });
    const checked = await fetch(mi.tokenUrl(VAULT));
    expect(checked.status).toBe(shape === "container-apps" ? 401 : 400);
  });
});

describe("identity endpoint: token faults bend the claims, not the body", () => {
  const claimsUnder = async (ctx: TestContext, shape: IdentityEndpointShape, fault: IdentityEndpointFault) => {
    const mi = await start(ctx, { shape, fault });
    const { text } = await tokenRequest(mi);
    const body = JSON.parse(text!) as { access_token: string; client_id: string };
    expect(body.client_id).toBe(SYSTEM.clientId);
    return { mi, body, now: Math.floor(Date.now() / 1000) };
  };

  it.for(SHAPES)("%s", async (shape, ctx) => {
    const audience = await claimsUnder(ctx, shape, { kind: "wrong-audience", audience: "https://storage.azure.com" });
    expect(decodeJwt(audience.body.access_token).aud).toBe("https://storage.azure.com");

    const identity = await claimsUnder(ctx, shape, { kind: "wrong-identity", identity: OTHER });
    expect(decodeJwt(identity.body.access_token)).toMatchObject({ oid: OTHER.objectId, appid: OTHER.clientId, xms_mirid: OTHER.resourceId });

    const randomIdentity = await claimsUnder(ctx, shape, { kind: "wrong-identity" });
    const second = await tokenRequest(randomIdentity.mi);
    const firstOid = decodeJwt(randomIdentity.body.access_token).oid;
    expect(firstOid).not.toBe(SYSTEM.objectId);
    expect(decodeJwt((JSON.parse(second.text!) as { access_token: string }).access_token).oid).toBe(firstOid); // fixed while set

    const tenant = await claimsUnder(ctx, shape, { kind: "wrong-tenant", tenantId: "55555555-0000-0000-0000-000000000000" });
    expect(decodeJwt(tenant.body.access_token)).toMatchObject({
      tid: "55555555-0000-0000-0000-000000000000",
      iss: "https://sts.windows.net/55555555-0000-0000-0000-000000000000/",
    });

    const expired = await claimsUnder(ctx, shape, { kind: "expired", secondsAgo: 100 });
    const e = decodeJwt(expired.body.access_token);
    expect(e.exp! - e.iat!).toBe(3600);
    expect(Math.abs(e.exp! - (expired.now - 100))).toBeLessThanOrEqual(1);

    const early = await claimsUnder(ctx, shape, { kind: "not-yet-valid", secondsAhead: 900 });
    const n = decodeJwt(early.body.access_token);
    expect(Math.abs(n.nbf! - (early.now + 900))).toBeLessThanOrEqual(1);
    expect(n.exp! - n.iat!).toBe(86_399);

    const opaque = await claimsUnder(ctx, shape, { kind: "opaque-token" });
    expect(opaque.body.access_token).toMatch(/^[A-Za-z0-9+/]{128}$/);
  });
});
