/**
 * Which answer wins when several fingerprints match: a specific meaning (audience, expiry, issuer, tenant…) in the
 * service's words beats a service's catch-all "the token was refused" fingerprint (flagged `fallback`), whether the
 * specific one is the service's own or a generic one. And the grant wording follows the catalog's `plane`.
 */
import { describe, expect, it } from "vitest";
import { classifyResponse } from "../../src/classify/response.js";
import { GENERIC_FINGERPRINTS, SERVICE_CATALOG } from "../../src/catalog/services.js";
import { TOKEN_FAILURES } from "../../src/catalog/tokenFailures.js";
import { WORKLOAD_IDENTITY_FAILURES } from "../../src/catalog/workloadIdentityFailures.js";
import { classifyCredentialError } from "../../src/classify/credentialError.js";
import { readHostEnvironment } from "../../src/environment/hostEnvironment.js";
import type { ServiceDefinitionInput } from "../../src/catalog/types.js";
import type { Diagnosis } from "../../src/diagnosis/types.js";
import { NOW, OID } from "./helpers.js";

const json = (value: unknown) => JSON.stringify(value);
/** The fingerprint that decided: the diagnosis's rule. */
const recognised = (d: Diagnosis | undefined) => d?.rule?.id;

describe("catch-all fingerprints are tried after specific ones", () => {
  it("every fallback fingerprint is a catch-all (concludes Unknown)", () => {
    const all = [...SERVICE_CATALOG.flatMap((s) => s.fingerprints), ...GENERIC_FINGERPRINTS];
    const fallbacks = all.filter((f) => f.fallback === true);
    expect(fallbacks.map((f) => f.id)).toEqual(
      expect.arrayContaining([
        "graph.invalid-token",
        "arm.invalid-token",
        "storage.invalid-authentication-info",
        "appconfig.token-failed-validation",
        "generic.invalid-token",
      ]),
    );
    for (const f of fallbacks) expect(f.code, f.id).toBe("Unknown");
  });

  it.each([
    [
      "graph: expired wording under InvalidAuthenticationToken",
      "https://graph.microsoft.com/v1.0/users",
      json({ error: { code: "InvalidAuthenticationToken", message: "Lifetime validation failed, the token is expired." } }),
      "H4",
      "graph.expired",
    ],
    [
      "graph: issuer wording under InvalidAuthenticationToken",
      "https://graph.microsoft.com/v1.0/users",
      json({ error: { code: "InvalidAuthenticationToken", message: "Access token validation failure. Invalid issuer." } }),
      "H4",
      "generic.issuer",
    ],
    [
      "graph: audience wording, other casing",
      "https://graph.microsoft.com/v1.0/users",
      json({ error: { code: "invalidauthenticationtoken", message: "Access token validation failure. INVALID AUDIENCE." } }),
      "H3",
      "graph.audience",
    ],
    [
      "arm: tenant wording under InvalidAuthenticationToken",
      "https://management.azure.com/subscriptions",
      json({ error: { code: "InvalidAuthenticationToken", message: "The access token is invalid: wrong tenant." } }),
      "H4",
      "generic.tenant",
    ],
    [
      "storage: signature wording under InvalidAuthenticationInfo",
      "https://st.blob.core.windows.net/c/b",
      `<?xml version="1.0" encoding="utf-8"?><Error><Code>InvalidAuthenticationInfo</Code><Message>Server failed to authenticate the request.</Message><AuthenticationErrorDetail>IDX10511: Signature validation failed.</AuthenticationErrorDetail></Error>`,
      "H4",
      "generic.signature",
    ],
    [
      "graph: nothing specific → the catch-all",
      "https://graph.microsoft.com/v1.0/users",
      json({ error: { code: "InvalidAuthenticationToken", message: "CompactToken parsing failed with error code: 80049217" } }),
      "unknown",
      "graph.invalid-token",
    ],
  ])("%s", (_name, url, body, hypothesis, fingerprint) => {
    const d = classifyResponse({ url, status: 401, body }, { now: NOW });
    expect(d?.hypothesis, JSON.stringify(d, null, 2)).toBe(hypothesis);
    expect(recognised(d)).toBe(fingerprint);
  });

  it("a user fingerprint flagged fallback yields to generic wording; unflagged, it wins as before", () => {
    const service = (fallback: boolean): ServiceDefinitionInput[] => [
      {
        name: "orders-api",
        hosts: ["orders.contoso.example"],
        audiences: ["api://orders"],
        fingerprints: [
          {
            id: "orders.refused",
            code: "Unknown",
            confidence: "medium",
            status: 401,
            meaning: "the API refused the token",
            ...(fallback ? { fallback: true } : {}),
          },
        ],
      },
    ];
    const response = {
      url: "https://orders.contoso.example/orders",
      status: 401,
      body: json({ error: "invalid_token", error_description: "Invalid audience" }),
    };
    const asFallback = classifyResponse(response, { now: NOW, services: service(true) });
    expect(asFallback?.hypothesis).toBe("H3");
    expect(recognised(asFallback)).toBe("generic.audience");
    const asSpecific = classifyResponse(response, { now: NOW, services: service(false) });
    expect(asSpecific?.rule).toEqual({ id: "orders.refused", source: "services:orders-api" });
    // With nothing specific, the fallback still applies.
    const bare = classifyResponse({ url: response.url, status: 401 }, { now: NOW, services: service(true) });
    expect(recognised(bare)).toBe("orders.refused");
  });
});

describe("the grant wording follows the catalog's plane", () => {
  const forbidden = { url: "https://orders.contoso.example/orders", status: 403 };
  const grant = (d: Diagnosis | undefined) => d?.nextSteps.find((step) => step.startsWith("Grant ")) ?? "";

  it("data plane by default: data-plane wording and the control-plane warning", () => {
    const d = classifyResponse(forbidden, {
      now: NOW,
      services: [
        {
          name: "orders-api",
          hosts: ["orders.contoso.example"],
          audiences: ["api://orders"],
          roles: [{ operation: "call", role: "Orders.Reader" }],
          controlPlaneRoles: ["Contributor"],
        },
      ],
    });
    expect(grant(d)).toContain('least-privilege data-plane role "Orders.Reader"');
    expect(d?.nextSteps.join("\n")).toContain("control-plane role");
  });

  it("control plane: no data-plane wording, no control-plane warning", () => {
    const d = classifyResponse(forbidden, {
      now: NOW,
      services: [
        {
          name: "orders-api",
          hosts: ["orders.contoso.example"],
          audiences: ["api://orders"],
          plane: "control",
          roles: [{ operation: "call", role: "Orders Operator" }],
          controlPlaneRoles: ["Contributor"],
        },
      ],
    });
    expect(grant(d)).toContain('Grant the least-privilege role "Orders Operator" at the exact scope');
    expect(d?.nextSteps.join("\n")).not.toMatch(/data-plane|control-plane|no data access/);
  });

  it("Resource Manager is control plane in the catalog; Key Vault is data plane", () => {
    expect(SERVICE_CATALOG.find((s) => s.name === "arm")?.plane).toBe("control");
    expect(SERVICE_CATALOG.find((s) => s.name === "keyvault")?.plane ?? "data").toBe("data");
    const d = classifyResponse(
      {
        url: "https://management.azure.com/subscriptions/0d0d0d0d-0000-1111-2222-333333333333/resourceGroups/rg?api-version=2021-04-01",
        status: 403,
        method: "GET",
        body: json({
          error: {
            code: "AuthorizationFailed",
            message: `The client 'x' with object id '${OID}' does not have authorization to perform action 'Microsoft.Resources/subscriptions/resourceGroups/read' over scope '/subscriptions/0d0d0d0d-0000-1111-2222-333333333333/resourceGroups/rg' or the scope is invalid.`,
          },
        }),
      },
      { now: NOW },
    );
    expect(d?.hypothesis).toBe("H2");
    expect(d?.summary).not.toContain("data-plane");
    expect(grant(d)).toContain('Grant the least-privilege role "Reader" at the exact scope');
  });
});

describe("each next step is one string: a sentence with its command", () => {
  const forbidden = { url: "https://orders.contoso.example/orders", status: 403 };
  const service = { name: "orders-api", hosts: ["orders.contoso.example"], audiences: ["api://orders"], roles: [{ operation: "call", role: "Orders.Reader" }] };

  it("without a token the principal id step sets PRINCIPAL_ID in the same string; the grant names it", () => {
    const d = classifyResponse(forbidden, { now: NOW, services: [service], app: {} });
    expect(d?.nextSteps[0]).toBe(
      'Set the identity\'s principal id (system-assigned; for a user-assigned identity use az identity show --query principalId): PRINCIPAL_ID="$(az containerapp show --name "$APP_NAME" --resource-group "$RG" --query identity.principalId --output tsv)"',
    );
    expect(d?.nextSteps[1]).toMatch(
      /^Grant the least-privilege data-plane role "Orders\.Reader" to principal "\$PRINCIPAL_ID" at the exact scope [^:]+: az role assignment create --assignee-object-id "\$PRINCIPAL_ID" /,
    );
    for (const step of d?.nextSteps ?? []) expect(step.trimEnd()).not.toMatch(/:$/);
  });

  it("a services entry written the old way (a sentence ending in ':', then its command) is joined into one step", () => {
    const d = classifyResponse(
      { ...forbidden, body: json({ error: { code: "OrdersDenied", message: "denied" } }) },
      {
        now: NOW,
        services: [
          {
            ...service,
            fingerprints: [
              {
                id: "orders.denied",
                code: "NotAnIdentityProblem",
                confidence: "high",
                errorCode: "OrdersDenied",
                meaning: "the orders API denied it",
                nextSteps: ["Open the orders API to this app:", "az orders allow --name {name}", "Then retry."],
              },
            ],
          },
        ],
      },
    );
    expect(d?.code).toBe("NotAnIdentityProblem");
    expect(d?.nextSteps.slice(0, 2)).toEqual(["Open the orders API to this app: az orders allow --name orders", "Then retry."]);
  });
});

const order = (id: string) => TOKEN_FAILURES.findIndex((f) => f.id === id);

describe("token-time: the table's order is the precedence (src/catalog/tokenFailures.ts)", () => {
  it.each([
    ["multiple-scopes", "identity-not-found", "the scope explains whatever else happened"],
    ["identity-not-found", "timeout", "what the endpoint said before our deadline"],
    ["unexpected-500.unknown-audience", "identity-not-attached", "an unknown audience explains the 500 before a client id does"],
    ["proxy-intercepts", "transport-error", "a proxy in the way before the bare transport code"],
    ["endpoint-not-ready", "transport-error", "refused early: not ready yet before never reachable"],
    ["imds-upgrading", "endpoint-failing", "410 and 429 have their own meaning before a failing status"],
    ["throttled", "endpoint-failing", "410 and 429 have their own meaning before a failing status"],
    ["endpoint-refused", "unrecognised", "the catch-all last"],
  ])("%s before %s (%s)", (first, second) => {
    expect(order(first)).toBeGreaterThanOrEqual(0);
    expect(order(first)).toBeLessThan(order(second));
  });
});

describe("token-time: AKS workload identity's entries are the table's first, one table, one matcher", () => {
  const isWorkload = (f: (typeof TOKEN_FAILURES)[number]) => f.sources?.length === 1 && f.sources[0] === "WorkloadIdentity";

  it("the table starts with every workload identity entry, in their order, and none comes later", () => {
    expect(TOKEN_FAILURES.slice(0, WORKLOAD_IDENTITY_FAILURES.length)).toEqual(WORKLOAD_IDENTITY_FAILURES);
    for (const f of WORKLOAD_IDENTITY_FAILURES) expect(isWorkload(f), f.id).toBe(true);
    expect(TOKEN_FAILURES.slice(WORKLOAD_IDENTITY_FAILURES.length).filter(isWorkload)).toEqual([]);
  });

  it.each([
    ["workload-identity.token-file-missing", "multiple-scopes", "the token file's problem before the scope"],
    ["workload-identity.no-matching-federated-credential", "multiple-scopes", "Entra's exact AADSTS answer before the scope"],
    ["workload-identity.issuer-mismatch", "workload-identity.no-matching-federated-credential.text", "the precise code before the shared words"],
    ["workload-identity.application-not-found.text", "workload-identity.wrong-tenant", "the unknown client id's words before another tenant's code"],
    ["workload-identity.oidc-issuer-unreachable.text", "network-error", "Entra's OIDC fetch failing is not the pod's network"],
  ])("%s before %s (%s)", (first, second) => {
    expect(order(first)).toBeGreaterThanOrEqual(0);
    expect(order(first)).toBeLessThan(order(second));
  });

  it("an AADSTS700213 answer with several scopes asked: the subject mismatch decides, not the scope", () => {
    const error = Object.assign(
      new Error("AADSTS700213: No matching federated identity record found for presented assertion subject 'system:serviceaccount:prod:api'."),
      {
        name: "AuthenticationRequiredError",
      },
    );
    const d = classifyCredentialError(error, { scopes: ["https://vault.azure.net/.default", "https://storage.azure.com/.default"] });
    expect(d?.rule?.id).toBe("token-time.workload-identity.subject-mismatch");
  });

  it("the entries' source decides where they apply: Entra's OIDC words on Container Apps, with nothing of workload identity, are no workload identity failure", () => {
    const containerApp = readHostEnvironment({ IDENTITY_ENDPOINT: "http://localhost:42356/msi/token", IDENTITY_HEADER: "h", CONTAINER_APP_NAME: "ca-a" });
    const words = new Error("ManagedIdentityCredential: Request to External OIDC endpoint failed.");
    expect(classifyCredentialError(words)?.rule?.id).toBe("token-time.workload-identity.oidc-issuer-unreachable");
    expect(classifyCredentialError(words, { environment: containerApp })?.rule?.id).not.toMatch(/workload-identity/);
    // The same words with Entra's code, or in a pod with workload identity: the workload identity entry.
    const coded = new Error("ClientAssertionCredential authentication failed: AADSTS90061: Request to External OIDC endpoint failed.");
    expect(classifyCredentialError(coded, { environment: containerApp })?.rule?.id).toBe("token-time.workload-identity.oidc-issuer-unreachable");
    const pod = readHostEnvironment(
      { KUBERNETES_SERVICE_HOST: "10.0.0.1", AZURE_FEDERATED_TOKEN_FILE: "/t", AZURE_TENANT_ID: "t", AZURE_CLIENT_ID: "c" },
      () => undefined,
    );
    expect(classifyCredentialError(words, { environment: pod })?.rule?.id).toBe("token-time.workload-identity.oidc-issuer-unreachable");
  });
});
