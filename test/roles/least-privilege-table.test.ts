/**
 * The least-privilege table: real actions across services, each with the role the Azure built-in roles reference
 * (learn.microsoft.com/azure/role-based-access-control/built-in-roles and its per-category pages) makes the smallest
 * grant made for the service. Written from the reference and the services' role guides, not from the code's output.
 * Sources of the actions: the role definitions themselves, and real answers (../shared/research/service-errors.md:
 * Key Vault's `Action:` line, Cosmos DB's `[readMetadata]`, OpenAI's lacking data action; public issues:
 * aad-pod-identity#443's LinkedAuthorizationFailed on `userAssignedIdentities/assign/action`).
 */
import { describe, expect, it } from "vitest";
import { leastPrivilegedRole } from "../../src/catalog/leastPrivilege.js";
import { COSMOS_SQL_ROLES } from "../../src/catalog/roleFamilies.js";

const KV = "Microsoft.KeyVault/vaults";
const BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs";
const QUEUE = "Microsoft.Storage/storageAccounts/queueServices/queues/messages";
const TABLE = "Microsoft.Storage/storageAccounts/tableServices/tables/entities";
const FILES = "Microsoft.Storage/storageAccounts/fileServices";
const OPENAI = "Microsoft.CognitiveServices/accounts/OpenAI";
const SQL = "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers";

/** [action, data action?, expected role]. */
const TABLE_ROWS: Array<[string, boolean, string]> = [
  // Key Vault (data plane; the RBAC guide's roles per object kind)
  [`${KV}/secrets/getSecret/action`, true, "Key Vault Secrets User"],
  [`${KV}/secrets/readMetadata/action`, true, "Key Vault Secrets User"],
  [`${KV}/secrets/setSecret/action`, true, "Key Vault Secrets Officer"],
  [`${KV}/secrets/delete`, true, "Key Vault Secrets Officer"],
  [`${KV}/keys/read`, true, "Key Vault Crypto Service Encryption User"],
  [`${KV}/keys/wrap/action`, true, "Key Vault Crypto Service Encryption User"],
  [`${KV}/keys/encrypt/action`, true, "Key Vault Crypto User"],
  [`${KV}/keys/sign/action`, true, "Key Vault Crypto User"],
  [`${KV}/keys/create/action`, true, "Key Vault Crypto Officer"],
  [`${KV}/keys/release/action`, true, "Key Vault Crypto Service Release User"],
  [`${KV}/certificates/read`, true, "Key Vault Certificate User"],
  [`${KV}/certificates/create/action`, true, "Key Vault Certificates Officer"],
  // Key Vault (control plane)
  [`${KV}/read`, false, "Key Vault Reader"],
  [`${KV}/write`, false, "Key Vault Contributor"],
  // Storage
  [`${BLOB}/read`, true, "Storage Blob Data Reader"],
  [`${BLOB}/write`, true, "Storage Blob Data Contributor"],
  [`${BLOB}/delete`, true, "Storage Blob Data Contributor"],
  [`${BLOB}/modifyPermissions/action`, true, "Storage Blob Data Owner"],
  [`${QUEUE}/read`, true, "Storage Queue Data Reader"],
  [`${QUEUE}/add/action`, true, "Storage Queue Data Message Sender"],
  [`${QUEUE}/process/action`, true, "Storage Queue Data Message Processor"],
  [`${QUEUE}/delete`, true, "Storage Queue Data Contributor"],
  [`${TABLE}/read`, true, "Storage Table Data Reader"],
  [`${TABLE}/write`, true, "Storage Table Data Contributor"],
  [`${FILES}/readFileBackupSemantics/action`, true, "Storage File Data Privileged Reader"],
  [`${FILES}/writeFileBackupSemantics/action`, true, "Storage File Data Privileged Contributor"],
  [`${FILES}/fileshares/files/read`, true, "Storage File Data SMB Share Reader"],
  ["Microsoft.Storage/storageAccounts/listKeys/action", false, "Storage Account Key Operator Service Role"],
  // Service Bus and Event Hubs (creating a topic or an event hub needs Data Owner)
  ["Microsoft.ServiceBus/namespaces/messages/send/action", true, "Azure Service Bus Data Sender"],
  ["Microsoft.ServiceBus/namespaces/messages/receive/action", true, "Azure Service Bus Data Receiver"],
  ["Microsoft.ServiceBus/namespaces/topics/write", true, "Azure Service Bus Data Owner"],
  ["Microsoft.ServiceBus/namespaces/queues/write", true, "Azure Service Bus Data Owner"],
  ["Microsoft.EventHub/namespaces/messages/send/action", true, "Azure Event Hubs Data Sender"],
  ["Microsoft.EventHub/namespaces/messages/receive/action", true, "Azure Event Hubs Data Receiver"],
  ["Microsoft.EventHub/namespaces/eventhubs/write", true, "Azure Event Hubs Data Owner"],
  // App Configuration
  ["Microsoft.AppConfiguration/configurationStores/keyValues/read", true, "App Configuration Data Reader"],
  ["Microsoft.AppConfiguration/configurationStores/keyValues/write", true, "App Configuration Data Owner"],
  ["Microsoft.AppConfiguration/configurationStores/read", false, "App Configuration Reader"],
  // Azure OpenAI and Azure AI Foundry
  [`${OPENAI}/deployments/chat/completions/action`, true, "Cognitive Services OpenAI User"],
  [`${OPENAI}/deployments/embeddings/action`, true, "Cognitive Services OpenAI User"],
  [`${OPENAI}/deployments/write`, true, "Cognitive Services OpenAI Contributor"],
  ["Microsoft.CognitiveServices/accounts/AIServices/agents/read", true, "Azure AI User"],
  ["Microsoft.CognitiveServices/accounts/AIServices/agents/write", true, "Azure AI User"],
  // Event Grid, Monitor, Log Analytics
  ["Microsoft.EventGrid/events/send/action", true, "EventGrid Data Sender"],
  ["Microsoft.EventGrid/events/receive/action", true, "EventGrid Data Receiver"],
  ["Microsoft.Insights/Telemetry/Write", true, "Monitoring Metrics Publisher"],
  ["Microsoft.Insights/Metrics/Write", true, "Monitoring Metrics Publisher"],
  ["Microsoft.Insights/dataCollectionRules/read", false, "Monitoring Reader"],
  ["Microsoft.OperationalInsights/workspaces/tables/data/read", true, "Log Analytics Data Reader"],
  // Container Registry (classic and ABAC repository permissions)
  ["Microsoft.ContainerRegistry/registries/pull/read", false, "AcrPull"],
  ["Microsoft.ContainerRegistry/registries/push/write", false, "AcrPush"],
  ["Microsoft.ContainerRegistry/registries/artifacts/delete", false, "AcrDelete"],
  ["Microsoft.ContainerRegistry/registries/repositories/content/read", true, "Container Registry Repository Reader"],
  ["Microsoft.ContainerRegistry/registries/repositories/content/write", true, "Container Registry Repository Writer"],
  // Azure AI Search
  ["Microsoft.Search/searchServices/indexes/documents/read", true, "Search Index Data Reader"],
  ["Microsoft.Search/searchServices/indexes/documents/write", true, "Search Index Data Contributor"],
  // Resource Manager (control plane)
  ["Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", false, "Managed Identity Operator"],
  ["Microsoft.ManagedIdentity/userAssignedIdentities/read", false, "Managed Identity Operator"],
  ["Microsoft.ManagedIdentity/userAssignedIdentities/write", false, "Managed Identity Contributor"],
  ["Microsoft.Web/sites/read", false, "Reader"],
  ["Microsoft.Web/sites/restart/action", false, "Website Contributor"],
  ["Microsoft.Resources/subscriptions/resourceGroups/read", false, "Reader"],
  ["Microsoft.Authorization/roleAssignments/write", false, "Role Based Access Control Administrator"],
];

/** Cosmos DB's SQL data roles (its own role set, not Azure RBAC). */
const COSMOS_ROWS: Array<[string, string]> = [
  ["Microsoft.DocumentDB/databaseAccounts/readMetadata", "Cosmos DB Built-in Data Reader"],
  [`${SQL}/items/read`, "Cosmos DB Built-in Data Reader"],
  [`${SQL}/executeQuery`, "Cosmos DB Built-in Data Reader"],
  [`${SQL}/items/create`, "Cosmos DB Built-in Data Contributor"],
  [`${SQL}/items/delete`, "Cosmos DB Built-in Data Contributor"],
];

describe("least privilege table (expected from the built-in roles reference)", () => {
  it(`holds at least 60 actions across services`, () => {
    expect(TABLE_ROWS.length + COSMOS_ROWS.length).toBeGreaterThanOrEqual(60);
    expect(new Set(TABLE_ROWS.map(([action]) => action.split("/")[0])).size).toBeGreaterThanOrEqual(12);
  });

  it.each(TABLE_ROWS)("%s (data action: %s) → %s", (action, dataAction, expected) => {
    const choice = leastPrivilegedRole(action, { dataAction });
    expect(choice?.role.name).toBe(expected);
    // The role really grants it, and the line says so.
    expect(choice?.why).toContain(`grants \`${action}\``);
    expect(choice?.candidates).toBeGreaterThanOrEqual(1);
    if (dataAction) expect(["Owner", "Contributor", "User Access Administrator", "Reader"]).not.toContain(choice?.role.name);
  });

  it.each(COSMOS_ROWS)("Cosmos DB %s → %s", (action, expected) => {
    expect(leastPrivilegedRole(action, { dataAction: true, roles: COSMOS_SQL_ROLES })?.role.name).toBe(expected);
  });
});
