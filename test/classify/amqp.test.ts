import { translate } from "@azure/core-amqp";
import { ServiceBusError } from "@azure/service-bus";
import { describe, expect, it } from "vitest";
import { classifyAmqpError } from "../../src/classify/amqp.js";
import type { ClassifyContext } from "../../src/classify/response.js";
import type { Diagnosis } from "../../src/diagnosis/types.js";
import { NOW, OID, makeToken, type TokenOptions } from "./helpers.js";

const SB = "sb://sb-orders.servicebus.windows.net/orders";
const tail = "TrackingId:7f0c9e4e-4f0a-4d5b-9d55-2c8f0f7e1a11_G12, SystemTracker:gateway7, Timestamp:2025-05-01T12:00:00";

/** core-amqp's translate() over a rhea error: what the Event Hubs SDK throws. */
const messagingError = (description: string, condition = "amqp:unauthorized-access") => translate({ condition, description });
/** What the Service Bus SDK throws. */
const serviceBusError = (description: string, condition = "amqp:unauthorized-access") => new ServiceBusError(messagingError(description, condition) as never);

interface AmqpCase {
  name: string;
  error: () => unknown;
  token?: TokenOptions;
  context?: Omit<ClassifyContext, "token">;
  expect: { hypothesis: Diagnosis["hypothesis"] | undefined; confidence?: Diagnosis["confidence"]; service?: string; steps?: string[]; summary?: string[] };
}

const CASES: AmqpCase[] = [
  {
    name: "ServiceBusError UnauthorizedAccess: 'Send' claim required → Data Sender at the namespace",
    error: () => serviceBusError(`Unauthorized access. 'Send' claim(s) are required to perform this operation. Resource: '${SB}'. ${tail}`),
    token: { aud: "https://servicebus.azure.net" },
    expect: {
      hypothesis: "H2",
      confidence: "high",
      service: "servicebus",
      steps: ['--role "Azure Service Bus Data Sender"', `--assignee-object-id ${OID}`, "sb-orders"],
      summary: ["401 (AMQP) from sb-orders.servicebus.windows.net"],
    },
  },
  {
    name: "ServiceBusError without host or token: found by the SDK error name",
    error: () => serviceBusError(`Unauthorized access. 'Listen' claim(s) are required to perform this operation. ${tail}`),
    expect: { hypothesis: "H2", service: "servicebus", steps: ['"Azure Service Bus Data Receiver"'] },
  },
  {
    name: "MessagingError (Event Hubs) 'Listen' with an Event Hubs token → Event Hubs Data Receiver",
    error: () =>
      messagingError(
        `Unauthorized access. 'Listen' claim(s) are required to perform this operation. Resource: 'sb://eh-telemetry.servicebus.windows.net/devices/consumergroups/$default/partitions/0'. ${tail}`,
      ),
    token: { aud: "https://eventhubs.azure.net" },
    expect: { hypothesis: "H2", confidence: "high", service: "eventhubs", steps: ['"Azure Event Hubs Data Receiver"'] },
  },
  {
    name: "Event Hubs told apart by the entity path (consumer group / partition), no token",
    error: () =>
      messagingError(
        `Unauthorized access. 'Listen' claim(s) are required to perform this operation. Resource: 'sb://eh-telemetry.servicebus.windows.net/devices/ConsumerGroups/$default/Partitions/0'. ${tail}`,
      ),
    expect: { hypothesis: "H2", service: "eventhubs" },
  },
  {
    name: "raw rhea AMQP error 'Manage,EntityRead' → Data Owner",
    error: () => ({
      condition: "amqp:unauthorized-access",
      description: `Unauthorized access. 'Manage,EntityRead' claim(s) are required to perform this operation. Resource: '${SB}'. ${tail}`,
    }),
    token: { aud: "https://servicebus.azure.net" },
    expect: { hypothesis: "H2", service: "servicebus", steps: ['"Azure Service Bus Data Owner"'] },
  },
  {
    name: ".NET wording: Put token failed. status-code: 401, status-description: InvalidIssuer",
    error: () => new Error(`Put token failed. status-code: 401, status-description: InvalidIssuer: Token issuer is invalid. ${tail}.`),
    expect: { hypothesis: "H4", confidence: "high", service: "servicebus" },
  },
  {
    name: "JS CBS failure: MessagingError 'InvalidIssuer: …' with namespace in context.url",
    error: () => messagingError(`InvalidIssuer: Token issuer is invalid. ${tail}`),
    context: { url: "sb://sb-orders.servicebus.windows.net/" },
    expect: { hypothesis: "H4", confidence: "high", service: "servicebus" },
  },
  {
    name: "InvalidSignature",
    error: () => messagingError(`InvalidSignature: The token has an invalid signature. ${tail}`),
    context: { url: "sb://sb-orders.servicebus.windows.net/" },
    expect: { hypothesis: "H4", confidence: "medium", service: "servicebus" },
  },
  {
    name: "IP filter → not identity",
    error: () =>
      new Error(
        `Put token failed. status-code: 401, status-description: Ip has been prevented to connect to the endpoint. For more information see: Virtual Network service endpoints: Event Hubs: https://go.microsoft.com/fwlink/?linkid=2044192 Service Bus: https://go.microsoft.com/fwlink/?linkid=2044235 IP Filters: Event Hubs: https://go.microsoft.com/fwlink/?linkid=2044428 Service Bus: https://go.microsoft.com/fwlink/?linkid=2044183. ${tail}. Resource: '${SB}'`,
      ),
    expect: { hypothesis: "not-identity", confidence: "high", service: "servicebus" },
  },
  {
    name: "ExpiredToken (broker words)",
    error: () => messagingError(`ExpiredToken: The token is expired. Expiration time: '2025-05-01 11:00:00Z'. ${tail}`),
    context: { url: "sb://sb-orders.servicebus.windows.net/" },
    expect: { hypothesis: "H4", confidence: "high", service: "servicebus" },
  },
  {
    name: "expired token in hand decides (claims), whatever the words",
    error: () => serviceBusError(`Unauthorized access. ${tail}`),
    token: { aud: "https://servicebus.azure.net", exp: -7200, iat: -90_000, nbf: -90_000 },
    expect: { hypothesis: "H4", confidence: "high", service: "servicebus", summary: ["expired"] },
  },
  {
    name: "token for the wrong audience (Key Vault) on a Service Bus namespace → H3",
    error: () => serviceBusError(`Unauthorized access. 'Send' claim(s) are required to perform this operation. Resource: '${SB}'. ${tail}`),
    token: { aud: "https://vault.azure.net" },
    expect: { hypothesis: "H3", confidence: "high", service: "servicebus", steps: ["https://servicebus.azure.net//.default"] },
  },
  {
    name: "bare unauthorized-access with a valid token → H2 medium (401 means forbidden)",
    error: () => serviceBusError(`Unauthorized access. ${tail}`),
    token: { aud: "https://servicebus.azure.net" },
    expect: { hypothesis: "H2", confidence: "medium", service: "servicebus" },
  },
  {
    name: "error wrapped in cause (AggregateError from the retry loop)",
    error: () =>
      new AggregateError(
        [new Error("ECONNRESET"), messagingError(`Unauthorized access. 'Send' claim(s) are required to perform this operation. Resource: '${SB}'. ${tail}`)],
        "retries exhausted",
      ),
    expect: { hypothesis: "H2", service: "servicebus" },
  },
  {
    name: "SQL: Login failed for token-identified principal → database user",
    error: () => Object.assign(new Error("Login failed for user '<token-identified principal>'."), { name: "ConnectionError", code: "ELOGIN" }),
    token: { aud: "https://database.windows.net/" },
    context: { url: "mssql://sql-orders.database.windows.net:1433/orders" },
    expect: { hypothesis: "H2", confidence: "medium", service: "sql", steps: ["CREATE USER [id-orders] FROM EXTERNAL PROVIDER"] },
  },
  {
    name: "SQL: expired access token (no host: service from the fingerprint)",
    error: () => Object.assign(new Error("Login failed for user '<token-identified principal>'. The access token has expired."), { code: "ELOGIN" }),
    expect: { hypothesis: "H4", confidence: "high", service: "sql", summary: ["SQL login failure from unknown host: "] },
  },
  {
    name: "SQL: firewall",
    error: () =>
      Object.assign(
        new Error("Cannot open server 'sql-orders' requested by the login. Client with IP address '20.1.2.3' is not allowed to access the server."),
        { code: "ELOGIN" },
      ),
    context: { url: "mssql://sql-orders.database.windows.net:1433" },
    expect: { hypothesis: "not-identity", confidence: "high", service: "sql" },
  },
  {
    name: "SQL: firewall without a server name → still not identity (generic wording)",
    error: () => Object.assign(new Error("Client with IP address '20.1.2.3' is not allowed to access the server."), { code: "ELOGIN" }),
    expect: { hypothesis: "not-identity", service: undefined },
  },
  {
    name: "Redis NOPERM → access policy",
    error: () => Object.assign(new Error("NOPERM this user has no permissions to run the 'set' command"), { name: "ReplyError" }),
    token: { aud: "https://redis.azure.com" },
    context: { url: "rediss://redis-orders.redis.cache.windows.net:6380" },
    expect: { hypothesis: "H2", service: "redis", steps: ["az redis access-policy-assignment create", "--redis-cache-name redis-orders"] },
  },
  {
    name: "entity not found is not an auth failure",
    error: () => messagingError("The messaging entity 'sb://sb-orders.servicebus.windows.net/nope' could not be found.", "amqp:not-found"),
    expect: { hypothesis: undefined },
  },
  {
    name: "server busy is not an auth failure",
    error: () => serviceBusError(`The server is busy. ${tail}`, "com.microsoft:server-busy"),
    expect: { hypothesis: undefined },
  },
  { name: "a plain Error is not ours", error: () => new Error("something else"), expect: { hypothesis: undefined } },
  { name: "a string is not ours", error: () => "boom", expect: { hypothesis: undefined } },
  { name: "undefined", error: () => undefined, expect: { hypothesis: undefined } },
];

describe("classifyAmqpError", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const token = c.token ? await makeToken(c.token) : undefined;
    const d = classifyAmqpError(c.error(), { now: NOW, ...(c.context ?? {}), ...(token ? { token } : {}) });
    if (c.expect.hypothesis === undefined) {
      expect(d).toBeUndefined();
      return;
    }
    const context = `\n${JSON.stringify(d, null, 2)}`;
    expect(d, context).toBeDefined();
    expect(d?.hypothesis, context).toBe(c.expect.hypothesis);
    if (c.expect.confidence) expect(d?.confidence, context).toBe(c.expect.confidence);
    if ("service" in c.expect) expect(d?.service, context).toBe(c.expect.service);
    for (const part of c.expect.steps ?? [])
      expect(
        d?.nextSteps.some((s) => s.includes(part)),
        `step ${part}${context}`,
      ).toBe(true);
    for (const part of c.expect.summary ?? []) expect(d?.summary, context).toContain(part);
  });

  it("names the entity from the message", () => {
    const d = classifyAmqpError(serviceBusError(`Unauthorized access. 'Send' claim(s) are required to perform this operation. Resource: '${SB}'. ${tail}`));
    expect(d?.evidence).toContain(`entity: ${SB}`);
  });
});
