/**
 * Downstream diagnoses (the pipeline policy in front of the real SecretClient, against the Key Vault emulator): each
 * is an event on the caller's ACTIVE span, never its status; a counted diagnosis with the status code, service and
 * Container Apps attributes; a log line joined to the trace. Normal 401s (Key Vault's unauthenticated first
 * request, a CAE claims challenge the pipeline answers) leave no trace at all.
 */
import { SpanStatusCode, type Span } from "@opentelemetry/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getInternalFaultCount, METRIC_DIAGNOSES, SPAN_GET_TOKEN } from "../../src/index.js";
import { EVENT_DIAGNOSIS } from "../../src/telemetry/telemetry.js";
import { createSdk, enableContext, eventsOf, spanText, type TestSdk } from "./otel.js";
import { CA_ATTRIBUTES, caeChallengeOnce, CONTAINER_APP, PRINCIPAL, secretParts, setContainerAppEnv, startVault, vaultClient, type Vault } from "./fixtures.js";

setContainerAppEnv();
enableContext();

let vault: Vault;
let firewalled: Vault;
beforeAll(async () => {
  vault = await startVault();
  firewalled = await startVault({ vaultName: "locked-kv" });
  firewalled.kv.setFirewall(true);
});
afterAll(async () => {
  await vault.close();
  await firewalled.close();
});

/** Runs `fn` inside an active "app" span (as an instrumented app's request handler would). */
async function inAppSpan<T>(sdk: TestSdk, fn: () => Promise<T>): Promise<{ result: T | undefined; error: unknown; span: Span }> {
  return sdk.tracerProvider.getTracer("app").startActiveSpan("GET /orders", async (span) => {
    try {
      return { result: await fn(), error: undefined, span };
    } catch (error) {
      return { result: undefined, error, span };
    } finally {
      span.end();
    }
  });
}

function appSpan(sdk: TestSdk) {
  return sdk.spans("GET /orders")[0]!;
}

function withSdk(sdk: TestSdk) {
  return { credentialOptions: { tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider } };
}

/**
 * One identity (PRINCIPAL) throughout: one configured identity seeing several principals in a process is itself an
 * H4 signal. Each test that needs access gets its own secret and a role on that secret only.
 */
function grantSecret(v: Vault, name: string): string {
  v.kv.setSecret(name, "s3cret");
  v.kv.rbac.grant({ principalId: PRINCIPAL, role: "Key Vault Secrets User", scope: `${v.kv.resourceId}/secrets/${name}` });
  return name;
}

describe("downstream diagnoses are events on the active span", () => {
  it("H2: 403 ForbiddenByRbac → event on the app span (status untouched), a counted diagnosis with 403 and keyvault, a log line in the same trace", async () => {
    const sdk = createSdk();
    const { client, logs, credential } = vaultClient(vault, {}, withSdk(sdk));
    const { error } = await inAppSpan(sdk, () => client.getSecret("db-password"));
    expect((error as { statusCode?: number }).statusCode).toBe(403);
    credential.flushLogs();
    const app = appSpan(sdk);
    expect(app.status.code).toBe(SpanStatusCode.UNSET);
    const events = eventsOf(app, EVENT_DIAGNOSIS);
    expect(events).toEqual([
      expect.objectContaining({
        "diagnostic_credential.hypothesis": "H2",
        "diagnostic_credential.code": "RoleMissingOrWrongScope",
        "diagnostic_credential.source": "response",
        "diagnostic_credential.service": "keyvault",
        "diagnostic_credential.identity.object_id": PRINCIPAL,
        "diagnostic_credential.rule.id": "keyvault.forbidden-by-rbac",
        "http.response.status_code": 403,
        "server.address": "orders-kv.vault.azure.net",
      }),
    ]);
    // Our own getToken span is a child of the app span and succeeded.
    const getToken = sdk.spans(SPAN_GET_TOKEN)[0]!;
    expect(getToken.parentSpanContext?.spanId).toBe(app.spanContext().spanId);
    expect(getToken.status.code).toBe(SpanStatusCode.UNSET);
    const counted = await sdk.points(METRIC_DIAGNOSES);
    expect(counted.map((p) => p.attributes)).toEqual([
      {
        ...CA_ATTRIBUTES,
        "diagnostic_credential.hypothesis": "H2",
        "diagnostic_credential.code": "RoleMissingOrWrongScope",
        "error.type": "RoleMissingOrWrongScope",
        "diagnostic_credential.source": "response",
        "diagnostic_credential.service": "keyvault",
        "http.response.status_code": 403,
      },
    ]);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({
      level: "error",
      hypothesis: "H2",
      status: 403,
      host: "orders-kv.vault.azure.net",
      containerApp: CONTAINER_APP,
      traceId: app.spanContext().traceId,
    });
    expect(logs[0]!.message).toMatch(/^DiagnosticCredential \[H2 RoleMissingOrWrongScope\] 403 Forbidden from orders-kv\.vault\.azure\.net/);
  });

  it("not-identity: 403 ForbiddenByFirewall → a not-identity event and count (error.type NotAnIdentityProblem)", async () => {
    const sdk = createSdk();
    firewalled.kv.rbac.grant({ principalId: PRINCIPAL, role: "Key Vault Secrets User", scope: firewalled.kv.resourceId });
    const { client, logs } = vaultClient(firewalled, {}, withSdk(sdk));
    const { error } = await inAppSpan(sdk, () => client.getSecret("db-password"));
    expect((error as { statusCode?: number }).statusCode).toBe(403);
    const app = appSpan(sdk);
    expect(app.status.code).toBe(SpanStatusCode.UNSET);
    expect(eventsOf(app, EVENT_DIAGNOSIS).map((e) => [e["diagnostic_credential.hypothesis"], e["diagnostic_credential.code"]])).toEqual([
      ["not-identity", "NotAnIdentityProblem"],
    ]);
    const counted = await sdk.points(METRIC_DIAGNOSES);
    expect(
      counted.map((p) => [p.attributes["diagnostic_credential.hypothesis"], p.attributes["error.type"], p.attributes["http.response.status_code"]]),
    ).toEqual([["not-identity", "NotAnIdentityProblem", 403]]);
    expect(logs.map((l) => [l.hypothesis, l.containerApp.revision])).toEqual([["not-identity", CONTAINER_APP.revision]]);
  });

  it("H3: a token with the wrong audience → 401 AKV10022 → an H3 event (and the token-check warning on the getToken span)", async () => {
    const sdk = createSdk();
    const { client, logs, credential } = vaultClient(vault, { aud: "https://storage.azure.com" }, withSdk(sdk));
    const { error } = await inAppSpan(sdk, () => client.getSecret("db-password"));
    expect((error as { statusCode?: number }).statusCode).toBe(401);
    credential.flushLogs();
    const app = appSpan(sdk);
    expect(app.status.code).toBe(SpanStatusCode.UNSET);
    const downstream = eventsOf(app, EVENT_DIAGNOSIS).filter((e) => e["diagnostic_credential.source"] === "response");
    expect(downstream.map((e) => [e["diagnostic_credential.hypothesis"], e["http.response.status_code"]])).toEqual([["H3", 401]]);
    const tokenSpans = sdk.spans(SPAN_GET_TOKEN);
    expect(tokenSpans.every((s) => s.status.code === SpanStatusCode.UNSET)).toBe(true);
    expect(eventsOf(tokenSpans[0]!, EVENT_DIAGNOSIS).map((e) => [e["diagnostic_credential.hypothesis"], e["diagnostic_credential.source"]])).toEqual([
      ["H3", "token-check"],
    ]);
    expect(logs.map((l) => [l.hypothesis, l.source])).toEqual(
      expect.arrayContaining([
        ["H3", "token-check"],
        ["H3", "response"],
      ]),
    );
  });

  it("H4: an expired token → 401 → an H4 event", async () => {
    const sdk = createSdk();
    const issuedAt = Math.floor(Date.now() / 1000) - 7200;
    const { client } = vaultClient(vault, { iat: issuedAt, nbf: issuedAt, exp: issuedAt + 3600 }, withSdk(sdk));
    const { error } = await inAppSpan(sdk, () => client.getSecret("db-password"));
    expect((error as { statusCode?: number }).statusCode).toBe(401);
    const app = appSpan(sdk);
    expect(app.status.code).toBe(SpanStatusCode.UNSET);
    expect(
      eventsOf(app, EVENT_DIAGNOSIS)
        .filter((e) => e["diagnostic_credential.source"] === "response")
        .map((e) => e["diagnostic_credential.hypothesis"]),
    ).toEqual(["H4"]);
    expect((await sdk.points(METRIC_DIAGNOSES)).map((p) => p.attributes["diagnostic_credential.hypothesis"])).toContain("H4");
  });
});

describe("normal 401s leave no trace", () => {
  it("Key Vault's unauthenticated first request (401 challenge) on a call that succeeds: no event, no count, no log line", async () => {
    const sdk = createSdk();
    const secret = grantSecret(vault, "first-challenge");
    const { client, logs, credential } = vaultClient(vault, {}, withSdk(sdk));
    const { result } = await inAppSpan(sdk, () => client.getSecret(secret));
    expect(result?.value).toBe("s3cret");
    credential.flushLogs();
    expect(vault.kv.requests.filter((r) => r.path.startsWith(`/secrets/${secret}`)).map((r) => r.status)).toEqual([401, 200]);
    const app = appSpan(sdk);
    expect(app.status.code).toBe(SpanStatusCode.UNSET);
    expect(app.events).toEqual([]);
    expect(sdk.spans(SPAN_GET_TOKEN).every((s) => s.events.length === 0 && s.status.code === SpanStatusCode.UNSET)).toBe(true);
    expect(await sdk.points(METRIC_DIAGNOSES)).toEqual([]);
    expect(logs).toEqual([]);
  });

  it("a CAE claims challenge (401 insufficient_claims) that the pipeline answers with a new token: no event, no count, no log line", async () => {
    const sdk = createSdk();
    const secret = grantSecret(vault, "cae");
    const httpClient = caeChallengeOnce(vault.kv.httpClient);
    const { client, logs, credential, inner } = vaultClient(vault, {}, { ...withSdk(sdk), httpClient });
    // The first call completes Key Vault's challenge round trip; the second is challenged (a revocation event).
    await client.getSecret(secret);
    expect(httpClient.challenged).toBe(0);
    const { result } = await inAppSpan(sdk, () => client.getSecret(secret));
    expect(result?.value).toBe("s3cret");
    expect(httpClient.challenged).toBe(1);
    expect(inner.calls.some((c) => typeof c.claims === "string")).toBe(true);
    credential.flushLogs();
    const app = appSpan(sdk);
    expect(app.status.code).toBe(SpanStatusCode.UNSET);
    expect(app.events).toEqual([]);
    expect(await sdk.points(METRIC_DIAGNOSES)).toEqual([]);
    expect(logs).toEqual([]);
  });
});

describe("global registration and no SDK", () => {
  it("the globally registered providers receive the downstream event and count", async () => {
    const sdk = createSdk();
    sdk.register();
    try {
      const { client } = vaultClient(vault, {});
      await inAppSpan(sdk, () => client.getSecret("db-password"));
      expect(eventsOf(appSpan(sdk), EVENT_DIAGNOSIS).map((e) => e["diagnostic_credential.hypothesis"])).toEqual(["H2"]);
      expect(
        (await sdk.points(METRIC_DIAGNOSES)).map((p) => [p.attributes["diagnostic_credential.hypothesis"], p.attributes["azure.container_app.replica"]]),
      ).toEqual([["H2", CONTAINER_APP.replica]]);
    } finally {
      sdk.unregister();
    }
  });

  it("with no SDK: the diagnosis is logged and attached, nothing breaks, no internal fault", async () => {
    const before = getInternalFaultCount();
    const { client, logs } = vaultClient(vault, {});
    await expect(client.getSecret("db-password")).rejects.toMatchObject({ statusCode: 403 });
    expect(logs.map((l) => [l.hypothesis, l.traceId])).toEqual([["H2", undefined]]);
    expect(getInternalFaultCount()).toBe(before);
  });

  it("no token reaches any event or attribute", async () => {
    const sdk = createSdk();
    const tokens: string[] = [];
    const { client, inner } = vaultClient(vault, {}, withSdk(sdk));
    const original = inner.getToken.bind(inner);
    inner.getToken = async (scopes, options) => {
      const t = await original(scopes, options);
      if (t !== null) tokens.push(t.token);
      return t;
    };
    await inAppSpan(sdk, () => client.getSecret("db-password"));
    const text = JSON.stringify({ spans: sdk.spans().map(spanText), metrics: await sdk.metrics() });
    expect(tokens.length).toBeGreaterThan(0);
    for (const t of tokens) for (const part of secretParts(t)) expect(text).not.toContain(part);
  });
});
