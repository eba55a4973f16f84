import type { ServiceDefinition } from "../types.js";
import { op } from "./shared.js";

/** Azure Batch data plane: jobs and job schedules are data actions; pools are the account's own actions. */
export const BATCH: ServiceDefinition = {
  name: "batch",
  displayName: "Azure Batch",
  hostSuffixes: [".batch.azure.com", ".batch.usgovcloudapi.net", ".batch.chinacloudapi.cn"],
  hosts: [],
  audiences: ["https://batch.core.windows.net", "https://batch.core.usgovcloudapi.net", "https://batch.chinacloudapi.cn"],
  audiencePatterns: [],
  // Like Service Bus, the resource ends with a slash: the SDKs request "https://batch.core.windows.net//.default".
  scope: "https://batch.core.windows.net//.default",
  scopeByHostSuffix: {
    ".batch.usgovcloudapi.net": "https://batch.core.usgovcloudapi.net//.default",
    ".batch.chinacloudapi.cn": "https://batch.chinacloudapi.cn//.default",
  },
  accessModel: "azure-rbac",
  probe: { query: { "api-version": "2024-07-01.20.0" } },
  roles: [
    { operation: "jobs", role: "Azure Batch Job Submitter" },
    { operation: "pools", role: "Azure Batch Data Contributor", when: { action: /\/pools\//i } },
    { operation: "jobs", role: "Azure Batch Job Submitter", when: { action: /\/(jobs|jobSchedules)\//i } },
    { operation: "pools", role: "Azure Batch Data Contributor", when: { path: /^\/pools/i, methods: ["PUT", "POST", "PATCH", "DELETE"] } },
    {
      operation: "read",
      role: "Azure Batch Account Reader",
      when: { methods: ["GET", "HEAD"], path: /^\/(pools|nodecounts|supportedimages|applications|poolusagemetrics)/i },
    },
  ],
  controlPlaneRoles: ["Contributor", "Owner"],
  propagation: "up to ~10 minutes",
  propagationMinutes: 10,
  unauthorizedMeansForbidden: false,
  resourceProvider: "Microsoft.Batch/batchAccounts",
  docs: "https://learn.microsoft.com/azure/batch/batch-aad-auth",
  scopeHints: [
    {
      from: "resource",
      pattern: /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.batch\/batchaccounts\/[^/'\s]+/i,
      template: "{0}",
    },
    { from: "host", template: "$(az batch account list --query \"[?name=='{name}'].id\" --output tsv)", label: "Batch account {name}" },
  ],
  operations: [
    op("GET,HEAD", /^\/jobschedules/i, "Microsoft.Batch/batchAccounts/jobSchedules/read"),
    op("POST,PUT,PATCH", /^\/jobschedules/i, "Microsoft.Batch/batchAccounts/jobSchedules/write"),
    op("DELETE", /^\/jobschedules/i, "Microsoft.Batch/batchAccounts/jobSchedules/delete"),
    op("GET,HEAD", /^\/jobs/i, "Microsoft.Batch/batchAccounts/jobs/read"),
    op("POST,PUT,PATCH", /^\/jobs/i, "Microsoft.Batch/batchAccounts/jobs/write"),
    op("DELETE", /^\/jobs/i, "Microsoft.Batch/batchAccounts/jobs/delete"),
    op("GET,HEAD", /^\/pools/i, "Microsoft.Batch/batchAccounts/pools/read", { control: true }),
    op("POST,PUT,PATCH", /^\/pools/i, "Microsoft.Batch/batchAccounts/pools/write", { control: true }),
    op("DELETE", /^\/pools/i, "Microsoft.Batch/batchAccounts/pools/delete", { control: true }),
  ],
  fingerprints: [
    {
      // {"odata.metadata":"https://<acct>.<region>.batch.azure.com/$metadata#…","code":"AuthorizationFailure","message":{"lang":"en-US","value":"This request is not authorized to perform this operation.…"}}
      id: "batch.authorization-failure",
      code: "RoleMissingOrWrongScope",
      confidence: "medium",
      status: 403,
      errorCode: "AuthorizationFailure",
      meaning: "the Batch account refused the operation: the identity has no Batch role for it (jobs need a data role, pools the account's own actions)",
    },
    {
      id: "batch.authentication-failed",
      code: "Unknown",
      confidence: "medium",
      fallback: true,
      status: 401,
      errorCode: ["AuthenticationFailed", "InvalidAuthenticationInfo"],
      meaning: "the Batch account refused the token (audience must be https://batch.core.windows.net/, unexpired, from the account's tenant)",
    },
  ],
};
