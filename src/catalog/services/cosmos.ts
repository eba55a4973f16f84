import type { ServiceDefinition } from "../types.js";
import { GUID, op, quote } from "./shared.js";

export const COSMOS: ServiceDefinition = {
  name: "cosmos",
  displayName: "Azure Cosmos DB",
  quotes: [
    quote("callerObjectId", new RegExp(`principal \\[(${GUID})\\]`, "i"), "principal ["),
    quote("action", /perform action \[([^\]]{1,256})\]/gi, "perform action ["),
  ],
  hostSuffixes: [".documents.azure.com", ".documents.azure.us", ".documents.azure.cn"],
  hosts: [],
  audiences: ["https://cosmos.azure.com", "a232010e-820c-4083-83bb-3ace5fc29d0b"],
  audiencePatterns: [/^https:\/\/[a-z0-9-]+\.documents\.azure\.(com|us|cn)$/],
  scope: "https://cosmos.azure.com/.default",
  scopeByHostSuffix: {},
  scopeTemplate: "https://{hostname}/.default",
  accessModel: "cosmos-sql-rbac",
  // Cosmos DB takes an Entra token in its own Authorization format, URL-encoded.
  probe: { headers: { "x-ms-version": "2018-12-31" }, dateHeader: "x-ms-date", authorization: { template: "type=aad&ver=1.0&sig={token}", urlEncode: true } },
  roles: [
    { operation: "read", role: "Cosmos DB Built-in Data Reader", roleDefinitionId: "00000000-0000-0000-0000-000000000001" },
    {
      operation: "write",
      role: "Cosmos DB Built-in Data Contributor",
      roleDefinitionId: "00000000-0000-0000-0000-000000000002",
      when: { action: /items\/(create|replace|upsert|delete|patch)|executestoredprocedure|manageconflicts|\/write\b/i },
    },
    {
      operation: "read",
      role: "Cosmos DB Built-in Data Reader",
      roleDefinitionId: "00000000-0000-0000-0000-000000000001",
      when: { action: /readmetadata|items\/read|executequery|readchangefeed/i },
    },
    {
      operation: "write",
      role: "Cosmos DB Built-in Data Contributor",
      roleDefinitionId: "00000000-0000-0000-0000-000000000002",
      when: { methods: ["PUT", "DELETE", "PATCH"] },
    },
  ],
  controlPlaneRoles: ["Owner", "Contributor", "Cosmos DB Operator", "DocumentDB Account Contributor"],
  propagation: "up to ~10 minutes (firewall changes: up to 15 minutes)",
  propagationMinutes: 15,
  unauthorizedMeansForbidden: false,
  resourceProvider: "Microsoft.DocumentDB/databaseAccounts",
  docs: "https://learn.microsoft.com/azure/cosmos-db/how-to-setup-rbac",
  scopeHints: [
    // "… on resource [dbs/shop/colls/orders]": the exact data-plane scope (least privilege), the account as the
    // alternative. A role assignment scope is the account, a database or a container: anything below is trimmed.
    // Names with quotes, `$`, backticks, backslashes or `!` are not pasted into a shell command (the account is used).
    {
      from: "text",
      pattern: /on resource \[\/?(?<resource>dbs\/[^\s/\]"'$`\\!]{1,255}(?:\/colls\/[^\s/\]"'$`\\!]{1,255})?)(?:\/[^\]]{0,512})?\]/i,
      template: "/{resource}",
      label: "{resource} in account {name}",
      alternative: { template: "/", label: "the whole account {name}" },
    },
    { from: "host", template: "/", label: "account {name}" },
  ],
  // Operation → action: Cosmos DB's own data actions (what its 403 names: "perform action [Microsoft.DocumentDB/…]").
  operations: [
    op("POST", /\/colls\/[^/]+\/sprocs\/[^/]+\/?$/i, "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/executeStoredProcedure"),
    op("GET", /\/colls\/[^/]+\/docs\/[^/]+\/?$/i, "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/read"),
    op("GET", /\/colls\/[^/]+\/docs\/?$/i, "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/readChangeFeed"),
    op("POST", /\/colls\/[^/]+\/docs\/?$/i, "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/create"),
    op("PUT", /\/colls\/[^/]+\/docs\/[^/]+\/?$/i, "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/replace"),
    op("PATCH", /\/colls\/[^/]+\/docs\/[^/]+\/?$/i, "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/upsert"),
    op("DELETE", /\/colls\/[^/]+\/docs\/[^/]+\/?$/i, "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/delete"),
    op("GET", undefined, "Microsoft.DocumentDB/databaseAccounts/readMetadata"),
  ],
  fingerprints: [
    {
      id: "cosmos.firewall",
      code: "NotAnIdentityProblem",
      confidence: "high",
      status: 403,
      message: /request originated from (client )?ip .{0,120}through (public internet|service endpoint|private endpoint)/i,
      meaning: "the account's firewall or network settings rejected the request's origin",
      nextSteps: [
        'Allow the app\'s outbound IP or VNet on the account (changes take up to 15 minutes): az cosmosdb show --name {name} --resource-group {rg} --query "{ipRules:ipRules, publicNetworkAccess:publicNetworkAccess}"',
      ],
    },
    {
      id: "cosmos.rbac-substatus",
      code: "RoleMissingOrWrongScope",
      confidence: "high",
      status: 403,
      substatus: "5301",
      meaning: "the principal has no Cosmos DB data-plane role allowing this action (Cosmos DB data roles are not Azure RBAC roles)",
    },
    {
      id: "cosmos.rbac-message",
      code: "RoleMissingOrWrongScope",
      confidence: "high",
      status: 403,
      message: /does not have required rbac permissions to perform action/i,
      meaning: "the principal has no Cosmos DB data-plane role allowing this action (Cosmos DB data roles are not Azure RBAC roles)",
    },
    {
      id: "cosmos.control-plane-operation",
      code: "RoleMissingOrWrongScope",
      confidence: "medium",
      status: 403,
      substatus: "5300",
      meaning:
        "this operation cannot be authorized with a Microsoft Entra token on the data plane (a control-plane operation such as creating a database or container)",
      skipRoleAdvice: true,
      nextSteps: [
        'Do this operation through the control plane (Azure Resource Manager) with a control-plane role such as "Cosmos DB Operator", or create the database/container at deployment time: az cosmosdb sql container create --account-name {name} --resource-group {rg} --database-name <database> --name <container> --partition-key-path /id',
      ],
    },
    {
      // Unverified: wording seen in an integration test ("Request blocked by Auth <acct> : Provided AAD token was
      // issued by a tenant [x] that does not own this account [y]."), not yet confirmed in docs or SDK recordings.
      // Matched loosely (AAD/Entra, brackets optional, "does not own this/the account") and without a status.
      id: "cosmos.foreign-tenant",
      code: "StaleTokenOrIdentityMixup",
      confidence: "high",
      message:
        /(?:aad|entra(?: id)?|access|bearer) token (?:was |is )?issued by (?:a |another )?tenant\s*\[?(?:(?<tokenTenant>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\]?)?.{0,120}?(?:does not|doesn't|do not) own (?:this|the) (?:database )?account/i,
      meaning: "the token was issued by another tenant than the one that owns the account",
      nextSteps: [
        "The token came from tenant {tokenTenant}, which does not own account {name}. A managed identity only gets tokens from its own tenant: use an account in that tenant, or an app registration in the account's tenant that trusts this identity through a federated identity credential.",
        "If several identities or credentials are configured, check which one this client uses: {showIdentityCommand}",
      ],
    },
    {
      id: "cosmos.local-auth-disabled",
      code: "NotAnIdentityProblem",
      confidence: "medium",
      message: /local authorization is disabled/i,
      meaning: "the client used an account key while key access is disabled: build the client with the credential instead",
    },
    {
      id: "cosmos.key-auth",
      code: "NotAnIdentityProblem",
      confidence: "medium",
      message: /mac signature|the input authorization token can't serve the request/i,
      meaning: "an account key or resource-token signature failed: the request did not use the managed identity",
    },
  ],
};
