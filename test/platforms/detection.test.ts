/**
 * Each hosting platform detected from a realistic environment (the variables the platform sets), its instance
 * names, the identity source, the candidates when the environment cannot tell, and the span attributes.
 */
import { describe, expect, it } from "vitest";
import { readHostEnvironment, platformAttributes } from "../../src/environment/hostEnvironment.js";
import { PLATFORMS } from "../../src/hosting/platforms.js";
import { IDENTITY_SOURCES } from "../../src/hosting/identitySources.js";
import { readWorkloadIdentityEnvironment } from "../../src/environment/workloadIdentityEnv.js";
import { CredentialTelemetry } from "../../src/telemetry/telemetry.js";
import { APP_SERVICE_IDENTITY, PLATFORM_ENVIRONMENTS } from "./platformCommands.js";

const noFiles = () => undefined;

describe("platform detection from the environment", () => {
  it.each([
    [
      "container-apps",
      "azure.container_apps",
      "AppService",
      { app: "ca-orders", revision: "ca-orders--r7x2k9q", replica: "ca-orders--r7x2k9q-5d8f6c7b9-x2x7z" },
    ],
    ["container-apps-job", "azure.container_apps", "AppService", { app: "job-nightly", jobExecution: "job-nightly-8x2kq", replica: "job-nightly-8x2kq-4tz9p" }],
    ["app-service", "azure.app_service", "AppService", { app: "web-orders", instance: PLATFORM_ENVIRONMENTS["app-service"].WEBSITE_INSTANCE_ID }],
    ["functions", "azure.functions", "AppService", { app: "func-orders", instance: PLATFORM_ENVIRONMENTS.functions.WEBSITE_INSTANCE_ID }],
    ["aks-workload-identity", "azure.aks", "DefaultToImds", { pod: "orders-7c9d8f6b5-q2w4e" }],
    ["aks", "azure.aks", "DefaultToImds", { pod: "orders-7c9d8f6b5-q2w4e", namespace: "orders" }],
    ["arc", "azure.arc", "AzureArc", {}],
    ["vm", "azure.vm", "DefaultToImds", {}],
    ["vmss", "azure.vm", "DefaultToImds", {}],
  ] as const)("%s → %s (identity source %s) with its instance names", (key, platform, source, instance) => {
    const env = readHostEnvironment({ ...PLATFORM_ENVIRONMENTS[key] }, noFiles);
    expect(env).toMatchObject({ platform, platformKey: key, source, platformCandidates: [], instance });
    expect(env.platformReason.length).toBeGreaterThan(0);
  });

  it("workload identity is told beside MSAL's source: the federated token file, tenant and client id", () => {
    const env = readHostEnvironment({ ...PLATFORM_ENVIRONMENTS["aks-workload-identity"] }, noFiles);
    expect(env.workloadIdentity).toBe(true);
    expect(readHostEnvironment({ ...PLATFORM_ENVIRONMENTS.aks }, noFiles).workloadIdentity).toBe(false);
  });

  it("AKS: the namespace comes from the service-account file when POD_NAMESPACE is not set (and only then)", () => {
    const read: string[] = [];
    const reader = (path: string) => (read.push(path), "payments\n".trim());
    expect(readHostEnvironment({ ...PLATFORM_ENVIRONMENTS["aks-workload-identity"] }, reader).instance).toEqual({
      pod: "orders-7c9d8f6b5-q2w4e",
      namespace: "payments",
    });
    expect(read).toEqual(["/var/run/secrets/kubernetes.io/serviceaccount/namespace"]);
    read.length = 0;
    expect(readHostEnvironment({ ...PLATFORM_ENVIRONMENTS.aks }, reader).instance.namespace).toBe("orders");
    expect(readHostEnvironment({ ...PLATFORM_ENVIRONMENTS["app-service"] }, reader).instance.namespace).toBeUndefined();
    expect(read).toEqual([]);
  });

  it("Functions is told from App Service by FUNCTIONS_WORKER_RUNTIME or FUNCTIONS_EXTENSION_VERSION beside WEBSITE_SITE_NAME", () => {
    const { FUNCTIONS_WORKER_RUNTIME: _runtime, ...versionOnly } = PLATFORM_ENVIRONMENTS.functions;
    expect(readHostEnvironment(versionOnly, noFiles).platformKey).toBe("functions");
    expect(readHostEnvironment({ ...PLATFORM_ENVIRONMENTS["app-service"] }, noFiles).platformKey).toBe("app-service");
    // The old host kind stays as it was (App Service for both).
    expect(readHostEnvironment({ ...PLATFORM_ENVIRONMENTS.functions }, noFiles).hostKind).toBe("app-service");
  });

  it("IMDS with no platform variable: unknown, a VM or a VMSS (or another host), and it says how to tell it", () => {
    const env = readHostEnvironment({}, noFiles);
    expect(env).toMatchObject({ platform: "unknown", source: "DefaultToImds", platformCandidates: ["vm", "vmss"] });
    expect(env.platformKey).toBeUndefined();
    expect(env.platformReason).toMatch(/Azure virtual machine or Azure virtual machine scale set, or another host \(set DIAGNOSTIC_CREDENTIAL_PLATFORM/);
  });

  it("the identity endpoint with no platform variable: unknown, one of the platforms that use it", () => {
    const env = readHostEnvironment({ ...APP_SERVICE_IDENTITY }, noFiles);
    expect(env).toMatchObject({ platform: "unknown", platformCandidates: ["container-apps-job", "container-apps", "functions", "app-service"] });
  });

  it("an override that names no platform is ignored", () => {
    expect(readHostEnvironment({ DIAGNOSTIC_CREDENTIAL_PLATFORM: "mainframe" }, noFiles).platform).toBe("unknown");
  });

  it("the tables: every platform's sources exist, every source's platforms exist, MSAL's order, a fingerprint slot each", () => {
    const keys = new Set(PLATFORMS.map((p) => p.key));
    const sources = new Set(IDENTITY_SOURCES.map((s) => s.id));
    for (const platform of PLATFORMS) for (const source of platform.sources) expect(sources.has(source), `${platform.key}: ${source}`).toBe(true);
    for (const source of IDENTITY_SOURCES) {
      for (const key of source.platforms) expect(keys.has(key as never), `${source.id}: ${key}`).toBe(true);
      expect(Array.isArray(source.fingerprints)).toBe(true);
    }
    expect(IDENTITY_SOURCES.map((s) => s.id)).toEqual([
      "WorkloadIdentity",
      "ServiceFabric",
      "AppService",
      "MachineLearning",
      "CloudShell",
      "AzureArc",
      "DefaultToImds",
    ]);
  });
});

describe("span attributes of the platform", () => {
  it.each([
    [
      "functions",
      {
        "cloud.provider": "azure",
        "cloud.platform": "azure.functions",
        "faas.name": "func-orders",
        "faas.instance": PLATFORM_ENVIRONMENTS.functions.WEBSITE_INSTANCE_ID,
      },
    ],
    ["aks", { "cloud.provider": "azure", "cloud.platform": "azure.aks", "k8s.pod.name": "orders-7c9d8f6b5-q2w4e", "k8s.namespace.name": "orders" }],
    [
      "app-service",
      {
        "cloud.platform": "azure.app_service",
        "azure.app_service.name": "web-orders",
        "service.instance.id": PLATFORM_ENVIRONMENTS["app-service"].WEBSITE_INSTANCE_ID,
      },
    ],
    [
      "container-apps-job",
      { "cloud.platform": "azure.container_apps", "azure.container_app.name": "job-nightly", "azure.container_app.job.execution": "job-nightly-8x2kq" },
    ],
  ] as const)("%s: cloud.* and the instance names, on every span of the credential", (key, expected) => {
    const attributes = platformAttributes(readHostEnvironment({ ...PLATFORM_ENVIRONMENTS[key] }, noFiles));
    expect(attributes).toMatchObject({ ...expected, "diagnostic_credential.platform": key });
    const telemetry = new CredentialTelemetry({ containerApp: {}, platformAttributes: attributes });
    expect(telemetry.baseAttributes).toMatchObject(expected);
  });

  it("Arc: no cloud.platform (semconv has no value for it); unknown: only diagnostic_credential.platform", () => {
    expect(platformAttributes(readHostEnvironment({ ...PLATFORM_ENVIRONMENTS.arc }, noFiles))).toEqual({
      "diagnostic_credential.platform": "arc",
      "cloud.provider": "azure",
    });
    expect(platformAttributes(readHostEnvironment({}, noFiles))).toEqual({ "diagnostic_credential.platform": "unknown" });
  });
});

describe("workload identity: one reading of its variables", () => {
  it.each([
    ["a pod with workload identity", PLATFORM_ENVIRONMENTS["aks-workload-identity"]],
    ["a pod without it", PLATFORM_ENVIRONMENTS.aks],
    ["the variables without a pod", { AZURE_FEDERATED_TOKEN_FILE: "/t", AZURE_TENANT_ID: "t" }],
    ["a token file without a tenant", { KUBERNETES_SERVICE_HOST: "10.0.0.1", AZURE_FEDERATED_TOKEN_FILE: "/t" }],
    ["Container Apps", PLATFORM_ENVIRONMENTS["container-apps"]],
  ])("%s: the host environment's workload identity, pod and Kubernetes are the workload reading's", (_name, env) => {
    const host = readHostEnvironment(env, noFiles);
    const workload = readWorkloadIdentityEnvironment(env);
    expect(host.workloadIdentity).toBe(workload.configured);
    expect(workload.onKubernetes).toBe(host.platform === "azure.aks");
    if (host.platform === "azure.aks") expect(workload.podName).toBe(host.instance.pod);
  });
});
