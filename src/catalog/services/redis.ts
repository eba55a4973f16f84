import type { ServiceDefinition } from "../types.js";

export const REDIS: ServiceDefinition = {
  name: "redis",
  displayName: "Azure Cache for Redis",
  hostSuffixes: [".redis.cache.windows.net", ".redis.azure.net", ".redis.cache.usgovcloudapi.net", ".redis.cache.chinacloudapi.cn"],
  hosts: [],
  audiences: ["https://redis.azure.com", "acca5fbb-b7e4-4009-81f1-37e38fd66d78"],
  audiencePatterns: [],
  scope: "https://redis.azure.com/.default",
  scopeByHostSuffix: {},
  accessModel: "redis-access-policy",
  roles: [
    { operation: "read-write", role: "Data Contributor" },
    { operation: "read", role: "Data Reader", when: { action: /^(get|mget|hget|hgetall|exists|ttl|scan|keys)\b/i } },
  ],
  controlPlaneRoles: ["Redis Cache Contributor", "Contributor", "Owner"],
  propagation: "a few minutes (unverified)",
  propagationMinutes: 5,
  unauthorizedMeansForbidden: false,
  resourceProvider: "Microsoft.Cache/redis",
  docs: "https://learn.microsoft.com/azure/azure-cache-for-redis/cache-azure-active-directory-for-authentication",
  grantTemplates: [
    'Add a data access policy assignment for the identity (Azure RBAC roles do not grant data access to the cache): az redis access-policy-assignment create --name {principalId} --policy-name "{role}" --object-id {principalId} --object-id-alias {principalId} --redis-cache-name {name} --resource-group {rg}',
    "Authenticate with the identity's object id ({principalId}) as the user name and the token as the password.",
  ],
  fingerprints: [
    {
      id: "redis.noperm",
      code: "RoleMissingOrWrongScope",
      confidence: "high",
      message: /\bnoperm\b/i,
      protocols: ["redis"],
      meaning: "the identity's access policy does not allow this command",
    },
    {
      id: "redis.wrongpass",
      code: "Unknown",
      confidence: "medium",
      fallback: true,
      message: /\bwrongpass\b|invalid username-password pair/i,
      protocols: ["redis"],
      meaning:
        "the token was refused: the user name must be the identity's object id, the audience https://redis.azure.com, the token unexpired, and an access policy assignment must exist",
    },
  ],
};
