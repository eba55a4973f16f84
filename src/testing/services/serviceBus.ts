import { randomUUID } from "node:crypto";
import { BUILT_IN_ROLES } from "./rbac.js";
import {
  header,
  resourceIdOf,
  startEmulatorServer,
  xmlText,
  type EmulatorEnv,
  type IncomingCall,
  type Reply,
  type ServiceEmulator,
  type ServiceEmulatorOptions,
} from "./server.js";
import type { TokenFailureReason } from "./tokenCheck.js";

/** Options of {@link startServiceBusEmulator}. */
export interface ServiceBusEmulatorOptions extends ServiceEmulatorOptions {
  /** Namespace name: the host is `<namespace>.servicebus.windows.net`. Default `mynamespace`. */
  namespace?: string;
  /** Queues that exist. Default `["orders"]`. */
  queues?: readonly string[];
}

/** A running Service Bus emulator. */
export interface ServiceBusEmulator extends ServiceEmulator {
  /** The namespace name. */
  readonly namespace: string;
  /** Messages sent to a queue and not yet received (body text, oldest first). */
  messages(queue: string): string[];
}

const AUDIENCE = "https://servicebus.azure.net";
const SEND = "Microsoft.ServiceBus/namespaces/messages/send/action";
const RECEIVE = "Microsoft.ServiceBus/namespaces/messages/receive/action";

/** Text after `SubCode=40100: Unauthorized : ` for each token failure. Only "InvalidIssuer"/"InvalidSignature"/the IP text are confirmed wording. */
const TOKEN_DETAIL: Record<TokenFailureReason, string> = {
  missing: "MissingToken: The authorization header was not found.",
  malformed: "MalformedToken: The credentials contained in the authorization header are not well-formed.",
  signature: "InvalidSignature: The token has an invalid signature.",
  audience: "InvalidAudience: The token audience is not valid for this namespace.",
  tenant: "InvalidIssuer: Token issuer is invalid.",
  expired: "ExpiredToken: The token is expired.",
  "not-yet-valid": "InvalidToken: The token is not yet valid.",
};

/**
 * Azure Service Bus over REST (the AMQP protocol of `@azure/service-bus` is not emulated): `POST /{queue}/messages`
 * sends (Data Sender), `DELETE /{queue}/messages/head` receives and deletes (Data Receiver). Every refusal, missing
 * permission and IP filter included, is a **401** with `<Error><Code>401</Code><Detail>…</Detail></Error>`, like the
 * real service.
 */
export async function startServiceBusEmulator(options: ServiceBusEmulatorOptions): Promise<ServiceBusEmulator> {
  const namespace = (options.namespace ?? "mynamespace").toLowerCase();
  const host = `${namespace}.servicebus.windows.net`;
  const resourceId = resourceIdOf(options, "Microsoft.ServiceBus", `namespaces/${namespace}`);
  const queues = new Map<string, string[]>();
  for (const queue of options.queues ?? ["orders"]) queues.set(queue.toLowerCase(), []);

  const error = (call: IncomingCall, env: EmulatorEnv, status: number, detail: string, errorCode: string): Reply => ({
    status,
    errorCode,
    headers: { "content-type": "application/xml; charset=utf-8" },
    body: `<Error><Code>${status}</Code><Detail>${xmlText(`${detail} ${tracking(call, env)}`)}</Detail></Error>`,
  });

  const emulator = await startEmulatorServer(
    {
      service: "servicebus",
      host,
      resourceId,
      audiences: [AUDIENCE],
      roles: BUILT_IN_ROLES,
      firewall: {
        afterAuth: false,
        reply: (call, env) =>
          error(
            call,
            env,
            401,
            "Ip has been prevented to connect to the endpoint. For more information see: Virtual Network service endpoints: Event Hubs: https://go.microsoft.com/fwlink/?linkid=2044192 Service Bus: https://go.microsoft.com/fwlink/?linkid=2044235 IP Filters: Event Hubs: https://go.microsoft.com/fwlink/?linkid=2044428 Service Bus: https://go.microsoft.com/fwlink/?linkid=2044183.",
            "IpFilterRejected",
          ),
      },
      headers: (call) => ({
        server: "Microsoft-HTTPAPI/2.0",
        "strict-transport-security": "max-age=31536000",
        "x-ms-request-id": call.requestId,
        ...(call.clientRequestId ? { "x-ms-client-request-id": call.clientRequestId } : {}),
      }),
      tokenFailure: (call, failure, env) => error(call, env, 401, `SubCode=40100: Unauthorized : ${TOKEN_DETAIL[failure.reason]}`, "40100"),
      handle(call, caller, env) {
        const match = /^\/([^/]+)\/messages(\/head)?\/?$/i.exec(call.url.pathname);
        const isSend = call.method === "POST" && match && !match[2];
        const isReceive = call.method === "DELETE" && match && match[2];
        if (!match || (!isSend && !isReceive)) return error(call, env, 400, "The request is not supported by the emulator.", "400");
        const queue = decodeURIComponent(match[1]!).toLowerCase();
        const operation = isSend ? "Send" : "Listen";
        if (!env.rbac.allows(caller.oid, "dataAction", isSend ? SEND : RECEIVE, `${resourceId}/queues/${queue}`)) {
          return error(
            call,
            env,
            401,
            `SubCode=40100: Unauthorized : Unauthorized access for '${operation}' operation on endpoint 'sb://${host}/${queue}/messages${isReceive ? "/head" : ""}'.`,
            "40100",
          );
        }
        const messages = queues.get(queue);
        if (!messages) {
          return error(
            call,
            env,
            404,
            `The messaging entity 'sb://${host}/${queue}' could not be found. To know more visit https://aka.ms/sbResourceMgrExceptions.`,
            "404",
          );
        }
        if (isSend) {
          messages.push(call.body.toString("utf8"));
          return { status: 201 };
        }
        const next = messages.shift();
        if (next === undefined) return { status: 204 };
        return {
          status: 200,
          headers: {
            "content-type": header(call.headers, "content-type") ?? "text/plain",
            brokerproperties: JSON.stringify({ DeliveryCount: 1, MessageId: randomUUID(), SequenceNumber: 1 }),
          },
          body: next,
        };
      },
    },
    options,
  );
  return { ...emulator, namespace, messages: (queue) => [...(queues.get(queue.toLowerCase()) ?? [])] };
}

function tracking(call: IncomingCall, env: EmulatorEnv): string {
  return `TrackingId:${call.requestId}_G0, SystemTracker:${env.host}:${call.url.pathname.replace(/^\//, "")}, Timestamp:${new Date(env.now()).toISOString().slice(0, 19)}`;
}
