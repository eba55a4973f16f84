import type { ServiceDefinition } from "../types.js";
import { op } from "./shared.js";

export const APP_CONFIGURATION: ServiceDefinition = {
  name: "appconfig",
  displayName: "Azure App Configuration",
  hostSuffixes: [".azconfig.io", ".appconfig.azure.com", ".azconfig.azure.us", ".azconfig.azure.cn"],
  hosts: [],
  audiences: ["https://appconfig.azure.com", "https://appconfig.azure.us", "https://appconfig.azure.cn"],
  audiencePatterns: [/^https:\/\/[a-z0-9-]+\.(azconfig\.io|azconfig\.azure\.us|azconfig\.azure\.cn)$/],
  scope: "https://appconfig.azure.com/.default",
  scopeByHostSuffix: {
    ".azconfig.azure.us": "https://appconfig.azure.us/.default",
    ".azconfig.azure.cn": "https://appconfig.azure.cn/.default",
  },
  accessModel: "azure-rbac",
  probe: { query: { "api-version": "1.0" } },
  roles: [
    { operation: "read", role: "App Configuration Data Reader" },
    { operation: "write", role: "App Configuration Data Owner", when: { methods: ["PUT", "PATCH", "DELETE", "POST"] } },
  ],
  controlPlaneRoles: ["App Configuration Contributor", "Contributor", "Owner"],
  propagation: "up to 15 minutes",
  propagationMinutes: 15,
  unauthorizedMeansForbidden: false,
  resourceProvider: "Microsoft.AppConfiguration/configurationStores",
  docs: "https://learn.microsoft.com/azure/azure-app-configuration/concept-enable-rbac",
  scopeHints: [
    {
      from: "resource",
      pattern: /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.appconfiguration\/configurationstores\/[^/'\s]+/i,
      template: "{0}",
    },
    { from: "host", template: "$(az appconfig show --name {name} --query id --output tsv)", label: "store {name}" },
  ],
  // Operation → action: App Configuration's data roles grant `configurationStores/*/read|write|delete`.
  operations: [
    op("GET,HEAD", /^\/snapshots/i, "Microsoft.AppConfiguration/configurationStores/snapshots/read"),
    op("PUT,PATCH", /^\/snapshots/i, "Microsoft.AppConfiguration/configurationStores/snapshots/write"),
    op("GET,HEAD", undefined, "Microsoft.AppConfiguration/configurationStores/keyValues/read"),
    op("PUT,PATCH", undefined, "Microsoft.AppConfiguration/configurationStores/keyValues/write"),
    op("DELETE", undefined, "Microsoft.AppConfiguration/configurationStores/keyValues/delete"),
  ],
  fingerprints: [
    {
      id: "appconfig.wrong-issuer",
      code: "StaleTokenOrIdentityMixup",
      confidence: "high",
      status: 401,
      message: /access token is from the wrong issuer/i,
      meaning: "the token is from another tenant than the store's",
    },
    {
      id: "appconfig.forbidden",
      code: "RoleMissingOrWrongScope",
      confidence: "high",
      status: 403,
      message: /principal making the request (doesn't|does not) have the required permissions/i,
      meaning: "the identity has no App Configuration data role on this store",
    },
    {
      id: "appconfig.token-failed-validation",
      code: "Unknown",
      confidence: "medium",
      fallback: true,
      status: 401,
      message: /authorization token failed validation/i,
      meaning: "App Configuration refused the token (audience, expiry or format)",
    },
  ],
};
