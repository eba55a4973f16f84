import { expect, it } from "vitest";
import { classifyResponse } from "../../src/classify/response.js";
import { getInternalFaultCount } from "../../src/util/safe.js";
import { classifyAmqpError } from "../../src/classify/amqp.js";

const trap = () => {
  throw new Error("trap");
};
const proxy = () => new Proxy({}, { get: trap, has: trap, ownKeys: trap, getOwnPropertyDescriptor: trap, getPrototypeOf: trap });

it("hostile values in every field of a 403 are absent, not faults", () => {
  const before = getInternalFaultCount();
  const cases: unknown[] = [
    { url: "https://kv.vault.azure.net/x", status: 403, body: proxy() },
    { url: proxy(), status: 403 },
    { url: "https://kv.vault.azure.net/x", status: 403, headers: proxy() },
    { url: "https://kv.vault.azure.net/x", status: 403, request: proxy() },
    { url: "https://kv.vault.azure.net/x", status: 403, request: { headers: proxy(), method: proxy() } },
    { url: "https://kv.vault.azure.net/x", status: 403, method: proxy() },
    {
      url: "https://kv.vault.azure.net/x",
      status: 403,
      body: JSON.stringify({
        error: { code: "Forbidden", message: "Caller is not authorized to perform action on resource.", innererror: { code: "ForbiddenByRbac" } },
      }),
    },
    { name: "ServiceBusError", code: "UnauthorizedAccess", message: "Unauthorized access. 'Send' claim(s) are required", cause: proxy(), errors: proxy() },
    proxy(),
  ];
  const proxyArray = new Proxy([], { get: trap, has: trap, ownKeys: trap, getOwnPropertyDescriptor: trap });
  for (const response of cases) {
    expect(() =>
      classifyResponse(response as never, { token: proxy() as never, services: [proxy() as never], expectedIdentity: proxy() as never, app: proxy() as never }),
    ).not.toThrow();
    expect(() => classifyResponse(response as never, { services: proxyArray as never })).not.toThrow();
    expect(() => classifyAmqpError(response, proxy() as never)).not.toThrow();
    expect(() => classifyAmqpError(response, { services: proxyArray as never, url: "sb://ns.servicebus.windows.net/q" })).not.toThrow();
  }
  expect(getInternalFaultCount() - before).toBe(0);
});
