import type { ErrorFingerprint, QuotedFact, ServiceDefinition } from "../types.js";
import { quote } from "./shared.js";

/** Service Bus and Event Hubs: the claims an AMQP answer names, the REST operation, the entity. */
const MESSAGING_QUOTES: QuotedFact[] = [
  quote("action", /'([a-z, ]{1,64})' claim\(s\) (?:are|is) required/gi, "' claim(s) "),
  quote("action", /unauthorized access for '([^']{1,64})' operation/gi, "unauthorized access for '"),
  quote("entityUrl", /\b(sb|amqps?):\/\/[a-z0-9.-]+(?::\d+)?(?:\/[^\s'",;]*)?/i, "://"),
];

/** Fingerprints shared by the two messaging services (same broker, same answers; REST and AMQP). */
function messagingFingerprints(prefix: "servicebus" | "eventhubs", cli: string): ErrorFingerprint[] {
  const both: ErrorFingerprint["protocols"] = ["http", "amqp"];
  return [
    {
      id: `${prefix}.ip-filter`,
      code: "NotAnIdentityProblem",
      confidence: "high",
      message: /ip has been prevented to connect to the endpoint|ip filter/i,
      protocols: both,
      meaning: "the namespace's IP filter rejected the client address before looking at the token",
      nextSteps: [
        `Allow the app's outbound IP (or use a private endpoint): az ${cli} namespace network-rule-set show --namespace-name {name} --resource-group {rg}`,
        "List the Container Apps environment's outbound IPs: az containerapp show --name {app} --resource-group {rg} --query properties.outboundIpAddresses",
      ],
    },
    {
      id: `${prefix}.claims-required`,
      code: "RoleMissingOrWrongScope",
      confidence: "high",
      message: /'(?<claims>[a-z, ]+)' claim\(s\) (are|is) required/i,
      protocols: both,
      meaning: "the token was accepted but the identity has no data role granting the needed claim",
    },
    {
      id: `${prefix}.operation-unauthorized`,
      code: "RoleMissingOrWrongScope",
      confidence: "high",
      message: /unauthorized access for '(?<operation>[^']+)' operation/i,
      protocols: both,
      meaning: "the token was accepted but the identity has no data role allowing this operation (the service answers 401 for this)",
    },
    {
      id: `${prefix}.invalid-audience`,
      code: "WrongAudience",
      confidence: "high",
      message: /invalidaudience|invalid audience|audience (is )?(invalid|not valid)/i,
      protocols: both,
      meaning: "the token's audience is not the messaging service's",
    },
    {
      id: `${prefix}.expired`,
      code: "StaleTokenOrIdentityMixup",
      confidence: "high",
      message: /expiredtoken|token (is |has )?expired|expired token/i,
      protocols: both,
      meaning: "the token put on the connection (CBS) or request had expired",
    },
    {
      id: `${prefix}.invalid-issuer`,
      code: "StaleTokenOrIdentityMixup",
      confidence: "high",
      message: /invalidissuer|issuer is invalid|invalid issuer/i,
      protocols: both,
      meaning: "the token's issuer (tenant) is not the namespace's tenant: a token of another tenant or identity",
    },
    {
      id: `${prefix}.invalid-signature`,
      code: "StaleTokenOrIdentityMixup",
      confidence: "medium",
      message: /invalidsignature|invalid signature|signature is (invalid|not valid)/i,
      protocols: both,
      meaning: "the token's signature could not be validated (a token of another cloud or tenant, or a SAS key that no longer matches)",
    },
    {
      id: `${prefix}.foreign-tenant`,
      code: "StaleTokenOrIdentityMixup",
      confidence: "medium",
      status: 401,
      message: /subcode=40100\W{0,4}unauthorized\W*(trackingid|$)/i,
      protocols: both,
      meaning: "the token was refused as a whole (seen for a token issued by another tenant)",
    },
  ];
}

export const SERVICE_BUS: ServiceDefinition = {
  name: "servicebus",
  displayName: "Azure Service Bus",
  quotes: MESSAGING_QUOTES,
  hostSuffixes: [".servicebus.windows.net", ".servicebus.chinacloudapi.cn", ".servicebus.usgovcloudapi.net", ".servicebus.cloudapi.de"],
  hosts: [],
  audiences: ["https://servicebus.azure.net"],
  audiencePatterns: [],
  scope: "https://servicebus.azure.net//.default",
  scopeByHostSuffix: {},
  accessModel: "azure-rbac",
  roles: [
    { operation: "send", role: "Azure Service Bus Data Sender" },
    { operation: "manage", role: "Azure Service Bus Data Owner", when: { action: /manage|entityread/i } },
    { operation: "send", role: "Azure Service Bus Data Sender", when: { action: /send/i } },
    { operation: "receive", role: "Azure Service Bus Data Receiver", when: { action: /listen|receive/i } },
    { operation: "receive", role: "Azure Service Bus Data Receiver", when: { path: /\/messages\/head|\/\$deadletterqueue/i } },
    { operation: "send", role: "Azure Service Bus Data Sender", when: { path: /\/messages\/?$/i, methods: ["POST"] } },
  ],
  controlPlaneRoles: ["Owner", "Contributor"],
  propagation: "up to ~10 minutes (connections keep the claims of the token they were opened with)",
  propagationMinutes: 10,
  unauthorizedMeansForbidden: true,
  resourceProvider: "Microsoft.ServiceBus/namespaces",
  docs: "https://learn.microsoft.com/azure/service-bus-messaging/authenticate-application",
  pathHints: [/\/messages\/head/i, /\/subscriptions\/[^/]+(\/|$)/i, /\$deadletterqueue/i, /\/rules(\/|$)/i],
  errorNames: ["ServiceBusError"],
  scopeHints: [
    { from: "resource", pattern: /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.servicebus\/namespaces\/[^/'\s]+/i, template: "{0}" },
    { from: "host", template: "$(az servicebus namespace list --query \"[?name=='{name}'].id\" --output tsv)", label: "namespace {name}" },
  ],
  fingerprints: messagingFingerprints("servicebus", "servicebus"),
};

export const EVENT_HUBS: ServiceDefinition = {
  name: "eventhubs",
  displayName: "Azure Event Hubs",
  quotes: MESSAGING_QUOTES,
  hostSuffixes: [".servicebus.windows.net", ".servicebus.chinacloudapi.cn", ".servicebus.usgovcloudapi.net", ".servicebus.cloudapi.de"],
  hosts: [],
  audiences: ["https://eventhubs.azure.net"],
  // Kafka clients use the namespace URL as the audience.
  audiencePatterns: [/^https:\/\/[a-z0-9-]+\.servicebus\.(windows\.net|chinacloudapi\.cn|usgovcloudapi\.net)$/],
  scope: "https://eventhubs.azure.net//.default",
  scopeByHostSuffix: {},
  accessModel: "azure-rbac",
  roles: [
    { operation: "send", role: "Azure Event Hubs Data Sender" },
    { operation: "manage", role: "Azure Event Hubs Data Owner", when: { action: /manage|entityread/i } },
    { operation: "send", role: "Azure Event Hubs Data Sender", when: { action: /send/i } },
    { operation: "receive", role: "Azure Event Hubs Data Receiver", when: { action: /listen|receive/i } },
    { operation: "receive", role: "Azure Event Hubs Data Receiver", when: { path: /\/consumergroups\//i } },
  ],
  controlPlaneRoles: ["Owner", "Contributor"],
  propagation: "up to ~10 minutes (connections keep the claims of the token they were opened with)",
  propagationMinutes: 10,
  unauthorizedMeansForbidden: true,
  resourceProvider: "Microsoft.EventHub/namespaces",
  docs: "https://learn.microsoft.com/azure/event-hubs/authenticate-application",
  pathHints: [/\/partitions(\/|$)/i, /\/consumergroups(\/|$)/i, /\/publishers\//i],
  errorNames: ["EventHubsError"],
  scopeHints: [
    { from: "resource", pattern: /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/microsoft\.eventhub\/namespaces\/[^/'\s]+/i, template: "{0}" },
    { from: "host", template: "$(az eventhubs namespace list --query \"[?name=='{name}'].id\" --output tsv)", label: "namespace {name}" },
  ],
  fingerprints: messagingFingerprints("eventhubs", "eventhubs"),
};
