import { describe, expect, test } from "vitest";
import { ResourceManagementClient } from "@azure/arm-resources";
import { createTrustingHttpClient, startResourceManagerEmulator } from "../../src/testing.js";
import { CLIENT_ID, OTHER_TENANT, principal, restError, SUBSCRIPTION, TENANT, useEmulators } from "./helpers.js";

let nowMs = Date.now();
const RG_SCOPE = (name: string) => `/subscriptions/${SUBSCRIPTION}/resourceGroups/${name}`;
const env = useEmulators((options) => ({
  arm: startResourceManagerEmulator({
    ...options,
    resourceGroups: [
      { name: "rg-app", location: "westeurope" },
      { name: "rg-data", location: "northeurope" },
    ],
    propagationDelayMs: 5 * 60_000,
    now: () => nowMs,
  }),
}));

function client(claims: Record<string, unknown>, options: { issuedAt?: () => number } = {}) {
  const credential = env.issuer.credential(claims, options);
  return { credential, client: new ResourceManagementClient(credential, SUBSCRIPTION, { httpClient: env.arm.httpClient }) };
}
async function list(c: ResourceManagementClient) {
  const names: string[] = [];
  for await (const group of c.resourceGroups.list()) names.push(group.name!);
  return names;
}

describe("Resource Manager emulator with the real ResourceManagementClient", () => {
  test("Reader at the subscription: list and get resource groups", async () => {
    const oid = principal(1);
    env.arm.rbac.grant({ principalId: oid, role: "Reader", scope: env.arm.resourceId }, { propagationDelayMs: 0 });
    const { client: c, credential } = client({ oid });
    expect(await list(c)).toEqual(["rg-app", "rg-data"]);
    const group = await c.resourceGroups.get("rg-data");
    expect(group).toMatchObject({ id: RG_SCOPE("rg-data"), name: "rg-data", location: "northeurope", properties: { provisioningState: "Succeeded" } });
    expect(credential.scopes[0]).toEqual(["https://management.azure.com/.default"]);
  });

  test("control-plane roles are what Resource Manager checks: Contributor on one group lists only that group", async () => {
    const oid = principal(2);
    env.arm.rbac.grant({ principalId: oid, role: "Contributor", scope: RG_SCOPE("rg-app") }, { propagationDelayMs: 0 });
    const { client: c } = client({ oid });
    expect(await list(c)).toEqual(["rg-app"]);
    expect((await c.resourceGroups.get("rg-app")).name).toBe("rg-app");
    const sibling = await restError(c.resourceGroups.get("rg-data"));
    expect(sibling.statusCode).toBe(403);
    expect(sibling.code).toBe("AuthorizationFailed");
    expect(sibling.message).toContain(`over scope '${RG_SCOPE("rg-data")}'`);
  });

  test("no role: 403 AuthorizationFailed naming client id, object id, action and subscription scope", async () => {
    const oid = principal(3);
    const error = await restError(list(client({ oid }).client));
    expect(error.statusCode).toBe(403);
    expect(error.code).toBe("AuthorizationFailed");
    expect(error.message).toBe(
      `The client '${CLIENT_ID}' with object id '${oid}' does not have authorization to perform action 'Microsoft.Resources/subscriptions/resourceGroups/read' ` +
        `over scope '/subscriptions/${SUBSCRIPTION}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    );
    expect(error.response?.headers.get("x-ms-failure-cause")).toBe("gateway");
  });

  test("data-plane roles grant nothing here", async () => {
    const oid = principal(4);
    env.arm.rbac.grant({ principalId: oid, role: "Key Vault Secrets User", scope: env.arm.resourceId }, { propagationDelayMs: 0 });
    env.arm.rbac.grant({ principalId: oid, role: "Storage Blob Data Owner", scope: env.arm.resourceId }, { propagationDelayMs: 0 });
    expect((await restError(client({ oid }).client.resourceGroups.get("rg-app"))).code).toBe("AuthorizationFailed");
  });

  test("wrong audience: 401 InvalidAuthenticationTokenAudience with the invalid_token challenge", async () => {
    const error = await restError(client({ oid: principal(5), aud: "https://vault.azure.net" }).client.resourceGroups.get("rg-app"));
    expect(error.statusCode).toBe(401);
    expect(error.code).toBe("InvalidAuthenticationTokenAudience");
    expect(error.message).toMatch(
      /^The access token has been obtained for wrong audience or resource 'https:\/\/vault\.azure\.net'\. It should exactly match with one of the allowed audiences 'https:\/\/management\.azure\.com\/','https:\/\/management\.azure\.com',/,
    );
    expect(error.response?.headers.get("www-authenticate")).toMatch(
      /^Bearer authorization_uri="https:\/\/login\.windows\.net\/", error="invalid_token", error_description="The access token has been obtained from wrong audience/,
    );
  });

  test("https://management.core.windows.net/ is an accepted audience", async () => {
    const oid = principal(6);
    env.arm.rbac.grant({ principalId: oid, role: "Reader", scope: env.arm.resourceId }, { propagationDelayMs: 0 });
    expect((await client({ oid, aud: "https://management.core.windows.net/" }).client.resourceGroups.get("rg-app")).name).toBe("rg-app");
  });

  test("expired token: 401 ExpiredAuthenticationToken with both times", async () => {
    const error = await restError(client({ oid: principal(7) }, { issuedAt: () => nowMs - 2 * 3600_000 }).client.resourceGroups.get("rg-app"));
    expect(error.statusCode).toBe(401);
    expect(error.code).toBe("ExpiredAuthenticationToken");
    expect(error.message).toMatch(
      /^The access token expiry UTC time '\d+\/\d+\/\d{4} \d+:\d\d:\d\d [AP]M' is earlier than current UTC time '\d+\/\d+\/\d{4} \d+:\d\d:\d\d [AP]M'\.$/,
    );
  });

  test("wrong tenant: 401 InvalidAuthenticationTokenTenant naming the right authority", async () => {
    const error = await restError(client({ oid: principal(8), tid: OTHER_TENANT }).client.resourceGroups.get("rg-app"));
    expect(error.statusCode).toBe(401);
    expect(error.code).toBe("InvalidAuthenticationTokenTenant");
    expect(error.message).toContain(
      `The access token is from the wrong issuer 'https://sts.windows.net/${OTHER_TENANT}/'. It must match the tenant 'https://sts.windows.net/${TENANT}/'`,
    );
    expect(error.response?.headers.get("www-authenticate")).toContain(`authorization_uri="https://login.windows.net/${TENANT}"`);
  });

  test("no firewall: setFirewall has no effect", async () => {
    const oid = principal(9);
    env.arm.rbac.grant({ principalId: oid, role: "Reader", scope: env.arm.resourceId }, { propagationDelayMs: 0 });
    expect(env.arm.firewallSupported).toBe(false);
    env.arm.setFirewall(true);
    expect((await client({ oid }).client.resourceGroups.get("rg-app")).name).toBe("rg-app");
    env.arm.setFirewall(false);
  });

  test("propagation: a grant takes effect only after the delay", async () => {
    const oid = principal(10);
    env.arm.rbac.grant({ principalId: oid, role: "Reader", scope: RG_SCOPE("rg-app") });
    expect((await restError(client({ oid }).client.resourceGroups.get("rg-app"))).statusCode).toBe(403);
    nowMs += 5 * 60_000;
    expect((await client({ oid }).client.resourceGroups.get("rg-app")).name).toBe("rg-app");
  });

  test("unknown group with permission: 404 ResourceGroupNotFound; by address with endpoint + credentialScopes", async () => {
    const oid = principal(11);
    env.arm.rbac.grant({ principalId: oid, role: "Reader", scope: env.arm.resourceId }, { propagationDelayMs: 0 });
    const c = new ResourceManagementClient(env.issuer.credential({ oid }), SUBSCRIPTION, {
      endpoint: env.arm.url,
      credentialScopes: ["https://management.azure.com/.default"],
      httpClient: createTrustingHttpClient(env.arm.ca),
    });
    const error = await restError(c.resourceGroups.get("rg-missing"));
    expect(error.statusCode).toBe(404);
    expect(error.code).toBe("ResourceGroupNotFound");
    expect(await list(c)).toEqual(["rg-app", "rg-data"]);
  });
});
