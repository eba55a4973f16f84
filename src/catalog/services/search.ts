import type { ServiceDefinition } from "../types.js";
import { op } from "./shared.js";

/** Azure AI Search: data roles on the search service; index management through "Search Service Contributor". */
export const SEARCH: ServiceDefinition = {
  name: "search",
  displayName: "Azure AI Search",
  hostSuffixes: [".search.windows.net", ".search.azure.us", ".search.azure.cn"],
  hosts: [],
  audiences: ["https://search.azure.com", "https://search.azure.us", "https://search.azure.cn"],
  audiencePatterns: [],
  scope: "https://search.azure.com/.default",
  scopeByHostSuffix: {
    ".search.azure.us": "https://search.azure.us/.default",
    ".search.azure.cn": "https://search.azure.cn/.default",
  },
  accessModel: "azure-rbac",
  // The service refuses a request without api-version.
  probe: { query: { "api-version": "2024-07-01" } },
  roles: [
    { operation: "query", role: "Search Index Data Reader" },
    { operation: "index-documents", role: "Search Index Data Contributor", when: { action: /documents\/(write|delete|\*)/i } },
    { operation: "query", role: "Search Index Data Reader", when: { action: /documents\/read/i } },
    { operation: "manage", role: "Search Service Contributor", when: { action: /^Microsoft\.Search\/searchServices\/(?!indexes\/documents)/i } },
    { operation: "index-documents", role: "Search Index Data Contributor", when: { methods: ["POST"], path: /\/docs\/(search\.)?index\/?$/i } },
    { operation: "query", role: "Search Index Data Reader", when: { path: /\/docs(\/|\(|$)/i } },
    { operation: "manage", role: "Search Service Contributor", when: { methods: ["PUT", "POST", "DELETE"] } },
  ],
  controlPlaneRoles: ["Contributor", "Owner"],
  propagation: "up to ~10 minutes",
  propagationMinutes: 10,
  unauthorizedMeansForbidden: false,
  resourceProvider: "Microsoft.Search/searchServices",
  docs: "https://learn.microsoft.com/azure/search/search-security-rbac",
  scopeHints: [
    {
      from: "resource",
      pattern: /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.search\/searchservices\/[^/'\s]+/i,
      template: "{0}",
    },
    {
      from: "host",
      template: "$(az resource list --name {name} --resource-type Microsoft.Search/searchServices --query [0].id --output tsv)",
      label: "search service {name}",
    },
  ],
  // Operation → action: documents are data actions; indexes, indexers, skillsets are the service's own actions.
  operations: [
    op("POST", /^\/indexes(\/[^/]+|\('[^']*'\))\/docs\/(search\.)?index\/?$/i, "Microsoft.Search/searchServices/indexes/documents/write"),
    op("GET,POST", /^\/indexes(\/[^/]+|\('[^']*'\))\/docs/i, "Microsoft.Search/searchServices/indexes/documents/read"),
    op("PUT,POST", /^\/indexes(\/|\(|\/?$)/i, "Microsoft.Search/searchServices/indexes/write", { control: true }),
    op("DELETE", /^\/indexes(\/|\()/i, "Microsoft.Search/searchServices/indexes/delete", { control: true }),
    op("GET", /^\/indexes/i, "Microsoft.Search/searchServices/indexes/read", { control: true }),
    op("PUT,POST", /^\/indexers/i, "Microsoft.Search/searchServices/indexers/write", { control: true }),
    op("GET", /^\/indexers/i, "Microsoft.Search/searchServices/indexers/read", { control: true }),
  ],
  fingerprints: [
    {
      // {"error":{"code":"","message":"Authorization failed."}}: seen with a token when the service takes API keys
      // only, or the identity has no Search role (microsoft/sample-app-aoai-chatGPT#624).
      id: "search.authorization-failed",
      code: "RoleMissingOrWrongScope",
      confidence: "medium",
      status: 403,
      message: /authorization failed/i,
      meaning:
        "the search service refused the token: the identity has no Search role for this operation, or the service accepts API keys only (its API access control is not 'Role-based access control' or 'Both')",
      nextSteps: [
        "Check that the service accepts Microsoft Entra tokens (authOptions must not be apiKeyOnly): az search service show --name {name} --resource-group {rg} --query authOptions",
      ],
    },
  ],
};
