/**
 * A Diagnosis's structured findings: `rule` (which catalog entry or classifier rule decided) and `checks` (kind,
 * expected, actual, verdict), beside the prose evidence. One scenario per check kind and verdict, for each
 * classifier (answers, AMQP errors, failed getToken, issued tokens, scopes); the values are redacted like the
 * evidence; the vocabulary is the one docs/observability.md documents.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { ServiceBusError } from "@azure/service-bus";
import { translate } from "@azure/core-amqp";
import { describe, expect, it } from "vitest";
import {
  CHECK_KINDS,
  RULE_SOURCES,
  TELEMETRY_ATTRIBUTES,
  classifyCredentialError,
  classifyResponse,
  DiagnosticCredential,
  type ClassifyContext,
  type Diagnosis,
  type DiagnosisLogEntry,
  type ResponseLike,
} from "../../src/index.js";
import { classifyAmqpError } from "../../src/classify/amqp.js";
import { checkIssuedToken, type IssuedTokenContext } from "../../src/classify/issuedToken.js";
import { catalogFor } from "../../src/catalog/resolve.js";
import { makeDiagnosis } from "../../src/diagnosis/build.js";
import type { IdentityExchange } from "../../src/diagnosis/identityExchange.js";
import { readHostEnvironment } from "../../src/environment/hostEnvironment.js";
import { decodeTokenClaims } from "../../src/jwt/claims.js";
import { toLogEntry } from "../../src/logging/logEntry.js";
import { diagnosisAttributes } from "../../src/telemetry/telemetry.js";
import { registerSecret } from "../../src/util/redact.js";
import { REPO_ROOT } from "../helpers/childScenario.js";
import { expectChecks, expectNoCheck, failedKinds } from "../helpers/findings.js";
import { SHAPES, classifyShape, keyVaultRbacMessage } from "./fixtures.js";
import { CLIENT_ID, NOW, OID, OTHER_CLIENT_ID, OTHER_OID, OTHER_TENANT, TENANT, makeToken, type TokenOptions } from "./helpers.js";

const KV = "https://kv-orders.vault.azure.net/secrets/db-password?api-version=7.5";
const KV_CHALLENGE = `Bearer authorization="https://login.windows.net/${TENANT}", resource="https://vault.azure.net"`;
const rbac403 = (oid = OID): ResponseLike => ({
  url: KV,
  status: 403,
  method: "GET",
  body: JSON.stringify({ error: { code: "Forbidden", message: keyVaultRbacMessage("\n", oid), innererror: { code: "ForbiddenByRbac" } } }),
});
const iso = (seconds: number) => new Date(NOW + seconds * 1000).toISOString().replace(".000Z", "Z");

/** Every rule seen in this file: the last test checks the docs name each one. */
const seenRules = new Set<string>();
function seen(diagnosis: Diagnosis | undefined): Diagnosis {
  expect(diagnosis, "a diagnosis").toBeDefined();
  expect(diagnosis!.rule, `a rule in ${JSON.stringify(diagnosis)}`).toBeDefined();
  seenRules.add(`${diagnosis!.rule!.source} ${diagnosis!.rule!.id}`);
  return diagnosis!;
}

async function answer(response: ResponseLike, token?: TokenOptions, context: Omit<ClassifyContext, "token"> = {}): Promise<Diagnosis> {
  return seen(classifyResponse(response, { now: NOW, ...context, ...(token !== undefined ? { token: await makeToken(token) } : {}) }));
}

async function shape(name: string): Promise<Diagnosis> {
  const found = SHAPES.find((s) => s.name === name);
  expect(found, name).toBeDefined();
  return seen((await classifyShape(found!)).diagnosis);
}

describe("downstream answers (classifyResponse): the rule and the checks", () => {
  it("H2 Key Vault, no role: keyvault.forbidden-by-rbac; audience and lifetime pass; the role and the service code fail", async () => {
    const d = await answer(rbac403(), {});
    expect(d.rule).toEqual({ id: "keyvault.forbidden-by-rbac", source: "catalog:keyvault" });
    expect(d.checks).toEqual([
      { kind: "service-code", expected: "ForbiddenByRbac", actual: "ForbiddenByRbac / Forbidden", verdict: "fail", confirmedBy: "answer" },
      { kind: "audience", expected: "https://vault.azure.net/.default", actual: "https://vault.azure.net", verdict: "pass", confirmedBy: "token" },
      { kind: "lifetime", expected: `valid at ${iso(0)}`, actual: `expires ${iso(85_000)}`, verdict: "pass", confirmedBy: "token" },
      {
        kind: "role",
        expected: expect.stringMatching(/^Key Vault Secrets User at \/subscriptions\/.*\/vaults\/kv-orders$/),
        actual: "no role assignment",
        verdict: "fail",
        confirmedBy: "answer",
      },
    ]);
    // The prose is unchanged beside it.
    expect(d.evidence).toContain('audience check: "https://vault.azure.net" is accepted by Azure Key Vault');
    expect(d.evidence).toContain(
      "recognised answer keyvault.forbidden-by-rbac: the vault uses Azure RBAC and the caller has no data-plane role allowing this action",
    );
  });

  it("H2 from the status alone: status.forbidden (unknown host: status.forbidden-unknown-host, audience unknown)", async () => {
    const custom = await answer(
      { url: "https://orders.contoso.example/orders", status: 403 },
      { aud: "api://orders" },
      {
        services: [
          { name: "orders-api", hosts: ["orders.contoso.example"], audiences: ["api://orders"], roles: [{ operation: "call", role: "Orders.Reader" }] },
        ],
      },
    );
    expect(custom.rule).toEqual({ id: "status.forbidden", source: "status" });
    expectChecks(custom, { kind: "audience", verdict: "pass" }, { kind: "role", verdict: "fail", expected: "Orders.Reader" });
    const unknown = await answer({ url: "https://api.example.org/x", status: 403 }, { aud: "api://something" });
    expect(unknown.rule).toEqual({ id: "status.forbidden-unknown-host", source: "status" });
    expectChecks(unknown, { kind: "audience", verdict: "unknown", actual: "api://something", confirmedBy: "token" }, { kind: "role", verdict: "fail" });
    expect(unknown.checks!.find((c) => c.kind === "audience")).not.toHaveProperty("expected");
  });

  it("H3 wrong audience: audience fails with what was expected and what the token had", async () => {
    const d = await answer(
      {
        url: KV,
        status: 401,
        headers: { "www-authenticate": KV_CHALLENGE },
        body: JSON.stringify({ error: { code: "Unauthorized", message: "AKV10022: Invalid audience." } }),
      },
      { aud: "https://management.azure.com/" },
    );
    expect(d.rule).toEqual({ id: "claims.wrong-audience", source: "claims" });
    expectChecks(
      d,
      { kind: "audience", verdict: "fail", expected: "https://vault.azure.net/.default", actual: "https://management.azure.com/", confirmedBy: "token" },
      { kind: "lifetime", verdict: "pass" },
    );
    expect(failedKinds(d)).toEqual(["service-code", "audience"]);
  });

  it("H3 another cloud's audience: claims.other-cloud-audience", async () => {
    const d = await shape("keyvault China host with the public audience → other cloud");
    expect(d.rule).toEqual({ id: "claims.other-cloud-audience", source: "claims" });
    expectChecks(d, { kind: "audience", verdict: "fail", expected: "https://vault.azure.cn/.default", actual: "https://vault.azure.net" });
  });

  it("H3 without a token: the service's answer is the audience check (confirmed by the answer, nothing actual)", async () => {
    const d = await shape("keyvault 401 AKV10022 without a token in context (fingerprint only)");
    expect(d.rule).toEqual({ id: "keyvault.audience", source: "catalog:keyvault" });
    expect(d.checks!.find((c) => c.kind === "audience")).toEqual({
      kind: "audience",
      expected: "https://vault.azure.net/.default",
      verdict: "fail",
      confirmedBy: "answer",
    });
    expectNoCheck(d, "lifetime");
  });

  it("H4 expired: lifetime fails (expired at, against the time of the failure)", async () => {
    const d = await answer({ url: "https://storders.blob.core.windows.net/c/b", status: 401, body: "" }, { aud: "https://storage.azure.com", exp: -3600 });
    expect(d.rule).toEqual({ id: "claims.expired", source: "claims" });
    expectChecks(
      d,
      { kind: "lifetime", verdict: "fail", expected: `valid at ${iso(0)}`, actual: `expired at ${iso(-3600)}`, confirmedBy: "token" },
      { kind: "audience", verdict: "pass" },
    );
  });

  it("H4 not yet valid: lifetime fails (not valid before)", async () => {
    const d = await shape("token not yet valid (clock skew beyond 5 minutes)");
    expect(d.rule).toEqual({ id: "claims.not-yet-valid", source: "claims" });
    expectChecks(d, { kind: "lifetime", verdict: "fail", actual: `not valid before ${iso(1200)}` });
  });

  it("H4 wrong tenant: tenant fails; the same tenant passes", async () => {
    const issuer = {
      url: KV,
      status: 401,
      headers: { "www-authenticate": KV_CHALLENGE },
      body: JSON.stringify({ error: { code: "Unauthorized", message: "AKV10032: Invalid issuer." } }),
    };
    const other = await answer(issuer, { tid: OTHER_TENANT });
    expect(other.rule).toEqual({ id: "claims.wrong-tenant", source: "claims" });
    expectChecks(other, { kind: "tenant", verdict: "fail", expected: TENANT, actual: OTHER_TENANT, confirmedBy: "token" });
    const same = await answer(issuer, {});
    expectChecks(same, { kind: "tenant", verdict: "pass", expected: TENANT, actual: TENANT });
  });

  it("H4 identity mix-up: identity fails against the configured identity; the configured identity passes", async () => {
    const mixup = await answer(rbac403(), { appid: OTHER_CLIENT_ID }, { expectedIdentity: { clientId: CLIENT_ID } });
    expect(mixup.rule).toEqual({ id: "claims.identity-mixup", source: "claims" });
    expectChecks(mixup, { kind: "identity", verdict: "fail", expected: `clientId=${CLIENT_ID}`, actual: `clientId=${OTHER_CLIENT_ID}`, confirmedBy: "token" });
    const fromBody = await answer(rbac403(OTHER_OID), undefined, { expectedIdentity: { objectId: OID } });
    expectChecks(fromBody, { kind: "identity", verdict: "fail", expected: `objectId=${OID}`, actual: `objectId=${OTHER_OID}`, confirmedBy: "answer" });
    const right = await answer(rbac403(), {}, { expectedIdentity: { clientId: CLIENT_ID } });
    expect(right.rule?.id).toBe("keyvault.forbidden-by-rbac");
    expectChecks(right, { kind: "identity", verdict: "pass", expected: `clientId=${CLIENT_ID}`, actual: `clientId=${CLIENT_ID}`, confirmedBy: "token" });
  });

  it("H4 the service saw another principal than the token's: claims.caller-differs, identity fails (confirmed by the answer)", async () => {
    const d = await answer(rbac403(OTHER_OID), {});
    expect(d.rule).toEqual({ id: "claims.caller-differs", source: "claims" });
    expectChecks(d, { kind: "identity", verdict: "fail", expected: `objectId=${OID}`, actual: `objectId=${OTHER_OID}`, confirmedBy: "answer" });
  });

  it("H4 CAE claims challenge: claims-challenge fails for a token issued before, is unknown without a token", async () => {
    const before = await shape("CAE insufficient_claims with a token issued before the revocation");
    expect(before.rule).toEqual({ id: "generic.insufficient-claims", source: "catalog:generic" });
    expectChecks(before, {
      kind: "claims-challenge",
      verdict: "fail",
      expected: "issued after 2025-05-01T11:55:00Z",
      actual: `issued at ${iso(-3600)}`,
      confirmedBy: "token",
    });
    const none = await shape("CAE insufficient_claims without a token");
    expectChecks(none, { kind: "claims-challenge", verdict: "unknown", expected: "issued after 2025-05-01T11:55:00Z", confirmedBy: "answer" });
  });

  it("not an identity problem: the fingerprint decides, the service code fails, no role check", async () => {
    const d = await shape("keyvault 403 ForbiddenByFirewall");
    expect(d.rule).toEqual({ id: "keyvault.forbidden-by-firewall", source: "catalog:keyvault" });
    expectChecks(d, { kind: "service-code", verdict: "fail", expected: "ForbiddenByFirewall" });
    expectNoCheck(d, "role");
  });

  it("a service code no rule recognised: service-code unknown", async () => {
    const d = await shape("eventgrid 401 with a valid token → H2 (401 means forbidden)");
    expect(d.rule).toEqual({ id: "status.unauthorized-means-forbidden", source: "status" });
    expectChecks(d, { kind: "service-code", verdict: "unknown", actual: "Unauthorized", confirmedBy: "answer" });
  });

  it("a fingerprint of the services option: services:<name>", async () => {
    const d = await answer({ url: "https://orders.contoso.example/x", status: 401, body: "ORD-17 token refused" }, undefined, {
      services: [
        {
          name: "orders-api",
          hosts: ["orders.contoso.example"],
          audiences: ["api://orders"],
          fingerprints: [{ id: "orders.refused", code: "Unknown", confidence: "medium", message: /ORD-17/, meaning: "the API refused the token" }],
        },
      ],
    });
    expect(d.rule).toEqual({ id: "orders.refused", source: "services:orders-api" });
  });

  it("AMQP (Service Bus 'Send' claim required): the catalog rule, the audience and the role", async () => {
    const error = new ServiceBusError(
      translate({
        condition: "amqp:unauthorized-access",
        description: "Unauthorized access. 'Send' claim(s) are required to perform this operation. Resource: 'sb://sb-orders.servicebus.windows.net/orders'.",
      }) as never,
    );
    const d = seen(classifyAmqpError(error, { now: NOW, token: await makeToken({ aud: "https://servicebus.azure.net" }) }));
    expect(d.rule?.source).toBe("catalog:servicebus");
    expectChecks(
      d,
      { kind: "audience", verdict: "pass", actual: "https://servicebus.azure.net" },
      { kind: "role", verdict: "fail", expected: expect.stringMatching(/^Azure Service Bus Data Sender/) },
    );
  });
});

const exchange = (over: Partial<IdentityExchange>): IdentityExchange => ({
  method: "GET",
  url: "http://127.0.0.1:42356/msi/token?api-version=2019-08-01&resource=https://vault.azure.net",
  durationMs: 3,
  startedAt: NOW,
  ...over,
});
const containerApps = readHostEnvironment({
  IDENTITY_ENDPOINT: "http://localhost:42356/msi/token",
  IDENTITY_HEADER: "hdr-value-findings",
  CONTAINER_APP_NAME: "ca-a",
  CONTAINER_APP_REVISION: "ca-a--1",
});
const failed = (message: string) => Object.assign(new Error(message), { name: "CredentialUnavailableError" });

describe("a failed getToken (classifyCredentialError): token-time rules and checks", () => {
  it("H5 refused: identity-endpoint fails with ECONNREFUSED; the identity variables pass", () => {
    const d = seen(
      classifyCredentialError(failed("ManagedIdentityCredential: Network unreachable. Message: network_error"), {
        exchanges: [exchange({ errorCode: "ECONNREFUSED" })],
        environment: containerApps,
      }),
    );
    expect(d.rule).toEqual({ id: "token-time.transport-error", source: "token-time" });
    expect(d.checks).toEqual([
      {
        kind: "identity-variables",
        expected: "IDENTITY_ENDPOINT (an http(s) URL) and IDENTITY_HEADER set",
        actual: "IDENTITY_ENDPOINT=http://localhost:42356/msi/token; IDENTITY_HEADER set",
        verdict: "pass",
        confirmedBy: "environment",
      },
      { kind: "identity-endpoint", expected: "HTTP 200", actual: "ECONNREFUSED", verdict: "fail", confirmedBy: "answer" },
    ]);
  });

  it("H5 failing endpoint: the last failed status; a 200 before an unrecognised failure passes", () => {
    const storm = seen(classifyCredentialError(failed("Authentication failed"), { exchanges: [exchange({ status: 503 }), exchange({ status: 503 })] }));
    expect(storm.rule?.id).toBe("token-time.endpoint-failing");
    expectChecks(storm, { kind: "identity-endpoint", verdict: "fail", actual: "HTTP 503" });
    const refused = seen(classifyCredentialError(failed("Authentication failed"), { exchanges: [exchange({ status: 401 })] }));
    expect(refused.rule?.id).toBe("token-time.endpoint-refused");
    const answered = seen(classifyCredentialError(failed("ManagedIdentityCredential: something odd"), { exchanges: [exchange({ status: 200 })] }));
    expect(answered.rule?.id).toBe("token-time.unrecognised");
    expectChecks(answered, { kind: "identity-endpoint", verdict: "pass", actual: "HTTP 200" });
  });

  it("H5 our deadline: no answer within the timeout (an aborted request is not the endpoint's answer)", () => {
    const d = seen(classifyCredentialError(failed("no token"), { timedOutAfterMs: 1500, exchanges: [exchange({ errorCode: "ABORTED" })] }));
    expect(d.rule?.id).toBe("token-time.timeout");
    expect(d.checks!.filter((c) => c.kind === "identity-endpoint")).toEqual([
      { kind: "identity-endpoint", expected: "HTTP 200", actual: "no answer within 1500 ms", verdict: "fail", confirmedBy: "answer" },
    ]);
  });

  it("H1: identity-assignment fails (the identity asked for, what the endpoint said); without the variables, the environment says it", () => {
    const notFound = seen(
      classifyCredentialError(failed("ManagedIdentityCredential: Authentication failed. Message invalid_request: Identity not found"), {
        configuredIdentity: { clientId: CLIENT_ID },
        exchanges: [exchange({ status: 400 })],
      }),
    );
    expect(notFound.rule).toEqual({ id: "token-time.identity-not-found", source: "token-time" });
    expectChecks(
      notFound,
      { kind: "identity-assignment", verdict: "fail", expected: `clientId ${CLIENT_ID}`, actual: "not found by the identity endpoint", confirmedBy: "answer" },
      { kind: "identity-endpoint", verdict: "fail", actual: "HTTP 400" },
    );
    const noVariables = seen(classifyCredentialError(failed("network_error"), { environment: readHostEnvironment({ CONTAINER_APP_NAME: "ca-b" }) }));
    expect(noVariables.rule?.id).toBe("token-time.identity-variables-missing");
    expectChecks(
      noVariables,
      { kind: "identity-variables", verdict: "fail", actual: "IDENTITY_ENDPOINT not set", confirmedBy: "environment" },
      { kind: "identity-assignment", verdict: "fail", expected: "system-assigned identity", confirmedBy: "environment" },
    );
  });

  it("H3 at token time: the scope fails (several scopes; a resource Entra ID does not know; a scope the endpoint rejected)", () => {
    const several = seen(classifyCredentialError(failed("x"), { scopes: ["https://vault.azure.net/.default", "https://storage.azure.com/.default"] }));
    expect(several.rule?.id).toBe("token-time.multiple-scopes");
    expectChecks(several, {
      kind: "scope",
      verdict: "fail",
      expected: "exactly one scope",
      actual: "https://vault.azure.net/.default, https://storage.azure.com/.default",
    });
    expect(several.checks!.find((c) => c.kind === "scope")).not.toHaveProperty("confirmedBy");
    const unknown = seen(
      classifyCredentialError(failed("AADSTS500011: The resource principal named https://vault.azure.nett was not found"), {
        scopes: "https://vault.azure.nett/.default",
        scopeFinding: { scope: "https://vault.azure.nett/.default", explanation: "typo", suggestion: "https://vault.azure.net/.default" },
      }),
    );
    expect(unknown.rule?.id).toBe("token-time.unknown-resource");
    expectChecks(unknown, {
      kind: "scope",
      verdict: "fail",
      expected: "https://vault.azure.net/.default",
      actual: "https://vault.azure.nett/.default",
      confirmedBy: "answer",
    });
    const rejected = seen(
      classifyCredentialError(failed("Bad request"), {
        scopeFinding: { scope: "vault.azure.net", explanation: "no scheme", suggestion: "https://vault.azure.net/.default" },
        exchanges: [exchange({ status: 400 })],
      }),
    );
    expect(rejected.rule?.id).toBe("token-time.scope-rejected");
  });
});

describe("a token just issued (checkIssuedToken) and a scope (the scope check)", () => {
  const context = (over: Partial<IssuedTokenContext> = {}): IssuedTokenContext => ({
    scope: "https://vault.azure.net/.default",
    configured: {},
    now: NOW,
    catalog: catalogFor(),
    ...over,
  });
  const issued = async (token: TokenOptions, over: Partial<IssuedTokenContext> = {}) =>
    checkIssuedToken(decodeTokenClaims(await makeToken(token)), context(over)).map(seen);

  it("the wrong audience, an expired token, another identity, a changed tenant: one rule and one failing check each", async () => {
    const [audience] = await issued({ aud: "https://management.azure.com/", mirid: "" }, { configured: { clientId: CLIENT_ID } });
    expect(audience!.rule).toEqual({ id: "token-check.wrong-audience", source: "token-check" });
    expect(audience!.checks).toEqual([
      { kind: "audience", expected: "https://vault.azure.net/.default", actual: "https://management.azure.com/", verdict: "fail", confirmedBy: "token" },
    ]);
    const [expired] = await issued({ exp: -60 }, { configured: { clientId: CLIENT_ID } });
    expect(expired!.rule?.id).toBe("token-check.expired");
    expect(expired!.checks).toEqual([
      {
        kind: "lifetime",
        expected: `valid at ${new Date(NOW).toISOString()}`,
        actual: `expired at ${new Date(NOW - 60_000).toISOString()}`,
        verdict: "fail",
        confirmedBy: "token",
      },
    ]);
    const [mixup] = await issued({ appid: OTHER_CLIENT_ID }, { configured: { clientId: CLIENT_ID } });
    expect(mixup!.rule?.id).toBe("token-check.identity-mixup");
    expectChecks(mixup, { kind: "identity", verdict: "fail", expected: `clientId=${CLIENT_ID}`, actual: `clientId=${OTHER_CLIENT_ID}`, confirmedBy: "token" });
    const changed = await issued(
      { tid: OTHER_TENANT, oid: OTHER_OID },
      { configured: { clientId: CLIENT_ID }, previous: { objectId: OID, clientId: CLIENT_ID, tenantId: TENANT } },
    );
    expect(changed.map((d) => d.rule?.id)).toEqual(["token-check.identity-changed", "token-check.tenant-changed"]);
    expectChecks(changed[1], { kind: "tenant", verdict: "fail", expected: TENANT, actual: OTHER_TENANT });
    expect(await issued({}, { configured: { clientId: CLIENT_ID } })).toEqual([]);
  });

  it("a suspicious scope: scope-check.<reason>, the scope fails with the suggestion (the token is still returned)", async () => {
    const logs: DiagnosisLogEntry[] = [];
    const credential = new DiagnosticCredential({
      credential: { getToken: async () => ({ token: "opaque-token-value", expiresOnTimestamp: Date.now() + 3_600_000 }) },
      logger: (entry) => logs.push(entry),
    });
    await credential.getToken(
      "https://portal.azure.com/#@contoso.onmicrosoft.com/resource/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/overview",
    );
    const warning = logs.find((entry) => entry.source === "scope-check");
    expect(warning?.rule).toEqual({ id: "scope-check.portal-url", source: "scope-check" });
    expect(warning?.checks).toEqual([
      { kind: "scope", expected: "https://vault.azure.net/.default", actual: expect.stringMatching(/^https:\/\/portal\.azure\.com\//), verdict: "fail" },
    ]);
    seenRules.add("scope-check scope-check.portal-url");
  });
});

describe("the values of checks are redacted like the evidence", () => {
  const JWT = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL3ZhdWx0LmF6dXJlLm5ldCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU";

  it("makeDiagnosis redacts, bounds and flattens expected/actual and the rule (a JWT, a registered secret)", () => {
    registerSecret("Zx9-findings-identity-header");
    const d = makeDiagnosis("Unknown", {
      confidence: "low",
      summary: "s",
      evidence: [],
      nextSteps: [],
      rule: { id: `x.${JWT}`, source: "token-time" },
      checks: [
        {
          kind: "identity-endpoint",
          expected: `Bearer ${JWT}`,
          actual: `X-IDENTITY-HEADER: Zx9-findings-identity-header\n${"a".repeat(1000)}`,
          verdict: "fail",
        },
      ],
    });
    const text = JSON.stringify(d);
    expect(text).not.toContain("eyJhbGci");
    expect(text).not.toContain("Zx9-findings-identity-header");
    expect(d.checks![0]!.actual).not.toMatch(/[\r\n]/);
    expect(d.checks![0]!.actual!.length).toBeLessThanOrEqual(300);
  });

  it("a service code that echoes the token's signature is scrubbed in the check as in the evidence", async () => {
    const token = await makeToken({});
    const signature = token.split(".")[2]!;
    const d = seen(classifyResponse({ url: KV, status: 403, headers: { "x-ms-error-code": signature } }, { now: NOW, token }));
    const codes = d.checks!.find((c) => c.kind === "service-code");
    expect(codes?.actual).toBe("[redacted]");
    expect(JSON.stringify(d)).not.toContain(signature.slice(0, 24));
    // A piece from the middle, in the message: gone from the evidence too; a GUID of the same length stays.
    const piece = signature.slice(37, 101);
    const echoed = seen(
      classifyResponse(
        { url: KV, status: 403, body: JSON.stringify({ error: { code: "Forbidden", message: `Caller ${OID} sent ${piece}.` } }) },
        { now: NOW, token },
      ),
    );
    const text = JSON.stringify(echoed);
    expect(text).not.toContain(piece.slice(8, 32));
    expect(echoed.evidence.join("\n")).toContain(`Caller ${OID} sent [redacted].`);
  });

  it("the log line redacts checks of a Diagnosis built by hand; the span event carries the rule id only", () => {
    const hand: Diagnosis = {
      hypothesis: "H3",
      code: "WrongAudience",
      title: "t",
      confidence: "high",
      summary: "s",
      evidence: [],
      nextSteps: [],
      rule: { id: "claims.wrong-audience", source: "claims" },
      checks: [{ kind: "audience", expected: "https://vault.azure.net/.default", actual: `token ${JWT}`, verdict: "fail", confirmedBy: "token" }],
    };
    const entry = toLogEntry(hand, { level: "warn", source: "response", containerApp: {} }, 1, 0);
    expect(entry.rule).toEqual({ id: "claims.wrong-audience", source: "claims" });
    expect(entry.checks).toEqual([
      { kind: "audience", expected: "https://vault.azure.net/.default", actual: "token [redacted-jwt]", verdict: "fail", confirmedBy: "token" },
    ]);
    const attributes = diagnosisAttributes(hand);
    expect(attributes[TELEMETRY_ATTRIBUTES.ruleId]).toBe("claims.wrong-audience");
    expect(JSON.stringify(attributes)).not.toContain("eyJhbGci");
  });
});

describe("the vocabulary", () => {
  const doc = readFileSync(path.join(REPO_ROOT, "docs", "observability.md"), "utf8");
  const section = doc.slice(doc.indexOf("## Rules and checks"), doc.indexOf("## `error.type`"));

  it("CHECK_KINDS: unique, kebab-case, each documented; RULE_SOURCES documented", () => {
    const kinds = Object.values(CHECK_KINDS);
    expect(new Set(kinds).size).toBe(kinds.length);
    for (const kind of kinds) {
      expect(kind).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(section, `kind ${kind}`).toContain(`| \`${kind}\` |`);
    }
    for (const source of Object.values(RULE_SOURCES)) expect(section, `source ${source}`).toContain(`\`${source}`);
  });

  it("every rule seen above is documented (catalog rules by their source, classifier rules by their id)", () => {
    expect(seenRules.size).toBeGreaterThanOrEqual(30);
    for (const entry of seenRules) {
      const [source, id] = entry.split(" ") as [string, string];
      if (source.includes(":")) expect(section, entry).toContain(`\`${source.split(":")[0]}:`);
      else expect(section, entry).toContain(`\`${id}\``);
    }
  });
});
