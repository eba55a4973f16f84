/**
 * Spans and metrics through the real OpenTelemetry SDK (in-memory exporter, manual metric reader), with explicit
 * providers and with the global registration; the no-op path when no SDK is registered. Wrapped fake credentials
 * (in-process): the REAL ManagedIdentityCredential runs in child processes (real-credential.test.ts).
 */
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { SignJWT, generateKeyPair } from "jose";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  DiagnosticCredential,
  getInternalFaultCount,
  METRIC_DIAGNOSES,
  METRIC_GET_TOKEN_DURATION,
  SPAN_GET_TOKEN,
  type DiagnosisLogEntry,
} from "../../src/index.js";
import { ERROR_TYPES, errorTypeOf, EVENT_DIAGNOSIS } from "../../src/telemetry/telemetry.js";
import { createSdk, eventsOf, spanText } from "./otel.js";
import {
  accessToken,
  CA_ATTRIBUTES,
  CONTAINER_APP,
  identityNotFound,
  networkUnreachable,
  scriptedCredential,
  secretParts,
  setContainerAppEnv,
  sleep,
  VAULT_SCOPE,
} from "./fixtures.js";

setContainerAppEnv();

const { privateKey } = await generateKeyPair("RS256");
const MIRID = "/subscriptions/s/resourcegroups/rg/providers/Microsoft.App/containerApps/ca-orders";
async function jwt(claims: Record<string, unknown>, expiresIn: string | number = "1h"): Promise<string> {
  return new SignJWT({ aud: "https://vault.azure.net", iss: "https://sts.windows.net/t1/", tid: "t1", oid: "o1", appid: "a1", xms_mirid: MIRID, ...claims })
    .setProtectedHeader({ alg: "RS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(privateKey);
}

let token: string;
let userToken: string;
let storageToken: string;
let expiredToken: string;
beforeAll(async () => {
  token = await jwt({});
  userToken = await jwt({ idtyp: "user", upn: "alice@contoso.com", name: "Alice Example", scp: "user_impersonation", xms_mirid: undefined });
  storageToken = await jwt({ aud: "https://storage.azure.com" });
  expiredToken = await jwt({}, Math.floor(Date.now() / 1000) - 600);
});

function allTokens(): string[] {
  return [token, userToken, storageToken, expiredToken].flatMap(secretParts);
}

function make(outcomes: Parameters<typeof scriptedCredential>[0], options: Record<string, unknown> = {}) {
  const sdk = createSdk();
  const logs: DiagnosisLogEntry[] = [];
  const inner = scriptedCredential(outcomes);
  const credential = new DiagnosticCredential({
    credential: inner,
    tracerProvider: sdk.tracerProvider,
    meterProvider: sdk.meterProvider,
    logger: (e) => logs.push(e),
    ...options,
  });
  return { sdk, logs, inner, credential };
}

describe("getToken spans with explicit providers", () => {
  it("success: one INTERNAL span, status UNSET, scope/service/identity/expiry/cache age/attempts and the Container Apps attributes", async () => {
    const { sdk, credential } = make([accessToken(token)]);
    const result = await credential.getToken(VAULT_SCOPE);
    expect(result!.token).toBe(token);
    const [span] = sdk.spans();
    expect(span!.name).toBe(SPAN_GET_TOKEN);
    expect(span!.kind).toBe(SpanKind.INTERNAL);
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expect(span!.attributes).toEqual({
      ...CA_ATTRIBUTES,
      "diagnostic_credential.scope": VAULT_SCOPE,
      "diagnostic_credential.service": "keyvault",
      "diagnostic_credential.identity.kind": "system-assigned",
      "diagnostic_credential.identity.client_id": "a1",
      "diagnostic_credential.identity.object_id": "o1",
      "diagnostic_credential.identity.tenant_id": "t1",
      "diagnostic_credential.token.expires_at": new Date(result!.expiresOnTimestamp).toISOString(),
      "diagnostic_credential.token.cache_age_ms": 0,
      "diagnostic_credential.identity_endpoint.attempts": 0,
    });
    expect(span!.events).toEqual([]);
    const metrics = await sdk.metrics();
    const duration = metrics.find((m) => m.name === METRIC_GET_TOKEN_DURATION)!;
    expect(duration.unit).toBe("s");
    expect(duration.points.map((p) => p.attributes)).toEqual([{ ...CA_ATTRIBUTES, "diagnostic_credential.service": "keyvault" }]);
    expect(metrics.find((m) => m.name === METRIC_DIAGNOSES)?.points ?? []).toEqual([]);
  });

  it("the cached path: the same token again reports its cache age (ms since first seen) and reuses the data point's attributes", async () => {
    const { sdk, credential } = make([accessToken(token)]);
    await credential.getToken(VAULT_SCOPE);
    await sleep(25);
    await credential.getToken(VAULT_SCOPE);
    await credential.getToken(VAULT_SCOPE);
    const [first, second, third] = sdk.spans();
    expect(first!.attributes["diagnostic_credential.token.cache_age_ms"]).toBe(0);
    expect(second!.attributes["diagnostic_credential.token.cache_age_ms"]).toBeGreaterThanOrEqual(20);
    expect(third!.attributes["diagnostic_credential.token.cache_age_ms"]).toBeGreaterThanOrEqual(
      second!.attributes["diagnostic_credential.token.cache_age_ms"] as number,
    );
    expect(second!.attributes["diagnostic_credential.identity.object_id"]).toBe("o1");
    const [point] = await sdk.points(METRIC_GET_TOKEN_DURATION);
    expect((point!.value as { count: number }).count).toBe(3);
  });

  it("a user's upn and name only with includePersonalClaims; a managed identity's ids always", async () => {
    const plain = make([accessToken(userToken)]);
    await plain.credential.getToken(VAULT_SCOPE);
    expect(Object.keys(plain.sdk.spans()[0]!.attributes)).not.toContain("diagnostic_credential.identity.upn");
    expect(spanText(plain.sdk.spans()[0]!)).not.toMatch(/alice|Alice/);
    const optedIn = make([accessToken(userToken)], { includePersonalClaims: true });
    await optedIn.credential.getToken(VAULT_SCOPE);
    expect(optedIn.sdk.spans()[0]!.attributes).toMatchObject({
      "diagnostic_credential.identity.upn": "alice@contoso.com",
      "diagnostic_credential.identity.name": "Alice Example",
    });
  });

  it("the configured identity kind when the token does not tell: user-assigned for a client id", async () => {
    const { sdk, credential } = make([accessToken(await jwt({ xms_mirid: undefined }))], { clientId: "a1" });
    await credential.getToken(VAULT_SCOPE);
    expect(sdk.spans()[0]!.attributes["diagnostic_credential.identity.kind"]).toBe("user-assigned");
  });
});

describe("failures: status ERROR, error.type, a diagnosis event, a counted diagnosis, a log line", () => {
  it("H1 identity not assigned", async () => {
    const { sdk, credential, logs } = make([identityNotFound()]);
    await expect(credential.getToken(VAULT_SCOPE)).rejects.toMatchObject({ name: "CredentialUnavailableError", diagnosis: { hypothesis: "H1" } });
    const [span] = sdk.spans();
    expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: expect.stringMatching(/no managed identity|not assigned|Identity not found/i) });
    expect(span!.attributes).toMatchObject({
      ...CA_ATTRIBUTES,
      "error.type": "IdentityNotAssigned",
      "diagnostic_credential.hypothesis": "H1",
      "diagnostic_credential.code": "IdentityNotAssigned",
      "diagnostic_credential.rule.id": "token-time.identity-not-found",
      "diagnostic_credential.scope": VAULT_SCOPE,
      "diagnostic_credential.service": "keyvault",
      "diagnostic_credential.identity_endpoint.attempts": 0,
    });
    expect(span!.attributes["diagnostic_credential.token.expires_at"]).toBeUndefined();
    expect(eventsOf(span!, EVENT_DIAGNOSIS)).toEqual([
      expect.objectContaining({
        "diagnostic_credential.hypothesis": "H1",
        "diagnostic_credential.source": "getToken",
        "diagnostic_credential.rule.id": "token-time.identity-not-found",
      }),
    ]);
    const counted = await sdk.points(METRIC_DIAGNOSES);
    expect(counted).toEqual([
      {
        ...counted[0],
        value: 1,
        attributes: {
          ...CA_ATTRIBUTES,
          "diagnostic_credential.hypothesis": "H1",
          "diagnostic_credential.code": "IdentityNotAssigned",
          "error.type": "IdentityNotAssigned",
          "diagnostic_credential.source": "getToken",
        },
      },
    ]);
    const [duration] = await sdk.points(METRIC_GET_TOKEN_DURATION);
    expect(duration!.attributes).toEqual({
      ...CA_ATTRIBUTES,
      "diagnostic_credential.service": "keyvault",
      "error.type": "IdentityNotAssigned",
      "diagnostic_credential.hypothesis": "H1",
      "diagnostic_credential.code": "IdentityNotAssigned",
    });
    const [line] = logs;
    expect(line).toMatchObject({ level: "error", hypothesis: "H1", code: "IdentityNotAssigned", source: "getToken", containerApp: CONTAINER_APP, count: 1 });
    // The log line names the getToken span, so logs and traces join.
    expect(line!.traceId).toBe(span!.spanContext().traceId);
    expect(line!.spanId).toBe(span!.spanContext().spanId);
  });

  it("H5 identity endpoint unreachable", async () => {
    const { sdk, credential, logs } = make([networkUnreachable()]);
    await expect(credential.getToken(VAULT_SCOPE)).rejects.toMatchObject({ diagnosis: { hypothesis: "H5" } });
    const [span] = sdk.spans();
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes["error.type"]).toBe("IdentityEndpointUnreachable");
    const counted = await sdk.points(METRIC_DIAGNOSES);
    expect(counted.map((p) => [p.attributes["diagnostic_credential.hypothesis"], p.attributes["azure.container_app.revision"], p.value])).toEqual([
      ["H5", CONTAINER_APP.revision, 1],
    ]);
    expect(logs.map((l) => [l.hypothesis, l.containerApp.replica])).toEqual([["H5", CONTAINER_APP.replica]]);
  });

  it("a caller's abort: error.type AbortError, no diagnosis", async () => {
    const { sdk, credential } = make([accessToken(token)]);
    const controller = new AbortController();
    controller.abort();
    await expect(credential.getToken(VAULT_SCOPE, { abortSignal: controller.signal })).rejects.toMatchObject({ name: "AbortError" });
    expect(sdk.spans()[0]!.attributes["error.type"]).toBe("AbortError");
    expect(sdk.spans()[0]!.status.code).toBe(SpanStatusCode.ERROR);
    expect(await sdk.points(METRIC_DIAGNOSES)).toEqual([]);
  });

  it("error.type is always one of the documented values", () => {
    expect(errorTypeOf(undefined, "TypeError")).toBe("_OTHER");
    expect(errorTypeOf(undefined, "AbortError")).toBe("AbortError");
    expect(ERROR_TYPES).toEqual([
      "IdentityNotAssigned",
      "RoleMissingOrWrongScope",
      "WrongAudience",
      "StaleTokenOrIdentityMixup",
      "IdentityEndpointUnreachable",
      "NotAnIdentityProblem",
      "Unknown",
      "AbortError",
      "_OTHER",
    ]);
  });
});

describe("a suspicious token (H3, H4): the call succeeds, status UNSET, the warning is an event and a count", () => {
  it("H3: a token for storage.azure.com asked for Key Vault", async () => {
    const { sdk, credential, logs } = make([accessToken(storageToken)]);
    await credential.getToken(VAULT_SCOPE);
    const [span] = sdk.spans();
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expect(span!.attributes["error.type"]).toBeUndefined();
    expect(span!.attributes).toMatchObject({ "diagnostic_credential.hypothesis": "H3", "diagnostic_credential.code": "WrongAudience" });
    expect(eventsOf(span!, EVENT_DIAGNOSIS)).toEqual([
      expect.objectContaining({ "diagnostic_credential.hypothesis": "H3", "diagnostic_credential.source": "token-check" }),
    ]);
    const counted = await sdk.points(METRIC_DIAGNOSES);
    expect(counted[0]!.attributes).toMatchObject({ ...CA_ATTRIBUTES, "diagnostic_credential.hypothesis": "H3", "diagnostic_credential.source": "token-check" });
    // The call succeeded: no error.type anywhere (semantic conventions 1.45: absent on success).
    expect(counted[0]!.attributes["error.type"]).toBeUndefined();
    expect((await sdk.points(METRIC_GET_TOKEN_DURATION))[0]!.attributes["error.type"]).toBeUndefined();
    expect(logs[0]).toMatchObject({ level: "warn", hypothesis: "H3", containerApp: CONTAINER_APP });
  });

  it("H4: an expired token", async () => {
    const { sdk, credential, logs } = make([accessToken(expiredToken)]);
    await credential.getToken(VAULT_SCOPE);
    const [span] = sdk.spans();
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expect(eventsOf(span!, EVENT_DIAGNOSIS).map((e) => e["diagnostic_credential.hypothesis"])).toContain("H4");
    expect((await sdk.points(METRIC_DIAGNOSES)).map((p) => p.attributes["diagnostic_credential.hypothesis"])).toContain("H4");
    expect(logs.map((l) => l.hypothesis)).toContain("H4");
  });
});

describe("global registration and no SDK", () => {
  let sdk: ReturnType<typeof createSdk> | undefined;
  afterEach(() => {
    sdk?.unregister();
    sdk = undefined;
  });

  it("uses the globally registered providers (success and failure)", async () => {
    sdk = createSdk();
    sdk.register();
    const good = new DiagnosticCredential({ credential: scriptedCredential([accessToken(token)]), logger: false });
    await good.getToken(VAULT_SCOPE);
    const bad = new DiagnosticCredential({ credential: scriptedCredential([identityNotFound()]), logger: false });
    await expect(bad.getToken(VAULT_SCOPE)).rejects.toThrow();
    expect(sdk.spans().map((s) => [s.name, s.status.code, s.attributes["error.type"]])).toEqual([
      [SPAN_GET_TOKEN, SpanStatusCode.UNSET, undefined],
      [SPAN_GET_TOKEN, SpanStatusCode.ERROR, "IdentityNotAssigned"],
    ]);
    expect(sdk.spans()[0]!.attributes).toMatchObject(CA_ATTRIBUTES);
    const durations = await sdk.points(METRIC_GET_TOKEN_DURATION);
    expect(durations.map((p) => p.attributes["error.type"] ?? "ok")).toEqual(["ok", "IdentityNotAssigned"]);
    expect((await sdk.points(METRIC_DIAGNOSES)).map((p) => p.attributes["diagnostic_credential.hypothesis"])).toEqual(["H1"]);
  });

  it("a provider registered after the credential was made is used (the API's proxy)", async () => {
    const credential = new DiagnosticCredential({ credential: scriptedCredential([accessToken(token)]), logger: false });
    sdk = createSdk();
    sdk.register();
    await credential.getToken(VAULT_SCOPE);
    expect(sdk.spans().map((s) => s.name)).toEqual([SPAN_GET_TOKEN]);
  });

  it("with no SDK registered nothing breaks, nothing is recorded and no internal fault is counted", async () => {
    const before = getInternalFaultCount();
    const logs: DiagnosisLogEntry[] = [];
    const credential = new DiagnosticCredential({ credential: scriptedCredential([accessToken(token)]), logger: (e) => logs.push(e) });
    expect((await credential.getToken(VAULT_SCOPE))!.token).toBe(token);
    expect((await credential.getToken(VAULT_SCOPE))!.token).toBe(token);
    await expect(
      new DiagnosticCredential({ credential: scriptedCredential([identityNotFound()]), logger: (e) => logs.push(e) }).getToken(VAULT_SCOPE),
    ).rejects.toThrow(/Identity not found/);
    await expect(
      new DiagnosticCredential({ credential: scriptedCredential([accessToken(storageToken)]), logger: false }).getToken(VAULT_SCOPE),
    ).resolves.toBeTruthy();
    // Logging does not depend on OpenTelemetry: the line is there, without trace ids.
    expect(logs.map((l) => [l.hypothesis, l.traceId])).toEqual([["H1", undefined]]);
    expect(getInternalFaultCount()).toBe(before);
  });
});

describe("no token in any attribute, event, data point or log line", () => {
  it("across success, cached, failure, H3 and H4 calls", async () => {
    const sdk = createSdk();
    const logs: DiagnosisLogEntry[] = [];
    const options = {
      tracerProvider: sdk.tracerProvider,
      meterProvider: sdk.meterProvider,
      logger: (e: DiagnosisLogEntry) => logs.push(e),
      includePersonalClaims: true,
    };
    for (const outcomes of [[accessToken(token)], [accessToken(userToken)], [accessToken(storageToken)], [accessToken(expiredToken)], [identityNotFound()]]) {
      const credential = new DiagnosticCredential({ credential: scriptedCredential(outcomes), ...options });
      await credential.getToken(VAULT_SCOPE).catch(() => undefined);
      await credential.getToken(VAULT_SCOPE).catch(() => undefined);
      credential.flushLogs();
    }
    const everything = JSON.stringify({ spans: sdk.spans().map(spanText), metrics: await sdk.metrics(), logs });
    expect(sdk.spans()).toHaveLength(10);
    for (const part of allTokens()) expect(everything).not.toContain(part);
    expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });
});
