/**
 * Workload identity failure texts as public reports quote them (sources beside each), through
 * `classifyCredentialError` with no context: the answer alone decides the rule and the hypothesis. Then the
 * context's own facts (token file, variables) with a synthetic error, and hostile input.
 */
import { describe, expect, test } from "vitest";
import { classifyCredentialError } from "../../src/index.js";
import { fillCommand } from "../../src/diagnosis/commands.js";
import { platformEntry } from "../../src/hosting/platforms.js";

/**
 * Where the table's workload identity entries (src/catalog/workloadIdentityFailures.ts) were written from, besides
 * the fixtures below: token-file-missing: azure-workload-identity docs/book troubleshooting, Node.js ENOENT from
 * WorkloadIdentityCredential.readFileContents; token-file-empty: @azure/identity NO_FILE_CONTENT; token-file-not-jwt:
 * Entra ID AADSTS50027 "JWT token is invalid or malformed"; variables-not-injected: @azure/identity MISSING_ENV_VARS,
 * azure-workload-identity known issues; subject-mismatch: Azure/login#482; no-matching-federated-credential:
 * Azure/azure-workload-identity#340, #977; assertion-expired: risingwavelabs/risingwave#17123;
 * assertion-lifetime-too-long: Azure/azure-sdk-for-python#32124, MicrosoftDocs/azure-docs#86916;
 * oidc-issuer-unreachable: Azure/azure-workload-identity#642.
 */

const FIXTURES: Array<{ source: string; text: string; rule: string; hypothesis: string }> = [
  {
    source: "Azure/azure-workload-identity#616 (msal-go)",
    text: `FromAssertion(): http call(https://login.microsoftonline.com/78f9c33e-5b36-4730-93a8-9416d43ee1b3/oauth2/v2.0/token)(POST) error: reply status code was 400:\n{"error":"invalid_request","error_description":"AADSTS70021: No matching federated identity record found for presented assertion. Assertion Issuer: 'https://kubernetes.default.svc.cluster.local'. Assertion Subject: 'system:serviceaccount:default:workload-identity-sa'. Assertion Audience: 'api://AzureADTokenExchange'. https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation\\r\\nTrace ID: 30b6df93-efd2-459c-ae6a-bad0838f6f00","error_codes":[70021]}`,
    rule: "workload-identity.no-matching-federated-credential",
    hypothesis: "H1",
  },
  {
    source: "Azure/azure-workload-identity#1200",
    text: `{"error":"invalid_client","error_description":"AADSTS700211: No matching federated identity record found for presented assertion issuer 'https://eastus2.oic.prod-aks.azure.com/7aaaa/caaaa/'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.","error_codes":[700211]}`,
    rule: "workload-identity.issuer-mismatch",
    hypothesis: "H1",
  },
  {
    source: "Azure/azure-workload-identity#1200 (az login --federated-token)",
    text: "AADSTS700213: No matching federated identity record found for presented assertion subject 'system:serviceaccount:xxx:yyy'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion.",
    rule: "workload-identity.subject-mismatch",
    hypothesis: "H1",
  },
  {
    source: "MicrosoftDocs/azure-docs#108526 (msal-go)",
    text: `{"error":"unauthorized_client","error_description":"AADSTS700016: Application with identifier '/subscriptions/a73ced30/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uaid' was not found in the directory 'Contoso'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.","error_codes":[700016]}`,
    rule: "workload-identity.application-not-found",
    hypothesis: "H4",
  },
  {
    source: "Azure/azure-workload-identity#693 (Azure.Identity .NET)",
    text: "invalid_client: 700024 - [2023-01-10 14:09:13Z]: AADSTS700024: Client assertion is not within its valid time range. Current time: 2023-01-10T14:09:13.9706149Z, assertion valid from 2023-01-09T13:09:11.0000000Z, expiry time of assertion 2023-01-09T14:09:11.0000000Z.",
    rule: "workload-identity.assertion-expired",
    hypothesis: "H4",
  },
  {
    source: "MicrosoftDocs/azure-docs#116275",
    text: "AADSTS70023: External OIDC Provider token must have a lifetime of less than or equal to 1.01:00:00",
    rule: "workload-identity.assertion-lifetime-too-long",
    hypothesis: "H4",
  },
  {
    source: "Azure/azure-workload-identity#605 (Azure.Identity .NET)",
    text: "ClientAssertionCredential authentication failed: AADSTS90061: Request to External OIDC endpoint failed.\nTrace ID: 86c81de3-efbd-4c0f-854d-cb8f329e5b00",
    rule: "workload-identity.oidc-issuer-unreachable",
    hypothesis: "H5",
  },
  {
    source: "Azure/AKS#4029 (Azure.Identity .NET)",
    text: "ClientAssertionCredential authentication failed: AADSTS501661: Request to External OIDC endpoint failed. Trace ID: 5625b5b1-6f4d-444f-8535-4d6dc5b00500",
    rule: "workload-identity.oidc-issuer-unreachable",
    hypothesis: "H5",
  },
  {
    source: "Azure/azure-workload-identity#1232",
    text: `{"error":"invalid_client","error_description":"AADSTS7000272: The certificate with identifier DFA184AB used to sign the federated credential could not be found in the metadata of identity provider https://oidc.example.com.","error_codes":[7000272]}`,
    rule: "workload-identity.signing-key-unknown",
    hypothesis: "H5",
  },
];

describe("public reports' texts", () => {
  test.each(FIXTURES)("$source → $rule", ({ text, rule, hypothesis }) => {
    const error = Object.assign(new Error(text), { name: "AuthenticationRequiredError" });
    const d = classifyCredentialError(error)!;
    expect(d.rule?.id).toBe(`token-time.${rule}`);
    expect(d.hypothesis).toBe(hypothesis);
  });

  test("70021's quoted issuer/subject/audience fill the federated credential command, validated and quoted", () => {
    const d = classifyCredentialError(new Error(FIXTURES[0]!.text))!;
    expect(d.nextSteps.join("\n")).toContain(
      `--issuer "https://kubernetes.default.svc.cluster.local" --subject "system:serviceaccount:default:workload-identity-sa" --audience "api://AzureADTokenExchange"`,
    );
  });

  test("the command is the platform table's one federated-credential template (AKS workload identity), filled with the claims", () => {
    const template = platformEntry("aks-workload-identity").commands.assignUserIdentity.command;
    const d = classifyCredentialError(new Error(FIXTURES[0]!.text))!;
    const create = d.nextSteps.find((s) => s.includes("federated-credential create"))!;
    const filled = fillCommand(template, {
      federatedCredential: {
        name: "default-workload-identity-sa",
        issuer: "https://kubernetes.default.svc.cluster.local",
        subject: "system:serviceaccount:default:workload-identity-sa",
        audience: "api://AzureADTokenExchange",
      },
    });
    expect(create).toBe(`Create the federated credential this pod's token matches: ${filled}`);
    // Without claims, the same template gives the platform's generic step (the issuer from az aks show).
    expect(fillCommand(template, {})).toContain('--issuer "$(az aks show --name "$CLUSTER_NAME" --resource-group "$RG" --query oidcIssuerProfile.issuerUrl');
    expect(fillCommand(template, {})).toContain('--subject "system:serviceaccount:$NAMESPACE:$SERVICE_ACCOUNT"');
  });

  test("a quoted value that could break out of its quotes keeps its placeholder", () => {
    const d = classifyCredentialError(
      new Error("AADSTS700213: No matching federated identity record found for presented assertion subject 'system:serviceaccount:a$(reboot):b'."),
    )!;
    expect(d.rule?.id).toBe("token-time.workload-identity.subject-mismatch");
    const create = d.nextSteps.find((s) => s.includes("federated-credential create"))!;
    expect(create).toContain('--subject "system:serviceaccount:$NAMESPACE:$SERVICE_ACCOUNT"');
    expect(create).not.toContain("reboot");
  });
});

describe("the context's facts", () => {
  const env = {
    clientId: "0b5f0c5e-8b3c-4a7e-9f3e-2d1c5b6a7e8f",
    tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47",
    tokenFile: "/var/run/secrets/azure/tokens/azure-identity-token",
    onKubernetes: true,
  };

  test("a token file that is not a JWT, missing, or unreadable: H1 each, the file named", () => {
    const error = Object.assign(new Error("invalid_request: 50027 - AADSTS50027: JWT token is invalid or malformed."), { name: "AuthenticationRequiredError" });
    const cases = [
      { problem: "not-a-jwt", rule: "token-file-not-jwt" },
      { problem: "missing", errno: "ENOENT", rule: "token-file-missing" },
      { problem: "unreadable", errno: "EACCES", rule: "token-file-unreadable" },
    ] as const;
    for (const c of cases) {
      const d = classifyCredentialError(error, {
        workloadIdentity: { environment: env, federatedToken: { path: env.tokenFile, problem: c.problem, ...("errno" in c ? { errno: c.errno } : {}) } },
      })!;
      expect(d.rule?.id).toBe(`token-time.workload-identity.${c.rule}`);
      expect(d.hypothesis).toBe("H1");
      expect(d.summary).toContain(env.tokenFile);
    }
  });

  test("hostile input: megabytes of AADSTS-like text, a throwing context, a non-error: a result or undefined, never a throw", () => {
    const huge = `AADSTS700213 ${"AADSTS1234567 ".repeat(200_000)} assertion subject '${"x".repeat(100_000)}'`;
    const started = performance.now();
    expect(classifyCredentialError(new Error(huge))?.hypothesis).toBe("H1");
    expect(performance.now() - started).toBeLessThan(1000);
    const hostile = new Proxy(
      {},
      {
        get: () => {
          throw new Error("trap");
        },
      },
    );
    expect(() =>
      classifyCredentialError(new Error("AADSTS70021: No matching federated identity record found"), { workloadIdentity: hostile } as never),
    ).not.toThrow();
    expect(() => classifyCredentialError(42 as never)).not.toThrow();
  });
});
