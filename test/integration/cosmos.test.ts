/**
 * Cosmos DB, through the real CosmosClient with `aadCredentials`. The client takes no pipeline policies: the path
 * is `httpClient: diagnosticHttpClient(credential, inner)`. Its errors are `ErrorResponse` objects (numeric `code`,
 * `substatus`, `headers`), not RestErrors: getDiagnosis finds them through their request ids.
 */
import { describe, expect, test } from "vitest";
import type { TokenCredential } from "@azure/core-auth";
import { CosmosClient, ErrorResponse, type Container } from "@azure/cosmos";
import { diagnosticHttpClient, getDiagnosis, type DiagnosticCredential } from "../../src/index.js";
import { startCosmosEmulator, type CosmosEmulator } from "../../src/testing.js";
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
  settledDownstream,
  testReportedOnce,
  uniqueName,
  useEmulators,
  type TokenPlan,
} from "./helpers.js";

const READER = "00000000-0000-0000-0000-000000000001";
const CONTRIBUTOR = "00000000-0000-0000-0000-000000000002";
const containers = [
  { database: "shop", container: "orders", partitionKeyPath: "/id" },
  { database: "shop", container: "audit", partitionKeyPath: "/id" },
];

const env = useEmulators((base) => ({
  /** With the diagnosing httpClient. */
  cosmos: startCosmosEmulator({ ...base, accountName: "orders-db", containers }),
  /** Zero-config only (its own host: Cosmos' first request, `GET /`, is the same URL in every test). */
  observed: startCosmosEmulator({ ...base, accountName: "orders-db-observed", containers }),
  locked: startCosmosEmulator({ ...base, accountName: "locked-db", containers, firewall: true }),
}));

function orders(credential: TokenCredential, options: { diagnose?: DiagnosticCredential; account?: CosmosEmulator; container?: string } = {}): Container {
  const account = options.account ?? env.cosmos;
  const httpClient = options.diagnose ? diagnosticHttpClient(options.diagnose, account.httpClient) : account.httpClient;
  return new CosmosClient({ endpoint: account.endpoint, aadCredentials: credential, httpClient }).database("shop").container(options.container ?? "orders");
}

/** Creates an item with the diagnosing httpClient (or zero-config only), then without the library: same error. */
async function createItem(plan: TokenPlan, options: { policy: boolean; account?: CosmosEmulator; configured?: TokenPlan["identity"] }) {
  const account = options.account ?? (options.policy ? env.cosmos : env.observed);
  const id = uniqueName("o");
  const result = await failWithAndWithoutLibrary(env.mi, plan, options, (credential, diagnose) =>
    orders(credential, { account, diagnose }).items.create({ id }),
  );
  expect(result.error).toBeInstanceOf(ErrorResponse);
  return { ...result, id };
}

function grant(account: CosmosEmulator, principalId: string, role: string, scope = "/") {
  account.rbac.grant({ principalId, role, scope });
}

const commandFor = (role: string) => new RegExp(`: az cosmosdb sql role assignment create .*--role-definition-id ${role}`);

describe.concurrent("Cosmos DB with diagnosticHttpClient (items.create)", () => {
  test("H2 no role: 403 substatus 5301 on the account read → Cosmos DB SQL role assignment at '/'", async () => {
    const identity = newIdentity();
    const { error, logs } = await createItem({ identity }, { policy: true });
    expect(error).toMatchObject({ code: 403, substatus: 5301 });
    const diagnosis = expectDiagnosis(error, { hypothesis: "H2", code: "RoleMissingOrWrongScope", service: "cosmos", status: 403, confidence: "high" });
    expect(diagnosis.evidence).toContain("x-ms-substatus: 5301");
    expectRoleAdvice(diagnosis, { role: "Cosmos DB Built-in Data Reader", scope: '--scope "/"', principalId: identity.objectId, command: commandFor(READER) });
    expect(diagnosis.nextSteps[0]).toContain("not an Azure RBAC role");
    expectLogLine(await downstreamLog(logs), {
      hypothesis: "H2",
      code: "RoleMissingOrWrongScope",
      status: 403,
      host: "orders-db.documents.azure.com",
      source: "response",
    });
  });

  test("H2 control-plane roles only (Owner, Cosmos DB Operator): 403 5301, named as giving no data access", async () => {
    const identity = newIdentity();
    grant(env.cosmos, identity.objectId, "Owner", env.cosmos.resourceId);
    grant(env.cosmos, identity.objectId, "Cosmos DB Operator", env.cosmos.resourceId);
    const { error } = await createItem({ identity }, { policy: true });
    const diagnosis = expectDiagnosis(error, { hypothesis: "H2", status: 403 });
    expect(diagnosis.nextSteps.join("\n")).toContain('"Owner", "Contributor", "Cosmos DB Operator", "DocumentDB Account Contributor" are control-plane roles');
  });

  test("H2 data role at a sibling scope (another container): the container read is refused → a Cosmos DB role covering it", async () => {
    const identity = newIdentity();
    grant(env.cosmos, identity.objectId, CONTRIBUTOR, "/dbs/shop/colls/audit");
    const { error } = await createItem({ identity }, { policy: true });
    expect(error).toMatchObject({ code: 403, substatus: 5301 });
    // The SDK reads the container's metadata first: that read is what the sibling-scoped role does not allow.
    expect(error.message).toContain("[Microsoft.DocumentDB/databaseAccounts/readMetadata] on resource [dbs/shop/colls/orders]");
    const diagnosis = expectDiagnosis(error, { hypothesis: "H2", code: "RoleMissingOrWrongScope", service: "cosmos" });
    expect(diagnosis.evidence.join("\n")).toContain("on resource [dbs/shop/colls/orders]");
    // The account scope "/" covers it; the container's own scope would be the least privilege.
    expectRoleAdvice(diagnosis, { role: "Cosmos DB Built-in Data Reader", scope: "--scope", principalId: identity.objectId, command: commandFor(READER) });
    expect(diagnosis.nextSteps.find((step) => step.startsWith("Grant ") && step.includes(": az cosmosdb"))).toMatch(
      /--scope "(\/|\/dbs\/shop\/colls\/orders)"$/,
    );
  });

  test("H3 token for the wrong audience: 401 'Request blocked by Auth' → WrongAudience", async () => {
    const identity = newIdentity();
    grant(env.cosmos, identity.objectId, CONTRIBUTOR);
    const { error, logs } = await createItem({ identity, audience: "https://vault.azure.net" }, { policy: true });
    expect(error).toMatchObject({ code: 401 });
    const diagnosis = expectDiagnosis(error, { hypothesis: "H3", code: "WrongAudience", service: "cosmos", status: 401 });
    expect(diagnosis.nextSteps[0]).toContain('"https://orders-db.documents.azure.com/.default"');
    expectLogLine(await downstreamLog(logs), { hypothesis: "H3", code: "WrongAudience", status: 401, host: "orders-db.documents.azure.com" });
  });

  test("H4 expired token: 401 'Provided AAD token has been expired'", async () => {
    const identity = newIdentity();
    grant(env.cosmos, identity.objectId, CONTRIBUTOR);
    const { error } = await createItem({ identity, claims: expiredClaims }, { policy: true });
    expect(error.message).toContain("Provided AAD token has been expired");
    expectDiagnosis(error, { hypothesis: "H4", code: "StaleTokenOrIdentityMixup", service: "cosmos", status: 401 });
  });

  test("H4 identity mix-up: the service names principal [<other oid>], the app is configured for another identity", async () => {
    const configured = newIdentity();
    const other = newIdentity();
    grant(env.cosmos, configured.objectId, CONTRIBUTOR);
    const { error } = await createItem({ identity: other }, { policy: true, configured });
    expect(error.message).toContain(`principal [${other.objectId}]`);
    const diagnosis = expectDiagnosis(error, { hypothesis: "H4", code: "StaleTokenOrIdentityMixup", status: 403 });
    expect(diagnosis.summary).toContain(`request made as clientId ${other.clientId}`);
  });

  test("not-identity: the account firewall ('Request originated from client IP … through public internet')", async () => {
    const identity = newIdentity();
    grant(env.locked, identity.objectId, CONTRIBUTOR);
    const { error, logs } = await createItem({ identity }, { policy: true, account: env.locked });
    expect(error).toMatchObject({ code: 403 });
    expectDiagnosis(error, { hypothesis: "not-identity", code: "NotAnIdentityProblem", service: "cosmos", status: 403 });
    expectLogLine(await downstreamLog(logs), { hypothesis: "not-identity", code: "NotAnIdentityProblem", status: 403, host: "locked-db.documents.azure.com" });
  });

  test("a control-plane operation through the data plane (create a container): 403 substatus 5300 is diagnosed, not taken for a missing data role", async () => {
    const identity = newIdentity();
    grant(env.cosmos, identity.objectId, CONTRIBUTOR);
    const { credential } = diagnosticSetup(env.mi, { identity });
    const client = new CosmosClient({
      endpoint: env.cosmos.endpoint,
      aadCredentials: credential,
      httpClient: diagnosticHttpClient(credential, env.cosmos.httpClient),
    });
    const error = await failure(client.database("shop").containers.create({ id: "new-container" }));
    expect(error).toMatchObject({ code: 403, substatus: 5300 });
    const diagnosis = expectDiagnosis(error, { service: "cosmos", status: 403 });
    expect(diagnosis.evidence).toContain("x-ms-substatus: 5300");
    expect(diagnosis.nextSteps.join("\n")).not.toMatch(/az cosmosdb sql role assignment create/);
  });

  test("2xx: create and read with Data Contributor produce no diagnosis and no log line", async () => {
    const identity = newIdentity();
    grant(env.cosmos, identity.objectId, CONTRIBUTOR);
    const { credential, logs } = diagnosticSetup(env.mi, { identity });
    const container = orders(credential, { diagnose: credential });
    await container.items.create({ id: "ok-1", total: 3 });
    const { resource } = await container.item("ok-1", "ok-1").read();
    expect(resource).toMatchObject({ id: "ok-1", total: 3 });
    expect(await settledDownstream(logs, credential)).toEqual([]);
  });

  testReportedOnce("with diagnosticHttpClient AND zero-config observation active, one failure is reported once", (plan) => createItem(plan, { policy: true }));
});

describe.concurrent("Cosmos DB with zero-config observation only (node:http, its `type=aad…&sig=` header)", () => {
  test("H2: a Reader creating an item: logged from status + headers; credential.diagnose(error) reads the ErrorResponse", async () => {
    const identity = newIdentity();
    grant(env.observed, identity.objectId, READER);
    const { error, logs, credential } = await createItem({ identity }, { policy: false });
    expectLogLine(await downstreamLog(logs), {
      hypothesis: "H2",
      code: "RoleMissingOrWrongScope",
      status: 403,
      host: "orders-db-observed.documents.azure.com",
      source: "observed",
    });
    expect(getDiagnosis(error)).toBeUndefined();
    const diagnosis = credential.diagnose(error);
    expect(diagnosis).toMatchObject({ hypothesis: "H2", service: "cosmos", status: 403 });
    expect(diagnosis!.evidence).toContain("x-ms-substatus: 5301");
    expectRoleAdvice(diagnosis!, {
      role: "Cosmos DB Built-in Data Contributor",
      scope: "--scope",
      principalId: identity.objectId,
      command: commandFor(CONTRIBUTOR),
    });
  });

  test("H3 wrong audience", async () => {
    const identity = newIdentity();
    const { logs } = await createItem({ identity, audience: "https://management.azure.com" }, { policy: false });
    expectLogLine(await downstreamLog(logs), {
      hypothesis: "H3",
      code: "WrongAudience",
      status: 401,
      host: "orders-db-observed.documents.azure.com",
      source: "observed",
    });
  });
});
