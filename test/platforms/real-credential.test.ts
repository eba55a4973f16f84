/**
 * For each platform, a real ManagedIdentityCredential failure (its own process, against the identity emulator with
 * no identity assigned, or a refused loopback port where the emulator has no such source) whose diagnosis' next
 * steps carry only that platform's commands; the Diagnosis and the log line carry the platform and its instance.
 */
import { describe, expect, it } from "vitest";
import { runScenario, SCENARIO_PRELUDE } from "../helpers/childScenario.js";
import { PLATFORM_COMMANDS, PLATFORM_ENVIRONMENTS, othersOf, type PlatformKeyOfTest } from "./platformCommands.js";
import type { Diagnosis, DiagnosisLogEntry } from "../../src/index.js";

/** A loopback port nothing listens on (IMDS and Arc fallbacks in these scenarios must never leave the machine). */
const REFUSED = "http://127.0.0.1:9";
const CA_VARIABLES = ["CONTAINER_APP_NAME", "CONTAINER_APP_REVISION", "CONTAINER_APP_REPLICA_NAME", "CONTAINER_APP_HOSTNAME", "CONTAINER_APP_ENV_DNS_SUFFIX"];

interface Outcome {
  diagnosis?: Diagnosis;
  logs: DiagnosisLogEntry[];
  error?: { name: string };
}

/**
 * `shape`: the emulator's endpoint shape (its env is used, without the Container Apps variables unless `keepApp`);
 * none: no emulator, only `env`.
 */
async function failOn(env: Record<string, string>, shape?: "container-apps" | "imds", keepApp = false): Promise<Outcome> {
  const code = `
${SCENARIO_PRELUDE}
import { DiagnosticCredential } from "diagnostic-credential";
import { startIdentityEndpoint } from "diagnostic-credential/testing";
const shape = ${JSON.stringify(shape ?? null)};
const emulator = shape ? await startIdentityEndpoint({ shape, systemAssigned: false }) : undefined;
if (emulator) {
  const env = { ...emulator.env };
  if (!${keepApp}) for (const name of ${JSON.stringify(CA_VARIABLES)}) delete env[name];
  Object.assign(process.env, env);
}
Object.assign(process.env, ${JSON.stringify(env)});
const logs = [];
const credential = new DiagnosticCredential({ retryOptions: { maxRetries: 0 }, tokenTimeoutMs: 8000, logger: (entry) => logs.push(entry) });
let out;
try {
  await credential.getToken("https://vault.azure.net/.default");
  out = { ok: true, logs };
} catch (error) {
  out = { error: describeError(error), diagnosis: error.diagnosis, logs };
}
await emulator?.close();
emit(out);
`;
  const result = await runScenario({ env: { AZURE_POD_IDENTITY_AUTHORITY_HOST: REFUSED }, code, timeoutMs: 30_000 });
  expect(result.json, result.stderr).toBeDefined();
  return result.json as Outcome;
}

function expectOnly(key: PlatformKeyOfTest, outcome: Outcome): void {
  expect(outcome.diagnosis, JSON.stringify(outcome)).toBeDefined();
  const steps = outcome.diagnosis!.nextSteps.join("\n");
  expect(steps).toMatch(PLATFORM_COMMANDS[key]);
  for (const [other, pattern] of othersOf(key)) expect(steps, `${key}: ${other}'s command in ${steps}`).not.toMatch(pattern);
  expect(steps).not.toMatch(/platform is unknown/);
  expect(outcome.diagnosis!.platform?.key).toBe(key);
  expect(outcome.logs[0]?.platform).toEqual(outcome.diagnosis!.platform);
}

const { IDENTITY_ENDPOINT: _e, IDENTITY_HEADER: _h, ...appServiceNames } = PLATFORM_ENVIRONMENTS["app-service"];
const { IDENTITY_ENDPOINT: _e2, IDENTITY_HEADER: _h2, ...functionsNames } = PLATFORM_ENVIRONMENTS.functions;
const { IDENTITY_ENDPOINT: _e3, IDENTITY_HEADER: _h3, ...jobNames } = PLATFORM_ENVIRONMENTS["container-apps-job"];

describe.concurrent("a real ManagedIdentityCredential failure on each platform: its commands only", () => {
  it("Container Apps (the emulator's app, no identity)", async () => {
    const outcome = await failOn({}, "container-apps", true);
    expectOnly("container-apps", outcome);
    expect(outcome.diagnosis!.platform).toMatchObject({ name: "azure.container_apps", instance: { app: expect.any(String), revision: expect.any(String) } });
  });

  it("Container Apps job", async () => {
    const outcome = await failOn(jobNames, "container-apps");
    expectOnly("container-apps-job", outcome);
    expect(outcome.diagnosis!.platform).toMatchObject({ name: "azure.container_apps", instance: { app: "job-nightly", jobExecution: "job-nightly-8x2kq" } });
  });

  it("App Service", async () => {
    const outcome = await failOn(appServiceNames, "container-apps");
    expectOnly("app-service", outcome);
    expect(outcome.diagnosis!.platform).toMatchObject({ name: "azure.app_service", instance: { app: "web-orders" } });
  });

  it("Functions", async () => {
    const outcome = await failOn(functionsNames, "container-apps");
    expectOnly("functions", outcome);
    expect(outcome.logs[0]!.platform).toMatchObject({
      name: "azure.functions",
      key: "functions",
      instance: { app: "func-orders", instance: functionsNames.WEBSITE_INSTANCE_ID },
    });
  });

  it("a VM (named by DIAGNOSTIC_CREDENTIAL_PLATFORM), IMDS without identity", async () => {
    expectOnly("vm", await failOn({ ...PLATFORM_ENVIRONMENTS.vm }, "imds"));
  });

  it("a VMSS (named), IMDS without identity", async () => {
    expectOnly("vmss", await failOn({ ...PLATFORM_ENVIRONMENTS.vmss }, "imds"));
  });

  it("AKS with pod or node identity (IMDS)", async () => {
    const outcome = await failOn({ ...PLATFORM_ENVIRONMENTS.aks }, "imds");
    expectOnly("aks", outcome);
    expect(outcome.diagnosis!.platform).toMatchObject({ name: "azure.aks", instance: { pod: "orders-7c9d8f6b5-q2w4e", namespace: "orders" } });
  });

  it("Arc (its identity endpoint refuses the connection)", async () => {
    expectOnly("arc", await failOn({ IDENTITY_ENDPOINT: `${REFUSED}/metadata/identity/oauth2/token`, IMDS_ENDPOINT: REFUSED }));
  });

  it("unknown (IMDS, no platform variable): said so, the VM's and the VMSS's commands, nothing else", async () => {
    const outcome = await failOn({}, "imds");
    const steps = outcome.diagnosis!.nextSteps.join("\n");
    expect(steps).toMatch(/the hosting platform is unknown/);
    expect(steps).toMatch(/on Azure virtual machine: az vm .* \| on Azure virtual machine scale set: az vmss /);
    expect(steps).not.toMatch(/az containerapp|az webapp|az functionapp|kubectl|connectedmachine/);
    expect(outcome.diagnosis!.platform).toEqual({ name: "unknown", candidates: ["vm", "vmss"], instance: {} });
    expect(outcome.logs[0]!.platform).toEqual(outcome.diagnosis!.platform);
  });

  it("unknown (the identity endpoint, no platform variable): the four platforms that use it, named", async () => {
    const steps = (await failOn({}, "container-apps")).diagnosis!.nextSteps.join("\n");
    expect(steps).toMatch(/on Azure Container Apps job: .* \| on Azure Container Apps: .* \| on Azure Functions: .* \| on Azure App Service: /);
    expect(steps).not.toMatch(/az vm |kubectl|connectedmachine/);
  });
});
