/**
 * Chains: an AggregateAuthenticationError is diagnosed from its `errors[]` — the real DefaultAzureCredential in
 * child processes (its developer credentials fail fast and offline here: no az, azd, pwsh; IMDS is a refused
 * loopback port; a refused proxy catches anything else), and aggregates built by hand for the shapes older versions
 * and other chains produce (the WorkloadIdentityCredential "is unavailable" noise, nesting, a huge aggregate).
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { classifyCredentialError, type Diagnosis } from "../../src/index.js";
import {
  createServiceAccountTokenIssuer,
  startEntraEmulator,
  startIdentityEndpoint,
  unusedPort,
  type EntraEmulator,
  type IdentityEndpointEmulator,
} from "../../src/testing.js";
import { runScenario, SCENARIO_PRELUDE } from "../helpers/childScenario.js";

const CLIENT_ID = randomUUID();
let refusedImds: string;
const closers: Array<EntraEmulator | IdentityEndpointEmulator> = [];

beforeAll(async () => {
  refusedImds = `http://127.0.0.1:${await unusedPort()}`;
});
afterAll(async () => {
  await Promise.all(closers.map((c) => c.close()));
});

interface Outcome {
  error?: { name: string; message: string; entries: number };
  diagnosis?: Diagnosis;
  diagnosed?: Diagnosis;
}

/** DefaultAzureCredential wrapped in DiagnosticCredential; also `diagnose` of a bare DefaultAzureCredential's error. */
const DAC_CODE = `${SCENARIO_PRELUDE}
import { DiagnosticCredential } from "./dist/index.js";
import { DefaultAzureCredential } from "@azure/identity";
const options = { disableInstanceDiscovery: true, ...(process.env.MI_CLIENT_ID ? { managedIdentityClientId: process.env.MI_CLIENT_ID } : {}) };
const wrapped = new DiagnosticCredential({ credential: new DefaultAzureCredential(options), logger: false });
const out = {};
try { await wrapped.getToken("https://vault.azure.net/.default"); out.ok = true; }
catch (e) { out.error = { name: e.name, message: e.message, entries: (e.errors ?? []).length }; out.diagnosis = e.diagnosis; }
try { await new DefaultAzureCredential(options).getToken("https://vault.azure.net/.default"); }
catch (e) { out.diagnosed = wrapped.diagnose(e); }
emit(out);
`;

describe("the real DefaultAzureCredential", () => {
  test("on AKS: diagnosed from the workload identity exchange (AADSTS700213), the other credentials one line each", async () => {
    const cluster = await createServiceAccountTokenIssuer();
    const entra = await startEntraEmulator({
      federatedCredentials: [{ clientId: CLIENT_ID, issuer: cluster.issuer, subject: "system:serviceaccount:default:workload-identity-sa" }],
    });
    closers.push(entra);
    const file = await cluster.writeTokenFile({ namespace: "payments" });
    const result = await runScenario({
      env: {
        ...entra.env,
        AZURE_CLIENT_ID: CLIENT_ID,
        AZURE_FEDERATED_TOKEN_FILE: file,
        KUBERNETES_SERVICE_HOST: "10.0.0.1",
        AZURE_POD_IDENTITY_AUTHORITY_HOST: refusedImds,
      },
      code: DAC_CODE,
      timeoutMs: 40_000,
    });
    const outcome = result.json as Outcome;
    expect(outcome.error?.name, result.stderr.slice(-2000)).toBe("AggregateAuthenticationError");
    for (const d of [outcome.diagnosis!, outcome.diagnosed!]) {
      expect(d).toMatchObject({ hypothesis: "H1", errorCode: "AADSTS700213", rule: { id: "token-time.workload-identity.subject-mismatch" } });
      expect(d.summary).toMatch(/^DefaultAzureCredential: No federated credential/);
      expect(d.evidence[0]).toMatch(/^chain: \d+ credentials failed; diagnosed from /);
      expect(d.evidence.join("\n")).toContain('namespace "payments"');
      // Every other credential: one line each, the developer tools marked as not used here.
      expect(d.evidence.filter((l) => l.startsWith("chain: ")).length).toBeGreaterThanOrEqual(2);
      expect(d.evidence.join("\n")).toMatch(/chain: AzureCliCredential: .*\(not used here\)/);
    }
  }, 60_000);

  test("on Container Apps: diagnosed from the managed identity entry (H1), not from the developer credentials", async () => {
    const endpoint = await startIdentityEndpoint({ fault: { kind: "no-identity" } });
    closers.push(endpoint);
    const result = await runScenario({
      env: { ...endpoint.env, AZURE_POD_IDENTITY_AUTHORITY_HOST: refusedImds, HTTPS_PROXY: "http://127.0.0.1:9", NO_PROXY: "localhost,127.0.0.1" },
      code: DAC_CODE,
      timeoutMs: 40_000,
    });
    const outcome = result.json as Outcome;
    expect(outcome.error?.name, result.stderr.slice(-2000)).toBe("AggregateAuthenticationError");
    const d = outcome.diagnosis!;
    expect(d.hypothesis).toBe("H1");
    expect(d.evidence[0]).toContain("diagnosed from ManagedIdentityCredential");
    expect(d.evidence.join("\n")).not.toMatch(/diagnosed from (AzureCli|AzurePowerShell|AzureDeveloperCli)/);
  }, 60_000);
});

/** An AggregateAuthenticationError as @azure/identity builds it: the message joins "Name: message" per entry. */
function aggregate(errors: unknown[]): Error & { errors: unknown[] } {
  const error = new Error(`ChainedTokenCredential authentication failed.\n${errors.map(String).join("\n")}`) as Error & { errors: unknown[] };
  error.name = "AggregateAuthenticationError";
  error.errors = errors;
  return error;
}
function named(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

// @azure/identity before 4.11 put this in every DefaultAzureCredential failure (azure-sdk-for-js #31080).
const WI_NOISE = named(
  "CredentialUnavailableError",
  'WorkloadIdentityCredential: is unavailable. tenantId, clientId, and federatedTokenFilePath are required parameters. \n      In DefaultAzureCredential and ManagedIdentityCredential, these can be provided as environment variables - \n      "AZURE_TENANT_ID",\n      "AZURE_CLIENT_ID",\n      "AZURE_FEDERATED_TOKEN_FILE". See the troubleshooting guide for more information: https://aka.ms/azsdk/js/identity/workloadidentitycredential/troubleshoot',
);
const CLI_MISSING = named(
  "CredentialUnavailableError",
  "Azure CLI could not be found. Please visit https://aka.ms/azure-cli for installation instructions and then, once installed, authenticate to your Azure account using 'az login'.",
);
const ENV_MISSING = named(
  "CredentialUnavailableError",
  "EnvironmentCredential is unavailable. No underlying credential could be used. To troubleshoot, visit https://aka.ms/azsdk/js/identity/environmentcredential/troubleshoot.",
);

describe("aggregates of every shape", () => {
  test("the WorkloadIdentityCredential noise is never the diagnosis: the managed identity entry is", () => {
    const mi = named("CredentialUnavailableError", "ManagedIdentityCredential: Authentication failed. Message Identity not found");
    const d = classifyCredentialError(aggregate([ENV_MISSING, WI_NOISE, mi, CLI_MISSING]), { credentialName: "DefaultAzureCredential" })!;
    expect(d).toMatchObject({ hypothesis: "H1", rule: { id: "token-time.identity-not-found" } });
    expect(d.evidence[0]).toBe("chain: 4 credentials failed; diagnosed from ManagedIdentityCredential");
    expect(d.evidence.join("\n")).toMatch(/chain: WorkloadIdentityCredential: is unavailable.*\(not used here\)/);
  });

  test("only noise: an unrecognised chain, said so, never a diagnosis of the concatenated string", () => {
    const d = classifyCredentialError(aggregate([ENV_MISSING, WI_NOISE, CLI_MISSING]))!;
    expect(d).toMatchObject({ hypothesis: "unknown", rule: { id: "token-time.chain-unrecognised" } });
    expect(d.evidence[0]).toBe("chain: 3 credentials failed; none says anything about this host");
  });

  test("the JS text of a real report (Azure/azure-workload-identity#1130): AADSTS50166 → the OIDC issuer, H5 cousin", () => {
    const entry = named(
      "AuthenticationRequiredError",
      "invalid_request: 50166 - [2023-10-03 00:44:32Z]: AADSTS50166: Request to External OIDC endpoint failed.\nTrace ID: 4b3babc2-dcd3-4e6f-8fe0-7d1ec15d3600\nCorrelation ID: 09cb4760-c7b8-4567-a79a-83fff7a750ca\nTimestamp: 2023-10-03 00:44:32Z",
    );
    const d = classifyCredentialError(aggregate([ENV_MISSING, entry, entry, CLI_MISSING]))!;
    expect(d).toMatchObject({ hypothesis: "H5", rule: { id: "token-time.workload-identity.oidc-issuer-unreachable" } });
  });

  test("nested chains are flattened; a huge or self-containing aggregate stays bounded and fast", () => {
    const mi = named("CredentialUnavailableError", "ManagedIdentityCredential: Authentication failed. Message Identity not found");
    const inner = aggregate([CLI_MISSING, mi]);
    expect(classifyCredentialError(aggregate([ENV_MISSING, inner]))).toMatchObject({ hypothesis: "H1" });

    const huge = aggregate([]);
    huge.errors = Array.from({ length: 1_000_000 }, (_, i) => ({ name: "CredentialUnavailableError", message: `Azure CLI could not be found (${i})` }));
    huge.errors.splice(3, 0, mi);
    huge.errors.unshift(huge);
    const started = performance.now();
    const d = classifyCredentialError(huge)!;
    expect(performance.now() - started).toBeLessThan(500);
    expect(d.evidence.filter((l) => l.startsWith("chain: "))).toHaveLength(10);
    expect(d.evidence.join("\n")).toContain("… and ");
  });
});
