/**
 * AKS workload identity, the real path: `new DiagnosticCredential()` (the real ManagedIdentityCredential, which on
 * AKS builds a WorkloadIdentityCredential per call) and a wrapped real WorkloadIdentityCredential, against the Entra
 * emulator (HTTPS, own CA, AZURE_AUTHORITY_HOST), each scenario in its own process. The children import the BUILT
 * package (`npm run build` first). Every Entra failure → its hypothesis, the filled command, the mismatch named, the
 * exchange recorded, and never the projected token.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Diagnosis } from "../../src/index.js";
import {
  createServiceAccountTokenIssuer,
  startEntraEmulator,
  startIdentityEndpoint,
  unusedPort,
  type EntraEmulator,
  type EntraEmulatorOptions,
  type IdentityEndpointEmulator,
  type ServiceAccountTokenIssuer,
  type ServiceAccountTokenOptions,
} from "../../src/testing.js";
import { runScenario, SCENARIO_PRELUDE } from "../helpers/childScenario.js";

const CLIENT_ID = randomUUID();
const SUBJECT = "system:serviceaccount:default:workload-identity-sa";
let cluster: ServiceAccountTokenIssuer;
let refusedImds: string;
const emulators: Array<EntraEmulator | IdentityEndpointEmulator> = [];

beforeAll(async () => {
  cluster = await createServiceAccountTokenIssuer();
  refusedImds = `http://127.0.0.1:${await unusedPort()}`;
});
afterAll(async () => {
  await Promise.all(emulators.map((e) => e.close()));
});

interface Outcome {
  ok?: boolean;
  calls?: number;
  error?: { name: string; message: string };
  diagnosis?: Diagnosis;
  output?: string;
}

/** The code a child runs: `credential` is built by `make`, then `calls` getToken calls; prints the outcome. */
function scenarioCode(make: string, calls = 1): string {
  return `${SCENARIO_PRELUDE}
import { DiagnosticCredential } from "./dist/index.js";
import { WorkloadIdentityCredential, DefaultAzureCredential, ManagedIdentityCredential } from "@azure/identity";
let credential;
try { credential = ${make}; } catch (e) {
  const probe = new DiagnosticCredential({ credential: { getToken: async () => null }, logger: false });
  emit({ error: { name: e.name, message: e.message }, diagnosis: probe.diagnose(e) });
  process.exit(0);
}
let out = {};
for (let i = 0; i < ${calls}; i++) {
  try { await credential.getToken("https://vault.azure.net/.default"); out = { ok: true, calls: i + 1 }; }
  catch (e) { out = { error: { name: e.name, message: e.message }, diagnosis: e.diagnosis }; break; }
}
emit(out);
`;
}

async function scenario(options: {
  entra?: EntraEmulatorOptions;
  token?: ServiceAccountTokenOptions;
  /** Write this instead of a minted token; `null`: no file at all. */
  fileContent?: string | null;
  make?: string;
  calls?: number;
  env?: Record<string, string | undefined>;
}): Promise<{ outcome: Outcome; entra: EntraEmulator; file: string; raw: string }> {
  const entra = await startEntraEmulator({ federatedCredentials: [{ clientId: CLIENT_ID, issuer: cluster.issuer, subject: SUBJECT }], ...options.entra });
  emulators.push(entra);
  let file: string;
  if (options.fileContent === undefined) file = await cluster.writeTokenFile(options.token);
  else {
    file = path.join(mkdtempSync(path.join(tmpdir(), "sa-token-")), "azure-identity-token");
    if (options.fileContent !== null) writeFileSync(file, options.fileContent);
  }
  const result = await runScenario({
    env: {
      ...entra.env,
      AZURE_CLIENT_ID: CLIENT_ID,
      AZURE_FEDERATED_TOKEN_FILE: file,
      KUBERNETES_SERVICE_HOST: "10.0.0.1",
      HOSTNAME: "orders-7c9d8-x2x4q",
      AZURE_POD_IDENTITY_AUTHORITY_HOST: refusedImds,
      ...options.env,
    },
    code: scenarioCode(options.make ?? "new DiagnosticCredential({ logger: false })", options.calls),
    timeoutMs: 30_000,
  });
  const outcome = result.json as Outcome | undefined;
  if (outcome === undefined) throw new Error(`scenario failed (exit ${result.exitCode}):\n${result.stderr.slice(-3000)}`);
  return { outcome, entra, file, raw: result.stdout + result.stderr };
}

/** The diagnosis's words never hold the projected token (nor its signature). */
function expectNoToken(raw: string, file: string): void {
  let token: string;
  try {
    token = readFileSync(file, "utf8").trim();
  } catch {
    return;
  }
  if (token.split(".").length !== 3) return;
  expect(raw).not.toContain(token);
  expect(raw).not.toContain(token.split(".")[2]);
}

describe("ManagedIdentityCredential's AKS path (token exchange), wrapped in DiagnosticCredential", () => {
  test("a matching federated credential: tokens, and each call is a new exchange (no cache on this path)", async () => {
    const { outcome, entra } = await scenario({ calls: 3 });
    expect(outcome.ok).toBe(true);
    expect(entra.requests.filter((r) => r.status === 200)).toHaveLength(3);
  });

  test("AADSTS700213 subject: H1, the namespace named, the federated credential command filled, the exchange recorded", async () => {
    const { outcome, file, raw, entra } = await scenario({ token: { namespace: "prod" } });
    expect(outcome.error?.name).toBe("AuthenticationRequiredError");
    const d = outcome.diagnosis!;
    expect(d).toMatchObject({
      hypothesis: "H1",
      code: "IdentityNotAssigned",
      errorCode: "AADSTS700213",
      rule: { id: "token-time.workload-identity.subject-mismatch" },
    });
    expect(d.evidence.join("\n")).toContain('namespace "prod", service account "workload-identity-sa"');
    expect(d.evidence.join("\n")).toMatch(
      new RegExp(`Entra token endpoint: POST https://127\\.0\\.0\\.1:\\d+/${entra.tenantId}/oauth2/v2\\.0/token → HTTP 400 AADSTS700213 in \\d+ ms`),
    );
    expect(d.evidence.join("\n")).toContain(
      `projected token (claims only): iss=${cluster.issuer} sub=system:serviceaccount:prod:workload-identity-sa aud=api://AzureADTokenExchange`,
    );
    expect(d.nextSteps.join("\n")).toContain(
      `az identity federated-credential create --name "prod-workload-identity-sa" --identity-name "$IDENTITY_NAME" --resource-group "$RG" --issuer "${cluster.issuer}" --subject "system:serviceaccount:prod:workload-identity-sa" --audience "api://AzureADTokenExchange"`,
    );
    expect(d.nextSteps.join("\n")).toContain('kubectl get serviceaccount "workload-identity-sa" --namespace "prod"');
    expect(d.checks).toContainEqual(expect.objectContaining({ kind: "federated-credential", verdict: "fail", confirmedBy: "answer" }));
    expectNoToken(raw, file);
  });

  test("AADSTS700211 issuer: the trailing slash named, az aks show for the issuer", async () => {
    const { outcome } = await scenario({
      entra: { federatedCredentials: [{ clientId: CLIENT_ID, issuer: cluster.issuer.replace(/\/$/, ""), subject: SUBJECT }] },
    });
    const d = outcome.diagnosis!;
    expect(d).toMatchObject({ hypothesis: "H1", errorCode: "AADSTS700211", rule: { id: "token-time.workload-identity.issuer-mismatch" } });
    expect(d.evidence.join("\n")).toContain("trailing slash");
    expect(d.nextSteps.join("\n")).toContain('az aks show --name "$CLUSTER_NAME" --resource-group "$RG" --query oidcIssuerProfile.issuerUrl --output tsv');
  });

  test("AADSTS700212 audience: the projected token's audience named", async () => {
    const { outcome } = await scenario({ token: { audience: "api://my-cluster" } });
    const d = outcome.diagnosis!;
    expect(d).toMatchObject({ hypothesis: "H1", errorCode: "AADSTS700212", rule: { id: "token-time.workload-identity.audience-mismatch" } });
    expect(d.evidence.join("\n")).toContain("audience api://my-cluster: the projected token's audience is not api://AzureADTokenExchange");
  });

  test("AADSTS70021 (Entra's older answer): issuer, subject and audience from the answer", async () => {
    const { outcome } = await scenario({ entra: { legacyMismatchCode: true }, token: { serviceAccount: "orders" } });
    const d = outcome.diagnosis!;
    expect(d).toMatchObject({ hypothesis: "H1", errorCode: "AADSTS70021", rule: { id: "token-time.workload-identity.no-matching-federated-credential" } });
    expect(d.summary).toContain("subject system:serviceaccount:default:orders");
  });

  test("AADSTS700016 unknown client id: H4 identity mix-up", async () => {
    const { outcome } = await scenario({ entra: { federatedCredentials: [] } });
    expect(outcome.diagnosis).toMatchObject({
      hypothesis: "H4",
      errorCode: "AADSTS700016",
      rule: { id: "token-time.workload-identity.application-not-found" },
    });
    expect(outcome.diagnosis!.nextSteps.join("\n")).toContain(`az identity list --query "[?clientId=='${CLIENT_ID}']`);
  });

  test("AADSTS50020 (the exchange went to a tenant that does not hold the identity): H4 naming the client id and the tenant", async () => {
    const { outcome, entra, file, raw } = await scenario({ entra: { fault: { aadsts: 50020 } } });
    expect(outcome.error?.name).toBe("AuthenticationRequiredError");
    const d = outcome.diagnosis!;
    expect(d).toMatchObject({
      hypothesis: "H4",
      code: "StaleTokenOrIdentityMixup",
      errorCode: "AADSTS50020",
      rule: { id: "token-time.workload-identity.wrong-tenant" },
    });
    expect(d.summary).toBe(
      `The exchange for ${CLIENT_ID} went to tenant ${entra.tenantId}, which does not hold it (AADSTS50020): wrong AZURE_TENANT_ID or client id`,
    );
    expect(d.evidence.join("\n")).toMatch(
      new RegExp(`Entra token endpoint: POST https://127\\.0\\.0\\.1:\\d+/${entra.tenantId}/oauth2/v2\\.0/token → HTTP 400 AADSTS50020`),
    );
    expect(d.nextSteps.join("\n")).toContain(`az identity list --query "[?clientId=='${CLIENT_ID}']`);
    expect(entra.requests.map((r) => r.aadsts)).toEqual([50020]);
    expectNoToken(raw, file);
  });

  test("AADSTS700024 expired assertion and AADSTS70023 lifetime too long: H4", async () => {
    const [expired, long] = await Promise.all([
      scenario({ token: { issuedAt: Math.floor(Date.now() / 1000) - 7200 } }),
      scenario({ token: { lifetimeSeconds: 48 * 3600 } }),
    ]);
    expect(expired.outcome.diagnosis).toMatchObject({
      hypothesis: "H4",
      errorCode: "AADSTS700024",
      rule: { id: "token-time.workload-identity.assertion-expired" },
    });
    expect(long.outcome.diagnosis).toMatchObject({
      hypothesis: "H4",
      errorCode: "AADSTS70023",
      rule: { id: "token-time.workload-identity.assertion-lifetime-too-long" },
    });
    expect(long.outcome.diagnosis!.summary).toContain("(48 h)");
  });

  test("AADSTS90061 Entra cannot reach the cluster's OIDC issuer: H5 cousin, not the pod's network", async () => {
    const { outcome } = await scenario({ entra: { fault: { aadsts: 90061 } } });
    const d = outcome.diagnosis!;
    expect(d).toMatchObject({
      hypothesis: "H5",
      code: "IdentityEndpointUnreachable",
      errorCode: "AADSTS90061",
      rule: { id: "token-time.workload-identity.oidc-issuer-unreachable" },
    });
    expect(d.summary).toContain("the pod's own network is not the cause");
    expect(d.nextSteps.join("\n")).toContain(`curl --silent "${cluster.issuer}.well-known/openid-configuration"`);
  });

  test("token file missing, empty, not a JWT: H1 with the pod label and service account checks", async () => {
    const [missing, empty, garbage] = await Promise.all([
      scenario({ fileContent: null }),
      scenario({ fileContent: "" }),
      scenario({ fileContent: "not a token" }),
    ]);
    expect(missing.outcome.diagnosis).toMatchObject({ hypothesis: "H1", rule: { id: "token-time.workload-identity.token-file-missing" } });
    expect(missing.outcome.diagnosis!.nextSteps.join("\n")).toContain(`kubectl get pod "orders-7c9d8-x2x4q" --namespace "$NAMESPACE"`);
    expect(empty.outcome.diagnosis).toMatchObject({
      hypothesis: "H1",
      rule: { id: expect.stringMatching(/^token-time\.workload-identity\.token-file-empty/) },
    });
    expect(garbage.outcome.diagnosis).toMatchObject({ hypothesis: "H1", rule: { id: "token-time.workload-identity.token-file-not-jwt" } });
  });
});

describe("the real WorkloadIdentityCredential, wrapped", () => {
  const wrapped = "new DiagnosticCredential({ credential: new WorkloadIdentityCredential({ disableInstanceDiscovery: true }), logger: false })";

  test("AADSTS700213 through WorkloadIdentityCredential: the same diagnosis, named after it", async () => {
    const { outcome } = await scenario({ token: { serviceAccount: "billing" }, make: wrapped });
    expect(outcome.diagnosis).toMatchObject({ hypothesis: "H1", errorCode: "AADSTS700213" });
    expect(outcome.diagnosis!.evidence.join("\n")).toContain('service account "billing"');
  });

  test("variables not injected (the webhook did not mutate the pod): H1 with the label and annotation", async () => {
    const { outcome } = await scenario({
      make: "new WorkloadIdentityCredential()",
      env: { AZURE_CLIENT_ID: undefined, AZURE_FEDERATED_TOKEN_FILE: undefined, AZURE_TENANT_ID: undefined },
    });
    expect(outcome.error?.name).toBe("CredentialUnavailableError");
    expect(outcome.diagnosis).toMatchObject({ hypothesis: "H1", rule: { id: "token-time.workload-identity.variables-not-injected" } });
    expect(outcome.diagnosis!.nextSteps.join("\n")).toContain("azure.workload.identity/use");
    expect(outcome.diagnosis!.nextSteps.join("\n")).toContain("azure.workload.identity/client-id");
  });
});
