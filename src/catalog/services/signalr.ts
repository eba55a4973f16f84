import type { ErrorFingerprint, ServiceDefinition } from "../types.js";
import { op, quote } from "./shared.js";

/** "Microsoft.SignalRService/WebPubSub/group/send/action permission is required to access this API." (403 Error.Forbidden) */
function permissionRequired(prefix: "signalr" | "webpubsub"): ErrorFingerprint {
  return {
    id: `${prefix}.permission-required`,
    code: "RoleMissingOrWrongScope",
    confidence: "high",
    status: 403,
    message: /(?<permission>Microsoft\.SignalRService\/[A-Za-z]+\/\S+) permission is required/i,
    meaning: "the identity has no role with the data action this REST API needs",
  };
}

const PERMISSION_QUOTE = quote("action", /(Microsoft\.SignalRService\/[A-Za-z]+\/[A-Za-z0-9/*._-]{1,200}) permission is required/gi, " permission is required");

/** REST sends and reads of both services (hubs, groups, users, connections): `{family}` is SignalR or WebPubSub. */
function restOperations(family: "SignalR" | "WebPubSub") {
  const action = (what: string) => `Microsoft.SignalRService/${family}/${what}`;
  return [
    op("POST", /\/groups\/[^/]+\/:send\/?$/i, action("group/send/action")),
    op("POST", /\/users\/[^/]+\/:send\/?$/i, action("user/send/action")),
    op("POST", /\/connections\/[^/]+\/:send\/?$/i, action("clientConnection/send/action")),
    op("POST", /\/:send\/?$/i, action("hub/send/action")),
    op("PUT,DELETE", /\/groups\/[^/]+\/(connections|users)\//i, action("group/write")),
    op("DELETE", /\/connections\/[^/]+\/?$/i, action("clientConnection/write")),
    op("HEAD,GET", /\/groups\//i, action("group/read")),
    op("HEAD,GET", /\/users\//i, action("user/read")),
    op("HEAD,GET", /\/connections\//i, action("clientConnection/read")),
  ];
}

export const SIGNALR: ServiceDefinition = {
  name: "signalr",
  displayName: "Azure SignalR Service",
  quotes: [PERMISSION_QUOTE],
  hostSuffixes: [".service.signalr.net", ".signalr.azure.us", ".signalr.azure.cn"],
  hosts: [],
  audiences: ["https://signalr.azure.com"],
  audiencePatterns: [],
  scope: "https://signalr.azure.com/.default",
  scopeByHostSuffix: {},
  accessModel: "azure-rbac",
  roles: [
    { operation: "rest", role: "SignalR REST API Owner" },
    { operation: "app-server", role: "SignalR App Server", when: { action: /serverConnection|auth\/accessKey/i } },
    { operation: "rest-read", role: "SignalR REST API Reader", when: { action: /\/read$/i } },
    { operation: "app-server", role: "SignalR App Server", when: { path: /^\/server\//i } },
    { operation: "rest-read", role: "SignalR REST API Reader", when: { methods: ["GET", "HEAD"], path: /^\/api\//i } },
  ],
  controlPlaneRoles: ["SignalR/Web PubSub Contributor", "Contributor", "Owner"],
  propagation: "up to ~10 minutes",
  propagationMinutes: 10,
  unauthorizedMeansForbidden: false,
  resourceProvider: "Microsoft.SignalRService/SignalR",
  docs: "https://learn.microsoft.com/azure/azure-signalr/signalr-howto-authorize-managed-identity",
  scopeHints: [
    {
      from: "resource",
      pattern: /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.signalrservice\/signalr\/[^/'\s]+/i,
      template: "{0}",
    },
    {
      from: "host",
      template: "$(az resource list --name {name} --resource-type Microsoft.SignalRService/SignalR --query [0].id --output tsv)",
      label: "SignalR {name}",
    },
  ],
  operations: restOperations("SignalR"),
  fingerprints: [permissionRequired("signalr")],
};

export const WEB_PUBSUB: ServiceDefinition = {
  name: "webpubsub",
  displayName: "Azure Web PubSub",
  quotes: [PERMISSION_QUOTE],
  hostSuffixes: [".webpubsub.azure.com", ".webpubsub.azure.us", ".webpubsub.azure.cn"],
  hosts: [],
  audiences: ["https://webpubsub.azure.com"],
  audiencePatterns: [],
  scope: "https://webpubsub.azure.com/.default",
  scopeByHostSuffix: {},
  accessModel: "azure-rbac",
  roles: [
    { operation: "rest", role: "Web PubSub Service Owner" },
    { operation: "rest-read", role: "Web PubSub Service Reader", when: { action: /\/read$/i } },
    { operation: "rest-read", role: "Web PubSub Service Reader", when: { methods: ["GET", "HEAD"], path: /^\/api\//i } },
  ],
  controlPlaneRoles: ["SignalR/Web PubSub Contributor", "Contributor", "Owner"],
  propagation: "up to ~10 minutes",
  propagationMinutes: 10,
  unauthorizedMeansForbidden: false,
  resourceProvider: "Microsoft.SignalRService/WebPubSub",
  docs: "https://learn.microsoft.com/azure/azure-web-pubsub/howto-authorize-from-managed-identity",
  scopeHints: [
    {
      from: "resource",
      pattern: /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.signalrservice\/webpubsub\/[^/'\s]+/i,
      template: "{0}",
    },
    {
      from: "host",
      template: "$(az resource list --name {name} --resource-type Microsoft.SignalRService/WebPubSub --query [0].id --output tsv)",
      label: "Web PubSub {name}",
    },
  ],
  operations: [op("POST", /\/:generateToken\/?$/i, "Microsoft.SignalRService/WebPubSub/auth/clientToken/action"), ...restOperations("WebPubSub")],
  fingerprints: [permissionRequired("webpubsub")],
};
