/**
 * Every token-time fault through the REAL ManagedIdentityCredential, wrapped by the BUILT DiagnosticCredential,
 * one process per scenario: the thrown error's name, the diagnosis (hypothesis, confidence, key evidence) and the
 * log line a user would see.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCredentialScenario } from "../helpers/credentialScenario.js";
import { runScenario, SCENARIO_PRELUDE } from "../helpers/childScenario.js";
import { startIdentityEndpoint, unusedPort, type IdentityEndpointEmulator } from "../../src/testing.js";
import { expectChecks, failedKinds } from "../helpers/findings.js";

const VAULT = "https://vault.azure.net/.default";
const fast = { retryOptions: { maxRetries: 1 } };

describe.concurrent("healthy endpoint: the wrapper is transparent", () => {
  it("returns the identical AccessToken as the raw credential, logs nothing, makes one request (container-apps shape)", async () => {
    const r = await runCredentialScenario({ emulator: {}, calls: [VAULT, VAULT], compareRaw: true });
    expect(r.calls.map((c) => c.ok)).toEqual([true, true]);
    expect(r.raw![0]).toMatchObject({ ok: true, token: r.calls[0]!.token, expiresOnTimestamp: r.calls[0]!.expiresOnTimestamp, tokenType: "Bearer" });
    expect(r.calls[1]!.token).toBe(r.calls[0]!.token);
    expect(r.logs).toEqual([]);
    expect(r.requests!.filter((q) => q.path.startsWith("/msi/token"))).toHaveLength(1);
  });

  it("serves a user-assigned identity selected by client id (string overload) in the IMDS shape", async () => {
    const r = await runCredentialScenario({
      emulator: { shape: "imds", userAssigned: [{ name: "uami-a", clientId: "11111111-2222-3333-4444-555555555555" }] },
      constructorArg: "11111111-2222-3333-4444-555555555555",
      calls: [VAULT],
    });
    expect(r.calls[0]!.ok).toBe(true);
    expect(r.logs).toEqual([]);
  });
});

describe.concurrent("H1: identity not assigned", () => {
  it("no identity (IMDS 'Identity not found') → CredentialUnavailableError with an H1 diagnosis", async () => {
    const r = await runCredentialScenario({ emulator: { shape: "imds", systemAssigned: false }, constructorArg: fast, calls: [VAULT] });
    const call = r.calls[0]!;
    expect(call.ok).toBe(false);
    expect(call.error!.name).toBe("CredentialUnavailableError");
    expect(call.diagnosis).toMatchObject({ hypothesis: "H1", code: "IdentityNotAssigned", confidence: "high" });
    expect(call.getDiagnosis).toEqual(call.diagnosis);
    expect(call.error!.message).toMatch(/Identity not found/);
    expect(call.error!.message).toMatch(/\nDiagnosticCredential \[H1 IdentityNotAssigned\] The identity endpoint says this app has no managed identity$/);
    expect(call.diagnosis!.evidence.join("\n")).toMatch(/HTTP 400 .*Identity not found/);
    expect(call.diagnosis!.rule).toEqual({ id: "token-time.identity-not-found", source: "token-time" });
    expectChecks(
      call.diagnosis,
      {
        kind: "identity-assignment",
        verdict: "fail",
        expected: "system-assigned identity",
        actual: "not found by the identity endpoint",
        confirmedBy: "answer",
      },
      { kind: "identity-endpoint", verdict: "fail", expected: "HTTP 200", actual: "HTTP 400", confirmedBy: "answer" },
    );
    // IMDS and no platform variable: a VM or a VMSS (or another host), never another platform's command alone.
    expect(call.diagnosis!.nextSteps.join("\n")).toMatch(
      /the hosting platform is unknown.*on Azure virtual machine: az vm identity assign .* \| on Azure virtual machine scale set: az vmss identity assign /,
    );
    expect(call.diagnosis!.nextSteps.join("\n")).not.toMatch(/az containerapp|az webapp|az functionapp/);
    const line = r.logs.find((l) => l.source === "getToken")!;
    expect(line.message).toMatch(/^DiagnosticCredential \[H1 IdentityNotAssigned\] ManagedIdentityCredential CredentialUnavailableError:/);
    expect(line).toMatchObject({ level: "error", hypothesis: "H1", code: "IdentityNotAssigned", count: 1 });
  });

  it("no identity (Container Apps shape) → H1 naming the app in the fix command", async () => {
    const r = await runCredentialScenario({ emulator: { systemAssigned: false, containerApp: { name: "ca-orders" } }, constructorArg: fast, calls: [VAULT] });
    const d = r.calls[0]!.diagnosis!;
    expect(r.calls[0]!.error!.name).toBe("CredentialUnavailableError");
    expect(d).toMatchObject({ hypothesis: "H1", confidence: "high" });
    // The command shares its step with the sentence that says what it shows.
    expect(d.nextSteps).toContain(
      'See which managed identities the app has (the system-assigned principalId, the user-assigned identities and their client ids): az containerapp show --name "ca-orders" --resource-group "$RG" --query identity --output json',
    );
    expect(d.evidence.join("\n")).toMatch(/Container App ca-orders, revision ca-orders--/);
  });

  it("a user-assigned client id the endpoint does not know (500 'unexpected error occured') → H1, not H5", async () => {
    const r = await runCredentialScenario({ emulator: {}, constructorArg: { clientId: "99999999-9999-9999-9999-999999999999", ...fast }, calls: [VAULT] });
    const d = r.calls[0]!.diagnosis!;
    expect(r.calls[0]!.error!.name).toBe("CredentialUnavailableError");
    expect(d).toMatchObject({ hypothesis: "H1", code: "IdentityNotAssigned", confidence: "high" });
    expect(d.summary).toMatch(/clientId 99999999-9999-9999-9999-999999999999 .*not attached/);
    expect(d.evidence.join("\n")).toMatch(/client_id=99999999-9999-9999-9999-999999999999/);
    expect(d.rule).toEqual({ id: "token-time.identity-not-attached", source: "token-time" });
    expectChecks(
      d,
      { kind: "identity-assignment", verdict: "fail", expected: "clientId 99999999-9999-9999-9999-999999999999" },
      { kind: "identity-endpoint", verdict: "fail", actual: "HTTP 500" },
    );
  });

  it("several user-assigned identities and none chosen → H1 telling to pass the client id", async () => {
    const r = await runCredentialScenario({
      emulator: { shape: "imds", systemAssigned: false, userAssigned: [{ name: "a" }, { name: "b" }] },
      constructorArg: fast,
      calls: [VAULT],
    });
    const d = r.calls[0]!.diagnosis!;
    expect(d).toMatchObject({ hypothesis: "H1", confidence: "high" });
    expect(d.summary).toMatch(/several user-assigned identities/);
    expect(d.rule?.id).toBe("token-time.multiple-user-assigned");
    expectChecks(d, { kind: "identity-assignment", verdict: "fail", actual: "several user-assigned identities, none selected" });
    expect(d.nextSteps.join("\n")).toMatch(/new DiagnosticCredential\("<client-id>"\)/);
  });

  it("legacy 'No MSI found for specified ClientId/ResourceId' → H1", async () => {
    const r = await runCredentialScenario({ emulator: { fault: { kind: "legacy-no-msi" } }, constructorArg: { clientId: "abc", ...fast }, calls: [VAULT] });
    expect(r.calls[0]!.diagnosis).toMatchObject({ hypothesis: "H1", confidence: "high" });
  });

  it("a Container Apps host without IDENTITY_ENDPOINT (no identity assigned) → H1 although the symptom is a connection error", async () => {
    const port = await unusedPort();
    const r = await runCredentialScenario({
      env: { CONTAINER_APP_NAME: "ca-billing", CONTAINER_APP_REVISION: "ca-billing--r1", AZURE_POD_IDENTITY_AUTHORITY_HOST: `http://127.0.0.1:${port}` },
      constructorArg: fast,
      calls: [VAULT],
    });
    const d = r.calls[0]!.diagnosis!;
    expect(r.calls[0]!.error!.name).toBe("CredentialUnavailableError");
    expect(d).toMatchObject({ hypothesis: "H1", code: "IdentityNotAssigned", confidence: "high" });
    expect(d.summary).toMatch(/IDENTITY_ENDPOINT is not set/);
    expect(d.rule?.id).toBe("token-time.identity-variables-missing");
    expectChecks(
      d,
      { kind: "identity-variables", verdict: "fail", actual: "IDENTITY_ENDPOINT not set", confirmedBy: "environment" },
      { kind: "identity-assignment", verdict: "fail", confirmedBy: "environment" },
    );
    expect(d.nextSteps).toContain(
      'Assign a system-assigned identity to the app: az containerapp identity assign --name "ca-billing" --resource-group "$RG" --system-assigned',
    );
  });
});

describe.concurrent("H5: identity endpoint unreachable", () => {
  let hanging: IdentityEndpointEmulator;
  beforeAll(async () => {
    hanging = await startIdentityEndpoint({ fault: { kind: "hang" } });
  });
  afterAll(async () => {
    await hanging.close();
  });

  it("ECONNREFUSED in the first seconds of the process → H5 'not ready yet' with the uptime and the raw code, and the early warning arrives before the retries end", async () => {
    const port = await unusedPort();
    const r = await runCredentialScenario({
      env: { IDENTITY_ENDPOINT: `http://127.0.0.1:${port}/msi/token`, IDENTITY_HEADER: "s3cr3t-header-value", CONTAINER_APP_NAME: "ca-x" },
      constructorArg: fast,
      calls: [VAULT],
    });
    const call = r.calls[0]!;
    expect(call.error!.name).toBe("CredentialUnavailableError");
    // The scenario's process is seconds old: a refused endpoint then is "not ready yet", with the uptime said.
    expect(call.diagnosis).toMatchObject({ hypothesis: "H5", code: "IdentityEndpointUnreachable", confidence: "medium" });
    expect(call.diagnosis!.summary).toMatch(/refused the connection \(ECONNREFUSED\) within the first 30 s of the process: .*not ready yet/);
    expect(call.diagnosis!.rule).toEqual({ id: "token-time.endpoint-not-ready", source: "token-time" });
    expect(call.diagnosis!.evidence).toContainEqual(expect.stringMatching(/^process uptime at the failure: [\d.]+ m?s$/));
    expect(call.diagnosis!.nextSteps.join("\n")).toMatch(/identity added after the revision was created.*az containerapp revision restart --name "ca-x"/);
    expectChecks(
      call.diagnosis,
      { kind: "identity-endpoint", verdict: "fail", expected: "HTTP 200", actual: "ECONNREFUSED", confirmedBy: "answer" },
      { kind: "identity-variables", verdict: "pass", confirmedBy: "environment" },
    );
    expect(failedKinds(call.diagnosis)).toEqual(["identity-endpoint"]);
    const early = r.logs.find((l) => l.source === "identity-endpoint")!;
    expect(early.message).toMatch(/^DiagnosticCredential \[H5 IdentityEndpointUnreachable\].*ECONNREFUSED.*retrying/);
    expectChecks(early, { kind: "identity-endpoint", verdict: "fail", actual: "ECONNREFUSED" });
    expect(r.logs.indexOf(early)).toBeLessThan(r.logs.findIndex((l) => l.source === "getToken"));
    expect(JSON.stringify(r)).not.toContain("s3cr3t-header-value");
  });

  it("an endpoint that accepts and never answers → CredentialUnavailableError after tokenTimeoutMs (the raw credential hangs for ever)", async () => {
    const r = await runCredentialScenario({ env: hanging.env, constructorArg: { tokenTimeoutMs: 1500 }, calls: [VAULT] });
    const call = r.calls[0]!;
    expect(call.error!.name).toBe("CredentialUnavailableError");
    expect(call.ms).toBeGreaterThanOrEqual(1400);
    expect(call.ms).toBeLessThan(5000);
    expect(call.diagnosis).toMatchObject({ hypothesis: "H5", confidence: "high" });
    expect(call.diagnosis!.summary).toMatch(/no token within \d+ ms/);
    expect(call.diagnosis!.rule?.id).toBe("token-time.timeout");
    expectChecks(call.diagnosis, { kind: "identity-endpoint", verdict: "fail", actual: expect.stringMatching(/^no answer within \d+ ms$/) });
  });

  it("abortSignal is honoured although the inner credential ignores it", async () => {
    const result = await runScenario({
      env: hanging.env,
      code: `${SCENARIO_PRELUDE}
        import { DiagnosticCredential } from "diagnostic-credential";
        const credential = new DiagnosticCredential({ tokenTimeoutMs: 0, logger: false });
        const started = Date.now();
        try { await credential.getToken("${VAULT}", { abortSignal: AbortSignal.timeout(300) }); emit({ ok: true }); }
        catch (e) { emit({ ok: false, name: e.name, ms: Date.now() - started }); }
        process.exit(0);`,
    });
    const json = result.json as { ok: boolean; name: string; ms: number };
    expect(json).toMatchObject({ ok: false, name: "AbortError" });
    expect(json.ms).toBeLessThan(2000);
  });

  it("5xx storm → H5 naming the status and the attempts", async () => {
    const r = await runCredentialScenario({
      emulator: { fault: { kind: "status", status: 503 } },
      constructorArg: { retryOptions: { maxRetries: 2 } },
      calls: [VAULT],
    });
    const d = r.calls[0]!.diagnosis!;
    expect(d).toMatchObject({ hypothesis: "H5", confidence: "high" });
    expect(d.summary).toMatch(/HTTP 503 on 3 attempts/);
    expect(d.rule?.id).toBe("token-time.endpoint-failing");
    expectChecks(d, { kind: "identity-endpoint", verdict: "fail", expected: "HTTP 200", actual: "HTTP 503" });
  });

  it("410 storm (IMDS upgrading) → H5 transient, saying how long the real credential retried", async () => {
    const r = await runCredentialScenario({
      emulator: { shape: "imds", fault: { kind: "status", status: 410 } },
      constructorArg: { retryOptions: { maxRetries: 1 } },
      calls: [VAULT],
    });
    expect(r.calls[0]!.diagnosis).toMatchObject({ hypothesis: "H5" });
    expect(r.calls[0]!.diagnosis!.rule?.id).toBe("token-time.imds-upgrading");
    expect(r.calls[0]!.diagnosis!.summary).toMatch(/410 Gone: IMDS is being upgraded, which is transient.*gave up after \d+ attempts?/);
    expect(r.calls[0]!.diagnosis!.evidence).toContainEqual(expect.stringMatching(/^the credential retried for [\d.]+ m?s over \d+ attempts?$/));
    expectChecks(r.calls[0]!.diagnosis, { kind: "identity-endpoint", verdict: "fail", actual: "HTTP 410" });
  });

  it("connection reset → H5 ECONNRESET", async () => {
    const r = await runCredentialScenario({ emulator: { fault: { kind: "reset" } }, constructorArg: fast, calls: [VAULT] });
    expect(r.calls[0]!.diagnosis).toMatchObject({ hypothesis: "H5", confidence: "high" });
    expect(r.calls[0]!.diagnosis!.summary).toMatch(/ECONNRESET/);
    expectChecks(r.calls[0]!.diagnosis, { kind: "identity-endpoint", verdict: "fail", actual: "ECONNRESET" });
  });

  it("a malformed IDENTITY_ENDPOINT → H5", async () => {
    const r = await runCredentialScenario({ env: { IDENTITY_ENDPOINT: "not a url", IDENTITY_HEADER: "x1234" }, constructorArg: fast, calls: [VAULT] });
    expect(r.calls[0]!.ok).toBe(false);
    expect(r.calls[0]!.diagnosis).toMatchObject({ hypothesis: "H5", confidence: "high" });
    expect(r.calls[0]!.diagnosis!.summary).toMatch(/IDENTITY_ENDPOINT is not a valid/);
    expect(r.calls[0]!.diagnosis!.rule?.id).toBe("token-time.endpoint-malformed");
    expectChecks(r.calls[0]!.diagnosis, {
      kind: "identity-variables",
      verdict: "fail",
      actual: "IDENTITY_ENDPOINT=not a url (malformed)",
      confirmedBy: "environment",
    });
  });

  it("recovers: 500 twice then a token, with the early warning logged", async () => {
    const r = await runCredentialScenario({ emulator: { fault: { kind: "status", status: 500, times: 2 } }, calls: [VAULT] });
    expect(r.calls[0]!.ok).toBe(true);
    expect(r.logs.some((l) => l.source === "identity-endpoint" && l.hypothesis === "H5")).toBe(true);
  });
});

describe.concurrent("H3: audience and scope", () => {
  it("several scopes → H3 before the request", async () => {
    const r = await runCredentialScenario({ emulator: {}, calls: [[VAULT, "https://storage.azure.com/.default"]] });
    expect(r.calls[0]!.error!.name).toBe("CredentialUnavailableError");
    expect(r.calls[0]!.diagnosis).toMatchObject({
      hypothesis: "H3",
      code: "WrongAudience",
      confidence: "high",
      rule: { id: "token-time.multiple-scopes", source: "token-time" },
    });
    expectChecks(r.calls[0]!.diagnosis, {
      kind: "scope",
      verdict: "fail",
      expected: "exactly one scope",
      actual: `${VAULT}, https://storage.azure.com/.default`,
    });
  });

  it("a scope close to a known audience (typo) → H3 warning, the token is still returned", async () => {
    const r = await runCredentialScenario({ emulator: {}, calls: ["https://vault.azure.nte/.default"] });
    expect(r.calls[0]!.ok).toBe(true);
    const warning = r.logs.find((l) => l.source === "scope-check")!;
    expect(warning).toMatchObject({ hypothesis: "H3", level: "warn" });
    expect(warning.nextSteps.join(" ")).toMatch(/https:\/\/vault\.azure\.net\/\.default/);
    expect(warning.rule).toEqual({ id: "scope-check.typo", source: "scope-check" });
    expect(warning.checks).toEqual([{ kind: "scope", expected: VAULT, actual: "https://vault.azure.nte/.default", verdict: "fail" }]);
  });

  it("a token whose aud is not what was asked for → H3 warning with both audiences", async () => {
    const r = await runCredentialScenario({ emulator: { fault: { kind: "wrong-audience", audience: "https://management.azure.com/" } }, calls: [VAULT] });
    expect(r.calls[0]!.ok).toBe(true);
    const w = r.logs.find((l) => l.source === "token-check")!;
    expect(w).toMatchObject({ hypothesis: "H3", code: "WrongAudience", confidence: "high" });
    expect(w.message).toMatch(/audience https:\/\/management\.azure\.com\/ \(Azure Resource Manager\)/);
    expect(w.rule?.id).toBe("token-check.wrong-audience");
    expect(w.checks).toEqual([{ kind: "audience", expected: VAULT, actual: "https://management.azure.com/", verdict: "fail", confirmedBy: "token" }]);
  });
});

describe.concurrent("H4: stale token and identity mix-up at token time", () => {
  it("an already expired token → H4", async () => {
    const r = await runCredentialScenario({ emulator: { fault: { kind: "expired" } }, calls: [VAULT] });
    expect(r.calls[0]!.ok).toBe(true);
    const w = r.logs.find((l) => l.source === "token-check")!;
    expect(w).toMatchObject({ hypothesis: "H4", confidence: "high", rule: { id: "token-check.expired", source: "token-check" } });
    expectChecks(w, { kind: "lifetime", verdict: "fail", actual: expect.stringMatching(/^expired at /), confirmedBy: "token" });
  });

  it("a not-yet-valid token (clock skew) → H4", async () => {
    const r = await runCredentialScenario({ emulator: { fault: { kind: "not-yet-valid", secondsAhead: 900 } }, calls: [VAULT] });
    const w = r.logs.find((l) => l.source === "token-check")!;
    expect(w).toMatchObject({ hypothesis: "H4" });
    expect(w.message).toMatch(/not valid yet/);
    expect(w.rule?.id).toBe("token-check.not-yet-valid");
    expectChecks(w, { kind: "lifetime", verdict: "fail", actual: expect.stringMatching(/^not valid before /) });
  });

  it("the token belongs to another identity than the configured client id → H4 mix-up", async () => {
    const r = await runCredentialScenario({
      emulator: { userAssigned: [{ name: "uami", clientId: "aaaaaaaa-0000-0000-0000-000000000001" }], fault: { kind: "wrong-identity" } },
      constructorArg: "aaaaaaaa-0000-0000-0000-000000000001",
      calls: [VAULT],
    });
    const w = r.logs.find((l) => l.source === "token-check")!;
    expect(w).toMatchObject({ hypothesis: "H4", code: "StaleTokenOrIdentityMixup", confidence: "high" });
    expect(w.rule?.id).toBe("token-check.identity-mixup");
    expectChecks(w, {
      kind: "identity",
      verdict: "fail",
      expected: "clientId=aaaaaaaa-0000-0000-0000-000000000001",
      actual: expect.stringMatching(/^clientId=(?!aaaaaaaa-0000-0000-0000-000000000001)/),
      confirmedBy: "token",
    });
  });

  it("no identity chosen but the token is a user-assigned identity's (IMDS picked the only one) → H4", async () => {
    const r = await runCredentialScenario({ emulator: { shape: "imds", systemAssigned: false, userAssigned: [{ name: "only-one" }] }, calls: [VAULT] });
    expect(r.calls[0]!.ok).toBe(true);
    const w = r.logs.find((l) => l.source === "token-check")!;
    expectChecks(w, { kind: "identity", verdict: "fail", expected: "system-assigned", actual: "user-assigned", confirmedBy: "token" });
  });

  it("a user-assigned identity was configured but the token is the system-assigned one → H4", async () => {
    const r = await runCredentialScenario({
      emulator: { userAssigned: [{ name: "u1" }] },
      constructorExpression: `{ clientId: emulator.identities.userAssigned[0].clientId }`,
      calls: [VAULT],
      before: { 0: `emulator.setFault({ kind: "wrong-identity", identity: emulator.identities.systemAssigned })` },
    });
    const w = r.logs.find((l) => l.source === "token-check")!;
    // The prose says it in words (what users read), the check in structure.
    expect(w.evidence.join("\n")).toMatch(/a user-assigned identity was configured, but the token belongs to the system-assigned identity/);
    expectChecks(w, { kind: "identity", verdict: "fail", expected: "user-assigned", actual: "system-assigned" });
  });

  it("the identity and the tenant change between calls in one process → H4", async () => {
    const r = await runCredentialScenario({
      emulator: {},
      calls: [VAULT, "https://storage.azure.com/.default", "https://management.azure.com/.default"],
      before: { 1: `emulator.setFault({ kind: "wrong-identity" })`, 2: `emulator.setFault({ kind: "wrong-tenant" })` },
    });
    expect(r.calls.every((c) => c.ok)).toBe(true);
    const summaries = r.logs.filter((l) => l.source === "token-check").map((l) => l.message);
    expect(summaries.some((m) => /identity changed during this process/.test(m))).toBe(true);
    expect(summaries.some((m) => /tenant changed during this process/.test(m))).toBe(true);
    const rules = r.logs.filter((l) => l.source === "token-check").map((l) => l.rule?.id);
    expect(rules).toEqual(expect.arrayContaining(["token-check.identity-changed", "token-check.tenant-changed"]));
  });
});
