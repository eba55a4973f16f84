/**
 * The token-time fingerprints of src/catalog/tokenFailures.ts produced by the REAL ManagedIdentityCredential,
 * wrapped by the BUILT DiagnosticCredential, one process per scenario, against the identity-endpoint emulator
 * (the hand-built errors of test/classify/token-failures.test.ts pin the texts of other SDKs; these pin what
 * @azure/identity itself throws). Each test asserts what the user sees: the rule, the hypothesis, the key check and
 * the next step.
 *
 * The endpoint's bodies: IMDS relays Entra's `{"error","error_description"}` (MSAL.NET #3979, azure-sdk-for-net
 * #13481); App Service / Container Apps answer the ambiguous 500 for an unknown client id or audience
 * (azure-sdk-for-python #33858, azure-sdk-for-net #40848). See docs/testing.md for every fault.
 *
 * Not produced here: `token-time.no-response` and `token-time.no-endpoint` match other SDKs' words ("No response
 * received…", "No Managed Identity endpoint found"); @azure/identity words a closed connection as a network error,
 * which the `close` fault below drives to `token-time.transport-error`.
 */
import { describe, expect, it } from "vitest";
import { runCredentialScenario } from "../helpers/credentialScenario.js";
import { runScenario, scenarioJson, SCENARIO_PRELUDE } from "../helpers/childScenario.js";
import { expectChecks, failedKinds } from "../helpers/findings.js";
import type { Diagnosis } from "../../src/index.js";

const VAULT = "https://vault.azure.net/.default";
const once = { retryOptions: { maxRetries: 0 } };
const UAMI = "aaaaaaaa-1111-4111-8111-000000000001";

/** The one call's diagnosis, after checking it failed with CredentialUnavailableError. */
const diagnosisOf = (r: Awaited<ReturnType<typeof runCredentialScenario>>): Diagnosis => {
  const call = r.calls[0]!;
  expect(call.ok, JSON.stringify(call)).toBe(false);
  expect(call.error!.name).toBe("CredentialUnavailableError");
  expect(call.getDiagnosis).toEqual(call.diagnosis);
  return call.diagnosis!;
};

describe.concurrent("token-time.throttled: 429 from the identity endpoint, with Retry-After and the convoy explanation", () => {
  it("Container Apps shape: 429 on every attempt → H5 throttled naming the attempts, the Retry-After and the convoy", async () => {
    const r = await runCredentialScenario({
      emulator: { fault: { kind: "status", status: 429, headers: { "Retry-After": "1" } } },
      constructorArg: { retryOptions: { maxRetries: 1 } },
      calls: [VAULT],
    });
    const d = diagnosisOf(r);
    expect(d).toMatchObject({ hypothesis: "H5", code: "IdentityEndpointUnreachable", confidence: "high", rule: { id: "token-time.throttled" } });
    expect(d.summary).toMatch(
      /^The identity endpoint 127\.0\.0\.1:\d+\/msi\/token is throttling token requests \(HTTP 429 on 2 attempts, Retry-After 1 s\): too many requests at once, typically a convoy of cold getToken calls/,
    );
    expect(d.evidence).toContainEqual(expect.stringMatching(/^the credential retried for [\d.]+ m?s over 2 attempts$/));
    expectChecks(d, { kind: "identity-endpoint", verdict: "fail", expected: "HTTP 200", actual: "HTTP 429", confirmedBy: "answer" });
    expect(failedKinds(d)).toEqual(["identity-endpoint"]);
    expect(d.nextSteps[0]).toMatch(/^Share one credential instance across clients/);
    expect(d.nextSteps[1]).toMatch(/^Wait for the Retry-After time and retry with backoff/);
    expect(r.requests!.map((q) => q.status)).toEqual([429, 429]);
  });

  it("IMDS shape (AZURE_POD_IDENTITY_AUTHORITY_HOST on loopback): 429 → H5 throttled with its Retry-After; no Container Apps command", async () => {
    const r = await runCredentialScenario({
      emulator: { shape: "imds", fault: { kind: "status", status: 429, headers: { "Retry-After": "7" } } },
      constructorArg: once,
      calls: [VAULT],
    });
    const d = diagnosisOf(r);
    expect(d).toMatchObject({ hypothesis: "H5", confidence: "high", rule: { id: "token-time.throttled" } });
    expect(d.summary).toMatch(
      /\/metadata\/identity\/oauth2\/token\/? is throttling token requests \(HTTP 429, Retry-After 7 s\): .*convoy of cold getToken calls/,
    );
    expectChecks(d, { kind: "identity-endpoint", verdict: "fail", actual: "HTTP 429" });
    expect(d.nextSteps.join("\n")).toMatch(/Share one credential instance/);
    expect(d.nextSteps.join("\n")).not.toMatch(/az containerapp|az webapp|az functionapp/);
  });
});

describe.concurrent("token-time.app-role-required: AADSTS501051 in the identity endpoint's 400 → H2 at token time", () => {
  const TARGET = "api://7d9e0f00-0000-4000-8000-0000000000b1";

  it("IMDS relays Entra's invalid_grant: H2 naming the identity and the target app, the role check failed, the app-role assignment command", async () => {
    const r = await runCredentialScenario({
      emulator: { shape: "imds", fault: { kind: "entra-error", code: 501051, facts: { resource: TARGET, resourceName: "orders-api" } } },
      constructorArg: once,
      calls: [`${TARGET}/.default`],
    });
    const d = diagnosisOf(r);
    const clientId = r.identities!.systemAssigned!.clientId;
    expect(d).toMatchObject({ hypothesis: "H2", code: "RoleMissingOrWrongScope", confidence: "high", rule: { id: "token-time.app-role-required" } });
    expect(d.summary).toContain(`the identity diag-app (${clientId}) is not assigned to an app role of the target app orders-api (${TARGET})`);
    expectChecks(
      d,
      {
        kind: "role",
        verdict: "fail",
        expected: `an app role of orders-api (${TARGET})`,
        actual: `no app role assigned to diag-app (${clientId})`,
        confirmedBy: "answer",
      },
      { kind: "identity-endpoint", verdict: "fail", actual: "HTTP 400" },
    );
    expect(d.nextSteps[0]).toMatch(new RegExp(`^List the app roles of the target app ${TARGET}, pick one \\(APP_ROLE\\)`));
    expect(d.nextSteps[0]).toContain(`az ad sp show --id "${clientId}" --query id --output tsv`);
    expect(d.nextSteps[0]).toContain("servicePrincipals/$PRINCIPAL_ID/appRoleAssignments");
    expect(d.nextSteps[1]).toMatch(/'Assignment required' to No/);
  });

  it("Container Apps shape, a user-assigned identity by client id: H2 naming that identity", async () => {
    const r = await runCredentialScenario({
      emulator: {
        userAssigned: [{ name: "uami-orders", clientId: UAMI }],
        fault: { kind: "entra-error", code: 501051, facts: { resource: TARGET, resourceName: "orders-api" } },
      },
      constructorArg: { clientId: UAMI, ...once },
      calls: [`${TARGET}/.default`],
    });
    const d = diagnosisOf(r);
    expect(d).toMatchObject({ hypothesis: "H2", rule: { id: "token-time.app-role-required" } });
    expect(d.summary).toContain(`the identity uami-orders (${UAMI})`);
    expectChecks(d, { kind: "role", verdict: "fail", actual: `no app role assigned to uami-orders (${UAMI})` });
    expect(d.nextSteps[0]).toContain(`az ad sp show --id "${UAMI}"`);
  });
});

describe.concurrent("H3 from Entra's answer: invalid_scope / AADSTS70011 and AADSTS500011", () => {
  it("a delegated scope (User.Read) refused with invalid_scope / AADSTS70011 → H3 invalid-scope, the scope check failed, no delegated scopes", async () => {
    const r = await runCredentialScenario({
      emulator: { fault: { kind: "entra-error", code: 70011 } },
      constructorArg: once,
      calls: ["https://graph.microsoft.com/User.Read"],
    });
    const d = diagnosisOf(r);
    expect(d).toMatchObject({ hypothesis: "H3", code: "WrongAudience", confidence: "high", rule: { id: "token-time.invalid-scope" } });
    expect(d.summary).toMatch(/rejected the scope https:\/\/graph\.microsoft\.com\/User\.Read as invalid \(invalid_scope \/ AADSTS70011\)/);
    expectChecks(d, { kind: "scope", verdict: "fail", actual: "https://graph.microsoft.com/User.Read", confirmedBy: "answer" });
    expect(d.nextSteps.join("\n")).toMatch(/no delegated scopes such as User\.Read/);
  });

  it("IMDS relays AADSTS500011 for a resource Entra does not know (a typo) → H3 unknown-resource suggesting the known audience", async () => {
    const r = await runCredentialScenario({
      emulator: { shape: "imds", fault: { kind: "unknown-audience" } },
      constructorArg: once,
      calls: ["https://vault.azure.nett/.default"],
    });
    const d = diagnosisOf(r);
    expect(d).toMatchObject({ hypothesis: "H3", code: "WrongAudience", confidence: "high", rule: { id: "token-time.unknown-resource" } });
    expect(d.summary).toContain("Entra ID does not know the resource in scope https://vault.azure.nett/.default (AADSTS500011)");
    expectChecks(d, { kind: "scope", verdict: "fail", expected: VAULT, actual: "https://vault.azure.nett/.default", confirmedBy: "answer" });
    expect(d.nextSteps.join("\n")).toContain(VAULT);
  });

  it("AADSTS500011 relayed by the Container Apps endpoint → H3 unknown-resource", async () => {
    const r = await runCredentialScenario({
      emulator: { fault: { kind: "entra-error", code: 500011 } },
      constructorArg: once,
      calls: ["https://vault.azure.nett/.default"],
    });
    const d = diagnosisOf(r);
    expect(d).toMatchObject({ hypothesis: "H3", rule: { id: "token-time.unknown-resource" } });
    expectChecks(d, { kind: "scope", verdict: "fail", expected: VAULT, actual: "https://vault.azure.nett/.default" });
  });
});

describe.concurrent('the ambiguous 500 "An unexpected error occured while fetching the AAD Token", told apart from the evidence', () => {
  const OPENAI = "https://api.openai.com/.default";

  it.for([
    ["the system-assigned identity", once],
    ["an attached user-assigned identity by client id", { clientId: UAMI, ...once }],
  ] as const)("a scope that is no known audience, %s → H3 unknown-audience (never H1)", async ([, constructorArg]) => {
    const r = await runCredentialScenario({
      emulator: { userAssigned: [{ name: "uami-a", clientId: UAMI }], fault: { kind: "unknown-audience" } },
      constructorArg: { ...constructorArg },
      calls: [OPENAI],
    });
    const d = diagnosisOf(r);
    expect(d).toMatchObject({ hypothesis: "H3", code: "WrongAudience", confidence: "medium", rule: { id: "token-time.unknown-audience" } });
    expect(d.summary).toContain(`${OPENAI} is not an audience Entra ID issues managed-identity tokens for`);
    expectChecks(d, { kind: "scope", verdict: "fail", expected: "a known audience's `/.default`", actual: OPENAI, confirmedBy: "answer" });
    expect(d.nextSteps.join("\n")).toMatch(/a third-party API \(api\.openai\.com…\) needs its own key/);
    expect(r.requests!.filter((q) => q.path === "/msi/token").map((q) => q.status)).toEqual([500]);
  });

  it("a known audience and a client id the app does not have → H1 identity-not-attached (the same 500 on the wire)", async () => {
    const r = await runCredentialScenario({ emulator: {}, constructorArg: { clientId: UAMI, ...once }, calls: [VAULT] });
    const d = diagnosisOf(r);
    expect(d).toMatchObject({ hypothesis: "H1", code: "IdentityNotAssigned", confidence: "high", rule: { id: "token-time.identity-not-attached" } });
    expect(d.summary).toContain(`clientId ${UAMI}`);
    expectChecks(
      d,
      { kind: "identity-assignment", verdict: "fail", expected: `clientId ${UAMI}`, confirmedBy: "answer" },
      { kind: "identity-endpoint", verdict: "fail", actual: "HTTP 500" },
    );
    expect(d.nextSteps.join("\n")).toMatch(/az identity show --ids <identity-resource-id> --query clientId/);
  });
});

describe.concurrent("gateways and no answer", () => {
  it.for([
    ["Container Apps shape, 502", "container-apps", 502],
    ["IMDS shape, 504", "imds", 504],
  ] as const)("%s (a gateway's reason phrase) → H5 gateway-error: not through a proxy or gateway", async ([, shape, status]) => {
    const r = await runCredentialScenario({ emulator: { shape, fault: { kind: "status", status } }, constructorArg: once, calls: [VAULT] });
    const d = diagnosisOf(r);
    expect(d).toMatchObject({ hypothesis: "H5", code: "IdentityEndpointUnreachable", confidence: "medium", rule: { id: "token-time.gateway-error" } });
    expect(d.summary).toMatch(/was answered by a gateway .*: calls to the identity endpoint through a proxy or gateway are not supported$/);
    expectChecks(d, { kind: "identity-endpoint", verdict: "fail", actual: `HTTP ${status}` });
    expect(d.nextSteps.join("\n")).toMatch(/NO_PROXY/);
  });

  it("a proxy's HTML 502 page → H5 not-identity-answer quoting the page (something else answered)", async () => {
    const page = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>";
    const r = await runCredentialScenario({
      emulator: { fault: { kind: "status", status: 502, body: page, headers: { "Content-Type": "text/html" } } },
      constructorArg: once,
      calls: [VAULT],
    });
    const d = diagnosisOf(r);
    expect(d).toMatchObject({ hypothesis: "H5", rule: { id: "token-time.not-identity-answer" } });
    expect(d.summary).toMatch(/answered HTTP 502 "<html><head><title>502 Bad Gateway.*which is not an answer of the identity endpoint/);
    expectChecks(d, { kind: "identity-endpoint", verdict: "fail", expected: "an answer from the identity endpoint itself" });
  });

  it.for(["container-apps", "imds"] as const)(
    "%s: the endpoint reads the request and closes the connection → H5 'closed the connection without answering'",
    async (shape) => {
      const r = await runCredentialScenario({ emulator: { shape, fault: { kind: "close" } }, constructorArg: once, calls: [VAULT] });
      const d = diagnosisOf(r);
      expect(d).toMatchObject({ hypothesis: "H5", code: "IdentityEndpointUnreachable", confidence: "high", rule: { id: "token-time.transport-error" } });
      expect(d.summary).toMatch(/ closed the connection without answering \(no response\) \(ECONNRESET\)$/);
      expectChecks(d, { kind: "identity-endpoint", verdict: "fail", expected: "HTTP 200", actual: "ECONNRESET", confirmedBy: "answer" });
      expect(d.nextSteps.join("\n")).toMatch(/npx diagnostic-credential doctor/);
    },
  );
});

describe("token-time.arc-identity-not-confirmed: the real Azure Arc path on loopback", () => {
  // msal-node reads Arc's 401 challenge key file only from /var/opt/azcmagent/tokens/, which a test may not write;
  // the emulated agent answers the first request instead, and MSAL checks the echoed identity on that answer.
  it("an Arc agent that answers a user-assigned request with the system identity's token (no client_id echoed) → H4 with the Arc commands", async () => {
    const result = await runScenario({
      env: {},
      code: `${SCENARIO_PRELUDE}
        import { DiagnosticCredential, getDiagnosis } from "diagnostic-credential";
        import { startIdentityEndpoint } from "diagnostic-credential/testing";
        const agent = await startIdentityEndpoint({ shape: "imds" });
        const now = Math.floor(Date.now() / 1000);
        const accessToken = await agent.mintToken({ resource: "https://vault.azure.net" });
        agent.setFault({ kind: "status", status: 200, body: { access_token: accessToken, expires_in: "3600", expires_on: String(now + 3600), resource: "https://vault.azure.net", token_type: "Bearer" } });
        // Arc is selected by IDENTITY_ENDPOINT + IMDS_ENDPOINT without IDENTITY_HEADER.
        process.env.IDENTITY_ENDPOINT = agent.url + "/metadata/identity/oauth2/token";
        process.env.IMDS_ENDPOINT = agent.url;
        const credential = new DiagnosticCredential({ clientId: "${UAMI}", retryOptions: { maxRetries: 0 }, logger: false });
        try { await credential.getToken("${VAULT}"); emit({ ok: true }); }
        catch (e) { emit({ ok: false, error: describeError(e), diagnosis: getDiagnosis(e), requests: agent.requests.map((q) => ({ apiVersion: q.apiVersion, clientId: q.clientId, metadata: q.metadataHeader })) }); }
        process.exit(0);`,
    });
    const json = scenarioJson<{ ok: boolean; error: { name: string; message: string }; diagnosis: Diagnosis; requests: unknown[] }>(result);
    expect(json.ok).toBe(false);
    expect(json.error.name).toBe("CredentialUnavailableError");
    const d = json.diagnosis;
    if (/can only be system assigned/i.test(json.error.message)) {
      // msal-node 3.x (the oldest peer set, @azure/identity 4.10) refuses a user-assigned identity on Arc before
      // any request: H1, the SDK version named.
      expect(json.requests).toEqual([]);
      expect(d).toMatchObject({ hypothesis: "H1", code: "IdentityNotAssigned", rule: { id: "token-time.arc-user-assigned-unsupported" } });
      expect(d.summary).toContain(`refused the user-assigned identity clientId ${UAMI} before any request`);
      expect(d.platform).toMatchObject({ name: "azure.arc" });
      return;
    }
    expect(json.error.message).toMatch(/user_assigned_managed_identity_not_confirmed/);
    expect(json.requests).toEqual([{ apiVersion: "2020-06-01", clientId: UAMI, metadata: true }]);
    expect(d).toMatchObject({ hypothesis: "H4", code: "StaleTokenOrIdentityMixup", confidence: "high", rule: { id: "token-time.arc-identity-not-confirmed" } });
    expect(d.platform).toMatchObject({ name: "azure.arc" });
    expect(d.summary).toContain(`Azure Arc did not confirm the user-assigned identity clientId ${UAMI}`);
    expectChecks(
      d,
      {
        kind: "identity-assignment",
        verdict: "fail",
        expected: `clientId ${UAMI}`,
        actual: "another identity (not confirmed by the Arc agent)",
        confirmedBy: "answer",
      },
      // The Arc agent takes no IDENTITY_HEADER: its variables are not blamed.
      { kind: "identity-variables", verdict: "pass", expected: "IDENTITY_ENDPOINT (an http(s) URL) and IMDS_ENDPOINT set (the Arc agent)" },
    );
    expect(failedKinds(d)).toEqual(["identity-assignment"]);
    expect(d.nextSteps[0]).toMatch(/az connectedmachine show --name "\$MACHINE_NAME" --resource-group "\$RG" --query identity --output json$/);
  });
});
