import type { ServiceDefinition } from "../types.js";
import { op } from "./shared.js";

/**
 * What Event Grid topics and Event Grid namespaces share: the same hosts, audience and access model (the path tells
 * the two apart), the same control-plane roles, and 401 for a missing role.
 */
const EVENT_GRID_ENDPOINTS = {
  hostSuffixes: [".eventgrid.azure.net", ".eventgrid.azure.us", ".eventgrid.azure.cn"],
  hosts: [],
  audiences: ["https://eventgrid.azure.net"],
  audiencePatterns: [],
  scope: "https://eventgrid.azure.net/.default",
  scopeByHostSuffix: {},
  accessModel: "azure-rbac",
  controlPlaneRoles: ["EventGrid Contributor", "Contributor", "Owner"],
  propagation: "up to ~10 minutes",
  propagationMinutes: 10,
  unauthorizedMeansForbidden: true,
} satisfies Partial<ServiceDefinition>;

export const EVENT_GRID: ServiceDefinition = {
  name: "eventgrid",
  displayName: "Azure Event Grid",
  ...EVENT_GRID_ENDPOINTS,
  roles: [
    { operation: "publish", role: "EventGrid Data Sender" },
    { operation: "receive", role: "EventGrid Data Receiver", when: { path: /:(receive|acknowledge|release|reject|renewlock)/i } },
  ],
  resourceProvider: "Microsoft.EventGrid/topics",
  // Shares `.eventgrid.azure.net` with Event Grid namespaces: the path tells them apart.
  pathHints: [/^\/api\/events/i],
  docs: "https://learn.microsoft.com/azure/event-grid/authenticate-with-microsoft-entra-id",
  scopeHints: [
    {
      from: "resource",
      pattern: /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.eventgrid\/(topics|namespaces|domains)\/[^/'\s]+/i,
      template: "{0}",
    },
    {
      from: "host",
      template: "$(az resource list --name {name} --query \"[?starts_with(type, 'Microsoft.EventGrid/')].id | [0]\" --output tsv)",
      label: "topic or namespace {name}",
    },
  ],
  // Operation → action: publishing to a topic or domain.
  operations: [op("POST", /^\/api\/events\/?$/i, "Microsoft.EventGrid/events/send/action")],
  fingerprints: [
    {
      id: "eventgrid.quota",
      code: "NotAnIdentityProblem",
      confidence: "high",
      status: 403,
      message: /quota|too large|exceed|size limit/i,
      meaning: "Event Grid answers 403 for an exceeded quota or an oversized message, not for authorization",
    },
    {
      id: "eventgrid.forbidden",
      code: "NotAnIdentityProblem",
      confidence: "medium",
      status: 403,
      meaning: "Event Grid answers 403 for an exceeded quota or an oversized message, not for authorization (it answers 401 for that)",
    },
    {
      id: "eventgrid.unauthorized-permission",
      code: "RoleMissingOrWrongScope",
      confidence: "medium",
      status: 401,
      message: /not authorized|does not have (the )?(required )?(permission|authorization|access)|lacks|permission/i,
      meaning: "the identity has no Event Grid data role on this topic or namespace (the service answers 401 for this)",
    },
  ],
};

/**
 * Event Grid namespaces (pull delivery): `https://<ns>.<region>-1.eventgrid.azure.net/topics/<topic>:publish` and
 * `…/eventsubscriptions/<sub>:receive|acknowledge|release|reject|renewLock`. 401 means a missing role, 403 a quota.
 */
export const EVENT_GRID_NAMESPACES: ServiceDefinition = {
  name: "eventgridnamespaces",
  displayName: "Azure Event Grid namespaces",
  ...EVENT_GRID_ENDPOINTS,
  roles: [
    { operation: "publish", role: "EventGrid Data Sender" },
    { operation: "receive", role: "EventGrid Data Receiver", when: { action: /receive/i } },
    { operation: "receive", role: "EventGrid Data Receiver", when: { path: /:(receive|acknowledge|release|reject|renewlock)\/?$/i } },
  ],
  resourceProvider: "Microsoft.EventGrid/namespaces",
  docs: "https://learn.microsoft.com/azure/event-grid/authenticate-with-microsoft-entra-id",
  pathHints: [/^\/topics\/[^/]+(:publish|\/eventsubscriptions\/)/i],
  scopeHints: [
    {
      from: "resource",
      pattern: /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.eventgrid\/namespaces\/[^/'\s]+/i,
      template: "{0}",
    },
    {
      from: "host",
      template: "$(az resource list --name {name} --resource-type Microsoft.EventGrid/namespaces --query [0].id --output tsv)",
      label: "namespace {name}",
    },
  ],
  operations: [
    op("POST", /:publish\/?$/i, "Microsoft.EventGrid/events/send/action"),
    op("POST", /\/eventsubscriptions\/[^/]+:(receive|acknowledge|release|reject|renewlock)\/?$/i, "Microsoft.EventGrid/events/receive/action"),
  ],
  fingerprints: [
    {
      id: "eventgridnamespaces.quota",
      code: "NotAnIdentityProblem",
      confidence: "high",
      status: 403,
      message: /quota|too large|exceed|size limit/i,
      meaning: "Event Grid answers 403 for an exceeded quota or an oversized message, not for authorization",
    },
    {
      id: "eventgridnamespaces.forbidden",
      code: "NotAnIdentityProblem",
      confidence: "medium",
      status: 403,
      meaning: "Event Grid answers 403 for an exceeded quota or an oversized message, not for authorization (it answers 401 for that)",
    },
    {
      id: "eventgridnamespaces.unauthorized",
      code: "RoleMissingOrWrongScope",
      confidence: "medium",
      status: 401,
      message: /unauthorized|not authorized|permission|access denied/i,
      meaning: "the identity has no Event Grid data role on this namespace or topic (the service answers 401 for this)",
    },
  ],
};
