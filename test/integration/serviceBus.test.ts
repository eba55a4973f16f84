/**
 * Service Bus and Event Hubs. Over REST (fetch): zero-config observation and `credential.diagnose({ response, body })`;
 * Service Bus answers **401** for a missing permission and for its IP filter. Over AMQP (what @azure/service-bus and
 * @azure/event-hubs speak) no HTTP pipeline exists: errors built exactly as the SDKs build them (core-amqp
 * `translate()` of the AMQP error, wrapped in `ServiceBusError`) go to `credential.diagnose(error)`, which correlates
 * them with the token the credential issued for the audience.
 */
import { describe, expect, test } from "vitest";
import { MessagingError, translate } from "@azure/core-amqp";
import { ServiceBusError } from "@azure/service-bus";
import { getDiagnosis } from "../../src/index.js";
import { startServiceBusEmulator, type ServiceBusEmulator } from "../../src/testing.js";
import {
  diagnosticSetup,
  downstreamLog,
  expectLogLine,
  expectRoleAdvice,
  expiredClaims,
  fetchWithToken,
  newIdentity,
  otherTenantClaims,
  resourceIdOf,
  settledDownstream,
  uniqueName,
  useEmulators,
  type TokenPlan,
} from "./helpers.js";

const env = useEmulators(
  (base) => ({
    sb: startServiceBusEmulator({ ...base, namespace: "orders-bus", queues: ["orders", "audit"] }),
    locked: startServiceBusEmulator({ ...base, namespace: "locked-bus", firewall: true }),
  }),
  { routeFetch: ({ sb, locked }) => [sb.host, locked.host] },
);
const SCOPE = "https://servicebus.azure.net//.default";
const NAMESPACE_ID = resourceIdOf("Microsoft.ServiceBus/namespaces/orders-bus");
const NAMESPACE_SCOPE = `$(az servicebus namespace list --query "[?name=='orders-bus'].id" --output tsv)`;

/** POST a message with fetch and a token from the credential (queue names of their own per test). */
async function send(plan: TokenPlan, options: { configured?: TokenPlan["identity"]; bus?: ServiceBusEmulator; queue?: string } = {}) {
  const setup = diagnosticSetup(env.mi, plan, options.configured);
  const bus = options.bus ?? env.sb;
  const queue = options.queue ?? uniqueName("q");
  const { response, body } = await fetchWithToken(setup.credential, SCOPE, `https://${bus.host}:${bus.port}/${queue}/messages`, {
    method: "POST",
    body: "order 1",
  });
  return { ...setup, response, body, queue, host: `${bus.host}:${bus.port}` };
}

describe.concurrent("Service Bus over REST (fetch): zero-config observation and credential.diagnose({ response, body })", () => {
  test("H2 no role: 401 (not 403) SubCode=40100 'Unauthorized access for Send' → Azure Service Bus Data Sender", async () => {
    const identity = newIdentity();
    const { response, body, logs, credential, host } = await send({ identity });
    expect(response.status).toBe(401);
    expect(body).toContain("SubCode=40100: Unauthorized : Unauthorized access for 'Send' operation");
    expectLogLine(await downstreamLog(logs), { hypothesis: "H2", code: "RoleMissingOrWrongScope", status: 401, host, source: "observed" });
    const diagnosis = credential.diagnose({ response, body });
    expect(diagnosis).toMatchObject({ hypothesis: "H2", code: "RoleMissingOrWrongScope", service: "servicebus", status: 401, confidence: "high" });
    expectRoleAdvice(diagnosis!, {
      role: "Azure Service Bus Data Sender",
      scope: NAMESPACE_SCOPE,
      principalId: identity.objectId,
      command: /: az role assignment create .*--role "Azure Service Bus Data Sender"/,
    });
  });

  test("H2 control-plane roles only (Owner, Contributor on the namespace)", async () => {
    const identity = newIdentity();
    env.sb.rbac.grant({ principalId: identity.objectId, role: "Owner", scope: NAMESPACE_ID });
    env.sb.rbac.grant({ principalId: identity.objectId, role: "Contributor", scope: NAMESPACE_ID });
    const { response, body, credential } = await send({ identity });
    const diagnosis = credential.diagnose({ response, body });
    expect(diagnosis).toMatchObject({ hypothesis: "H2", service: "servicebus" });
    expect(diagnosis!.nextSteps.join("\n")).toContain('"Owner", "Contributor" are control-plane roles: they give no data access to Azure Service Bus');
  });

  test("H2 Data Sender at a sibling scope (another queue), and Data Receiver where Send is needed", async () => {
    const identity = newIdentity();
    env.sb.rbac.grant({ principalId: identity.objectId, role: "Azure Service Bus Data Sender", scope: `${NAMESPACE_ID}/queues/audit` });
    env.sb.rbac.grant({ principalId: identity.objectId, role: "Azure Service Bus Data Receiver", scope: NAMESPACE_ID });
    const { response, body, credential } = await send({ identity }, { queue: "orders" });
    expect(response.status).toBe(401);
    const diagnosis = credential.diagnose({ response, body });
    expect(diagnosis).toMatchObject({ hypothesis: "H2", code: "RoleMissingOrWrongScope" });
    expect(diagnosis!.evidence).toContain("entity: sb://orders-bus.servicebus.windows.net/orders/messages");
    expectRoleAdvice(diagnosis!, {
      role: "Azure Service Bus Data Sender",
      scope: NAMESPACE_SCOPE,
      principalId: identity.objectId,
      command: /: az role assignment create/,
    });
  });

  test("H3 a token for another audience: 401 InvalidAudience → WrongAudience", async () => {
    const { response, body, logs, credential, host } = await send({ identity: newIdentity(), audience: "https://eventgrid.azure.net" });
    expectLogLine(await downstreamLog(logs), { hypothesis: "H3", code: "WrongAudience", status: 401, host, source: "observed" });
    expect(credential.diagnose({ response, body })).toMatchObject({ hypothesis: "H3", service: "servicebus" });
  });

  test("H4 expired token and token from another tenant (InvalidIssuer)", async () => {
    const [expired, tenant] = await Promise.all([
      send({ identity: newIdentity(), claims: expiredClaims }),
      send({ identity: newIdentity(), claims: otherTenantClaims }),
    ]);
    expectLogLine(await downstreamLog(expired.logs), { hypothesis: "H4", code: "StaleTokenOrIdentityMixup", status: 401, host: expired.host });
    expect(expired.credential.diagnose({ response: expired.response, body: expired.body })).toMatchObject({ hypothesis: "H4" });
    expect(tenant.body).toContain("InvalidIssuer");
    expect(tenant.credential.diagnose({ response: tenant.response, body: tenant.body })).toMatchObject({ hypothesis: "H4", code: "StaleTokenOrIdentityMixup" });
  });

  test("H4 identity mix-up", async () => {
    const configured = newIdentity();
    const other = newIdentity();
    env.sb.rbac.grant({ principalId: configured.objectId, role: "Azure Service Bus Data Sender", scope: NAMESPACE_ID });
    const { response, body, credential } = await send({ identity: other }, { configured });
    const diagnosis = credential.diagnose({ response, body });
    expect(diagnosis).toMatchObject({ hypothesis: "H4", code: "StaleTokenOrIdentityMixup" });
    expect(diagnosis!.summary).toContain(`request made as clientId ${other.clientId}`);
  });

  test("not-identity: the IP filter answers 401 'Ip has been prevented to connect to the endpoint'", async () => {
    const { response, body, credential, logs, host } = await send({ identity: newIdentity() }, { bus: env.locked });
    expect(response.status).toBe(401);
    const diagnosis = credential.diagnose({ response, body });
    expect(diagnosis).toMatchObject({ hypothesis: "not-identity", code: "NotAnIdentityProblem", service: "servicebus", status: 401 });
    // Zero-config saw the same 401 without its body.
    const entry = await downstreamLog(logs);
    expect(entry.host).toBe(host);
  });

  test("2xx (201 Created) with Data Sender: nothing logged", async () => {
    const identity = newIdentity();
    env.sb.rbac.grant({ principalId: identity.objectId, role: "Azure Service Bus Data Sender", scope: NAMESPACE_ID });
    const { response, logs, credential } = await send({ identity }, { queue: "orders" });
    expect(response.status).toBe(201);
    expect(await settledDownstream(logs, credential)).toEqual([]);
  });
});

/** An AMQP error as the broker sends it, translated and wrapped like @azure/service-bus does (translateServiceBusError). */
function serviceBusError(condition: string, description: string): ServiceBusError {
  return new ServiceBusError(translate({ condition, description }) as MessagingError);
}

const tracking = "TrackingId:3a4b5c6d-7e8f-4a1b-9c2d-3e4f5a6b7c8d_G12, SystemTracker:orders-bus.servicebus.windows.net:orders, Timestamp:2025-01-30T14:47:35";

describe.concurrent("Service Bus and Event Hubs over AMQP: credential.diagnose(error)", () => {
  test("H2: UnauthorizedAccess \"'Send' claim(s) are required\" → Data Sender, correlated with the Service Bus token issued", async () => {
    const identity = newIdentity();
    const { credential, logs } = diagnosticSetup(env.mi, { identity });
    await credential.getToken(SCOPE); // what the sender did before connecting
    const error = serviceBusError(
      "amqp:unauthorized-access",
      `Unauthorized access. 'Send' claim(s) are required to perform this operation. Resource: 'sb://orders-bus.servicebus.windows.net/orders'. ${tracking}`,
    );
    expect(error).toMatchObject({ name: "ServiceBusError", code: "UnauthorizedAccess" });
    const diagnosis = credential.diagnose(error);
    expect(diagnosis).toMatchObject({ hypothesis: "H2", code: "RoleMissingOrWrongScope", service: "servicebus" });
    expect(diagnosis!.identity).toMatchObject({ objectId: identity.objectId });
    expectRoleAdvice(diagnosis!, {
      role: "Azure Service Bus Data Sender",
      scope: NAMESPACE_SCOPE,
      principalId: identity.objectId,
      command: /: az role assignment create/,
    });
    expect(getDiagnosis(error)).toBe(diagnosis);
    const entry = logs.find((e) => e.source === "diagnose")!;
    expectLogLine(entry, { hypothesis: "H2", code: "RoleMissingOrWrongScope", status: 401, host: "orders-bus.servicebus.windows.net", source: "diagnose" });
  });

  test("H4: CBS put-token refused (InvalidIssuer), in the JS SDK's and in .NET's wording", async () => {
    const identity = newIdentity();
    const { credential } = diagnosticSetup(env.mi, { identity });
    await credential.getToken(SCOPE);
    const js = serviceBusError("amqp:unauthorized-access", `InvalidIssuer: Token issuer is invalid. ${tracking}`);
    expect(js.code).toBe("UnauthorizedAccess");
    expect(credential.diagnose(js)).toMatchObject({ hypothesis: "H4", code: "StaleTokenOrIdentityMixup" });
    const dotnet = serviceBusError(
      "amqp:unauthorized-access",
      `Put token failed. status-code: 401, status-description: InvalidIssuer: Token issuer is invalid. ${tracking}`,
    );
    expect(credential.diagnose(dotnet)).toMatchObject({ hypothesis: "H4", code: "StaleTokenOrIdentityMixup", status: 401 });
  });

  test("H4: the token the credential issued for Service Bus has expired", async () => {
    const identity = newIdentity();
    const { credential } = diagnosticSetup(env.mi, { identity, claims: expiredClaims });
    await credential.getToken(SCOPE);
    const error = serviceBusError("amqp:unauthorized-access", `ExpiredToken: The token is expired. Expiration time: '2025-01-30 13:47:35Z' ${tracking}`);
    expect(credential.diagnose(error)).toMatchObject({ hypothesis: "H4", code: "StaleTokenOrIdentityMixup" });
  });

  test("not-identity: 'Ip has been prevented to connect to the endpoint'", async () => {
    const { credential } = diagnosticSetup(env.mi, { identity: newIdentity() });
    await credential.getToken(SCOPE);
    const error = serviceBusError(
      "amqp:unauthorized-access",
      `Put token failed. status-code: 401, status-description: Ip has been prevented to connect to the endpoint. For more information see: IP Filters: Service Bus: https://go.microsoft.com/fwlink/?linkid=2044183. ${tracking}`,
    );
    expect(credential.diagnose(error)).toMatchObject({ hypothesis: "not-identity", code: "NotAnIdentityProblem" });
  });

  test("Event Hubs (core-amqp MessagingError): 'Listen' claim missing → Azure Event Hubs Data Receiver", async () => {
    const identity = newIdentity();
    const { credential } = diagnosticSetup(env.mi, { identity });
    await credential.getToken("https://eventhubs.azure.net//.default");
    const error = translate({
      condition: "amqp:unauthorized-access",
      description: `Unauthorized access. 'Listen' claim(s) are required to perform this operation. Resource: 'sb://telemetry-ns.servicebus.windows.net/telemetry/consumergroups/$default/partitions/0'. ${tracking}`,
    });
    expect(error).toMatchObject({ name: "MessagingError", code: "UnauthorizedError" });
    const diagnosis = credential.diagnose(error);
    expect(diagnosis).toMatchObject({ hypothesis: "H2", service: "eventhubs" });
    expect(diagnosis!.nextSteps.join("\n")).toContain('"Azure Event Hubs Data Receiver"');
    expect(diagnosis!.nextSteps.join("\n")).toContain(identity.objectId);
  });

  test("not an authorization failure (entity not found, server busy): no diagnosis", async () => {
    const { credential } = diagnosticSetup(env.mi, { identity: newIdentity() });
    await credential.getToken(SCOPE);
    expect(
      credential.diagnose(
        serviceBusError("amqp:not-found", `The messaging entity 'sb://orders-bus.servicebus.windows.net/nope' could not be found. ${tracking}`),
      ),
    ).toBeUndefined();
    expect(credential.diagnose(serviceBusError("com.microsoft:server-busy", `The server is busy. ${tracking}`))).toBeUndefined();
  });
});
