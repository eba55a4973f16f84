/**
 * Which built-in roles are made for which actions: the role families, keyed by the action's resource-provider
 * namespace or a longer prefix of it. Counting permissions alone picks absurd roles (a Defender role for a Foundry
 * agent read, a Red Hat OpenShift operator for assigning an identity, a Sentinel playbook role for reading a web
 * app): the least-privilege role is chosen among the family's roles first. Data, from each service's role docs
 * (the `docs` line of each entry); an action no family covers falls back to the roles whose own namespace is the
 * action's (see leastPrivilege.ts).
 */
import type { RoleDefinition } from "./roleDefinitions.js";

export interface RoleFamily {
  /** The actions it is made for: a namespace or a longer action prefix, compared case-insensitively. */
  prefix: string;
  /** The roles of the family, by name. */
  roles: RegExp;
  /** Where the service documents these roles. */
  docs: string;
}

/** The longest matching prefix is tried first; when none of its roles grants the action, the next shorter one. */
export const ROLE_FAMILIES: readonly RoleFamily[] = [
  { prefix: "Microsoft.KeyVault/vaults/secrets", roles: /^Key Vault Secrets /, docs: "https://learn.microsoft.com/azure/key-vault/general/rbac-guide" },
  { prefix: "Microsoft.KeyVault/vaults/keys", roles: /^Key Vault Crypto /, docs: "https://learn.microsoft.com/azure/key-vault/general/rbac-guide" },
  { prefix: "Microsoft.KeyVault/vaults/certificates", roles: /^Key Vault Certificate/, docs: "https://learn.microsoft.com/azure/key-vault/general/rbac-guide" },
  { prefix: "Microsoft.KeyVault", roles: /^Key Vault /, docs: "https://learn.microsoft.com/azure/key-vault/general/rbac-guide" },
  {
    prefix: "Microsoft.Storage/storageAccounts/blobServices",
    roles: /^Storage Blob Data /,
    docs: "https://learn.microsoft.com/azure/storage/blobs/assign-azure-role-data-access",
  },
  {
    prefix: "Microsoft.Storage/storageAccounts/queueServices",
    roles: /^Storage Queue Data /,
    docs: "https://learn.microsoft.com/azure/storage/queues/assign-azure-role-data-access",
  },
  {
    prefix: "Microsoft.Storage/storageAccounts/tableServices",
    roles: /^Storage Table Data /,
    docs: "https://learn.microsoft.com/azure/storage/tables/assign-azure-role-data-access",
  },
  {
    prefix: "Microsoft.Storage/storageAccounts/fileServices",
    roles: /^Storage File Data /,
    docs: "https://learn.microsoft.com/azure/storage/files/authorize-oauth-rest",
  },
  { prefix: "Microsoft.Storage", roles: /^Storage /, docs: "https://learn.microsoft.com/azure/storage/common/authorize-data-access" },
  {
    prefix: "Microsoft.ServiceBus",
    roles: /^Azure Service Bus Data /,
    docs: "https://learn.microsoft.com/azure/service-bus-messaging/service-bus-managed-service-identity",
  },
  {
    prefix: "Microsoft.EventHub",
    roles: /^Azure Event Hubs Data /,
    docs: "https://learn.microsoft.com/azure/event-hubs/authorize-access-azure-active-directory",
  },
  { prefix: "Microsoft.AppConfiguration", roles: /^App Configuration /, docs: "https://learn.microsoft.com/azure/azure-app-configuration/concept-enable-rbac" },
  // Azure AI Foundry (agents, projects on *.services.ai.azure.com): the Azure AI roles.
  {
    prefix: "Microsoft.CognitiveServices/accounts/AIServices",
    roles: /^Azure AI (User|Developer|Project Manager|Owner|Account Owner|Administrator)$/,
    docs: "https://learn.microsoft.com/azure/ai-foundry/concepts/rbac-azure-ai-foundry",
  },
  {
    prefix: "Microsoft.CognitiveServices/accounts/OpenAI",
    roles: /^Cognitive Services OpenAI /,
    docs: "https://learn.microsoft.com/azure/ai-services/openai/how-to/role-based-access-control",
  },
  { prefix: "Microsoft.CognitiveServices", roles: /^(Cognitive Services |Azure AI )/, docs: "https://learn.microsoft.com/azure/ai-services/authentication" },
  { prefix: "Microsoft.EventGrid", roles: /^EventGrid /, docs: "https://learn.microsoft.com/azure/event-grid/security-authorization" },
  { prefix: "Microsoft.Insights", roles: /^Monitoring /, docs: "https://learn.microsoft.com/azure/azure-monitor/roles-permissions-security" },
  { prefix: "Microsoft.OperationalInsights", roles: /^Log Analytics /, docs: "https://learn.microsoft.com/azure/azure-monitor/logs/manage-access" },
  {
    prefix: "Microsoft.ContainerRegistry/registries/repositories",
    roles: /^Container Registry Repository /,
    docs: "https://learn.microsoft.com/azure/container-registry/container-registry-rbac-abac-repository-permissions",
  },
  {
    prefix: "Microsoft.ContainerRegistry",
    roles: /^(Acr|Container Registry )/,
    docs: "https://learn.microsoft.com/azure/container-registry/container-registry-roles",
  },
  {
    prefix: "Microsoft.ManagedIdentity",
    roles: /^Managed Identity /,
    docs: "https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-manage-user-assigned-managed-identities",
  },
  { prefix: "Microsoft.Search", roles: /^Search /, docs: "https://learn.microsoft.com/azure/search/search-security-rbac" },
  { prefix: "Microsoft.Kusto", roles: /^(Azure Data Explorer|Kusto)/, docs: "https://learn.microsoft.com/azure/data-explorer/manage-database-permissions" },
  {
    prefix: "Microsoft.SignalRService",
    roles: /^(SignalR|Web PubSub) /,
    docs: "https://learn.microsoft.com/azure/azure-signalr/authorize-access-azure-active-directory",
  },
  { prefix: "Microsoft.Batch", roles: /^Azure Batch /, docs: "https://learn.microsoft.com/azure/batch/batch-role-based-access-control" },
  { prefix: "Microsoft.DocumentDB", roles: /^(Cosmos DB |CosmosDB |DocumentDB )/, docs: "https://learn.microsoft.com/azure/cosmos-db/how-to-setup-rbac" },
  {
    prefix: "Microsoft.Web",
    roles: /^(Website Contributor|Web Plan Contributor|App Service )/,
    docs: "https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/web-and-mobile",
  },
  {
    prefix: "Microsoft.Compute/virtualMachines",
    roles: /^Virtual Machine /,
    docs: "https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/compute",
  },
  { prefix: "Microsoft.Network", roles: /^Network /, docs: "https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/networking" },
];

/**
 * Roles made for everything: for a control-plane action they are the last resort when no role made for the service
 * grants it, and they never answer a data action (they grant none, or all of them).
 */
export const GENERIC_ROLES: readonly string[] = ["Reader", "Contributor", "Owner", "User Access Administrator", "Role Based Access Control Administrator"];

/**
 * Namespaces that almost every role lists beside its own (reading role assignments, deployments, alert rules, support
 * tickets, health): not what a role is made for.
 */
export const SUPPORTING_ACTION_PREFIXES: readonly string[] = [
  "microsoft.authorization/",
  "microsoft.resources/",
  "microsoft.support/",
  "microsoft.resourcehealth/",
  "microsoft.insights/alertrules/",
  "microsoft.insights/diagnosticsettings/",
  "microsoft.insights/logdefinitions/",
  "microsoft.insights/metricdefinitions/",
  "microsoft.insights/metrics/read",
  "microsoft.insights/components/",
  "microsoft.management/managementgroups/read",
];

/**
 * Cosmos DB's own SQL data roles (not Azure RBAC: assigned with `az cosmosdb sql role assignment create`), as
 * documented in learn.microsoft.com/azure/cosmos-db/how-to-setup-rbac ("Built-in role definitions").
 */
export const COSMOS_SQL_ROLES: readonly RoleDefinition[] = [
  {
    name: "Cosmos DB Built-in Data Reader",
    id: "00000000-0000-0000-0000-000000000001",
    permissions: [
      {
        actions: [],
        notActions: [],
        dataActions: [
          "Microsoft.DocumentDB/databaseAccounts/readMetadata",
          "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/executeQuery",
          "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/readChangeFeed",
          "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/read",
        ],
        notDataActions: [],
      },
    ],
  },
  {
    name: "Cosmos DB Built-in Data Contributor",
    id: "00000000-0000-0000-0000-000000000002",
    permissions: [
      {
        actions: [],
        notActions: [],
        dataActions: [
          "Microsoft.DocumentDB/databaseAccounts/readMetadata",
          "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/*",
          "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/*",
        ],
        notDataActions: [],
      },
    ],
  },
];

/**
 * The action each catalog role's `operation` stands for, per service ("keyvault.secrets-read"): what the least-
 * privilege computation starts from when the service's answer names no action (Storage's
 * AuthorizationPermissionMismatch, Service Bus's claims, a bare 403). The catalog's operation → action table, when it
 * names the request's action, comes first.
 */
export const OPERATION_ACTIONS: Readonly<Record<string, string>> = {
  "keyvault.secrets-read": "Microsoft.KeyVault/vaults/secrets/getSecret/action",
  "keyvault.secrets-write": "Microsoft.KeyVault/vaults/secrets/setSecret/action",
  "keyvault.keys-use": "Microsoft.KeyVault/vaults/keys/decrypt/action",
  "keyvault.keys-manage": "Microsoft.KeyVault/vaults/keys/create/action",
  "keyvault.certificates-read": "Microsoft.KeyVault/vaults/certificates/read",
  "keyvault.certificates-manage": "Microsoft.KeyVault/vaults/certificates/create/action",
  "storage.blob-read": "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
  "storage.blob-write": "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
  "storage.queue-send": "Microsoft.Storage/storageAccounts/queueServices/queues/messages/add/action",
  "storage.queue-process": "Microsoft.Storage/storageAccounts/queueServices/queues/messages/process/action",
  "storage.queue-manage": "Microsoft.Storage/storageAccounts/queueServices/queues/messages/delete",
  "storage.queue-read": "Microsoft.Storage/storageAccounts/queueServices/queues/messages/read",
  "storage.table-write": "Microsoft.Storage/storageAccounts/tableServices/tables/entities/write",
  "storage.table-read": "Microsoft.Storage/storageAccounts/tableServices/tables/entities/read",
  // Azure Files over REST with OAuth needs the backup-semantics actions (the SMB share roles do not apply).
  "storage.file-write": "Microsoft.Storage/storageAccounts/fileServices/writeFileBackupSemantics/action",
  "storage.file-read": "Microsoft.Storage/storageAccounts/fileServices/readFileBackupSemantics/action",
  "servicebus.send": "Microsoft.ServiceBus/namespaces/messages/send/action",
  "servicebus.receive": "Microsoft.ServiceBus/namespaces/messages/receive/action",
  "servicebus.manage": "Microsoft.ServiceBus/namespaces/topics/write",
  "eventhubs.send": "Microsoft.EventHub/namespaces/messages/send/action",
  "eventhubs.receive": "Microsoft.EventHub/namespaces/messages/receive/action",
  "eventhubs.manage": "Microsoft.EventHub/namespaces/eventhubs/write",
  "cosmos.read": "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/read",
  "cosmos.write": "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/create",
  "appconfig.read": "Microsoft.AppConfiguration/configurationStores/keyValues/read",
  "appconfig.write": "Microsoft.AppConfiguration/configurationStores/keyValues/write",
  "openai.inference": "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action",
  "eventgrid.publish": "Microsoft.EventGrid/events/send/action",
  "eventgrid.receive": "Microsoft.EventGrid/events/receive/action",
  "monitor.ingest": "Microsoft.Insights/Telemetry/Write",
  "acr.pull": "Microsoft.ContainerRegistry/registries/pull/read",
  "acr.push": "Microsoft.ContainerRegistry/registries/push/write",
  "acr.delete": "Microsoft.ContainerRegistry/registries/artifacts/delete",
  "search.query": "Microsoft.Search/searchServices/indexes/documents/read",
  "search.index-documents": "Microsoft.Search/searchServices/indexes/documents/write",
  "search.manage": "Microsoft.Search/searchServices/indexes/write",
  "loganalytics.query": "Microsoft.OperationalInsights/workspaces/query/read",
  "aifoundry.agents": "Microsoft.CognitiveServices/accounts/AIServices/agents/read",
  "signalr.rest": "Microsoft.SignalRService/SignalR/hub/send/action",
  "signalr.app-server": "Microsoft.SignalRService/SignalR/serverConnection/write",
  "signalr.rest-read": "Microsoft.SignalRService/SignalR/group/read",
  "webpubsub.rest": "Microsoft.SignalRService/WebPubSub/hub/send/action",
  "webpubsub.rest-read": "Microsoft.SignalRService/WebPubSub/group/read",
  "batch.jobs": "Microsoft.Batch/batchAccounts/jobs/write",
  "batch.pools": "Microsoft.Batch/batchAccounts/pools/write",
  "batch.read": "Microsoft.Batch/batchAccounts/jobs/read",
  "eventgridnamespaces.publish": "Microsoft.EventGrid/events/send/action",
  "eventgridnamespaces.receive": "Microsoft.EventGrid/events/receive/action",
};
