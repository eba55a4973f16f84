import type { ErrorFingerprint, QuotedFact, ServiceDefinition } from "../types.js";
import { op, quote } from "./shared.js";

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
        "List the app's outbound IP addresses: {outboundIpsCommand}",
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
      // "claim is empty or token is invalid" (Service Bus/Event Hubs REST, 401): seen from the management client
      // (creating or reading entities) with a token that carries only Send/Listen rights.
      id: `${prefix}.claim-empty`,
      code: "RoleMissingOrWrongScope",
      confidence: "medium",
      message: /claim is empty/i,
      protocols: both,
      meaning:
        "the token carries none of the claims this operation needs: managing entities (creating, reading or deleting a queue, topic, event hub or subscription) needs the Manage claim, which only the Data Owner role grants",
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
    { operation: "manage", role: "Azure Service Bus Data Owner", when: { action: /manage|entity(read|write|delete)/i } },
    // Creating, reading or deleting a queue, topic, subscription or rule on the data plane needs the Manage claim: Data Owner only.
    {
      operation: "manage",
      role: "Azure Service Bus Data Owner",
      when: { methods: ["PUT", "DELETE", "GET"], path: /^\/[^/$]+(\/subscriptions\/[^/]+(\/rules\/[^/]+)?)?\/?$|^\/\$resources\//i },
    },
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
  // Operation → action: REST paths and the AMQP claims answers name (strongest first). Entity management has no
  // data action of its own: the data plane asks for the Manage claim, which only Data Owner's `Microsoft.ServiceBus/*`
  // grants; the entity's control-plane action names it (a queue and a topic share the path form `/{name}`).
  operations: [
    op("POST,DELETE", /\/messages\/head\/?$|\/\$deadletterqueue\/messages\/head/i, "Microsoft.ServiceBus/namespaces/messages/receive/action"),
    op("PUT,DELETE", /\/messages\/[^/]+\/[^/]+\/?$/i, "Microsoft.ServiceBus/namespaces/messages/receive/action"),
    op("POST", /\/messages\/?$/i, "Microsoft.ServiceBus/namespaces/messages/send/action"),
    op("PUT,DELETE", /^\/[^/$]+\/subscriptions\/[^/]+\/rules\/[^/]+\/?$/i, "Microsoft.ServiceBus/namespaces/topics/subscriptions/rules/write"),
    op("PUT,DELETE", /^\/[^/$]+\/subscriptions\/[^/]+\/?$/i, "Microsoft.ServiceBus/namespaces/topics/subscriptions/write"),
    op("PUT,DELETE", /^\/[^/$]+\/?$/, "Microsoft.ServiceBus/namespaces/queues/write"),
    op("GET", /^\/[^/$]+(\/subscriptions\/[^/]+)?\/?$|^\/\$resources\//i, "Microsoft.ServiceBus/namespaces/queues/read"),
    op(undefined, undefined, "Microsoft.ServiceBus/namespaces/queues/write", { claim: "Manage" }),
    op(undefined, undefined, "Microsoft.ServiceBus/namespaces/queues/write", { claim: "EntityWrite" }),
    op(undefined, undefined, "Microsoft.ServiceBus/namespaces/queues/write", { claim: "EntityDelete" }),
    op(undefined, undefined, "Microsoft.ServiceBus/namespaces/queues/read", { claim: "EntityRead" }),
    op(undefined, undefined, "Microsoft.ServiceBus/namespaces/messages/send/action", { claim: "Send" }),
    op(undefined, undefined, "Microsoft.ServiceBus/namespaces/messages/receive/action", { claim: "Listen" }),
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
    { operation: "manage", role: "Azure Event Hubs Data Owner", when: { action: /manage|entity(read|write|delete)/i } },
    // Creating or deleting an event hub or consumer group needs the Manage claim: Data Owner only.
    {
      operation: "manage",
      role: "Azure Event Hubs Data Owner",
      when: { methods: ["PUT", "DELETE"], path: /^\/[^/$]+(\/consumergroups\/[^/]+)?\/?$/i },
    },
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
  // Operation → action: REST paths and the AMQP claims answers name (strongest first); entity management needs the
  // Manage claim, which only Data Owner's `Microsoft.EventHub/*` grants.
  operations: [
    op("POST", /\/messages\/?$/i, "Microsoft.EventHub/namespaces/messages/send/action"),
    op("PUT,DELETE", /^\/[^/$]+\/consumergroups\/[^/]+\/?$/i, "Microsoft.EventHub/namespaces/eventhubs/consumergroups/write"),
    op("PUT,DELETE", /^\/[^/$]+\/?$/, "Microsoft.EventHub/namespaces/eventhubs/write"),
    op("GET", /\/consumergroups(\/|$)|\/partitions(\/|$)/i, "Microsoft.EventHub/namespaces/messages/receive/action"),
    op(undefined, undefined, "Microsoft.EventHub/namespaces/eventhubs/write", { claim: "Manage" }),
    op(undefined, undefined, "Microsoft.EventHub/namespaces/eventhubs/write", { claim: "EntityWrite" }),
    op(undefined, undefined, "Microsoft.EventHub/namespaces/eventhubs/read", { claim: "EntityRead" }),
    op(undefined, undefined, "Microsoft.EventHub/namespaces/messages/send/action", { claim: "Send" }),
    op(undefined, undefined, "Microsoft.EventHub/namespaces/messages/receive/action", { claim: "Listen" }),
  ],
  fingerprints: messagingFingerprints("eventhubs", "eventhubs"),
};
