/**
 * Fuzzing the entry points that take foreign input — classifyResponse, classifyCredentialError, credential.diagnose
 * and decodeTokenClaims — with malformed JWTs, binary and multi-megabyte bodies, and hostile headers (Proxies that
 * throw on every trap, throwing getters, huge values, non-string values). Properties: never throws, returns
 * undefined or a well-formed result, and each case is fast — measured per case in CPU time, < 50 ms for bodies up
 * to 1 MB and < 50 ms per MB above. A case over the limit is re-run (after a forced GC) and judged by its best run,
 * so a GC pause or a neighbour's CPU burst on a shared machine does not fail the run, while a genuinely slow input
 * still does.
 *
 * Default ≈2,000 cases in all; FULL=1 ≈100,000.
 */
import { CredentialUnavailableError } from "@azure/identity";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classifyCredentialError, classifyResponse, decodeTokenClaims, DiagnosticCredential, getInternalFaultCount, type Diagnosis } from "../../src/index.js";
import { FULL, FUZZ_TOTAL, fuzzRuns, HARDENING_CORPUS, Hostile, hostileMarker, materializer, throwingProxy } from "../helpers/arbitraries.js";
import { gc } from "../load/helpers.js";

const runs = (share: number) => fuzzRuns(share, 50);

/** Fragments of the texts the token-failure table matches (src/catalog/tokenFailures.ts), for hostile mixes. */
const TOKEN_TIME_WORDS = [
  "AADSTS501051: ",
  "Application '",
  "'(",
  ") is not assigned to a role for the application '",
  "AADSTS70011",
  "invalid_scope",
  "resource principal named ",
  " was not found",
  "status code 429",
  "Status code: ",
  "HTTP 410",
  '"retry-after":"',
  "user_assigned_managed_identity_not_confirmed",
  "unexpected error occured while fetching the AAD Token",
  "No response received from the managed identity endpoint",
  "connect ECONNREFUSED ",
  "Connect timed out",
  "All Managed Identity sources are unavailable",
  "<html>",
  " ",
  "'",
  "(",
  "9",
];

/** A host environment with a proxy (the part of the context the proxy rule reads), with hostile NO_PROXY lists. */
const proxiedEnvironmentArb = fc.record({
  source: fc.constantFrom("DefaultToImds", "AppService", "AzureArc"),
  sourceReason: fc.string({ maxLength: 20 }),
  identityEndpointMalformed: fc.boolean(),
  identityHeaderSet: fc.boolean(),
  msiSecretSet: fc.boolean(),
  containerApp: fc.constant({}),
  workloadIdentity: fc.boolean(),
  expectsIdentityVariables: fc.boolean(),
  hostKind: fc.constantFrom("unknown", "container-apps", "app-service"),
  identityEndpoint: fc.oneof(fc.constant("http://localhost:42356/msi/token"), fc.string({ maxLength: 300 })),
  proxy: fc.record({
    variable: fc.constantFrom("HTTPS_PROXY", "http_proxy", "ALL_PROXY"),
    url: fc.string({ maxLength: 500 }),
    noProxy: fc.oneof(fc.array(fc.string({ maxLength: 300 }), { maxLength: 300 }), fc.anything()),
  }),
});
const TIMEOUT = FULL ? 1_200_000 : 60_000;
const MB = 1024 * 1024;

// ── hostile values ───────────────────────────────────────────────────────────────────────────────────────────────
/** Every field a classifier might read: the "getters" marker throws on each (and on Symbol.iterator). */
const THROWING_FIELDS = [
  "status",
  "statusCode",
  "url",
  "headers",
  "body",
  "bodyAsText",
  "message",
  "name",
  "code",
  "cause",
  "request",
  "response",
  "get",
  "toJSON",
  "errors",
  "condition",
  "description",
  "method",
  "token",
  Symbol.iterator,
];
const materialize = materializer({ maxDepth: 5, big: () => BIG.text1 });
const marker = hostileMarker(["callableProxy", "getters", "cycle", "big", "symbolKeys", "frozenError"], THROWING_FIELDS);

// ── big inputs, built once ──────────────────────────────────────────────────────────────────────────────────────
function randomText(bytes: number, seed: number): string {
  let state = seed;
  const chars: string[] = [];
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;-_/\"{}[]<>=\n\r\t'é€😀\u0000";
  for (let i = 0; i < bytes; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    chars.push(alphabet[state % alphabet.length]!);
  }
  return chars.join("");
}
const kvMessage =
  "Caller is not authorized to perform action on resource.\r\nCaller: appid=x;oid=11111111-2222-3333-4444-555555555555\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\nAssignment: (not found)";
const BIG = {
  text1: randomText(MB - 64, 7),
  json1: JSON.stringify({ error: { code: "Forbidden", message: `${kvMessage} ${"x".repeat(MB - 400)}`, innererror: { code: "ForbiddenByRbac" } } }),
  xml1: `<?xml version="1.0"?><Error><Code>AuthorizationPermissionMismatch</Code><Message>${"<a>".repeat(MB / 8)}</Message></Error>`,
  // 100 KB of nesting. (1 MB of it takes ~100 ms: JSON.parse plus the walk — see docs/performance.md; a bench row.)
  deepJson: `${"[".repeat(50_000)}${"]".repeat(50_000)}`,
  manyKeys: JSON.stringify(Object.fromEntries(Array.from({ length: 40_000 }, (_, i) => [`k${i}`, i]))),
  text4: randomText(4 * MB, 11),
  binary2: new Uint8Array(2 * MB).map((_, i) => (i * 2654435761) >>> 24),
  hugeHeader: "h".repeat(MB / 2),
  // Issue 15: each of these once cost seconds. A text a quadratic pattern rescans from every start…
  principal1: "resource principal named ".repeat(Math.ceil(MB / 25)).slice(0, MB),
  // …and XML whose opening tags never close (the tag pattern rescanned to the end from each).
  xmlOpenTags: "<<Code a".repeat(8192),
  xmlOpenMessages: `<Error>${"<Message x".repeat(6_000)}<![CDATA[${"<![CDATA[".repeat(400)}`,
};
// "manyKeys" is left out of the random mix: it is the known issue below.
const bigBody = fc.constantFrom<keyof typeof BIG>("text1", "json1", "xml1", "deepJson", "text4", "binary2", "principal1", "xmlOpenTags", "xmlOpenMessages");

/** Size in MB of a generated body (for the time limit). */
function sizeOf(value: unknown): number {
  if (typeof value === "string") return value.length / MB;
  try {
    if (value instanceof Uint8Array) return value.byteLength / MB;
  } catch {
    // a Proxy whose getPrototypeOf trap throws
  }
  return 0;
}
const limitFor = (bodyMb: number) => (bodyMb <= 1 ? 50 : 50 * Math.ceil(bodyMb));

// ── measurement ─────────────────────────────────────────────────────────────────────────────────────────────────
const slowest = new Map<string, number>();
const slowestInput = new Map<string, string>();
/**
 * Runs `fn`; it must not throw and must finish within `limitMs` of CPU time (this process's user + system time:
 * other processes on a shared machine do not count). Over the limit, it is re-run up to four times after a forced
 * GC (so garbage left by earlier cases is not billed to it) and judged by its best run.
 */
function fast<T>(label: string, limitMs: number, fn: () => T, describe?: () => string): T {
  let best = Infinity;
  let value: T | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (attempt > 0) gc();
    const cpu = process.cpuUsage();
    let threw: unknown;
    let thrown = false;
    try {
      value = fn();
    } catch (error) {
      threw = error;
      thrown = true;
    }
    const used = process.cpuUsage(cpu);
    const ms = (used.user + used.system) / 1000;
    if (thrown) throw new Error(`${label} threw: ${String((threw as Error)?.stack ?? threw)}`);
    best = Math.min(best, ms);
    if (best < limitMs) break;
  }
  if (best > (slowest.get(label) ?? 0)) {
    slowest.set(label, best);
    if (describe !== undefined) slowestInput.set(label, describe().slice(0, 160));
  }
  if (best >= limitMs) throw new Error(`${label} took ${best.toFixed(1)} ms of CPU (limit ${limitMs} ms)${describe ? `: ${describe().slice(0, 300)}` : ""}`);
  return value as T;
}

function expectDiagnosisShape(diagnosis: Diagnosis | undefined, passedThroughChars = 0): void {
  if (diagnosis === undefined) return;
  expect(typeof diagnosis.hypothesis).toBe("string");
  expect(typeof diagnosis.code).toBe("string");
  expect(typeof diagnosis.summary).toBe("string");
  expect(Array.isArray(diagnosis.evidence) && diagnosis.evidence.every((line) => typeof line === "string")).toBe(true);
  expect(Array.isArray(diagnosis.nextSteps) && diagnosis.nextSteps.every((line) => typeof line === "string")).toBe(true);
  // Bounded output, whatever the input size (plus what a caller-supplied exchange passes through: known issue below).
  expect(JSON.stringify(diagnosis).length).toBeLessThan(64 * 1024 + passedThroughChars);
}

// ── generators ──────────────────────────────────────────────────────────────────────────────────────────────────
const b64url = (value: string | Uint8Array) => Buffer.from(value).toString("base64url");
const validHeader = b64url(JSON.stringify({ alg: "RS256", typ: "JWT" }));

const claimValue = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string(), { maxKeys: 3 }),
);
const claimsObject = fc.record(
  {
    aud: claimValue,
    iss: claimValue,
    tid: claimValue,
    oid: claimValue,
    appid: claimValue,
    exp: claimValue,
    iat: claimValue,
    nbf: claimValue,
    roles: claimValue,
    upn: claimValue,
    xms_mirid: claimValue,
  },
  { requiredKeys: [] },
);

/** Malformed (and a few well-formed) JWTs, and things that are not strings at all. */
const jwtish: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.stringMatching(/^[A-Za-z0-9_\-.=+/]{0,300}$/),
  fc.tuple(claimsObject, fc.string({ maxLength: 40 })).map(([claims, sig]) => `${validHeader}.${b64url(JSON.stringify(claims))}.${b64url(sig)}`),
  fc.jsonValue().map((json) => `${validHeader}.${b64url(JSON.stringify(json) ?? "null")}.sig`),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => `${validHeader}.${b64url(bytes)}.${b64url(bytes)}`),
  fc
    .tuple(claimsObject, fc.constantFrom("Bearer ", "bearer ", "", " ", "Bearer  "))
    .map(([claims, prefix]) => `${prefix}${validHeader}.${b64url(JSON.stringify(claims))}`),
  fc.constantFrom(
    `${validHeader}.${b64url("x".repeat(70_000))}.s`, // over the 64 KB limit
    `${validHeader}.${b64url(BIG.deepJson.slice(0, 20_000) + BIG.deepJson.slice(-20_000))}.s`, // deep nesting
    `${validHeader}.${b64url(JSON.stringify({ aud: "a" }))}=.s`,
    `${validHeader}.${Buffer.from(JSON.stringify({ aud: "+/" })).toString("base64")}.s`, // not base64url
    `.${b64url("{}")}.`,
    "..",
    ".",
    "eyJ",
    `${validHeader}..`,
  ),
  fc.anything(),
  marker,
);

const headerValue = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.integer(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }),
  fc.constant("HUGE"),
  marker,
);
const headersArb = fc.oneof(
  fc.dictionary(
    fc.oneof(
      fc.constantFrom("www-authenticate", "WWW-Authenticate", "x-ms-error-code", "content-type", "x-ms-substatus", "retry-after", "x-ms-failure-cause"),
      fc.string({ maxLength: 20 }),
    ),
    headerValue,
    { maxKeys: 6 },
  ),
  fc.constant("headers-instance"),
  fc.constant("many"),
  marker,
  fc.anything(),
);

const bodyArb = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 2_000 }) },
  { weight: 3, arbitrary: fc.jsonValue().map((json) => JSON.stringify(json) ?? "") },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 4_000 }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          kvMessage,
          "AKV10022: Invalid audience.",
          "AuthorizationPermissionMismatch",
          "AuthorizationFailed",
          "Request blocked by Auth",
          "InvalidAuthenticationToken",
        ),
        fc.string({ maxLength: 200 }),
      )
      .map(([a, b]) => JSON.stringify({ error: { code: b.slice(0, 10), message: `${a}${b}` } })),
  },
  { weight: 1, arbitrary: bigBody.map((key) => ({ big: key })) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...HARDENING_CORPUS), fc.string({ maxLength: 100 })).map(([attack, text]) => `${text}${attack}`) },
  { weight: 1, arbitrary: fc.anything() },
  { weight: 1, arbitrary: marker },
);

const urlArb = fc.oneof(
  fc.constantFrom(
    "https://kv-orders.vault.azure.net/secrets/x",
    "https://st.blob.core.windows.net/c/b",
    "https://management.azure.com/subscriptions/x",
    "https://acct.documents.azure.com/dbs",
    "https://graph.microsoft.com/v1.0/me",
    "http://127.0.0.1:1/",
    "",
  ),
  fc.webUrl(),
  fc.string({ maxLength: 100 }),
  fc.constant("LONG"),
  fc.anything(),
  marker,
);

interface ResponseSpec {
  status: unknown;
  url: unknown;
  headers: unknown;
  body: unknown;
  token: unknown;
  method: unknown;
  bodyKey: "body" | "bodyAsText";
}
const responseArb: fc.Arbitrary<ResponseSpec> = fc.record({
  status: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(401, 403) },
    { weight: 1, arbitrary: fc.constantFrom("403", " 401 ", 200, 404, 500, 0, -1, 1e9, Number.NaN) },
    { weight: 1, arbitrary: fc.anything() },
  ),
  url: urlArb,
  headers: headersArb,
  body: bodyArb,
  token: jwtish,
  method: fc.oneof(fc.constantFrom("GET", "PUT", "POST", "DELETE", "get"), fc.anything()),
  bodyKey: fc.constantFrom("body" as const, "bodyAsText" as const),
});

function buildHeaders(spec: unknown): unknown {
  if (spec === "headers-instance") {
    const headers = new Headers();
    headers.set("www-authenticate", 'Bearer authorization="https://login.windows.net/t", resource="https://vault.azure.net", error="invalid_token"');
    headers.set("x-ms-error-code", "AuthorizationFailure");
    return headers;
  }
  if (spec === "many") return Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`x-h-${i}`, `v${i}`]));
  if (spec !== null && typeof spec === "object" && !(spec instanceof Hostile) && Object.getPrototypeOf(spec) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(spec)) out[key] = value === "HUGE" ? BIG.hugeHeader : materialize(value);
    return out;
  }
  return materialize(spec);
}

function buildBody(spec: unknown): unknown {
  if (spec !== null && typeof spec === "object" && "big" in (spec as object)) return BIG[(spec as { big: keyof typeof BIG }).big];
  return materialize(spec);
}

function buildResponse(spec: ResponseSpec): { response: Record<string, unknown>; bodyMb: number } {
  const body = buildBody(spec.body);
  const response: Record<string, unknown> = {
    status: materialize(spec.status),
    url: spec.url === "LONG" ? `https://kv.vault.azure.net/${"p".repeat(100_000)}` : materialize(spec.url),
    headers: buildHeaders(spec.headers),
    method: materialize(spec.method),
  };
  response[spec.bodyKey] = body;
  return { response, bodyMb: sizeOf(body) };
}

function describeSpec(spec: unknown): string {
  try {
    return (
      JSON.stringify(spec, (_key, value) =>
        value instanceof Hostile
          ? `<${value.kind}>`
          : typeof value === "string" && value.length > 40
            ? `${value.slice(0, 20)}…(${value.length})`
            : typeof value === "bigint"
              ? String(value)
              : value,
      ) ?? String(spec)
    );
  } catch {
    return "(unprintable)";
  }
}

/** Characters in the string fields of caller-supplied identity-endpoint exchanges (passed through: known issue). */
function exchangeChars(context: unknown): number {
  let total = 0;
  try {
    const exchanges = (context as { exchanges?: unknown })?.exchanges;
    if (!Array.isArray(exchanges)) return 0;
    for (const exchange of exchanges) {
      for (const key of ["url", "bodyExcerpt", "errorMessage", "errorCode", "method"]) {
        const value = (exchange as Record<string, unknown>)?.[key];
        if (typeof value === "string") total += value.length * 4; // it may be quoted in the summary and the evidence
      }
    }
  } catch {
    return total;
  }
  return total;
}

// ── properties ──────────────────────────────────────────────────────────────────────────────────────────────────
describe(`fuzzing foreign input (${FUZZ_TOTAL.toLocaleString()} cases${FULL ? ", FULL" : ""})`, () => {
  const faultsBefore = getInternalFaultCount();

  it(
    "decodeTokenClaims: never throws; undefined or claims of the right types",
    () => {
      fc.assert(
        fc.property(jwtish, (raw) => {
          const token = materialize(raw);
          const claims = fast("decodeTokenClaims", 50, () => decodeTokenClaims(token));
          if (claims === undefined) return;
          expect(typeof claims).toBe("object");
          for (const key of ["aud", "iss", "tid", "oid", "appid", "azp", "xms_mirid", "upn", "name"] as const) {
            if (claims[key] !== undefined) {
              expect(typeof claims[key]).toBe("string");
              expect(claims[key]!.length).toBeLessThanOrEqual(2048);
            }
          }
          for (const key of ["exp", "iat", "nbf"] as const) if (claims[key] !== undefined) expect(Number.isFinite(claims[key])).toBe(true);
          if (claims.roles !== undefined) expect(claims.roles.every((role) => typeof role === "string")).toBe(true);
        }),
        { numRuns: runs(0.2) },
      );
    },
    TIMEOUT,
  );

  it(
    "classifyResponse: never throws, well-formed result, < 50 ms per case up to 1 MB",
    () => {
      fc.assert(
        fc.property(responseArb, fc.boolean(), (spec, withContext) => {
          const { response, bodyMb } = buildResponse(spec);
          const context = withContext
            ? {
                token: materialize(spec.token),
                services: [{ name: "storage", hosts: ["127.0.0.1:1"] }],
                expectedIdentity: { clientId: "x" },
                method: materialize(spec.method),
              }
            : materialize(spec.token);
          const diagnosis = fast(
            "classifyResponse",
            limitFor(bodyMb),
            () => classifyResponse(response as never, context as never),
            () => describeSpec(spec),
          );
          expectDiagnosisShape(diagnosis);
        }),
        { numRuns: runs(0.3) },
      );
    },
    TIMEOUT,
  );

  it(
    "classifyCredentialError: never throws on any error shape or context",
    () => {
      const errorArb = fc.oneof(
        fc.anything(),
        marker,
        fc
          .tuple(
            fc.string({ maxLength: 300 }),
            fc.constantFrom("CredentialUnavailableError", "AuthenticationError", "AuthenticationRequiredError", "RestError", "AbortError", "Error", ""),
            fc.option(fc.anything()),
          )
          .map(([message, name, cause]) => ({ message, name, cause })),
        bodyArb.map((body) => ({ big: body })),
        fc.constant("aggregate"),
        // A plain string as the error, or as its cause (read whole once; issue 15).
        fc.tuple(bigBody, fc.boolean()).map(([key, asCause]) => ({ bigString: key, asCause })),
        // The token-failure table's own words, shuffled and repeated: its patterns must stay fast and bounded.
        fc
          .tuple(fc.array(fc.constantFrom(...TOKEN_TIME_WORDS), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 2000 }))
          .map(([words, repeat]) => ({ message: words.join("").repeat(repeat).slice(0, 2_000_000), name: "CredentialUnavailableError", cause: undefined })),
      );
      const contextArb = fc.oneof(
        fc.anything(),
        marker,
        fc.record(
          {
            exchanges: fc.oneof(
              fc.array(
                fc.oneof(
                  fc.record({
                    method: fc.anything(),
                    url: urlArb,
                    status: fc.anything(),
                    bodyExcerpt: fc.anything(),
                    errorCode: fc.anything(),
                    errorMessage: fc.anything(),
                    durationMs: fc.anything(),
                    startedAt: fc.anything(),
                    retryAfter: fc.anything(),
                  }),
                  marker,
                ),
                { maxLength: 40 },
              ),
              fc.anything(),
            ),
            scopes: fc.oneof(fc.string(), fc.array(fc.anything(), { maxLength: 5 }), fc.anything()),
            timedOutAfterMs: fc.anything(),
            credentialName: fc.anything(),
            configuredIdentity: fc.oneof(fc.record({ clientId: fc.anything(), resourceId: fc.anything() }), marker),
            environment: fc.oneof(fc.anything(), marker, proxiedEnvironmentArb),
            processUptimeMs: fc.oneof(fc.anything(), fc.double(), fc.integer()),
          },
          { requiredKeys: [] },
        ),
      );
      fc.assert(
        fc.property(errorArb, contextArb, (errorSpec, contextSpec) => {
          let error: unknown;
          let bodyMb = 0;
          if (errorSpec === "aggregate")
            error = new AggregateError(
              [new CredentialUnavailableError("a"), throwingProxy(function () {} as object), new Error(BIG.text1)],
              "ChainedTokenCredential authentication failed.",
            );
          else if (errorSpec !== null && typeof errorSpec === "object" && "bigString" in (errorSpec as object)) {
            const { bigString, asCause } = errorSpec as { bigString: keyof typeof BIG; asCause: boolean };
            const text = typeof BIG[bigString] === "string" ? (BIG[bigString] as string) : "binary";
            bodyMb = sizeOf(text);
            error = asCause ? Object.assign(new CredentialUnavailableError("ManagedIdentityCredential: failed"), { cause: text }) : text;
          } else if (errorSpec !== null && typeof errorSpec === "object" && "big" in (errorSpec as object)) {
            const body = buildBody((errorSpec as { big: unknown }).big);
            bodyMb = sizeOf(body);
            error = new CredentialUnavailableError(typeof body === "string" ? body : "binary");
          } else if (errorSpec !== null && typeof errorSpec === "object" && "message" in (errorSpec as object) && !(errorSpec instanceof Hostile)) {
            const spec = errorSpec as { message: string; name: string; cause: unknown };
            error = Object.assign(new Error(spec.message), { name: spec.name, cause: materialize(spec.cause) });
          } else error = materialize(errorSpec);
          const context = materialize(contextSpec);
          const diagnosis = fast(
            "classifyCredentialError",
            limitFor(bodyMb),
            () => classifyCredentialError(error, context as never),
            () => describeSpec(errorSpec),
          );
          expectDiagnosisShape(diagnosis, exchangeChars(context));
        }),
        { numRuns: runs(0.25) },
      );
    },
    TIMEOUT,
  );

  it(
    "credential.diagnose: never throws on RestErrors, fetch Responses, ResponseLikes, AMQP-ish errors or garbage",
    () => {
      let lines = 0;
      const credential = new DiagnosticCredential({ credential: { getToken: async () => null }, logger: () => void lines++ });
      const failureArb = fc.oneof(
        responseArb.map((spec) => ({ shape: "response-like" as const, spec })),
        responseArb.map((spec) => ({ shape: "rest-error" as const, spec })),
        responseArb.map((spec) => ({ shape: "fetch" as const, spec })),
        fc
          .record({
            condition: fc.oneof(fc.constant("amqp:unauthorized-access"), fc.string()),
            description: fc.oneof(fc.string({ maxLength: 300 }), fc.anything()),
            code: fc.anything(),
          })
          .map((amqp) => ({ shape: "amqp" as const, amqp })),
        fc.anything().map((value) => ({ shape: "anything" as const, value })),
        marker.map((value) => ({ shape: "anything" as const, value })),
      );
      fc.assert(
        fc.property(failureArb, (failureSpec) => {
          let failure: unknown;
          let bodyMb = 0;
          if (failureSpec.shape === "response-like") {
            const built = buildResponse(failureSpec.spec);
            failure = built.response;
            bodyMb = built.bodyMb;
          } else if (failureSpec.shape === "rest-error") {
            const built = buildResponse(failureSpec.spec);
            bodyMb = built.bodyMb;
            const token = materialize(failureSpec.spec.token);
            const request = {
              url: built.response.url,
              method: built.response.method,
              headers: { get: (name: string) => (name === "authorization" ? `Bearer ${String(typeof token === "string" ? token : "")}` : undefined) },
            };
            const response = {
              status: built.response.status,
              headers: built.response.headers,
              bodyAsText: built.response.body ?? built.response.bodyAsText,
              request,
            };
            const error = Object.assign(new Error("RestError"), {
              name: "RestError",
              statusCode: typeof built.response.status === "number" ? built.response.status : 403,
            });
            Object.defineProperty(error, "request", { value: request, enumerable: false });
            Object.defineProperty(error, "response", { value: response, enumerable: false });
            failure = error;
          } else if (failureSpec.shape === "fetch") {
            const built = buildResponse(failureSpec.spec);
            const body = built.response.body ?? built.response.bodyAsText;
            const status =
              typeof built.response.status === "number" && built.response.status >= 200 && built.response.status <= 599 ? built.response.status : 403;
            let response: Response;
            try {
              response = new Response(typeof body === "string" || body instanceof Uint8Array ? (body as BodyInit) : null, { status });
            } catch {
              response = new Response(null, { status: 403 });
            }
            failure = { response, body: typeof body === "string" ? body : undefined };
            bodyMb = built.bodyMb;
          } else if (failureSpec.shape === "amqp") {
            failure = Object.assign(new Error(String(typeof failureSpec.amqp.description === "string" ? failureSpec.amqp.description : "x")), {
              name: "ServiceBusError",
              condition: failureSpec.amqp.condition,
              code: failureSpec.amqp.code,
              description: failureSpec.amqp.description,
            });
          } else failure = materialize(failureSpec.value);
          const diagnosis = fast(
            "credential.diagnose",
            limitFor(bodyMb),
            () => credential.diagnose(failure),
            () => describeSpec(failureSpec),
          );
          expectDiagnosisShape(diagnosis);
        }),
        { numRuns: runs(0.25) },
      );
      credential.flushLogs();
      expect(lines).toBeGreaterThan(0);
    },
    TIMEOUT,
  );

  it("a 401 whose JSON body has 40,000 top-level keys (560 KB) is classified in < 50 ms of CPU", () => {
    const response = { status: 401, url: "https://kv-orders.vault.azure.net/secrets/x", body: BIG.manyKeys };
    fast("classifyResponse(many keys)", 50, () => classifyResponse(response));
  });

  it("classifyCredentialError keeps its Diagnosis bounded whatever the caller-supplied exchanges hold", () => {
    const exchange = {
      method: "GET",
      url: `http://localhost:42356/msi/token?x=${"u".repeat(MB)}`,
      status: 500,
      bodyExcerpt: "b".repeat(MB),
      errorMessage: "m".repeat(MB),
      durationMs: 1,
      startedAt: Date.now(),
    };
    const diagnosis = classifyCredentialError(new CredentialUnavailableError("ManagedIdentityCredential: Authentication failed."), { exchanges: [exchange] });
    expectDiagnosisShape(diagnosis);
  });

  // Issue 15 ("Hardening, round 2"): inputs that once held the event loop for seconds.
  it("a 1 MB string error or string cause repeating 'resource principal named' is classified in < 50 ms of CPU (was 37-40 s)", () => {
    fast("classifyCredentialError(string error)", 50, () => classifyCredentialError(BIG.principal1));
    fast("classifyCredentialError(string cause)", 50, () =>
      classifyCredentialError(Object.assign(new CredentialUnavailableError("ManagedIdentityCredential: failed"), { cause: BIG.principal1 })),
    );
    // The check it replaced still holds where a line says so.
    const said = classifyCredentialError(`x\n${"resource principal named ".repeat(3)}https://vault.azure.nett was not found in the tenant`);
    expect(said?.code).toBe("WrongAudience");
    expect(classifyCredentialError("resource principal named https://x\nwas not found")?.code).not.toBe("WrongAudience");
  });

  it("a 64 KB body of unclosed XML tags ('<<Code a' repeated) is classified in < 50 ms of CPU (was ~300 ms)", () => {
    const url = "https://storders.blob.core.windows.net/c/b";
    fast("classifyResponse(xml open tags)", 50, () => classifyResponse({ status: 403, url, body: BIG.xmlOpenTags }));
    fast("classifyResponse(xml open messages)", 50, () => classifyResponse({ status: 403, url, body: BIG.xmlOpenMessages }));
  });

  it("reports the slowest case per entry point", () => {
    const report = Object.fromEntries([...slowest].map(([label, ms]) => [label, `${ms.toFixed(1)} ms`]));
    console.info(
      `[fuzz] slowest case (CPU ms, best of up to 5 runs): ${JSON.stringify(report)}; inputs: ${JSON.stringify(Object.fromEntries(slowestInput))}; internal faults swallowed: ${getInternalFaultCount() - faultsBefore}`,
    );
    expect(
      slowest.has("classifyResponse") && slowest.has("classifyCredentialError") && slowest.has("credential.diagnose") && slowest.has("decodeTokenClaims"),
    ).toBe(true);
    // A throwing getter or Proxy trap in the caller's object is bad input, not a fault of ours: the count (what
    // getInternalFaultCount() reports to users as bugs of the library) stays at 0.
    expect(getInternalFaultCount() - faultsBefore).toBe(0);
  });
});
