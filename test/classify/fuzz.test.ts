/**
 * Property tests: the classifiers and parsers never throw and never hit an internal fault, whatever the input:
 * random and binary strings, mutated real answers, multi-megabyte bodies, hostile headers, objects with throwing
 * getters, Proxies that throw on every trap. Default run ≈2,000 cases; FULL=1 runs 100,000.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyAmqpError } from "../../src/classify/amqp.js";
import { challengeInfo, parseWwwAuthenticate } from "../../src/classify/challenge.js";
import { extractFacts, parseErrorBody } from "../../src/classify/errorBody.js";
import { readHeaders } from "../../src/util/headers.js";
import { classifyResponse } from "../../src/classify/response.js";
import { getInternalFaultCount } from "../../src/util/safe.js";
import { checkScope, nearestAudience } from "../../src/classify/scope.js";
import { fuzzRuns, HARDENING_CORPUS, hostileGetters, hostileProxy, materializer } from "../helpers/arbitraries.js";
import { SHAPES } from "./fixtures.js";
import { makeToken } from "./helpers.js";

const runs = (share: number) => fuzzRuns(share, 20);
const materialize = materializer({ maxDepth: 4 });

const weirdPrimitive: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null).map(() => hostileProxy()),
  fc.constant(null).map(() => hostileGetters(["length", "0", "message", "get", "forEach"])),
  fc.constant({
    toString: () => {
      throw new Error("toString");
    },
  }),
  fc.constant({
    [Symbol.toPrimitive]: () => {
      throw new Error("toPrimitive");
    },
  }),
  fc.constant(Symbol("s")),
  fc.constant(() => "fn"),
  fc.bigInt(),
  fc.constant(Number.NaN),
  fc.constant(Infinity),
);

const anyText = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.string({ unit: "grapheme", maxLength: 200 }),
  fc.json(),
  fc.constantFrom("eyJhbGciOi", "Bearer ", "<Error><Code>", '{"error":{"code":', "\r\n", "\u0000", "\uD800", "AKV10022", "claim(s) are required", "'Send'"),
  fc.constantFrom(...HARDENING_CORPUS),
);

const bigBodies = [
  "x".repeat(3_000_000),
  `{"error":{"code":"Forbidden","message":"${"a ".repeat(1_500_000)}"}}`,
  `<Error><Code>${"C".repeat(2_000_000)}`,
  "eyJ".repeat(1_000_000),
  "(".repeat(200_000) + "ip address " + "a".repeat(200_000),
];

/** A real answer with a slice replaced by random text: reaches the deep paths with broken inputs. */
const mutatedShape = fc.tuple(fc.constantFrom(...SHAPES), fc.nat(), fc.nat(), anyText).map(([shape, a, b, insert]) => {
  const body = shape.response.body ?? "";
  const start = body.length ? a % body.length : 0;
  const end = body.length ? start + (b % (body.length - start + 1)) : 0;
  return { ...shape.response, body: body.slice(0, start) + insert + body.slice(end) };
});

const headerValue = fc.oneof(anyText, fc.array(anyText, { maxLength: 4 }), fc.integer(), fc.constant(undefined), fc.constant(null), weirdPrimitive);
const headers = fc.oneof(
  fc.dictionary(
    fc.oneof(fc.string(), fc.constantFrom("www-authenticate", "WWW-Authenticate", "x-ms-error-code", "x-ms-substatus", "x-ms-request-id")),
    headerValue,
    { maxKeys: 6 },
  ),
  fc.constant(undefined),
  fc.constant(null),
  fc.constant("headers as a string"),
  fc.constant(hostileProxy()),
  fc.constant(hostileGetters(["www-authenticate", "x-ms-error-code"])),
  fc.constant(new Headers({ "www-authenticate": 'Bearer error="invalid_token"', "x-ms-error-code": "AuthorizationPermissionMismatch" })),
  fc.constant(new Map([["www-authenticate", 42]])),
  fc.constant({
    *[Symbol.iterator]() {
      yield ["a", "b"];
      throw new Error("iterator");
    },
  }),
  fc.constant({
    forEach: () => {
      throw new Error("forEach");
    },
    get: () => "x",
  }),
);

const url = fc.oneof(
  fc.webUrl(),
  fc.string(),
  fc.constantFrom(
    "https://kv.vault.azure.net/secrets/x",
    "https://st.blob.core.windows.net/c",
    "https://ns.servicebus.windows.net/q",
    "https://graph.microsoft.com/v1.0/me",
    "https://127.0.0.1:10000/a",
    "https://[::1]/",
    "sb://ns.servicebus.windows.net/q",
    "not a url",
    "",
  ),
  fc.constant(new URL("https://management.azure.com/subscriptions")),
  weirdPrimitive,
);

const status = fc.oneof(fc.constantFrom(401, 403, 401, 403, 200, 404, 429, 500), fc.integer(), fc.constantFrom("401", "403", " 403 ", "abc"), weirdPrimitive);

/** An auth-failure status with any field possibly hostile: reaches past the status check. */
const hostileFields = fc.record(
  {
    url: fc.oneof(url, weirdPrimitive),
    status: fc.constantFrom(401, 403),
    headers: fc.oneof(headers, weirdPrimitive),
    body: fc.oneof(anyText, weirdPrimitive, fc.constantFrom(...SHAPES.map((shape) => shape.response.body ?? ""))),
    method: weirdPrimitive,
    request: fc.oneof(weirdPrimitive, fc.record({ headers: fc.oneof(headers, weirdPrimitive), method: weirdPrimitive }, { requiredKeys: [] })),
  },
  { requiredKeys: ["status"] },
);

const responseLike = fc.oneof(
  { weight: 3, arbitrary: hostileFields },
  {
    weight: 5,
    arbitrary: fc.record(
      {
        url,
        status,
        headers,
        body: fc.oneof(anyText, fc.constant(undefined), fc.constantFrom(...bigBodies), weirdPrimitive),
        method: fc.oneof(fc.constantFrom("GET", "HEAD", "POST", "get"), fc.string(), weirdPrimitive),
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 4, arbitrary: mutatedShape },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.anything(),
      fc.constant(hostileProxy()),
      fc.constant(hostileGetters(["url", "status", "headers", "body", "method", "request"])),
      weirdPrimitive,
    ),
  },
);

let tokens: string[] = [];
beforeAll(async () => {
  tokens = [
    await makeToken(),
    await makeToken({ aud: "https://management.azure.com", exp: -100 }),
    await makeToken({ aud: "00000003-0000-0000-c000-000000000000", ver: "2.0" }),
  ];
});

const context = fc.oneof(
  fc.constant(undefined),
  fc.record(
    {
      token: fc.oneof(
        fc.nat(2).map((i) => tokens[i] ?? ""),
        anyText,
        fc.constant("eyJ.eyJ.x"),
        weirdPrimitive,
      ),
      services: fc.oneof(
        fc.constant([{ name: "storage", hosts: ["127.0.0.1:10000"] }]),
        fc.array(fc.anything(), { maxLength: 3 }),
        fc.constant([
          hostileProxy(),
          hostileGetters(["name", "hosts"]),
          {
            name: "x",
            audiences: [hostileProxy()],
            fingerprints: [hostileProxy(), { id: "x.y", code: "NoSuchCode" }],
            roles: [{ role: 1 }],
            scopeHints: [{ from: "host" }],
          },
        ]),
        fc.constant(hostileProxy()),
      ),
      expectedIdentity: fc.oneof(
        fc.record({ clientId: anyText, objectId: anyText, resourceId: anyText }, { requiredKeys: [] }),
        fc.constant(hostileProxy()),
        fc.anything(),
      ),
      now: fc.oneof(fc.double(), fc.integer(), weirdPrimitive),
      method: fc.oneof(fc.string(), weirdPrimitive),
      includePersonalClaims: fc.anything(),
      app: fc.oneof(fc.record({ name: anyText, resourceGroup: anyText, revision: anyText }, { requiredKeys: [] }), fc.constant(hostileProxy())),
      url: fc.oneof(url, anyText),
    },
    { requiredKeys: [] },
  ),
  fc.constant(hostileProxy()),
  fc.constant(hostileGetters(["token", "services", "now"])),
);

const amqpError = fc.oneof(
  fc.anything(),
  fc.record(
    {
      name: fc.constantFrom("ServiceBusError", "MessagingError", "Error"),
      code: fc.oneof(fc.constantFrom("UnauthorizedAccess", "UnauthorizedError", "ELOGIN"), fc.string()),
      condition: fc.oneof(fc.constantFrom("amqp:unauthorized-access"), fc.string()),
      message: anyText,
      description: anyText,
      cause: fc.anything(),
    },
    { requiredKeys: [] },
  ),
  fc.constant(hostileProxy()),
  fc.constant(hostileGetters(["name", "code", "message", "cause", "errors"])),
  fc.constant(
    (() => {
      const e: Record<string, unknown> = { message: "Unauthorized access. 'Send' claim(s) are required" };
      e.cause = e;
      return e;
    })(),
  ),
  fc.constant(new AggregateError([hostileProxy(), { condition: "amqp:unauthorized-access", description: "InvalidIssuer" }], "x")),
  anyText.map((text) => new Error(`Put token failed. status-code: 401, status-description: ${text}`)),
  weirdPrimitive,
);

describe("never throws, never faults", () => {
  let faultsBefore = 0;
  beforeAll(() => {
    faultsBefore = getInternalFaultCount();
  });
  afterAll(() => {
    expect(getInternalFaultCount() - faultsBefore, "internal classifier faults during fuzzing").toBe(0);
  });

  it("classifyResponse", () => {
    fc.assert(
      fc.property(responseLike, context, (response, ctx) => {
        const d = classifyResponse(materialize(response) as never, materialize(ctx) as never);
        if (d !== undefined) {
          expect(typeof d.summary).toBe("string");
          expect(Array.isArray(d.evidence) && Array.isArray(d.nextSteps)).toBe(true);
          for (const token of tokens) expect(JSON.stringify(d)).not.toContain(token.split(".")[2]);
        }
      }),
      { numRuns: runs(0.45) },
    );
  });

  it("classifyAmqpError", () => {
    fc.assert(
      fc.property(amqpError, context, (error, ctx) => void classifyAmqpError(materialize(error), materialize(ctx) as never)),
      { numRuns: runs(0.2) },
    );
  });

  it("checkScope and nearestAudience", () => {
    const scope = fc.oneof(
      anyText,
      fc.array(anyText, { maxLength: 3 }),
      fc.webUrl().map((u) => `${u}/.default`),
      fc.constant("x".repeat(100_000)),
      weirdPrimitive,
      fc.anything(),
    );
    fc.assert(
      fc.property(
        scope,
        fc.oneof(fc.constant(undefined), fc.anything(), fc.constant([hostileProxy()])),
        fc.oneof(fc.constant(undefined), url),
        (s, services, target) => {
          const problem = checkScope(materialize(s) as never, materialize(services) as never, materialize(target) as never);
          if (problem !== undefined) expect(typeof problem.explanation).toBe("string");
          nearestAudience(s as never);
        },
      ),
      { numRuns: runs(0.15) },
    );
  });

  it("challenge, body and header parsers", () => {
    fc.assert(
      fc.property(fc.oneof(anyText, weirdPrimitive, fc.anything()), headers, (text, hs) => {
        challengeInfo(parseWwwAuthenticate(text));
        const bag = readHeaders(materialize(hs));
        parseErrorBody(text as never, bag);
        extractFacts(text as never);
      }),
      { numRuns: runs(0.2) },
    );
  });

  it("multi-megabyte bodies stay fast", () => {
    for (const body of bigBodies) {
      const started = performance.now();
      classifyResponse({ url: "https://kv.vault.azure.net/x", status: 403, body, headers: { "www-authenticate": body } }, { token: tokens[0] });
      expect(performance.now() - started, `body starting ${body.slice(0, 20)}`).toBeLessThan(1500);
    }
  });
});
