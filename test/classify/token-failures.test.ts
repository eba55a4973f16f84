/**
 * The token-time fingerprint table (src/catalog/tokenFailures.ts) through classifyCredentialError: each entry of
 * issue 14 item 5 with the real texts of other SDKs and versions (cited per fixture), and the table's own rules
 * (ids, order, the shared matcher).
 */
import { describe, expect, it } from "vitest";
import { classifyCredentialError, type CredentialErrorContext } from "../../src/index.js";
import { readHostEnvironment } from "../../src/environment/hostEnvironment.js";
import { TOKEN_FAILURES } from "../../src/catalog/tokenFailures.js";
import type { IdentityExchange } from "../../src/credential/identityExchange.js";
import type { Diagnosis } from "../../src/diagnosis/types.js";

const T0 = 1_760_000_000_000;
const exchange = (over: Partial<IdentityExchange>): IdentityExchange => ({
  method: "GET",
  url: "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net",
  durationMs: 5,
  startedAt: T0,
  ...over,
});
const APP_SERVICE_URL = "http://127.0.0.1:42356/msi/token?api-version=2019-08-01&resource=https://vault.azure.net";
const UNEXPECTED_500 =
  '{"statusCode":500,"message":"An unexpected error occured while fetching the AAD Token.","correlationId":"8f1c2a9e-0000-4000-8000-000000000001"}';
const containerApps = readHostEnvironment({
  IDENTITY_ENDPOINT: "http://localhost:42356/msi/token",
  IDENTITY_HEADER: "secret-value-1",
  CONTAINER_APP_NAME: "ca-a",
  CONTAINER_APP_REVISION: "ca-a--1",
});
const rule = (d: Diagnosis | undefined) => d?.rule?.id.replace(/^token-time\./, "");

describe("the table", () => {
  it("ids are unique, every rule is token-time.<rule ?? id>, every entry says what it means and has a next step", () => {
    const ids = TOKEN_FAILURES.map((f) => f.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const f of TOKEN_FAILURES) {
      expect(f.meaning.length, f.id).toBeGreaterThan(10);
      expect(f.nextSteps.length, f.id).toBeGreaterThan(0);
      // `<name>`, `<name>.<variant>`; workload identity's are namespaced: `workload-identity.<name>[.<variant>]`.
      expect(f.id).toMatch(/^(workload-identity\.)?[a-z0-9-]+(\.[a-z0-9-]+)?$/);
      if (f.message !== undefined) expect(f.message.flags, f.id).toContain("i");
    }
  });

  it("the catch-all is last and every entry is reachable by some evidence (no entry decides only what an earlier one already takes)", () => {
    expect(TOKEN_FAILURES[TOKEN_FAILURES.length - 1]!.id).toBe("unrecognised");
    const constraints = TOKEN_FAILURES.map((f) => f.status ?? f.errorCode ?? f.transportCode ?? f.message ?? f.when);
    for (const [i, c] of constraints.entries()) expect(c, TOKEN_FAILURES[i]!.id).toBeDefined();
  });
});

describe("issue 14 item 5: causes the classifier used to miss", () => {
  it("AADSTS501051 → H2 at token time, naming the target app and the identity, with the app-role assignment command", () => {
    // Entra's template (login.microsoftonline.com/error?code=501051, quoted in azure-functions-host #9884):
    // "Application '{appId}'({appName}) is not assigned to a role for the application '{resourceId}'({resourceName})."
    const error = Object.assign(
      new Error(
        "ManagedIdentityCredential: Authentication failed. Message invalid_grant: AADSTS501051: Application 'a1b2c3d4-0000-4000-8000-00000000000a'(func-orders) is not assigned to a role for the application 'api://7d9e0f00-0000-4000-8000-0000000000b1'(orders-api). Trace ID: 1 Correlation ID: 2",
      ),
      { name: "CredentialUnavailableError" },
    );
    const d = classifyCredentialError(error, { scopes: "api://7d9e0f00-0000-4000-8000-0000000000b1/.default" });
    expect(d).toMatchObject({ hypothesis: "H2", code: "RoleMissingOrWrongScope", confidence: "high" });
    expect(rule(d)).toBe("app-role-required");
    expect(d!.summary).toContain("func-orders (a1b2c3d4-0000-4000-8000-00000000000a)");
    expect(d!.summary).toContain("orders-api (api://7d9e0f00-0000-4000-8000-0000000000b1)");
    const step = d!.nextSteps[0]!;
    expect(step).toMatch(/^List the app roles of the target app api:\/\/7d9e0f00-0000-4000-8000-0000000000b1, pick one \(APP_ROLE\)/);
    expect(step).toContain('az ad sp show --id "a1b2c3d4-0000-4000-8000-00000000000a" --query id --output tsv');
    expect(step).toContain("servicePrincipals/$PRINCIPAL_ID/appRoleAssignments");
    expect(d!.checks).toContainEqual(expect.objectContaining({ kind: "role", verdict: "fail", confirmedBy: "answer" }));
  });

  it("AADSTS501051 in other words (no quoted ids) still → H2, with placeholders in the command", () => {
    const d = classifyCredentialError(new Error("AADSTS501051: the application is not assigned to a role"), { scopes: "api://orders/.default" });
    expect(d?.hypothesis).toBe("H2");
    expect(rule(d)).toBe("app-role-required");
    expect(d!.nextSteps[0]).toContain('--id "$TARGET_APP_ID"');
  });

  it.each([
    [
      "MSAL invalid_scope with AADSTS70011 (MSAL ServerError shape)",
      Object.assign(
        new Error(
          "ManagedIdentityCredential: Authentication failed. Message invalid_scope: AADSTS70011: The provided value for the input parameter 'scope' is not valid.",
        ),
        {
          cause: { errorCode: "invalid_scope", status: 400 },
        },
      ),
      "invalid-scope",
    ],
    ["AADSTS70011 named in the text only", new Error("AADSTS70011: The provided request must include a 'scope' input parameter."), "invalid-scope"],
    [
      "AADSTS500011 code",
      new Error("AADSTS500011: The resource principal named https://vault.azure.nett was not found in the tenant named contoso."),
      "unknown-resource",
    ],
    ["AADSTS500011 words only", new Error("The resource principal named https://vault.azure.nett was not found in the tenant"), "unknown-resource"],
  ])("%s → H3", (_name, error, expected) => {
    const d = classifyCredentialError(error, { scopes: "https://vault.azure.nett/.default" });
    expect(d?.hypothesis).toBe("H3");
    expect(rule(d)).toBe(expected);
    expect(d!.checks).toContainEqual(expect.objectContaining({ kind: "scope", verdict: "fail", actual: "https://vault.azure.nett/.default" }));
  });

  describe('the ambiguous 500 "unexpected error occured while fetching the AAD Token" (azure-sdk-for-python #33858, azure-sdk-for-net #40848)', () => {
    const answered = (resource: string) => [
      exchange({ url: APP_SERVICE_URL.replace("https://vault.azure.net", resource), resource, status: 500, bodyExcerpt: UNEXPECTED_500 }),
    ];
    it("a scope that is no Azure or Entra audience → H3, whether or not a client id was given", () => {
      for (const configuredIdentity of [undefined, { clientId: "11111111-1111-4111-8111-111111111111" }]) {
        const d = classifyCredentialError(new Error("Authentication failed"), {
          scopes: "https://api.openai.com/.default",
          exchanges: answered("https://api.openai.com"),
          ...(configuredIdentity ? { configuredIdentity } : {}),
        });
        expect(d?.hypothesis).toBe("H3");
        expect(rule(d)).toBe("unknown-audience");
        expect(d!.summary).toContain("https://api.openai.com/.default is not an audience");
      }
    });
    it("a known audience and a client id → H1 (that user-assigned identity is not attached)", () => {
      const d = classifyCredentialError(new Error("Authentication failed"), {
        scopes: "https://vault.azure.net/.default",
        configuredIdentity: { clientId: "11111111-1111-4111-8111-111111111111" },
        exchanges: answered("https://vault.azure.net"),
      });
      expect(d?.hypothesis).toBe("H1");
      expect(rule(d)).toBe("identity-not-attached");
    });
    it("a known audience and no client id → H5 medium (nothing to blame but the endpoint)", () => {
      const d = classifyCredentialError(new Error("Authentication failed"), {
        scopes: "https://vault.azure.net/.default",
        exchanges: answered("https://vault.azure.net"),
      });
      expect(d).toMatchObject({ hypothesis: "H5", confidence: "medium" });
      expect(rule(d)).toBe("endpoint-failing");
    });
  });

  it("429 from the identity endpoint → throttled, with the Retry-After and the convoy explanation", () => {
    const storm = [0, 1, 2].map((i) => exchange({ status: 429, retryAfter: "5", startedAt: T0 + i * 1000 }));
    const d = classifyCredentialError(new Error("Authentication failed"), { exchanges: storm });
    expect(d).toMatchObject({ hypothesis: "H5", confidence: "high" });
    expect(rule(d)).toBe("throttled");
    expect(d!.summary).toMatch(/throttling token requests \(HTTP 429 on 3 attempts, Retry-After 5 s\): .*convoy of cold getToken calls/);
    expect(d!.nextSteps.join("\n")).toMatch(/Share one credential instance/);
  });

  it("429 without exchanges: the status and Retry-After read from MSAL's text (its description embeds the headers)", () => {
    const error = new Error(
      'ManagedIdentityCredential: Authentication failed. Message server_error: Error(s): status code 429 - Description: Too many requests. Headers: {"retry-after":"7","content-type":"application/json"}',
    );
    const d = classifyCredentialError(error);
    expect(rule(d)).toBe("throttled");
    expect(d!.summary).toContain("Retry-After 7 s");
  });

  it("IMDS 410 → upgrading, transient, saying how long it retried (Azure.Identity for .NET 1.15.0-beta.1: retry ≥ 70 s)", () => {
    const gone = [0, 10_000, 30_000, 71_000].map((at) => exchange({ status: 410, startedAt: T0 + at, durationMs: 4 }));
    const d = classifyCredentialError(new Error("Authentication failed"), { exchanges: gone, environment: readHostEnvironment({}) });
    expect(d).toMatchObject({ hypothesis: "H5", confidence: "high" });
    expect(rule(d)).toBe("imds-upgrading");
    expect(d!.summary).toMatch(/IMDS is being upgraded, which is transient .* gave up after 4 attempts/);
    expect(d!.evidence).toContain("the credential retried for 71 s over 4 attempts");
  });

  describe("connection refused: not ready yet vs never reachable (azure-container-apps #568, #864, #1448)", () => {
    const refused = { exchanges: [exchange({ url: APP_SERVICE_URL, errorCode: "ECONNREFUSED" })], environment: containerApps };
    it("in the first seconds of the process → not ready yet, the uptime said, a new revision for an identity added later", () => {
      const d = classifyCredentialError(new Error("network_error"), { ...refused, processUptimeMs: 3_200 });
      expect(rule(d)).toBe("endpoint-not-ready");
      expect(d!.summary).toMatch(/refused the connection \(ECONNREFUSED\) within the first 30 s of the process: .*not ready yet/);
      expect(d!.evidence).toContain("process uptime at the failure: 3.2 s");
      expect(d!.nextSteps.join("\n")).toMatch(
        /An identity added after the revision was created is not visible to it.*az containerapp revision restart --name "ca-a"/,
      );
    });
    it("long after start → never reachable, the uptime said", () => {
      const d = classifyCredentialError(new Error("network_error"), { ...refused, processUptimeMs: 600_000 });
      expect(d).toMatchObject({ hypothesis: "H5", confidence: "high" });
      expect(rule(d)).toBe("transport-error");
      expect(d!.summary).toMatch(/refused the connection .*\(ECONNREFUSED\), past the first 30 s of the process: not a start-up race/);
      expect(d!.evidence).toContain("process uptime at the failure: 10 min");
    });
    it("uptime unknown → the transport error as before", () => {
      expect(rule(classifyCredentialError(new Error("network_error"), refused))).toBe("transport-error");
    });
  });

  it("Arc's user_assigned_managed_identity_not_confirmed → H4 identity mix-up (msal-node AzureArc)", () => {
    const arc = readHostEnvironment({ IDENTITY_ENDPOINT: "http://localhost:40342/metadata/identity/oauth2/token", IMDS_ENDPOINT: "http://localhost:40342" });
    const error = Object.assign(
      new Error(
        "ManagedIdentityCredential: Authentication failed. Message user_assigned_managed_identity_not_confirmed: Azure Arc did not confirm the requested user-assigned managed identity in the token response. The agent likely does not support user-assigned managed identity and returned the system-assigned identity.",
      ),
      { name: "CredentialUnavailableError" },
    );
    const d = classifyCredentialError(error, { environment: arc, configuredIdentity: { clientId: "22222222-2222-4222-8222-222222222222" } });
    expect(d).toMatchObject({ hypothesis: "H4", code: "StaleTokenOrIdentityMixup" });
    expect(rule(d)).toBe("arc-identity-not-confirmed");
    expect(d!.summary).toContain("clientId 22222222-2222-4222-8222-222222222222");
    expect(d!.nextSteps[0]).toContain("az connectedmachine show");
    // The entry is Arc's: on another source the same code is not read as Arc's mix-up.
    expect(rule(classifyCredentialError(error, { environment: containerApps }))).not.toBe("arc-identity-not-confirmed");
  });

  describe("something other than the identity endpoint answers", () => {
    const html = exchange({ status: 403, bodyExcerpt: "<html><head><title>403 Forbidden</title></head><body>Access denied by policy</body></html>" });
    it("a proxy (HTTPS_PROXY set, NO_PROXY without 169.254.169.254) → H5 naming the proxy (no credentials) and the NO_PROXY fix", () => {
      const env = readHostEnvironment({ HTTPS_PROXY: "http://svc:pa55word@proxy.corp.example:3128", NO_PROXY: "localhost,.corp.example" });
      const d = classifyCredentialError(new Error("Authentication failed"), { exchanges: [html], environment: env });
      expect(d).toMatchObject({ hypothesis: "H5", confidence: "high" });
      expect(rule(d)).toBe("proxy-intercepts");
      expect(d!.summary).toContain("the proxy HTTPS_PROXY=http://proxy.corp.example:3128 (NO_PROXY does not list 169.254.169.254)");
      expect(d!.nextSteps[0]).toMatch(/: export NO_PROXY="localhost,\.corp\.example,169\.254\.169\.254"$/);
      expect(JSON.stringify(d)).not.toContain("pa55word");
    });
    it("a proxy and a refused connection → H5 proxy, medium", () => {
      const env = readHostEnvironment({ http_proxy: "http://proxy.corp.example:3128" });
      const d = classifyCredentialError(new Error("network_error"), { exchanges: [exchange({ errorCode: "ECONNREFUSED" })], environment: env });
      expect(d).toMatchObject({ hypothesis: "H5", confidence: "medium" });
      expect(rule(d)).toBe("proxy-intercepts");
    });
    it("NO_PROXY exempting the endpoint: no proxy blamed; the HTML answer is still not the endpoint's (firewall, sidecar)", () => {
      const env = readHostEnvironment({ HTTPS_PROXY: "http://proxy.corp.example:3128", NO_PROXY: "169.254.169.254" });
      const d = classifyCredentialError(new Error("Authentication failed"), { exchanges: [html], environment: env });
      expect(rule(d)).toBe("not-identity-answer");
      expect(d!.summary).toMatch(/answered HTTP 403 .*not an answer of the identity endpoint: a firewall, a sidecar or a transparent proxy/);
    });
    it("IMDS's own JSON 403/400 is the endpoint's: not blamed on a proxy", () => {
      const env = readHostEnvironment({ HTTPS_PROXY: "http://proxy.corp.example:3128" });
      const own = exchange({ status: 400, bodyExcerpt: '{"error":"invalid_request","error_description":"Identity not found"}' });
      expect(rule(classifyCredentialError(new Error("Identity not found"), { exchanges: [own], environment: env }))).toBe("identity-not-found");
    });
  });
});

describe("error texts of other SDK versions and languages, recognised by meaning", () => {
  it.each<[string, string, string, string]>([
    // [source, text, rule, hypothesis]
    [
      "Azure.Identity (.NET) 1.x, azure-sdk-for-net #23809",
      "ManagedIdentityCredential authentication unavailable. No Managed Identity endpoint found.",
      "no-endpoint",
      "H5",
    ],
    [
      "Azure.Identity (.NET) troubleshooting table; DefaultAzureCredential aggregate line",
      "ManagedIdentityCredential authentication unavailable. No response received from the managed identity endpoint.",
      "no-response",
      "H5",
    ],
    [
      "msal4j AbstractManagedIdentitySource",
      "[Managed Identity] Authentication unavailable. No response received from the managed identity endpoint.",
      "no-response",
      "H5",
    ],
    [
      "azure-identity (Java) IdentityClient",
      "ManagedIdentityCredential authentication unavailable. Connection to IMDS endpoint cannot be established, Connect timed out.",
      "no-response",
      "H5",
    ],
    [
      "azure-identity (Java), without the cause",
      "ManagedIdentityCredential authentication unavailable. Connection to IMDS endpoint cannot be established.",
      "network-error",
      "H5",
    ],
    [
      "azure-identity (Python) 1.7, azure-sdk-for-python #35452",
      "ManagedIdentityCredential authentication unavailable, no response from the IMDS endpoint.",
      "no-response",
      "H5",
    ],
    [
      "Azure.Identity (.NET) with MSAL.NET managed_identity_all_sources_unavailable",
      "ManagedIdentityCredential authentication failed: All Managed Identity sources are unavailable. IMDSv2 probe failed.",
      "no-endpoint",
      "H5",
    ],
    [
      "Azure.Identity (.NET) / azure-identity (Python), azure-sdk-for-net #37278",
      "ManagedIdentityCredential authentication unavailable. The requested identity has not been assigned to this resource.",
      "identity-not-found",
      "H1",
    ],
    [
      "@azure/identity 1.x, aad-pod-identity #1250",
      "ManagedIdentityCredential authentication failed.(status code 404). More details: unknown_error(status code 404). More details: An unknown error has occurred. Response body: ManagedIdentityCredential - IMDS: Failed to retrieve IMDS token after 3 retries.",
      "endpoint-failing",
      "H5",
    ],
    [
      "MSAL.NET 4.69, azure-sdk-for-net #49174",
      "ManagedIdentityCredential authentication failed: [Managed Identity] The error response was either empty or could not be parsed.. Error response received from the server: InternalError - :{ Info: Request failure status code: 404 }.",
      "endpoint-failing",
      "H5",
    ],
    ["@azure/identity troubleshooting (502/504)", "ManagedIdentityCredential: The request failed due to a gateway error.", "gateway-error", "H5"],
    ["Node, a plain Error without its code", "connect ECONNREFUSED 127.0.0.1:42356", "transport-error", "H5"],
    [
      "msal-node network_error",
      "ManagedIdentityCredential: Network unreachable. Message: network_error: See https://aka.ms/msal.js.errors#network_error for details",
      "network-error",
      "H5",
    ],
  ])("%s", (_source, text, expectedRule, hypothesis) => {
    const d = classifyCredentialError(Object.assign(new Error(text), { name: "CredentialUnavailableError" }));
    expect(d?.hypothesis, JSON.stringify(d)).toBe(hypothesis);
    expect(rule(d)).toBe(expectedRule);
    expect(d!.nextSteps.length).toBeGreaterThan(0);
  });

  it("takes any error: a string, a plain object with a status, null, a number", () => {
    expect(rule(classifyCredentialError("ManagedIdentityCredential authentication unavailable. No Managed Identity endpoint found."))).toBe("no-endpoint");
    expect(rule(classifyCredentialError({ message: "managed identity failed", statusCode: 429 }))).toBe("throttled");
    expect(classifyCredentialError(null)).toBeUndefined();
    expect(classifyCredentialError(42)).toBeUndefined();
  });
});

describe("precedence is the table's order", () => {
  const ctx = (over: CredentialErrorContext = {}): CredentialErrorContext => ({ environment: containerApps, ...over });
  it("the scope (H3) before the identity (H1): several scopes and 'Identity not found' together → H3", () => {
    const d = classifyCredentialError(
      new Error("Identity not found"),
      ctx({ scopes: ["https://vault.azure.net/.default", "https://storage.azure.com/.default"] }),
    );
    expect(rule(d)).toBe("multiple-scopes");
  });
  it("what the endpoint said (H1) before our deadline and the transport", () => {
    expect(rule(classifyCredentialError(new Error("Identity not found"), ctx({ timedOutAfterMs: 1000 })))).toBe("identity-not-found");
  });
  it("a proxy before the bare transport code; the transport code before the words", () => {
    const env = readHostEnvironment({ HTTPS_PROXY: "http://proxy.corp.example:3128" });
    expect(rule(classifyCredentialError(new Error("timed out"), { environment: env, exchanges: [exchange({ errorCode: "ECONNRESET" })] }))).toBe(
      "proxy-intercepts",
    );
    expect(rule(classifyCredentialError(new Error("timed out"), { exchanges: [exchange({ errorCode: "ECONNRESET" })] }))).toBe("transport-error");
  });
  it("imds-upgrading and throttled before the generic failing status", () => {
    expect(rule(classifyCredentialError(new Error("x managed identity"), { exchanges: [exchange({ status: 410 })] }))).toBe("imds-upgrading");
    expect(rule(classifyCredentialError(new Error("x managed identity"), { exchanges: [exchange({ status: 503 })] }))).toBe("endpoint-failing");
  });
});

describe("hostile input still gets a clear result", () => {
  it("a multi-megabyte message made of the table's own words: one bounded diagnosis, quickly", () => {
    const text = "AADSTS501051: Application '(".repeat(50_000) + " status code 429 retry-after: 9 ".repeat(20_000);
    const started = performance.now();
    const d = classifyCredentialError(Object.assign(new Error(text), { name: "CredentialUnavailableError" }));
    expect(performance.now() - started).toBeLessThan(1000);
    expect(d?.rule?.source).toBe("token-time");
    expect(d!.summary.length).toBeLessThanOrEqual(2000);
    for (const step of d!.nextSteps) expect(step.length).toBeLessThanOrEqual(2000);
  });

  it("quoted app ids that could break out of the command's quotes are left as placeholders", () => {
    const d = classifyCredentialError(
      new Error(`AADSTS501051: Application '$(rm -rf ~)'(x) is not assigned to a role for the application 'api://a";touch /tmp/p;"'(y).`),
    );
    expect(d?.hypothesis).toBe("H2");
    expect(d!.nextSteps[0]).toContain('--id "$TARGET_APP_ID"');
    expect(d!.nextSteps[0]).toContain('--id "$CLIENT_ID"');
    expect(d!.nextSteps[0]).not.toContain("touch /tmp/p");
  });

  it("a NO_PROXY entry with shell metacharacters never reaches the export command", () => {
    const env = readHostEnvironment({ HTTPS_PROXY: "http://proxy.corp.example:3128", NO_PROXY: 'localhost,$(id),a"b' });
    const d = classifyCredentialError(new Error("network_error"), { environment: env, exchanges: [exchange({ errorCode: "ECONNREFUSED" })] });
    expect(d!.nextSteps[0]).toMatch(/export NO_PROXY="localhost,169\.254\.169\.254"$/);
  });
});

describe("docs", () => {
  it("docs/observability.md names every token-time rule of the table", async () => {
    const { readFile } = await import("node:fs/promises");
    const doc = await readFile(new URL("../../docs/observability.md", import.meta.url), "utf8");
    for (const rule of new Set(TOKEN_FAILURES.map((f) => f.rule ?? f.id))) expect(doc, rule).toContain(`\`token-time.${rule}\``);
  });
});
