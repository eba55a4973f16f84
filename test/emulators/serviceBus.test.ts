import { describe, expect, test } from "vitest";
import { startServiceBusEmulator } from "../../src/testing.js";
import { OTHER_TENANT, principal, send, useEmulators } from "./helpers.js";

let nowMs = Date.now();
const AUDIENCE = "https://servicebus.azure.net";
const env = useEmulators((options) => ({
  sb: startServiceBusEmulator({ ...options, namespace: "orders-bus", queues: ["orders", "invoices"], propagationDelayMs: 10 * 60_000, now: () => nowMs }),
}));

async function sendMessage(queue: string, claims: Record<string, unknown>, options: { audience?: string; issuedAt?: number } = {}) {
  const token = await env.issuer.mint(options.audience ?? AUDIENCE, claims, { issuedAt: options.issuedAt });
  return send(env.sb.httpClient, `${env.sb.endpoint}/${queue}/messages`, {
    method: "POST",
    token,
    body: '{"orderId":1}',
    headers: { "content-type": "application/json" },
  });
}
const detail = (body: string) => /^<Error><Code>(\d+)<\/Code><Detail>([\s\S]*)<\/Detail><\/Error>$/.exec(body)?.slice(1) ?? [];

describe("Service Bus REST emulator", () => {
  test("Azure Service Bus Data Sender on the namespace: 201 Created, the message is queued", async () => {
    const oid = principal(1);
    env.sb.rbac.grant({ principalId: oid, role: "Azure Service Bus Data Sender", scope: env.sb.resourceId }, { propagationDelayMs: 0 });
    const response = await sendMessage("orders", { oid });
    expect(response.status).toBe(201);
    expect(env.sb.messages("orders")).toEqual(['{"orderId":1}']);
  });

  test("no role: 401 (not 403) SubCode=40100 Unauthorized access for 'Send'", async () => {
    const response = await sendMessage("orders", { oid: principal(2) });
    expect(response.status).toBe(401);
    const [code, text] = detail(response.body);
    expect(code).toBe("401");
    expect(text).toMatch(
      /^SubCode=40100: Unauthorized : Unauthorized access for 'Send' operation on endpoint 'sb:\/\/orders-bus\.servicebus\.windows\.net\/orders\/messages'\. TrackingId:/,
    );
    expect(response.headers["content-type"]).toBe("application/xml; charset=utf-8");
  });

  test("Data Receiver cannot send; Data Sender at one queue cannot send to its sibling; Owner/Contributor cannot", async () => {
    const receiver = principal(3);
    env.sb.rbac.grant({ principalId: receiver, role: "Azure Service Bus Data Receiver", scope: env.sb.resourceId }, { propagationDelayMs: 0 });
    expect((await sendMessage("orders", { oid: receiver })).status).toBe(401);
    const queueSender = principal(4);
    env.sb.rbac.grant(
      { principalId: queueSender, role: "Azure Service Bus Data Sender", scope: `${env.sb.resourceId}/queues/invoices` },
      { propagationDelayMs: 0 },
    );
    expect((await sendMessage("invoices", { oid: queueSender })).status).toBe(201);
    expect((await sendMessage("orders", { oid: queueSender })).status).toBe(401);
    const admin = principal(5);
    for (const role of ["Owner", "Contributor"]) env.sb.rbac.grant({ principalId: admin, role, scope: env.sb.resourceId }, { propagationDelayMs: 0 });
    expect((await sendMessage("orders", { oid: admin })).status).toBe(401);
  });

  test("wrong audience, expired, wrong tenant: 401 SubCode=40100 with the reason", async () => {
    const oid = principal(6);
    env.sb.rbac.grant({ principalId: oid, role: "Azure Service Bus Data Sender", scope: env.sb.resourceId }, { propagationDelayMs: 0 });
    const audience = await sendMessage("orders", { oid }, { audience: "https://storage.azure.com" });
    expect(audience.status).toBe(401);
    expect(detail(audience.body)[1]).toMatch(/^SubCode=40100: Unauthorized : InvalidAudience/);
    const expired = await sendMessage("orders", { oid }, { issuedAt: Math.floor(nowMs / 1000) - 7200 });
    expect(expired.status).toBe(401);
    expect(detail(expired.body)[1]).toMatch(/^SubCode=40100: Unauthorized : ExpiredToken/);
    const tenant = await sendMessage("orders", { oid, tid: OTHER_TENANT });
    expect(tenant.status).toBe(401);
    expect(detail(tenant.body)[1]).toMatch(/^SubCode=40100: Unauthorized : InvalidIssuer: Token issuer is invalid\./);
  });

  test("IP filter: 401 'Ip has been prevented to connect to the endpoint'", async () => {
    const oid = principal(7);
    env.sb.rbac.grant({ principalId: oid, role: "Azure Service Bus Data Sender", scope: env.sb.resourceId }, { propagationDelayMs: 0 });
    env.sb.setFirewall(true);
    try {
      const response = await sendMessage("orders", { oid });
      expect(response.status).toBe(401);
      expect(detail(response.body)[1]).toMatch(/^Ip has been prevented to connect to the endpoint\. .*IP Filters/);
    } finally {
      env.sb.setFirewall(false);
    }
  });

  test("propagation: a grant takes effect only after the delay", async () => {
    const oid = principal(8);
    env.sb.rbac.grant({ principalId: oid, role: "Azure Service Bus Data Sender", scope: env.sb.resourceId });
    expect((await sendMessage("orders", { oid })).status).toBe(401);
    nowMs += 10 * 60_000;
    expect((await sendMessage("orders", { oid })).status).toBe(201);
  });

  test("receive-and-delete needs Data Receiver; unknown queue: 404", async () => {
    const oid = principal(9);
    env.sb.rbac.grant({ principalId: oid, role: "Azure Service Bus Data Receiver", scope: env.sb.resourceId }, { propagationDelayMs: 0 });
    const token = await env.issuer.mint(AUDIENCE, { oid });
    const first = await send(env.sb.httpClient, `${env.sb.endpoint}/orders/messages/head`, { method: "DELETE", token });
    expect(first.status).toBe(200);
    expect(first.body).toBe('{"orderId":1}');
    const sender = principal(10);
    env.sb.rbac.grant({ principalId: sender, role: "Azure Service Bus Data Sender", scope: env.sb.resourceId }, { propagationDelayMs: 0 });
    const missing = await sendMessage("nope", { oid: sender });
    expect(missing.status).toBe(404);
    expect(detail(missing.body)[1]).toMatch(/^The messaging entity 'sb:\/\/orders-bus\.servicebus\.windows\.net\/nope' could not be found\./);
  });
});
