import type { ServiceDefinition } from "./types.js";

/**
 * The service catalog: one entry per Azure service. Facts from ../shared/research/service-errors.md.
 * Audiences are normalized (lower case, no trailing slash). Fingerprint messages are matched against a
 * whitespace-folded body, case-insensitively.
 */
export const SERVICE_CATALOG: readonly ServiceDefinition[] = [
  {
    name: "keyvault",
    displayName: "Azure Key Vault",
    hostSuffixes: [".vault.azure.net", ".vault.azure.cn", ".vault.usgovcloudapi.net", ".managedhsm.azure.net"],
    hosts: [],
    audiences: ["https://vault.azure.net", "https://vault.azure.cn", "https://vault.usgovcloudapi.net", "https://managedhsm.azure.net"],
    audiencePatterns: [],
    scope: "https://vault.azure.net/.default",
    scopeByHostSuffix: {
      ".vault.azure.cn": "https://vault.azure.cn/.default",
      ".vault.usgovcloudapi.net": "https://vault.usgovcloudapi.net/.default",
      ".managedhsm.azure.net": "https://managedhsm.azure.net/.default",
    },
    accessModel: "azure-rbac",
    roles: [
      { operation: "secrets", role: "Key Vault Secrets User" },
      { operation: "keys", role: "Key Vault Crypto User" },
      { operation: "certificates", role: "Key Vault Certificate User" },
    ],
    controlPlaneRoles: ["Key Vault Contributor", "Contributor", "Owner"],
    propagation: "up to ~10 minutes",
    propagationMinutes: 10,
    unauthorizedMeansForbidden: false,
    challengeFirst: true,
    fingerprints: [],
  },
  {
    name: "storage",
    displayName: "Azure Storage",
    hostSuffixes: [
      ".blob.core.windows.net", ".queue.core.windows.net", ".table.core.windows.net", ".file.core.windows.net", ".dfs.core.windows.net",
      ".core.chinacloudapi.cn", ".core.usgovcloudapi.net",
    ],
    hosts: [],
    audiences: ["https://storage.azure.com"],
    audiencePatterns: [/^https:\/\/[a-z0-9]+\.(blob|queue|table|file|dfs)\.core\.(windows\.net|chinacloudapi\.cn|usgovcloudapi\.net)$/],
    scope: "https://storage.azure.com/.default",
    scopeByHostSuffix: {},
    accessModel: "azure-rbac",
    roles: [
      { operation: "blob-read", role: "Storage Blob Data Reader" },
      { operation: "blob-write", role: "Storage Blob Data Contributor" },
    ],
    controlPlaneRoles: ["Owner", "Contributor", "Storage Account Contributor"],
    propagation: "up to 30 minutes",
    propagationMinutes: 30,
    unauthorizedMeansForbidden: false,
    fingerprints: [],
  },
  {
    name: "arm",
    displayName: "Azure Resource Manager",
    hostSuffixes: [],
    hosts: ["management.azure.com", "management.usgovcloudapi.net", "management.chinacloudapi.cn"],
    audiences: [
      "https://management.azure.com", "https://management.core.windows.net",
      "https://management.usgovcloudapi.net", "https://management.core.usgovcloudapi.net", "https://management.chinacloudapi.cn",
      "https://management.core.chinacloudapi.cn",
    ],
    audiencePatterns: [],
    scope: "https://management.azure.com/.default",
    scopeByHostSuffix: {
      "management.usgovcloudapi.net": "https://management.usgovcloudapi.net/.default",
      "management.chinacloudapi.cn": "https://management.chinacloudapi.cn/.default",
    },
    accessModel: "azure-rbac",
    roles: [{ operation: "read", role: "Reader" }],
    controlPlaneRoles: [],
    propagation: "up to ~10 minutes",
    propagationMinutes: 10,
    unauthorizedMeansForbidden: false,
    fingerprints: [],
  },
  {
    name: "graph",
    displayName: "Microsoft Graph",
    hostSuffixes: [],
    hosts: ["graph.microsoft.com", "graph.microsoft.us", "dod-graph.microsoft.us", "microsoftgraph.chinacloudapi.cn"],
    audiences: ["https://graph.microsoft.com", "https://graph.microsoft.us", "https://dod-graph.microsoft.us", "https://microsoftgraph.chinacloudapi.cn", "00000003-0000-0000-c000-000000000000"],
    audiencePatterns: [],
    scope: "https://graph.microsoft.com/.default",
    scopeByHostSuffix: {
      "graph.microsoft.us": "https://graph.microsoft.us/.default",
      "dod-graph.microsoft.us": "https://dod-graph.microsoft.us/.default",
      "microsoftgraph.chinacloudapi.cn": "https://microsoftgraph.chinacloudapi.cn/.default",
    },
    accessModel: "graph-app-role",
    roles: [{ operation: "read", role: "User.Read.All (application permission)" }],
    controlPlaneRoles: [],
    propagation: "up to ~24 hours for changes seen through the managed-identity token cache",
    propagationMinutes: 24 * 60,
    unauthorizedMeansForbidden: false,
    fingerprints: [],
  },
];
