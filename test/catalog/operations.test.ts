/**
 * The operation → action table: which Azure RBAC action a request needs when the answer names none. Expected
 * actions are written from the services' REST references and the built-in role definitions, not from the code.
 * Every action the table can emit must be granted by some built-in role of ../shared/data/azure-builtin-roles.json
 * (`az role definition list` shape), Actions and DataActions kept apart.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { actionOfClaim, actionOfRequest } from "../../src/catalog/operations.js";
import { SERVICE_CATALOG } from "../../src/catalog/services.js";

const ROLES_FILE = resolve(__dirname, "../../../shared/data/azure-builtin-roles.json");

describe("actionOfRequest: method + URL → action", () => {
  it.each([
    // Key Vault (https://learn.microsoft.com/azure/key-vault/general/rbac-guide)
    ["keyvault", "GET", "https://kv.vault.azure.net/secrets/db-password?api-version=7.5", "Microsoft.KeyVault/vaults/secrets/getSecret/action"],
    ["keyvault", "GET", "https://kv.vault.azure.net/secrets/db-password/0123abcd", "Microsoft.KeyVault/vaults/secrets/getSecret/action"],
    ["keyvault", "GET", "https://kv.vault.azure.net/secrets?api-version=7.5", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"],
    ["keyvault", "PUT", "https://kv.vault.azure.net/secrets/db-password", "Microsoft.KeyVault/vaults/secrets/setSecret/action"],
    ["keyvault", "DELETE", "https://kv.vault.azure.net/secrets/db-password", "Microsoft.KeyVault/vaults/secrets/delete"],
    ["keyvault", "POST", "https://kv.vault.azure.net/keys/cmk/0123/unwrapkey", "Microsoft.KeyVault/vaults/keys/unwrap/action"],
    ["keyvault", "POST", "https://kv.vault.azure.net/keys/cmk/0123/wrapkey", "Microsoft.KeyVault/vaults/keys/wrap/action"],
    ["keyvault", "POST", "https://kv.vault.azure.net/keys/signer/0123/sign", "Microsoft.KeyVault/vaults/keys/sign/action"],
    ["keyvault", "POST", "https://kv.vault.azure.net/keys/cmk/create", "Microsoft.KeyVault/vaults/keys/create/action"],
    ["keyvault", "GET", "https://kv.vault.azure.net/keys/cmk", "Microsoft.KeyVault/vaults/keys/read"],
    ["keyvault", "GET", "https://kv.vault.azure.net/certificates/tls", "Microsoft.KeyVault/vaults/certificates/read"],
    // Storage (https://learn.microsoft.com/rest/api/storageservices/authorize-with-azure-active-directory#permissions-for-calling-data-operations)
    ["storage", "GET", "https://st.blob.core.windows.net/c/b.txt", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"],
    [
      "storage",
      "GET",
      "https://st.blob.core.windows.net/c?restype=container&comp=list",
      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
    ],
    ["storage", "PUT", "https://st.blob.core.windows.net/c/b.txt", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"],
    [
      "storage",
      "PUT",
      "https://st.blob.core.windows.net/c/log.txt?comp=appendblock",
      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
    ],
    ["storage", "DELETE", "https://st.blob.core.windows.net/c/b.txt", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete"],
    ["storage", "PUT", "https://st.blob.core.windows.net/c?restype=container", "Microsoft.Storage/storageAccounts/blobServices/containers/write"],
    ["storage", "GET", "https://st.blob.core.windows.net/?comp=list", "Microsoft.Storage/storageAccounts/blobServices/containers/read"],
    ["storage", "POST", "https://st.queue.core.windows.net/jobs/messages", "Microsoft.Storage/storageAccounts/queueServices/queues/messages/add/action"],
    [
      "storage",
      "GET",
      "https://st.queue.core.windows.net/jobs/messages?numofmessages=8",
      "Microsoft.Storage/storageAccounts/queueServices/queues/messages/process/action",
    ],
    ["storage", "GET", "https://st.queue.core.windows.net/jobs/messages?peekonly=true", "Microsoft.Storage/storageAccounts/queueServices/queues/messages/read"],
    [
      "storage",
      "DELETE",
      "https://st.queue.core.windows.net/jobs/messages/id-1?popreceipt=x",
      "Microsoft.Storage/storageAccounts/queueServices/queues/messages/process/action",
    ],
    [
      "storage",
      "GET",
      "https://st.table.core.windows.net/orders(PartitionKey='a',RowKey='1')",
      "Microsoft.Storage/storageAccounts/tableServices/tables/entities/read",
    ],
    ["storage", "POST", "https://st.table.core.windows.net/orders", "Microsoft.Storage/storageAccounts/tableServices/tables/entities/add/action"],
    ["storage", "POST", "https://st.table.core.windows.net/Tables", "Microsoft.Storage/storageAccounts/tableServices/tables/write"],
    ["storage", "GET", "https://st.file.core.windows.net/share/dir/f.txt", "Microsoft.Storage/storageAccounts/fileServices/fileshares/files/read"],
    ["storage", "PATCH", "https://st.dfs.core.windows.net/fs/dir/f.txt?action=append", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"],
    // App Configuration
    ["appconfig", "GET", "https://cs.azconfig.io/kv?key=app:*", "Microsoft.AppConfiguration/configurationStores/keyValues/read"],
    ["appconfig", "PUT", "https://cs.azconfig.io/kv/app:color", "Microsoft.AppConfiguration/configurationStores/keyValues/write"],
    ["appconfig", "DELETE", "https://cs.azconfig.io/kv/app:color", "Microsoft.AppConfiguration/configurationStores/keyValues/delete"],
    // Service Bus / Event Hubs REST (creating an entity needs Data Owner)
    ["servicebus", "POST", "https://ns.servicebus.windows.net/orders/messages", "Microsoft.ServiceBus/namespaces/messages/send/action"],
    ["servicebus", "DELETE", "https://ns.servicebus.windows.net/orders/messages/head", "Microsoft.ServiceBus/namespaces/messages/receive/action"],
    ["servicebus", "PUT", "https://ns.servicebus.windows.net/orders-topic", "Microsoft.ServiceBus/namespaces/queues/write"],
    ["servicebus", "PUT", "https://ns.servicebus.windows.net/orders-topic/subscriptions/audit", "Microsoft.ServiceBus/namespaces/topics/subscriptions/write"],
    ["eventhubs", "POST", "https://ns.servicebus.windows.net/telemetry/messages", "Microsoft.EventHub/namespaces/messages/send/action"],
    ["eventhubs", "PUT", "https://ns.servicebus.windows.net/telemetry/consumergroups/cg1", "Microsoft.EventHub/namespaces/eventhubs/consumergroups/write"],
    // Cosmos DB (https://learn.microsoft.com/azure/cosmos-db/nosql/security/reference-data-plane-actions)
    [
      "cosmos",
      "GET",
      "https://acct.documents.azure.com/dbs/shop/colls/orders/docs/1",
      "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/read",
    ],
    [
      "cosmos",
      "POST",
      "https://acct.documents.azure.com/dbs/shop/colls/orders/docs",
      "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/create",
    ],
    [
      "cosmos",
      "DELETE",
      "https://acct.documents.azure.com/dbs/shop/colls/orders/docs/1",
      "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/delete",
    ],
    ["cosmos", "GET", "https://acct.documents.azure.com/dbs/shop", "Microsoft.DocumentDB/databaseAccounts/readMetadata"],
    // OpenAI and AI Foundry
    [
      "openai",
      "POST",
      "https://oai.openai.azure.com/openai/deployments/gpt/chat/completions?api-version=2024-06-01",
      "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action",
    ],
    [
      "openai",
      "POST",
      "https://oai.openai.azure.com/openai/deployments/emb/embeddings",
      "Microsoft.CognitiveServices/accounts/OpenAI/deployments/embeddings/action",
    ],
    ["aifoundry", "GET", "https://res.services.ai.azure.com/api/projects/p1/assistants/asst_1", "Microsoft.CognitiveServices/accounts/AIServices/agents/read"],
    ["aifoundry", "POST", "https://res.services.ai.azure.com/api/projects/p1/assistants", "Microsoft.CognitiveServices/accounts/AIServices/agents/write"],
    // Search, Monitor, Log Analytics, Event Grid, SignalR/Web PubSub, Batch
    [
      "search",
      "POST",
      "https://srch.search.windows.net/indexes/hotels/docs/search?api-version=2024-07-01",
      "Microsoft.Search/searchServices/indexes/documents/read",
    ],
    ["search", "GET", "https://srch.search.windows.net/indexes('hotels')/docs?search=*", "Microsoft.Search/searchServices/indexes/documents/read"],
    ["search", "POST", "https://srch.search.windows.net/indexes/hotels/docs/index", "Microsoft.Search/searchServices/indexes/documents/write"],
    ["search", "PUT", "https://srch.search.windows.net/indexes/hotels", "Microsoft.Search/searchServices/indexes/write"],
    ["monitor", "POST", "https://dce.westeurope-1.ingest.monitor.azure.com/dataCollectionRules/dcr-01/streams/Custom-X", "Microsoft.Insights/Telemetry/Write"],
    [
      "loganalytics",
      "POST",
      "https://api.loganalytics.io/v1/workspaces/0b0b0b0b-1111-2222-3333-444444444444/query",
      "Microsoft.OperationalInsights/workspaces/query/read",
    ],
    ["eventgrid", "POST", "https://egt.westeurope-1.eventgrid.azure.net/api/events", "Microsoft.EventGrid/events/send/action"],
    ["eventgridnamespaces", "POST", "https://egns.westeurope-1.eventgrid.azure.net/topics/orders:publish", "Microsoft.EventGrid/events/send/action"],
    [
      "eventgridnamespaces",
      "POST",
      "https://egns.westeurope-1.eventgrid.azure.net/topics/orders/eventsubscriptions/s1:receive",
      "Microsoft.EventGrid/events/receive/action",
    ],
    ["webpubsub", "POST", "https://wps.webpubsub.azure.com/api/hubs/chat/groups/g1/:send", "Microsoft.SignalRService/WebPubSub/group/send/action"],
    ["signalr", "POST", "https://sig.service.signalr.net/api/hubs/chat/:send", "Microsoft.SignalRService/SignalR/hub/send/action"],
    ["batch", "POST", "https://b.westeurope.batch.azure.com/jobs", "Microsoft.Batch/batchAccounts/jobs/write"],
    ["batch", "POST", "https://b.westeurope.batch.azure.com/pools", "Microsoft.Batch/batchAccounts/pools/write"],
    // Container Registry: legacy action, and the ABAC-mode data action as the alternative
    ["acr", "GET", "https://reg.azurecr.io/v2/app/manifests/1.0", "Microsoft.ContainerRegistry/registries/pull/read"],
    ["acr", "PUT", "https://reg.azurecr.io/v2/app/manifests/1.0", "Microsoft.ContainerRegistry/registries/push/write"],
  ])("%s %s %s → %s", (service, method, url, action) => {
    expect(actionOfRequest(service, method, url)?.action).toBe(action);
  });

  it("says whether the action is a data action, and names ACR's ABAC-mode action", () => {
    expect(actionOfRequest("storage", "PUT", "https://st.blob.core.windows.net/c?restype=container")).toEqual({
      action: "Microsoft.Storage/storageAccounts/blobServices/containers/write",
      dataAction: false,
    });
    expect(actionOfRequest("acr", "GET", "https://reg.azurecr.io/v2/app/blobs/sha256:00")).toEqual({
      action: "Microsoft.ContainerRegistry/registries/pull/read",
      dataAction: false,
      alternative: {
        action: "Microsoft.ContainerRegistry/registries/repositories/content/read",
        dataAction: true,
        mode: "RBAC Registry + ABAC Repository Permissions",
      },
    });
  });

  it("undefined for unknown services, services without a table, unknown paths", () => {
    expect(actionOfRequest("nope", "GET", "https://x.example/")).toBeUndefined();
    expect(actionOfRequest("redis", "GET", "https://c.redis.cache.windows.net/")).toBeUndefined();
    expect(actionOfRequest("monitor", "GET", "https://dce.westeurope-1.ingest.monitor.azure.com/other")).toBeUndefined();
    expect(actionOfRequest("keyvault", "GET", undefined)).toBeUndefined();
  });
});

describe("actionOfClaim: AMQP claims → action", () => {
  it.each([
    ["servicebus", "Send", "Microsoft.ServiceBus/namespaces/messages/send/action"],
    ["servicebus", "Listen", "Microsoft.ServiceBus/namespaces/messages/receive/action"],
    ["servicebus", "Manage,EntityRead", "Microsoft.ServiceBus/namespaces/queues/write"],
    ["servicebus", "EntityRead", "Microsoft.ServiceBus/namespaces/queues/read"],
    ["eventhubs", "Send", "Microsoft.EventHub/namespaces/messages/send/action"],
    ["eventhubs", "listen", "Microsoft.EventHub/namespaces/messages/receive/action"],
    ["eventhubs", "Manage", "Microsoft.EventHub/namespaces/eventhubs/write"],
  ])("%s '%s' → %s", (service, claim, action) => {
    expect(actionOfClaim(service, claim)?.action).toBe(action);
  });
  it("undefined for an unknown claim or a service without claims", () => {
    expect(actionOfClaim("servicebus", "Fly")).toBeUndefined();
    expect(actionOfClaim("keyvault", "Send")).toBeUndefined();
  });
});

describe("fuzz: never throws, answers only with actions of the table", () => {
  const methods = ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "MERGE", "get", "", undefined];
  const pieces = ["", "/", "secrets", "keys", "x", "..", "%", "%zz", "messages", "head", "docs", "$Resources", "v2", "api", ":send", "?", "#", " ", "(", "'"];
  const actions = new Set(SERVICE_CATALOG.flatMap((s) => (s.operations ?? []).map((row) => row.action)));
  let seed = 42;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  it("2,000 random requests", () => {
    for (let i = 0; i < 2000; i += 1) {
      const service = SERVICE_CATALOG[random(SERVICE_CATALOG.length)]!;
      const path = Array.from({ length: random(6) }, () => pieces[random(pieces.length)]).join("/");
      const url = random(4) === 0 ? path : `https://h${random(9)}.example/${path}`;
      const result = actionOfRequest(service, methods[random(methods.length)], url);
      if (result !== undefined) expect(actions.has(result.action)).toBe(true);
      expect(() => actionOfClaim(service, path)).not.toThrow();
    }
  });
});

describe.skipIf(!existsSync(ROLES_FILE))("every action of the table is granted by a built-in role", () => {
  interface Permission {
    actions: string[];
    notActions: string[];
    dataActions: string[];
    notDataActions: string[];
  }
  const roles = existsSync(ROLES_FILE) ? (JSON.parse(readFileSync(ROLES_FILE, "utf8")) as Array<{ roleName: string; permissions: Permission[] }>) : [];
  // Cosmos DB's data plane has its own built-in roles (not Azure RBAC; absent from `az role definition list`):
  // https://learn.microsoft.com/azure/cosmos-db/nosql/security/reference-data-plane-roles
  const cosmosDataContributor: Permission = {
    actions: [],
    notActions: [],
    dataActions: [
      "Microsoft.DocumentDB/databaseAccounts/readMetadata",
      "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/*",
      "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/*",
    ],
    notDataActions: [],
  };
  const pattern = (grant: string) => new RegExp(`^${grant.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`, "i");
  const grants = (permission: Permission, action: string, data: boolean) => {
    const [allowed, denied] = data ? [permission.dataActions, permission.notDataActions] : [permission.actions, permission.notActions];
    return allowed.some((grant) => pattern(grant).test(action)) && !denied.some((grant) => pattern(grant).test(action));
  };
  const rows = SERVICE_CATALOG.flatMap((service) =>
    (service.operations ?? []).flatMap((row) => [
      [service.name, row.action, row.control !== true] as const,
      ...(row.alternative !== undefined ? [[service.name, row.alternative.action, row.alternative.control !== true] as const] : []),
    ]),
  );
  it("the table is not empty", () => expect(rows.length).toBeGreaterThan(100));
  it.each(rows)("%s: %s (data action: %s)", (_service, action, data) => {
    const grantedBy = roles.filter((role) => role.permissions.some((permission) => grants(permission, action, data))).map((role) => role.roleName);
    if (action.startsWith("Microsoft.DocumentDB/") && grants(cosmosDataContributor, action, data)) grantedBy.push("Cosmos DB Built-in Data Contributor");
    expect(grantedBy.length, `${action} is granted by no built-in role`).toBeGreaterThan(0);
  });
});
