import type { ServiceDefinition } from "../types.js";
import { op } from "./shared.js";

/**
 * Log Analytics query API. Querying is authorized by control-plane actions on the workspace
 * (`Microsoft.OperationalInsights/workspaces/query/read`, which Reader's `*\/read` also grants): `plane: "control"`.
 */
export const LOG_ANALYTICS: ServiceDefinition = {
  name: "loganalytics",
  displayName: "Azure Monitor Log Analytics (query)",
  hostSuffixes: [],
  hosts: ["api.loganalytics.io", "api.loganalytics.azure.com", "api.loganalytics.us", "api.loganalytics.azure.cn"],
  audiences: ["https://api.loganalytics.io", "https://api.loganalytics.azure.com", "https://api.loganalytics.us", "https://api.loganalytics.azure.cn"],
  audiencePatterns: [],
  scope: "https://api.loganalytics.io/.default",
  scopeByHostSuffix: {
    "api.loganalytics.us": "https://api.loganalytics.us/.default",
    "api.loganalytics.azure.cn": "https://api.loganalytics.azure.cn/.default",
  },
  accessModel: "azure-rbac",
  plane: "control",
  roles: [
    { operation: "query", role: "Log Analytics Reader" },
    { operation: "query", role: "Log Analytics Reader", when: { action: /query|search|read/i } },
  ],
  controlPlaneRoles: [],
  propagation: "up to ~10 minutes",
  propagationMinutes: 10,
  unauthorizedMeansForbidden: false,
  resourceProvider: "Microsoft.OperationalInsights/workspaces",
  docs: "https://learn.microsoft.com/azure/azure-monitor/logs/manage-access",
  scopeHints: [
    {
      from: "resource",
      pattern: /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.operationalinsights\/workspaces\/[^/'\s]+/i,
      template: "{0}",
    },
    // Resource-centric queries carry the resource id in the path.
    { from: "path", pattern: /\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/[^/]+\/[^/]+\/[^/]+/i, template: "{0}" },
    {
      from: "path",
      pattern: /^\/v1\/workspaces\/(?<workspace>[0-9a-f-]{36})\//i,
      template: "$(az monitor log-analytics workspace list --query \"[?customerId=='{workspace}'].id\" --output tsv)",
      label: "workspace {workspace}",
    },
  ],
  operations: [op("GET,POST", /\/query\/?$|\/\$batch\/?$|\/metadata\/?$/i, "Microsoft.OperationalInsights/workspaces/query/read", { control: true })],
  fingerprints: [
    {
      // {"error":{"message":"The provided credentials have insufficient access to perform the requested operation","code":"InsufficientAccessError",…}}
      id: "loganalytics.insufficient-access",
      code: "RoleMissingOrWrongScope",
      confidence: "high",
      status: 403,
      errorCode: "InsufficientAccessError",
      meaning: "the identity has no role allowing queries on this workspace (or on the resource a resource-centric query names)",
    },
    {
      // "Valid authentication was not provided" (AuthorizationRequiredError), "InvalidTokenError": the token was refused.
      id: "loganalytics.token-refused",
      code: "Unknown",
      confidence: "medium",
      fallback: true,
      status: 401,
      errorCode: ["AuthorizationRequiredError", "InvalidTokenError", "TokenExpired"],
      meaning: "Log Analytics refused the token (missing, wrong audience, expired or another tenant's)",
    },
  ],
};
