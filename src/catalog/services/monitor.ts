import type { ServiceDefinition } from "../types.js";
import { op } from "./shared.js";

export const MONITOR: ServiceDefinition = {
  name: "monitor",
  displayName: "Azure Monitor ingestion",
  hostSuffixes: [".ingest.monitor.azure.com", ".ingest.monitor.azure.us", ".ingest.monitor.azure.cn"],
  hosts: [],
  audiences: ["https://monitor.azure.com", "https://monitor.azure.us", "https://monitor.azure.cn"],
  audiencePatterns: [],
  scope: "https://monitor.azure.com/.default",
  scopeByHostSuffix: {
    ".ingest.monitor.azure.us": "https://monitor.azure.us/.default",
    ".ingest.monitor.azure.cn": "https://monitor.azure.cn/.default",
  },
  accessModel: "azure-rbac",
  roles: [{ operation: "ingest", role: "Monitoring Metrics Publisher" }],
  controlPlaneRoles: ["Monitoring Contributor", "Contributor", "Owner"],
  propagation: "up to ~10 minutes (the role must be on the data collection rule itself)",
  propagationMinutes: 10,
  unauthorizedMeansForbidden: false,
  resourceProvider: "Microsoft.Insights/dataCollectionRules",
  docs: "https://learn.microsoft.com/azure/azure-monitor/logs/logs-ingestion-api-overview",
  scopeHints: [
    {
      from: "resource",
      pattern: /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.insights\/datacollectionrules\/[^/'\s]+/i,
      template: "{0}",
    },
    {
      from: "text",
      pattern: /immutable id '(?<dcr>dcr-[0-9a-f]+)'/i,
      template: "$(az monitor data-collection rule list --query \"[?immutableId=='{dcr}'].id\" --output tsv)",
      label: "data collection rule {dcr}",
    },
    {
      from: "path",
      pattern: /\/datacollectionrules\/(?<dcr>dcr-[0-9a-f]+)/i,
      template: "$(az monitor data-collection rule list --query \"[?immutableId=='{dcr}'].id\" --output tsv)",
      label: "data collection rule {dcr}",
    },
  ],
  // Operation → action: the Logs Ingestion API checks `Microsoft.Insights/Telemetry/Write` on the data collection rule.
  operations: [op("POST", /^\/datacollectionrules\/[^/]+\/streams\//i, "Microsoft.Insights/Telemetry/Write")],
  fingerprints: [
    {
      id: "monitor.dcr-access",
      code: "RoleMissingOrWrongScope",
      confidence: "high",
      status: 403,
      message: /does not have access to ingest data for the data collection rule/i,
      meaning: 'the identity has no "Monitoring Metrics Publisher" role on this data collection rule',
    },
  ],
};
