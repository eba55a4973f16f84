/**
 * The REAL ManagedIdentityCredential (wrapped by the BUILT DiagnosticCredential) against the identity emulator, one
 * process per scenario, with the real OpenTelemetry SDK in that process (explicit providers or the global
 * registration): spans, metrics and log lines as a Container App would produce them, Container Apps attributes
 * included (the emulator sets CONTAINER_APP_* before the credential is made).
 */
import { SpanStatusCode } from "@opentelemetry/api";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { runOtelScenario, type ChildMetric, type ChildSpan, type OtelScenarioResult } from "./otelScenario.js";

const VAULT = "https://vault.azure.net/.default";
const STORAGE = "https://storage.azure.com/.default";
const APP = { name: "ca-orders", revision: "ca-orders--r1a2b3c", replicaName: "ca-orders--r1a2b3c-6f7d9c8b5-qz4xk" };
const CA = {
  "diagnostic_credential.platform": "container-apps",
  "cloud.provider": "azure",
  "cloud.platform": "azure.container_apps",
  "azure.container_app.name": APP.name,
  "azure.container_app.revision": APP.revision,
  "azure.container_app.replica": APP.replicaName,
};
const CONTAINER_APP = { name: APP.name, revision: APP.revision, replica: APP.replicaName };
const fast = { retryOptions: { maxRetries: 0 } };

const getTokenSpans = (r: OtelScenarioResult): ChildSpan[] => r.spans.filter((s) => s.name === "DiagnosticCredential.getToken");
const metric = (r: OtelScenarioResult, name: string): ChildMetric | undefined => r.metrics.find((m) => m.name === name);
const points = (r: OtelScenarioResult, name: string) => metric(r, name)?.points ?? [];

/** No issued token, nor the identity header, anywhere in what the telemetry recorded. */
function expectNoSecrets(r: OtelScenarioResult): void {
  const text = JSON.stringify({ spans: r.spans, metrics: r.metrics, logs: r.logs });
  for (const token of r.issued) {
    const [, payload, signature] = token.split(".");
    expect(text).not.toContain(payload);
    expect(text).not.toContain(signature);
  }
  if (r.identityHeader) expect(text).not.toContain(r.identityHeader);
}

describe.concurrent("the real ManagedIdentityCredential, one process per scenario", () => {
  it("success then cached (explicit providers): identity endpoint attempts 1 then 0, cache age, ids, expiry, service, Container Apps", async () => {
    const r = await runOtelScenario({ emulator: { containerApp: APP }, calls: [VAULT, VAULT], registration: "explicit" });
    expect(r.calls.map((c) => c.ok)).toEqual([true, true]);
    const claims = decodeJwt(r.issued[0]!);
    const [first, second] = getTokenSpans(r);
    for (const span of [first!, second!]) {
      expect(span.status.code).toBe(SpanStatusCode.UNSET);
      expect(span.attributes).toMatchObject({
        ...CA,
        "diagnostic_credential.scope": VAULT,
        "diagnostic_credential.service": "keyvault",
        "diagnostic_credential.identity.kind": "system-assigned",
        "diagnostic_credential.identity.object_id": claims.oid,
        "diagnostic_credential.identity.client_id": claims.appid,
        "diagnostic_credential.identity.tenant_id": claims.tid,
        "diagnostic_credential.token.expires_at": expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      });
    }
    expect(first!.attributes["diagnostic_credential.identity_endpoint.attempts"]).toBe(1);
    expect(first!.attributes["diagnostic_credential.token.cache_age_ms"]).toBe(0);
    expect(second!.attributes["diagnostic_credential.identity_endpoint.attempts"]).toBe(0);
    expect(second!.attributes["diagnostic_credential.token.cache_age_ms"]).toBeGreaterThanOrEqual(0);
    const duration = metric(r, "diagnostic_credential.get_token.duration")!;
    expect(duration.unit).toBe("s");
    expect(duration.points.map((p) => p.attributes)).toEqual([{ ...CA, "diagnostic_credential.service": "keyvault" }]);
    expect(r.logs).toEqual([]);
    expectNoSecrets(r);
  });

  it("H1 (global registration): status ERROR, error.type IdentityNotAssigned, a counted H1 with Container Apps attributes, a log line", async () => {
    const r = await runOtelScenario({
      emulator: { containerApp: APP, systemAssigned: false },
      credentialOptions: fast,
      calls: [VAULT],
      registration: "global",
    });
    expect(r.calls[0]).toMatchObject({ ok: false, hypothesis: "H1", error: { name: "CredentialUnavailableError" } });
    const [span] = getTokenSpans(r);
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes).toMatchObject({ ...CA, "error.type": "IdentityNotAssigned", "diagnostic_credential.hypothesis": "H1" });
    expect(span!.attributes["diagnostic_credential.identity_endpoint.attempts"]).toBeGreaterThanOrEqual(1);
    expect(points(r, "diagnostic_credential.diagnoses").map((p) => p.attributes)).toContainEqual({
      ...CA,
      "diagnostic_credential.hypothesis": "H1",
      "diagnostic_credential.code": "IdentityNotAssigned",
      "error.type": "IdentityNotAssigned",
      "diagnostic_credential.source": "getToken",
    });
    expect(points(r, "diagnostic_credential.get_token.duration")[0]!.attributes).toMatchObject({ ...CA, "error.type": "IdentityNotAssigned" });
    const line = r.logs.find((l) => l.source === "getToken")!;
    expect(line).toMatchObject({ level: "error", hypothesis: "H1", containerApp: CONTAINER_APP });
    expect(line.message).toMatch(/^DiagnosticCredential \[H1 IdentityNotAssigned\] ManagedIdentityCredential CredentialUnavailableError:/);
    expectNoSecrets(r);
  });

  it("H5 then recovery (explicit providers): ERROR IdentityEndpointUnreachable, then a token, a [recovered] line and the recovered event on that call's span", async () => {
    const r = await runOtelScenario({
      emulator: { containerApp: APP, fault: { kind: "status", status: 503 } },
      credentialOptions: fast,
      calls: [VAULT, VAULT],
      before: { 1: "emulator.setFault(undefined);" },
      registration: "explicit",
    });
    expect(r.calls.map((c) => [c.ok, c.hypothesis])).toEqual([
      [false, "H5"],
      [true, undefined],
    ]);
    const [failed, recovered] = getTokenSpans(r);
    expect(failed!.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed!.attributes).toMatchObject({ ...CA, "error.type": "IdentityEndpointUnreachable" });
    expect(recovered!.status.code).toBe(SpanStatusCode.UNSET);
    expect(recovered!.events.filter((e) => e.name === "diagnostic_credential.recovered").map((e) => e.attributes)).toEqual([
      expect.objectContaining({
        "diagnostic_credential.hypothesis": "H5",
        "diagnostic_credential.source": "identity-endpoint",
        "diagnostic_credential.recovery.failures": 1,
      }),
    ]);
    const recoveryLine = r.logs.find((l) => l.source === "recovery")!;
    expect(recoveryLine).toMatchObject({ level: "info", hypothesis: "H5", containerApp: CONTAINER_APP, recovery: { kind: "identity-endpoint", failures: 1 } });
    expect(recoveryLine.message).toMatch(
      /^DiagnosticCredential \[recovered\] H5 IdentityEndpointUnreachable: ManagedIdentityCredential returns tokens again; first failure .*: recovered after 0 min$/,
    );
    expect(points(r, "diagnostic_credential.recovery.duration").map((p) => p.attributes)).toEqual([
      { ...CA, "diagnostic_credential.hypothesis": "H5", "diagnostic_credential.code": "IdentityEndpointUnreachable" },
    ]);
    expect(metric(r, "diagnostic_credential.recovery.duration")!.unit).toBe("s");
    expectNoSecrets(r);
  });

  it("H3 (a token minted for another audience): the call succeeds, status UNSET, an H3 event and count from the token check", async () => {
    const r = await runOtelScenario({
      emulator: { containerApp: APP, fault: { kind: "wrong-audience", audience: "https://management.azure.com/" } },
      calls: [VAULT],
      registration: "global",
    });
    expect(r.calls[0]!.ok).toBe(true);
    const [span] = getTokenSpans(r);
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expect(span!.events.map((e) => [e.name, e.attributes["diagnostic_credential.hypothesis"], e.attributes["diagnostic_credential.source"]])).toContainEqual([
      "diagnostic_credential.diagnosis",
      "H3",
      "token-check",
    ]);
    expect(
      points(r, "diagnostic_credential.diagnoses").map((p) => [p.attributes["diagnostic_credential.hypothesis"], p.attributes["azure.container_app.replica"]]),
    ).toContainEqual(["H3", APP.replicaName]);
    expect(r.logs.find((l) => l.hypothesis === "H3")).toMatchObject({ level: "warn", source: "token-check", containerApp: CONTAINER_APP });
    expectNoSecrets(r);
  });

  it("H4 (an already expired token): an H4 event and count, the call itself not failed", async () => {
    const r = await runOtelScenario({ emulator: { containerApp: APP, fault: { kind: "expired" } }, calls: [STORAGE], registration: "explicit" });
    const [span] = getTokenSpans(r);
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expect(span!.attributes["diagnostic_credential.service"]).toBe("storage");
    expect(span!.events.map((e) => e.attributes["diagnostic_credential.hypothesis"])).toContain("H4");
    expect(points(r, "diagnostic_credential.diagnoses").map((p) => p.attributes["diagnostic_credential.hypothesis"])).toContain("H4");
    expect(r.logs.map((l) => l.hypothesis)).toContain("H4");
    expectNoSecrets(r);
  });
});
