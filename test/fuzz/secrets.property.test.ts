/**
 * Property: no token, no signature and no IDENTITY_HEADER value ever reaches a log line, a span, an error message
 * or a Diagnosis (its rule and checks included) — whatever echoes them. Each case signs a fresh JWT (RS256, jose)
 * with random claims, hides it and an IDENTITY_HEADER value in bodies, headers (the error code too), error messages
 * and cause chains, and runs everything:
 * classifyResponse, classifyCredentialError, credential.diagnose, a failing credential.getToken, the pipeline
 * policy's path (diagnoseResponse), the logger (DiagnosisLogger, toLogEntry, formatLogMessage), and the spans and
 * span events of a real OpenTelemetry SDK. A user token's upn and name stay out unless `includePersonalClaims`.
 *
 * A leak is any 24-character run of the token's payload or signature (checked every 8 characters, so any leaked run
 * of 32 characters or more is caught), the whole token, or the header value. Default 200 cases; FULL=1 10,000.
 */
import { CredentialUnavailableError } from "@azure/identity";
import type { Span } from "@opentelemetry/api";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyCredentialError, classifyResponse, DiagnosticCredential, getDiagnosis, type Diagnosis, type DiagnosisLogEntry } from "../../src/index.js";
import { credentialInternalsOf } from "../../src/credential/internals.js";
import { DiagnosisLogger } from "../../src/logging/diagnosisLogger.js";
import { formatLogMessage, toLogEntry } from "../../src/logging/logEntry.js";
import { excerpt } from "../../src/util/redact.js";
import type { IdentityExchange } from "../../src/credential/identityExchange.js";
import { createSdk, enableContext, spanText, type TestSdk } from "../telemetry/otel.js";
import { CLIENT_ID, FULL, OID, signer, TENANT, UAMI_ID } from "../load/helpers.js";

const RUNS = FULL ? 10_000 : 200;
/** IDENTITY_HEADER values of this process (the platform sets one; a few here so that cases can pick). */
const HEADERS = ["f3a9c2d1e4b5a6978812ab34cd56ef70", "Zx9-identity-header-SECRET-4471", "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"];

enableContext();
let sdk: TestSdk;
let credential: DiagnosticCredential;
let personalCredential: DiagnosticCredential;
const logged: DiagnosisLogEntry[] = [];
const personalLogged: DiagnosisLogEntry[] = [];
const savedHeader = process.env.IDENTITY_HEADER;
const savedEndpoint = process.env.IDENTITY_ENDPOINT;

beforeAll(() => {
  // The credential reads (and registers as secret) IDENTITY_HEADER at construction, as in a Container App.
  process.env.IDENTITY_ENDPOINT = "http://localhost:42356/msi/token";
  for (const value of HEADERS) {
    process.env.IDENTITY_HEADER = value;
    new DiagnosticCredential({ credential: { getToken: async () => null }, logger: false });
  }
  sdk = createSdk();
  const options = { tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider, clientId: CLIENT_ID };
  credential = new DiagnosticCredential({ ...options, credential: { getToken: async () => null }, logger: (entry) => logged.push(entry) });
  personalCredential = new DiagnosticCredential({
    ...options,
    credential: { getToken: async () => null },
    includePersonalClaims: true,
    logger: (entry) => personalLogged.push(entry),
  });
});
afterAll(() => {
  if (savedHeader === undefined) delete process.env.IDENTITY_HEADER;
  else process.env.IDENTITY_HEADER = savedHeader;
  if (savedEndpoint === undefined) delete process.env.IDENTITY_ENDPOINT;
  else process.env.IDENTITY_ENDPOINT = savedEndpoint;
});

/** Everything secret about one case, and the probes that find a leak of it in any text. */
interface Secret {
  token: string;
  header: string;
  probes: string[];
}

function secretOf(token: string, header: string): Secret {
  const [, payload = "", signature = ""] = token.split(".");
  const probes: string[] = [token, header];
  for (const segment of [payload, signature]) {
    for (let offset = 0; offset + 24 <= segment.length; offset += 8) probes.push(segment.slice(offset, offset + 24));
  }
  return { token, header, probes };
}

function leaks(text: string, secret: Secret): string | undefined {
  for (const probe of secret.probes) if (text.includes(probe)) return probe;
  return undefined;
}

function expectNoLeak(where: string, value: unknown, secret: Secret): void {
  let text: string;
  try {
    text = typeof value === "string" ? value : (JSON.stringify(value) ?? "");
  } catch {
    text = String(value);
  }
  const found = leaks(text, secret);
  if (found !== undefined) throw new Error(`${where} leaks token material or the identity header (${found.slice(0, 8)}…): ${text.slice(0, 2000)}`);
}

const uuid = fc.uuid();
const word = fc.stringMatching(/^[a-z][a-z0-9]{2,10}$/);
const audience = fc.constantFrom(
  "https://vault.azure.net",
  "https://storage.azure.com",
  "https://management.azure.com/",
  "https://cosmos.azure.com",
  "https://servicebus.azure.net",
  "https://graph.microsoft.com",
  "api://my-app",
);

const claimsArb = fc.record({
  aud: audience,
  tid: fc.oneof(fc.constant(TENANT), uuid),
  oid: fc.oneof(fc.constant(OID), uuid),
  appid: fc.oneof(fc.constant(CLIENT_ID), uuid),
  user: fc.boolean(),
  upnLocal: word,
  nameWord: word,
  expOffset: fc.integer({ min: -7_200, max: 86_400 }),
  extra: fc.dictionary(word, fc.oneof(fc.string({ maxLength: 40 }), fc.integer()), { maxKeys: 4 }),
});

/** Where the token and the header show up in one case. */
const placementArb = fc.record({
  header: fc.constantFrom(...HEADERS),
  prefix: fc.string({ maxLength: 30 }),
  suffix: fc.string({ maxLength: 30 }),
  /** Echo a truncated token (a body excerpt may cut one): keep this many characters. */
  cut: fc.integer({ min: 40, max: 2_000 }),
  status: fc.constantFrom(401, 403),
  host: fc.constantFrom(
    "kv-orders.vault.azure.net",
    "storders.blob.core.windows.net",
    "management.azure.com",
    "cosmos-orders.documents.azure.com",
    "graph.microsoft.com",
    "example.com",
  ),
  bodyShape: fc.constantFrom("json", "xml", "text", "json-nested"),
  errorShape: fc.constantFrom("message", "cause", "aggregate", "exchange"),
  /** What the service's error code header echoes: its own code, the signature (cut to 128 characters when read), or the token. */
  codeEcho: fc.constantFrom("code", "signature", "token"),
});

function bodyWith(shape: string, token: string, header: string, place: { prefix: string; suffix: string; cut: number }): string {
  const echo = `${place.prefix}${token}${place.suffix}`;
  const partial = token.slice(0, Math.min(token.length, place.cut));
  switch (shape) {
    case "xml":
      return `<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationPermissionMismatch</Code><Message>Bearer ${token} ${partial} X-IDENTITY-HEADER: ${header}</Message><AuthenticationErrorDetail>${echo}</AuthenticationErrorDetail></Error>`;
    case "text":
      return `Forbidden. Authorization: Bearer ${token}\nsent token=${echo}\naccess_token=${token}&x=1\nsecret ${header}\ntruncated ${partial}`;
    case "json-nested":
      return JSON.stringify({
        error: {
          code: "Forbidden",
          message: `Caller is not authorized. token: ${echo}`,
          innererror: { code: "ForbiddenByRbac", token, header, partial, details: [{ message: `Bearer ${token}` }] },
        },
      });
    default:
      return JSON.stringify({ error: { code: "Unauthorized", message: `AKV10022: Invalid audience. token ${echo} identity header ${header} cut ${partial}` } });
  }
}

function credentialErrorWith(
  shape: string,
  token: string,
  header: string,
  partial: string,
): { error: unknown; context: Parameters<typeof classifyCredentialError>[1] } {
  const text = `ManagedIdentityCredential: Authentication failed. Message Bearer ${token} X-IDENTITY-HEADER=${header} ${partial}`;
  if (shape === "cause") {
    const error = new CredentialUnavailableError("ManagedIdentityCredential: Network unreachable. Message: network_error");
    Object.assign(error, {
      cause: Object.assign(new Error(text), { code: "ECONNRESET", headers: { "x-identity-header": header, authorization: `Bearer ${token}` } }),
    });
    return { error, context: {} };
  }
  if (shape === "aggregate")
    return {
      error: new AggregateError(
        [new Error(text), new CredentialUnavailableError(`IDENTITY_HEADER ${header} ${token}`)],
        "ChainedTokenCredential authentication failed.",
      ),
      context: {},
    };
  if (shape === "exchange") {
    // As the recording HttpClient records an exchange: the URL reduced to harmless parameters, the body and the
    // transport message as redacted excerpts (classifyCredentialError trusts those fields: see the test below).
    return {
      error: new CredentialUnavailableError("ManagedIdentityCredential: Authentication failed."),
      context: { exchanges: [exchangeEchoing(token, header, text, true)] },
    };
  }
  return { error: new CredentialUnavailableError(text), context: {} };
}

/** An identity-endpoint exchange whose answer echoes the secrets; `recorded`: as the library records it. */
function exchangeEchoing(token: string, header: string, text: string, recorded: boolean): IdentityExchange {
  const body = `{"message":"The X-IDENTITY-HEADER value ${header} is not valid.","token":"${token}"}`;
  return {
    method: "GET",
    url: recorded
      ? "http://localhost:42356/msi/token?api-version=2019-08-01&resource=https://vault.azure.net"
      : `http://localhost:42356/msi/token?api-version=2019-08-01&resource=https://vault.azure.net&access_token=${token}`,
    status: 401,
    bodyExcerpt: recorded ? excerpt(body, 400) : body,
    errorMessage: recorded ? excerpt(text, 200) : text,
    durationMs: 3,
    startedAt: Date.now(),
  };
}

describe("no token, signature or IDENTITY_HEADER leaves the library", () => {
  it(
    `property over ${RUNS.toLocaleString()} signed tokens hidden everywhere`,
    async () => {
      const key = await signer();
      const tracer = sdk.tracerProvider.getTracer("app");
      const stats = { cases: 0, diagnosed: 0, withChecks: 0, spans: 0, logLines: 0, userTokens: 0 };
      await fc.assert(
        fc.asyncProperty(claimsArb, placementArb, async (claims, place) => {
          const now = Math.floor(Date.now() / 1000);
          const upn = `${claims.upnLocal}.pp${claims.oid.slice(0, 8)}@contoso.com`;
          const name = `Person ${claims.nameWord} ${claims.oid.slice(0, 6)}`;
          const token = await key.sign({
            ...claims.extra,
            aud: claims.aud,
            iss: `https://sts.windows.net/${claims.tid}/`,
            iat: now - 60,
            nbf: now - 60,
            exp: now + claims.expOffset,
            tid: claims.tid,
            oid: claims.oid,
            sub: claims.oid,
            ver: "1.0",
            ...(claims.user
              ? { idtyp: "user", upn, unique_name: upn, name, scp: "user_impersonation" }
              : { idtyp: "app", appid: claims.appid, xms_mirid: UAMI_ID }),
          });
          const secret = secretOf(token, place.header);
          const partial = token.slice(0, Math.min(token.length, place.cut));
          const url = `https://${place.host}/secrets/x?api-version=7.5&sig=${token.slice(-40)}`;
          const body = bodyWith(place.bodyShape, token, place.header, place);
          const errorCode = place.codeEcho === "signature" ? token.split(".")[2]! : place.codeEcho === "token" ? token : "AuthorizationPermissionMismatch";
          const headers = {
            "www-authenticate": `Bearer authorization="https://login.windows.net/${claims.tid}", resource="${claims.aud}", error="invalid_token", error_description="token ${token} ${place.header}"`,
            "x-echo-authorization": `Bearer ${token}`,
            "x-ms-error-code": errorCode,
          };
          const outputs: Array<[string, unknown]> = [];
          const logsBefore = logged.length;
          const personalBefore = personalLogged.length;

          // 1. Pure classification of an answer that echoes everything, with the token as context.
          const direct = classifyResponse({ url, status: place.status, headers, body }, { token });
          outputs.push(["classifyResponse", direct]);
          const bearerContext = classifyResponse({ url, status: place.status, headers, body }, { token: `Bearer ${token}` });
          outputs.push(["classifyResponse(Bearer …)", bearerContext]);

          // 2. Pure classification of a credential error that echoes them.
          const { error: credentialError, context } = credentialErrorWith(place.errorShape, token, place.header, partial);
          outputs.push(["classifyCredentialError", classifyCredentialError(credentialError, context)]);

          // 3. credential.diagnose of a RestError-like failure (request with the Authorization header), inside an
          //    active app span (the diagnosis becomes a span event), and the policy's own path.
          await tracer.startActiveSpan("app request", async (span: Span) => {
            const request = { url, method: "GET", headers: { get: (n: string) => (n.toLowerCase() === "authorization" ? `Bearer ${token}` : undefined) } };
            const response = { status: place.status, headers: { toJSON: () => headers }, bodyAsText: body, request };
            const restError = Object.assign(new Error(`Status ${place.status}: ${body.slice(0, 200)}`), { name: "RestError", statusCode: place.status });
            Object.defineProperty(restError, "request", { value: request, enumerable: false });
            Object.defineProperty(restError, "response", { value: response, enumerable: false });
            outputs.push(["credential.diagnose", credential.diagnose(restError)]);
            outputs.push(["getDiagnosis", getDiagnosis(restError)]);
            outputs.push([
              "diagnoseResponse",
              credentialInternalsOf(credential)!.diagnoseResponse({ url, status: place.status, headers, body, method: "GET" }, token, "response"),
            ]);
            outputs.push([
              "personal diagnoseResponse",
              credentialInternalsOf(personalCredential)!.diagnoseResponse({ url, status: place.status, headers, body, method: "PUT" }, token, "response"),
            ]);
            span.end();
          });

          // 4. A failing getToken whose error echoes the token and the header: the thrown message and diagnosis.
          const failing = new DiagnosticCredential({
            credential: {
              getToken: async () => {
                throw credentialError;
              },
            },
            tracerProvider: sdk.tracerProvider,
            meterProvider: sdk.meterProvider,
            lastGoodTokenFallback: false,
            logger: (entry) => logged.push(entry),
          });
          // The wrapped credential's own message passes through unchanged (transparency); what the library appends
          // must be clean.
          const originalMessage = credentialError instanceof Error ? credentialError.message : "";
          const thrown = await failing.getToken("https://vault.azure.net/.default").catch((e: unknown) => e);
          const thrownMessage = thrown instanceof Error ? thrown.message : String(thrown);
          expect(thrownMessage.startsWith(originalMessage)).toBe(true);
          outputs.push(["appended to the thrown message", thrownMessage.slice(originalMessage.length)]);
          outputs.push(["thrown diagnosis", getDiagnosis(thrown)]);

          // 5. The logger and the log-line formatters, fed a diagnosis carrying the secrets in every text field.
          const dirty: Diagnosis = {
            hypothesis: "H2",
            code: "RoleMissingOrWrongScope",
            title: `title ${token}`,
            confidence: "high",
            summary: `summary Bearer ${token} ${place.header} ${partial}`,
            evidence: [`evidence ${token}`, `header ${place.header}`, `cut ${partial}`, body],
            nextSteps: [`az ... --token ${token}`, `curl -H "X-IDENTITY-HEADER: ${place.header}"`],
            status: place.status,
            rule: { id: `rule ${token}`, source: `source ${place.header}` },
            checks: [{ kind: "audience", expected: `Bearer ${token}`, actual: `${place.header} ${partial}`, verdict: "fail" }],
          };
          const context0 = {
            level: "error" as const,
            source: "response",
            url,
            containerApp: {},
            credentialName: "ManagedIdentityCredential",
            errorName: `E ${token}`,
          };
          outputs.push(["formatLogMessage", formatLogMessage(dirty, context0)]);
          outputs.push(["toLogEntry", toLogEntry(dirty, context0, 1, 0)]);
          const written: DiagnosisLogEntry[] = [];
          new DiagnosisLogger((entry) => written.push(entry)).log(dirty, context0);
          outputs.push(["DiagnosisLogger", written]);

          // 6. Everything the credentials logged and every span (attributes, status, events) of this case.
          outputs.push(["credential logs", logged.slice(logsBefore)]);
          outputs.push(["personal credential logs", personalLogged.slice(personalBefore)]);
          const spans = sdk.exporter.getFinishedSpans();
          outputs.push(["spans", spans.map(spanText)]);
          stats.cases++;
          stats.spans += spans.length;
          stats.logLines += logged.length - logsBefore;
          if (direct !== undefined) stats.diagnosed++;
          // The structured findings were there to scan: rules and checks of the classifiers' own diagnoses.
          if (direct?.rule !== undefined && (direct.checks?.length ?? 0) > 0) stats.withChecks++;
          if (claims.user) stats.userTokens++;
          sdk.exporter.reset();

          for (const [where, value] of outputs) expectNoLeak(where, value, secret);

          // Personal identifiers of a user token: never without the opt-in (credential, pure classifier, logs, spans).
          if (claims.user) {
            const optedOut = JSON.stringify(outputs.filter(([where]) => !where.startsWith("personal")));
            expect(optedOut.includes(upn), "upn without includePersonalClaims").toBe(false);
            expect(optedOut.includes(name), "name without includePersonalClaims").toBe(false);
          }
          credential.flushLogs();
          personalCredential.flushLogs();
          logged.length = 0;
          personalLogged.length = 0;
        }),
        { numRuns: RUNS, endOnFailure: true },
      );
      // The property had something to check: diagnoses, spans (getToken spans and span events), log lines, user tokens.
      console.info(`[fuzz] secrets: ${JSON.stringify(stats)}`);
      expect(stats.diagnosed).toBeGreaterThan(stats.cases / 2);
      expect(stats.withChecks).toBeGreaterThan(stats.cases / 2);
      expect(stats.spans).toBeGreaterThanOrEqual(stats.cases * 2);
      expect(stats.logLines).toBeGreaterThan(stats.cases);
      expect(stats.userTokens).toBeGreaterThan(0);
    },
    FULL ? 900_000 : 120_000,
  );

  it("classifyCredentialError with raw (unredacted) caller-supplied exchanges keeps them out of the Diagnosis", async () => {
    const key = await signer();
    const now = Math.floor(Date.now() / 1000);
    const token = await key.sign({
      aud: "https://vault.azure.net",
      iss: `https://sts.windows.net/${TENANT}/`,
      iat: now,
      nbf: now,
      exp: now + 3_600,
      tid: TENANT,
      oid: OID,
      idtyp: "app",
    });
    const exchange = exchangeEchoing(token, HEADERS[0]!, `socket hang up Bearer ${token}`, false);
    const diagnosis = classifyCredentialError(new CredentialUnavailableError("ManagedIdentityCredential: Authentication failed."), { exchanges: [exchange] });
    expect(diagnosis).toBeDefined();
    expectNoLeak("classifyCredentialError(raw exchanges)", diagnosis, secretOf(token, HEADERS[0]!));
  });

  it("with includePersonalClaims a user token's upn does reach the evidence (the opt-in works)", async () => {
    const key = await signer();
    const now = Math.floor(Date.now() / 1000);
    const upn = "dana.person@contoso.com";
    const token = await key.sign({
      aud: "https://vault.azure.net",
      iss: `https://sts.windows.net/${TENANT}/`,
      iat: now - 60,
      nbf: now - 60,
      exp: now + 3_600,
      tid: TENANT,
      oid: OID,
      idtyp: "user",
      upn,
      name: "Dana Person",
      scp: "user_impersonation",
    });
    const response = {
      url: "https://kv-orders.vault.azure.net/secrets/x",
      status: 403,
      body: JSON.stringify({
        error: { code: "Forbidden", message: "Caller is not authorized to perform action on resource.", innererror: { code: "ForbiddenByRbac" } },
      }),
    };
    const optedIn = JSON.stringify(classifyResponse(response, { token, includePersonalClaims: true }));
    const optedOut = JSON.stringify(classifyResponse(response, { token }));
    expect(optedIn).toContain(upn);
    expect(optedOut).not.toContain(upn);
    expect(optedOut).not.toContain("Dana Person");
    expect(`${optedIn}${optedOut}`).not.toContain(token.split(".")[2]!);
  });
});
