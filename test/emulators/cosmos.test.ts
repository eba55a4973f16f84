import https from "node:https";
import { describe, expect, test } from "vitest";
import { CosmosClient, type ErrorResponse } from "@azure/cosmos";
import { createTrustingHttpClient, startCosmosEmulator } from "../../src/testing.js";
import { OTHER_TENANT, principal, useEmulators } from "./helpers.js";

let nowMs = Date.now();
const READER = "00000000-0000-0000-0000-000000000001";
const CONTRIBUTOR = "00000000-0000-0000-0000-000000000002";
const env = useEmulators((options) => ({
  cosmos: startCosmosEmulator({
    ...options,
    accountName: "orders-db",
    containers: [
      { database: "shop", container: "orders", partitionKeyPath: "/customerId" },
      { database: "shop", container: "audit" },
    ],
    propagationDelayMs: 10 * 60_000,
    now: () => nowMs,
  }),
}));

function containerFor(claims: Record<string, unknown>, name = "orders", options: { issuedAt?: () => number } = {}) {
  const credential = env.issuer.credential(claims, options);
  const client = new CosmosClient({ endpoint: env.cosmos.endpoint, aadCredentials: credential, httpClient: env.cosmos.httpClient });
  return { credential, container: client.database("shop").container(name) };
}

async function cosmosError(promise: Promise<unknown>): Promise<ErrorResponse> {
  try {
    await promise;
  } catch (error) {
    return error as ErrorResponse;
  }
  throw new Error("expected the call to fail");
}

describe("Cosmos DB emulator with the real CosmosClient (aadCredentials)", () => {
  test("Built-in Data Contributor at '/': create then read an item; the SDK's startup requests and its token header", async () => {
    const oid = principal(1);
    env.cosmos.rbac.grant({ principalId: oid, role: CONTRIBUTOR, scope: "/" }, { propagationDelayMs: 0 });
    const { container, credential } = containerFor({ oid });
    const created = await container.items.create({ id: "o1", customerId: "c1", total: 42 });
    expect(created.statusCode).toBe(201);
    const read = await container.item("o1", "c1").read<{ total: number }>();
    expect(read.statusCode).toBe(200);
    expect(read.resource?.total).toBe(42);
    expect(credential.scopes[0]).toEqual(["https://orders-db.documents.azure.com/.default"]);
    const mine = env.cosmos.requests.filter((r) => r.principalId === oid).map((r) => `${r.method} ${r.path} ${r.status}`);
    expect(mine).toEqual(["GET / 200", "GET /dbs/shop/colls/orders 200", "POST /dbs/shop/colls/orders/docs 201", "GET /dbs/shop/colls/orders/docs/o1 200"]);
  });

  test("no role: 403 substatus 5301, readMetadata on [/], naming the principal", async () => {
    const oid = principal(2);
    const error = await cosmosError(containerFor({ oid }).container.item("o1", "c1").read());
    expect(error.code).toBe(403);
    expect(error.substatus).toBe(5301);
    expect(error.headers?.["x-ms-substatus"]).toBe("5301");
    expect(error.body?.code).toBe("Forbidden");
    expect(error.message).toMatch(
      new RegExp(
        `^Request blocked by Auth orders-db : Request is blocked because principal \\[${oid}\\] does not have required RBAC permissions to perform action ` +
          `\\[Microsoft\\.DocumentDB/databaseAccounts/readMetadata\\] on resource \\[/\\]\\. Learn more: https://aka\\.ms/cosmos-native-rbac\\.\\r\\nActivityId: `,
      ),
    );
  });

  test("Data Reader scoped to one container: reads it, cannot create (403 5301 items/create), the sibling stays closed", async () => {
    const writer = principal(3);
    env.cosmos.rbac.grant({ principalId: writer, role: CONTRIBUTOR, scope: "/" }, { propagationDelayMs: 0 });
    await containerFor({ oid: writer }).container.items.create({ id: "o2", customerId: "c2" });
    await containerFor({ oid: writer }, "audit").container.items.create({ id: "a1" });

    const oid = principal(4);
    env.cosmos.rbac.grant({ principalId: oid, role: "Cosmos DB Built-in Data Reader", scope: "/dbs/shop/colls/orders" }, { propagationDelayMs: 0 });
    const { container } = containerFor({ oid });
    expect((await container.item("o2", "c2").read()).statusCode).toBe(200);
    const create = await cosmosError(container.items.create({ id: "o3", customerId: "c3" }));
    expect(create.code).toBe(403);
    expect(create.substatus).toBe(5301);
    expect(create.message).toContain(
      "perform action [Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/create] on resource [dbs/shop/colls/orders/docs]",
    );
    const sibling = await cosmosError(containerFor({ oid }, "audit").container.item("a1", "a1").read());
    expect(sibling.substatus).toBe(5301);
    expect(sibling.message).toContain("[Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/read] on resource [dbs/shop/colls/audit/docs/a1]");
  });

  test("a full resource-id scope works like the short form", async () => {
    const oid = principal(5);
    env.cosmos.rbac.grant({ principalId: oid, role: CONTRIBUTOR, scope: `${env.cosmos.resourceId}/dbs/shop/colls/audit` }, { propagationDelayMs: 0 });
    expect((await containerFor({ oid }, "audit").container.items.create({ id: "a2" })).statusCode).toBe(201);
    expect((await cosmosError(containerFor({ oid }).container.items.create({ id: "o9", customerId: "c9" }))).substatus).toBe(5301);
  });

  test("control-plane roles (Owner, Contributor, Cosmos DB Operator) give no data access", async () => {
    const oid = principal(6);
    for (const role of ["Owner", "Contributor", "Cosmos DB Operator"])
      env.cosmos.rbac.grant({ principalId: oid, role, scope: env.cosmos.resourceId }, { propagationDelayMs: 0 });
    const error = await cosmosError(containerFor({ oid }).container.item("o1", "c1").read());
    expect(error.code).toBe(403);
    expect(error.substatus).toBe(5301);
  });

  test("creating a container through the data plane: 403 substatus 5300", async () => {
    const oid = principal(7);
    env.cosmos.rbac.grant({ principalId: oid, role: CONTRIBUTOR, scope: "/" }, { propagationDelayMs: 0 });
    const client = new CosmosClient({ endpoint: env.cosmos.endpoint, aadCredentials: env.issuer.credential({ oid }), httpClient: env.cosmos.httpClient });
    const error = await cosmosError(client.database("shop").containers.create({ id: "new", partitionKey: "/id" }));
    expect(error.code).toBe(403);
    expect(error.substatus).toBe(5300);
    expect(error.message).toContain("The given request [POST /dbs/shop/colls] cannot be authorized by AAD token in data plane.");
  });

  test("wrong audience: 401 'Request blocked by Auth'", async () => {
    const error = await cosmosError(
      containerFor({ oid: principal(8), aud: "https://vault.azure.net" })
        .container.item("o1", "c1")
        .read(),
    );
    expect(error.code).toBe(401);
    expect(error.body?.code).toBe("Unauthorized");
    expect(error.message).toMatch(/^Request blocked by Auth orders-db : Provided AAD token has an invalid audience \[https:\/\/vault\.azure\.net\]/);
  });

  test("the default Cosmos audience https://cosmos.azure.com is accepted", async () => {
    const oid = principal(9);
    env.cosmos.rbac.grant({ principalId: oid, role: READER, scope: "/" }, { propagationDelayMs: 0 });
    expect((await containerFor({ oid, aud: "https://cosmos.azure.com" }).container.item("o1", "c1").read()).statusCode).toBe(200);
  });

  test("expired token: 401 'Provided AAD token has been expired since […]'", async () => {
    const error = await cosmosError(
      containerFor({ oid: principal(10) }, "orders", { issuedAt: () => nowMs - 2 * 3600_000 })
        .container.item("o1", "c1")
        .read(),
    );
    expect(error.code).toBe(401);
    expect(error.message).toMatch(
      /^Request blocked by Auth orders-db : Provided AAD token has been expired since \[\d+\/\d+\/\d{4} \d+:\d\d:\d\d [AP]M \(UTC\)\]\. Current server time is \[/,
    );
  });

  test("wrong tenant: 401", async () => {
    const error = await cosmosError(
      containerFor({ oid: principal(11), tid: OTHER_TENANT })
        .container.item("o1", "c1")
        .read(),
    );
    expect(error.code).toBe(401);
    expect(error.message).toContain(`tenant [${OTHER_TENANT}]`);
  });

  test("firewall: 403 'Request originated from client IP … through public internet.'", async () => {
    const oid = principal(12);
    env.cosmos.rbac.grant({ principalId: oid, role: READER, scope: "/" }, { propagationDelayMs: 0 });
    env.cosmos.setFirewall(true);
    try {
      const error = await cosmosError(containerFor({ oid }).container.item("o1", "c1").read());
      expect(error.code).toBe(403);
      expect(error.substatus).toBeUndefined();
      expect(error.message).toMatch(/^Request originated from client IP 127\.0\.0\.1 through public internet\./);
    } finally {
      env.cosmos.setFirewall(false);
    }
  });

  test("propagation: a grant takes effect only after the delay", async () => {
    const oid = principal(13);
    env.cosmos.rbac.grant({ principalId: oid, role: READER, scope: "/" });
    expect((await cosmosError(containerFor({ oid }).container.item("o1", "c1").read())).substatus).toBe(5301);
    nowMs += 10 * 60_000;
    expect((await containerFor({ oid }).container.item("o1", "c1").read()).statusCode).toBe(200);
  });

  test("by address: endpoint https://127.0.0.1:<port>/ with aadScope, via the trusting client or an https.Agent", async () => {
    const oid = principal(14);
    env.cosmos.rbac.grant({ principalId: oid, role: READER, scope: "/" }, { propagationDelayMs: 0 });
    const options = { endpoint: `${env.cosmos.url}/`, aadCredentials: env.issuer.credential({ oid }), aadScope: "https://cosmos.azure.com/.default" };
    const viaClient = new CosmosClient({ ...options, httpClient: createTrustingHttpClient(env.cosmos.ca) });
    expect((await viaClient.database("shop").container("orders").item("o1", "c1").read()).statusCode).toBe(200);
    const viaAgent = new CosmosClient({ ...options, agent: new https.Agent({ ca: env.cosmos.ca }) });
    expect((await viaAgent.database("shop").container("orders").item("o1", "c1").read()).statusCode).toBe(200);
  });
});
