import { describe, expect, test } from "vitest";
import { startGraphEmulator } from "../../src/testing.js";
import { OTHER_TENANT, principal, send, useEmulators } from "./helpers.js";

const GRAPH = "https://graph.microsoft.com";
const env = useEmulators((options) => ({ graph: startGraphEmulator(options) }));

const get = async (path: string, claims: Record<string, unknown> = {}, options: { issuedAt?: number } = {}) => {
  const token = await env.issuer.mint(GRAPH, { oid: principal(1), ...claims }, options);
  const response = await send(env.graph.httpClient, `${env.graph.endpoint}${path}`, { token, headers: { "client-request-id": "req-7" } });
  return {
    ...response,
    json: JSON.parse(response.body || "null") as {
      error?: { code: string; message: string; innerError: Record<string, string> };
      value?: Array<{ id: string }>;
    },
  };
};

describe("Microsoft Graph emulator (REST over the emulator httpClient)", () => {
  test("an app with the User.Read.All app role lists users; Application.Read.All lists applications", async () => {
    const users = await get("/v1.0/users", { roles: ["User.Read.All"] });
    expect(users.status).toBe(200);
    expect(users.json.value?.length).toBe(2);
    expect(users.headers["content-type"]).toMatch(/^application\/json;odata\.metadata=minimal/);
    expect(users.headers["client-request-id"]).toBe("req-7");
    const apps = await get("/v1.0/applications", { roles: ["Application.Read.All"] });
    expect(apps.status).toBe(200);
    expect(apps.json.value?.[0]?.id).toBeDefined();
  });

  test("the wrong app role: 403 Authorization_RequestDenied", async () => {
    const response = await get("/v1.0/applications", { roles: ["User.Read.All"] });
    expect(response.status).toBe(403);
    expect(response.json.error?.code).toBe("Authorization_RequestDenied");
    expect(response.json.error?.message).toBe("Insufficient privileges to complete the operation.");
    expect(response.json.error?.innerError["client-request-id"]).toBe("req-7");
  });

  test("no roles claim at all: 403 AccessDenied 'Either scp or roles claim need to be present in the token.'", async () => {
    const response = await get("/v1.0/users");
    expect(response.status).toBe(403);
    expect(response.json.error).toMatchObject({ code: "AccessDenied", message: "Either scp or roles claim need to be present in the token." });
  });

  test("Azure RBAC roles do not count: Graph reads the token's roles claim only", async () => {
    env.graph.rbac.grant({ principalId: principal(1), role: "Owner", scope: "/" }, { propagationDelayMs: 0 });
    expect((await get("/v1.0/users")).status).toBe(403);
  });

  test("wrong audience: 401 InvalidAuthenticationToken 'Invalid audience.' with the Graph challenge", async () => {
    const token = await env.issuer.mint("https://management.azure.com", { roles: ["User.Read.All"] });
    const response = await send(env.graph.httpClient, `${GRAPH}/v1.0/users`, { token });
    expect(response.status).toBe(401);
    expect(JSON.parse(response.body).error).toMatchObject({
      code: "InvalidAuthenticationToken",
      message: "Access token validation failure. Invalid audience.",
    });
    expect(response.headers["www-authenticate"]).toContain('client_id="00000003-0000-0000-c000-000000000000"');
  });

  test("the Graph app id is an accepted audience (v2 tokens)", async () => {
    const token = await env.issuer.mint("00000003-0000-0000-c000-000000000000", { roles: ["User.Read.All"] });
    expect((await send(env.graph.httpClient, `${GRAPH}/v1.0/users`, { token })).status).toBe(200);
  });

  test("expired: 401 'Lifetime validation failed, the token is expired.'", async () => {
    const response = await get("/v1.0/users", { roles: ["User.Read.All"] }, { issuedAt: Math.floor(Date.now() / 1000) - 7200 });
    expect(response.status).toBe(401);
    expect(response.json.error?.message).toBe("Lifetime validation failed, the token is expired.");
  });

  test("wrong tenant: 401 InvalidAuthenticationToken; no token: 401 'Access token is empty.'", async () => {
    const response = await get("/v1.0/users", { roles: ["User.Read.All"], tid: OTHER_TENANT });
    expect(response.status).toBe(401);
    expect(response.json.error?.code).toBe("InvalidAuthenticationToken");
    const empty = await send(env.graph.httpClient, `${GRAPH}/v1.0/users`);
    expect(empty.status).toBe(401);
    expect(JSON.parse(empty.body).error.message).toBe("Access token is empty.");
  });

  test("no network rules", () => {
    expect(env.graph.firewallSupported).toBe(false);
  });
});
