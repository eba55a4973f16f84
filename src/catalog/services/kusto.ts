import type { ServiceDefinition } from "../types.js";

/**
 * Azure Data Explorer (Kusto). Data access is granted by the database's own principals (viewers, users, ingestors,
 * admins), not by Azure RBAC: the grant is a management command, run by a database admin.
 */
export const DATA_EXPLORER: ServiceDefinition = {
  name: "kusto",
  displayName: "Azure Data Explorer",
  hostSuffixes: [".kusto.windows.net", ".kusto.usgovcloudapi.net", ".kusto.chinacloudapi.cn", ".kusto.azuresynapse.net"],
  hosts: [],
  // The SDKs read the audience from /v1/rest/auth/metadata (KustoServiceResourceId); the cluster URL is accepted too.
  audiences: ["https://kusto.kusto.windows.net", "https://kusto.kusto.usgovcloudapi.net", "https://kusto.kusto.chinacloudapi.cn"],
  audiencePatterns: [/^https:\/\/[a-z0-9-]+(\.[a-z0-9-]+)?\.kusto\.(windows\.net|usgovcloudapi\.net|chinacloudapi\.cn|azuresynapse\.net)$/],
  scope: "https://kusto.kusto.windows.net/.default",
  scopeByHostSuffix: {
    ".kusto.usgovcloudapi.net": "https://kusto.kusto.usgovcloudapi.net/.default",
    ".kusto.chinacloudapi.cn": "https://kusto.kusto.chinacloudapi.cn/.default",
  },
  accessModel: "database-user",
  roles: [
    { operation: "query", role: "viewers" },
    { operation: "ingest", role: "ingestors", when: { path: /\/ingest/i } },
    { operation: "query", role: "viewers", when: { action: /read/i } },
    { operation: "manage", role: "users", when: { path: /\/v[12]\/rest\/mgmt/i } },
  ],
  controlPlaneRoles: ["Kusto Contributor", "Contributor", "Owner"],
  propagation: "immediate once the database principal exists",
  propagationMinutes: 1,
  unauthorizedMeansForbidden: false,
  resourceProvider: "Microsoft.Kusto/clusters",
  docs: "https://learn.microsoft.com/kusto/management/manage-database-security-roles",
  grantTemplates: [
    "Add the identity as a database principal (Azure RBAC roles do not grant data access to Azure Data Explorer); as a database admin run: .add database <database> {role} ('aadapp={clientId};{tenantId}') 'managed identity'",
  ],
  fingerprints: [
    {
      // "Principal 'aadapp=…' is not authorized to read database 'db'." (Kusto.DataNode.Exceptions.UnauthorizedDatabaseAccessException)
      id: "kusto.database-access",
      code: "RoleMissingOrWrongScope",
      confidence: "high",
      message: /principal '[^']{0,300}' is not authorized to (read|write|ingest into|access|administer) (database|table)/i,
      meaning: "the identity is not a principal of this database (a database role such as viewers, not an Azure role, grants access)",
    },
    {
      // "Principal 'msauser=…' is not authorized to perform operation 'VersionShowCommand' on 'https://…kusto.windows.net:443/'."
      id: "kusto.operation",
      code: "RoleMissingOrWrongScope",
      confidence: "high",
      message: /principal '[^']{0,300}' is not authorized to perform operation/i,
      meaning: "the identity has no database or cluster principal role allowing this operation",
    },
    {
      id: "kusto.caller-not-authorized",
      code: "RoleMissingOrWrongScope",
      confidence: "medium",
      status: 403,
      message: /caller is not authorized to perform this action/i,
      meaning: "the cluster refused the operation: the identity is not a principal of the database",
    },
  ],
};
