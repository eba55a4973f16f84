import { readFileSync } from "node:fs";
import { registerSecret } from "../util/redact.js";
import { readProxyEnvironment, type ProxyEnvironment } from "./proxy.js";
import { plainCopy, type PlainShape } from "../util/plainCopy.js";
import { environmentMatches, IDENTITY_SOURCES, identitySourceEntry, type IdentitySource } from "../hosting/identitySources.js";
import {
  KUBERNETES_NAMESPACE_FILE,
  PLATFORM_KEYS,
  PLATFORM_OVERRIDE_VARIABLE,
  PLATFORMS,
  platformEntry,
  type HostingPlatform,
  type InstanceField,
  type PlatformKey,
} from "../hosting/platforms.js";
import { readFunctionsIdentitySettings, type FunctionsIdentitySetting } from "./functionsSettings.js";
import { readWorkloadIdentityEnvironment } from "./workloadIdentityEnv.js";

export type { IdentitySource } from "../hosting/identitySources.js";
export type { HostingPlatform, PlatformKey } from "../hosting/platforms.js";
export type { FunctionsIdentitySetting } from "./functionsSettings.js";

/**
 * The names of the running instance, from the platform's variables; each absent when not set. Which are set depends
 * on the platform: app/revision/replica (Container Apps), app/jobExecution/replica (a Container Apps job),
 * app/instance (App Service: site and WEBSITE_INSTANCE_ID; Functions), pod/namespace (AKS).
 */
export type PlatformInstance = { [field in InstanceField]?: string };

/** The Container Apps variables of the replica, each absent when not set (that is, outside Container Apps). */
export interface ContainerAppContext {
  /** CONTAINER_APP_NAME; for a job, its name when CONTAINER_APP_NAME is not set. */
  name?: string;
  /** CONTAINER_APP_REVISION. */
  revision?: string;
  /** CONTAINER_APP_REPLICA_NAME. */
  replica?: string;
  /** CONTAINER_APP_HOSTNAME. */
  hostname?: string;
  /** CONTAINER_APP_JOB_NAME: set in a Container Apps job. */
  jobName?: string;
  /** CONTAINER_APP_JOB_EXECUTION_NAME. */
  jobExecution?: string;
}

/**
 * What the process environment says about managed identity. Secrets (IDENTITY_HEADER, MSI_SECRET) are never
 * kept: only whether they are set. They are registered for redaction instead.
 */
export interface HostEnvironment {
  /** The managed-identity source MSAL will use here. */
  source: IdentitySource;
  /** Why that source: the variables that decided it. */
  sourceReason: string;
  /** IDENTITY_ENDPOINT / MSI_ENDPOINT without query string; undefined when not set. */
  identityEndpoint?: string;
  /** True when IDENTITY_ENDPOINT is set but is not a valid http(s) URL. */
  identityEndpointMalformed: boolean;
  /** IDENTITY_HEADER is set (its value is never kept). */
  identityHeaderSet: boolean;
  /** MSI_ENDPOINT without query string (Cloud Shell, Azure Machine Learning); absent when not set or not a URL. */
  msiEndpoint?: string;
  /** MSI_SECRET is set (its value is never kept). */
  msiSecretSet: boolean;
  /** AZURE_POD_IDENTITY_AUTHORITY_HOST: replaces the IMDS address 169.254.169.254 when set. */
  imdsHostOverride?: string;
  /** The Container Apps variables; empty outside Container Apps. */
  containerApp: ContainerAppContext;
  /** App Service / Functions site name (WEBSITE_SITE_NAME). */
  appServiceName?: string;
  /** AKS workload identity (token exchange) is configured. */
  workloadIdentity: boolean;
  /** AZURE_CLIENT_ID: read by DefaultAzureCredential, ignored by a standalone ManagedIdentityCredential. */
  azureClientId?: string;
  /** The host is a platform that injects identity variables when an identity is assigned. */
  expectsIdentityVariables: boolean;
  /**
   * The hosting platform, from its variables: CONTAINER_APP_JOB_NAME, CONTAINER_APP_NAME, WEBSITE_SITE_NAME
   * (App Service and Functions), in that order; `unknown` when none is set.
   */
  hostKind: "container-apps" | "container-apps-job" | "app-service" | "unknown";
  /** The HTTP proxy the Azure SDK will send requests through (HTTPS_PROXY/HTTP_PROXY, NO_PROXY); absent when none. */
  proxy?: ProxyEnvironment;
  /**
   * The hosting platform by its OpenTelemetry `cloud.platform` value (`azure.container_apps`, `azure.functions`, …;
   * `azure.arc` for an Arc-enabled server), `unknown` when the environment does not tell (see `platformCandidates`).
   */
  platform: HostingPlatform;
  /** The platform's entry in the platform table (a Container Apps job and a VMSS have their own); absent when unknown. */
  platformKey?: PlatformKey;
  /** Why that platform: the variables that decided, or why none did. */
  platformReason: string;
  /** When the platform is unknown: the platforms it could be (from the identity source), in table order. Else empty. */
  platformCandidates: PlatformKey[];
  /** The running instance's names, from the platform's variables. */
  instance: PlatformInstance;
  /**
   * Azure Functions identity-based connections (FUNCTIONS_WORKER_RUNTIME set): the `<name>__credential`,
   * `__clientId` and `__managedIdentityResourceId` settings, by connection name. Empty elsewhere.
   */
  functionsIdentitySettings: FunctionsIdentitySetting[];
}

/** Reads files the detection may look at (the service-account namespace file); undefined when unreadable. */
export type HostFileReader = (path: string) => string | undefined;

/** Longest namespace file read: a Kubernetes namespace name is at most 63 characters. */
const MAX_NAMESPACE_FILE = 256;

const readSmallFile: HostFileReader = (path) => {
  try {
    const text = readFileSync(path, "utf8");
    return text.length <= MAX_NAMESPACE_FILE ? text.trim() : undefined;
  } catch {
    return undefined;
  }
};

type Env = Record<string, string | undefined>;

/**
 * Reads the identity-related environment. Pure apart from registering secrets for redaction and, in a Kubernetes
 * pod without POD_NAMESPACE, reading the service-account namespace file (`readFile`).
 */
export function readHostEnvironment(env: Env = process.env, readFile: HostFileReader = readSmallFile): HostEnvironment {
  const get = (name: string) => {
    const value = env[name];
    return typeof value === "string" && value.length > 0 ? value : undefined;
  };
  const identityEndpointRaw = get("IDENTITY_ENDPOINT");
  const identityHeader = get("IDENTITY_HEADER");
  const msiEndpointRaw = get("MSI_ENDPOINT");
  const msiSecret = get("MSI_SECRET");
  registerSecret(identityHeader);
  registerSecret(msiSecret);
  registerSecret(get("IDENTITY_SERVER_THUMBPRINT"));

  const containerApp: ContainerAppContext = {};
  const set = (key: keyof ContainerAppContext, name: string) => {
    const value = get(name);
    if (value !== undefined) containerApp[key] = value;
  };
  set("name", "CONTAINER_APP_NAME");
  set("revision", "CONTAINER_APP_REVISION");
  set("replica", "CONTAINER_APP_REPLICA_NAME");
  set("hostname", "CONTAINER_APP_HOSTNAME");
  set("jobName", "CONTAINER_APP_JOB_NAME");
  set("jobExecution", "CONTAINER_APP_JOB_EXECUTION_NAME");
  if (containerApp.name === undefined && containerApp.jobName !== undefined) containerApp.name = containerApp.jobName;

  const appServiceName = get("WEBSITE_SITE_NAME");
  const hostKind: HostEnvironment["hostKind"] = containerApp.jobName
    ? "container-apps-job"
    : containerApp.name
      ? "container-apps"
      : appServiceName
        ? "app-service"
        : "unknown";

  // MSAL's sources in MSAL's order (the table's; WorkloadIdentity is @azure/identity's own, told by `workloadIdentity`,
  // from the one reading of its variables: environment/workloadIdentityEnv.ts).
  const msalSource = IDENTITY_SOURCES.find(
    (entry) => entry.id !== "WorkloadIdentity" && (entry.detect === undefined || environmentMatches(entry.detect, env)),
  )!;
  const source = msalSource.id as IdentitySource;
  const sourceReason =
    source === "DefaultToImds" && identityEndpointRaw
      ? "IDENTITY_ENDPOINT is set but IDENTITY_HEADER is not, so the Azure SDK falls back to IMDS"
      : msalSource.reason;
  const workloadIdentity = readWorkloadIdentityEnvironment(env).configured === true;
  const detected = detectPlatform(env, source, workloadIdentity);
  const instance = readInstance(detected.key, get, readFile);

  const sanitized = sanitizeEndpoint(identityEndpointRaw);
  const result: HostEnvironment = {
    source,
    sourceReason,
    identityEndpointMalformed: identityEndpointRaw !== undefined && sanitized === undefined,
    identityHeaderSet: identityHeader !== undefined,
    msiSecretSet: msiSecret !== undefined,
    containerApp,
    workloadIdentity,
    expectsIdentityVariables: hostKind !== "unknown" || (detected.key !== undefined && platformEntry(detected.key).injectsIdentityVariables),
    hostKind,
    platform: detected.key !== undefined ? platformEntry(detected.key).platform : "unknown",
    platformReason: detected.reason,
    platformCandidates: detected.candidates,
    instance,
    functionsIdentitySettings: get("FUNCTIONS_WORKER_RUNTIME") !== undefined ? readFunctionsIdentitySettings(env) : [],
  };
  if (detected.key !== undefined) result.platformKey = detected.key;
  if (sanitized !== undefined) result.identityEndpoint = sanitized;
  else if (identityEndpointRaw !== undefined) result.identityEndpoint = identityEndpointRaw.slice(0, 200).replace(/\?.*$/, "");
  const msi = sanitizeEndpoint(msiEndpointRaw);
  if (msi !== undefined) result.msiEndpoint = msi;
  const imds = get("AZURE_POD_IDENTITY_AUTHORITY_HOST");
  if (imds !== undefined) result.imdsHostOverride = sanitizeEndpoint(imds) ?? imds.slice(0, 200);
  if (appServiceName !== undefined) result.appServiceName = appServiceName;
  const proxy = readProxyEnvironment(env);
  if (proxy !== undefined) result.proxy = proxy;
  const azureClientId = get("AZURE_CLIENT_ID");
  if (azureClientId !== undefined) result.azureClientId = azureClientId;
  return result;
}

/** An endpoint URL without query or credentials; undefined when it is not an http(s) URL. */
export function sanitizeEndpoint(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const url = new URL(value);
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return undefined;
  }
}

/** The Container Apps context as log/telemetry fields: only what is set. */
export function containerAppFields(env: HostEnvironment): { name?: string; revision?: string; replica?: string } {
  const { name, revision, replica } = env.containerApp;
  const out: { name?: string; revision?: string; replica?: string } = {};
  if (name !== undefined) out.name = name;
  if (revision !== undefined) out.revision = revision;
  if (replica !== undefined) out.replica = replica;
  return out;
}

/**
 * The platform from its variables (the platform table's order), or the one DIAGNOSTIC_CREDENTIAL_PLATFORM names; else
 * unknown, with the candidates the identity source leaves (IMDS with no platform variable: a VM or a VMSS, or
 * another host).
 */
function detectPlatform(env: Env, source: IdentitySource, workloadIdentity: boolean): { key?: PlatformKey; reason: string; candidates: PlatformKey[] } {
  const told = env[PLATFORM_OVERRIDE_VARIABLE];
  if (typeof told === "string" && (PLATFORM_KEYS as readonly string[]).includes(told.trim())) {
    return { key: told.trim() as PlatformKey, reason: `${PLATFORM_OVERRIDE_VARIABLE}=${told.trim()}`, candidates: [] };
  }
  const found = PLATFORMS.find((entry) => entry.detect !== undefined && environmentMatches(entry.detect, env));
  if (found !== undefined) return { key: found.key, reason: found.detectedBy, candidates: [] };
  const sourceEntry = identitySourceEntry(workloadIdentity ? "WorkloadIdentity" : source);
  const candidates = PLATFORM_KEYS.filter((key) => sourceEntry.platforms.includes(key));
  const names = candidates.map((key) => platformEntry(key).displayName);
  const reason =
    candidates.length > 0
      ? `no platform variable is set: with the ${sourceEntry.id} identity source this is ${names.join(" or ")}, or another host (set ${PLATFORM_OVERRIDE_VARIABLE} to say which)`
      : `no platform variable is set and the ${sourceEntry.id} identity source names no platform`;
  return { reason, candidates };
}

/** The instance names the platform's variables give (AKS: the namespace from the service-account file when not set). */
function readInstance(key: PlatformKey | undefined, get: (name: string) => string | undefined, readFile: HostFileReader): PlatformInstance {
  const instance: PlatformInstance = {};
  if (key === undefined) return instance;
  for (const name of platformEntry(key).instanceNames) {
    const value = name.variables.map(get).find((v) => v !== undefined);
    if (value !== undefined) instance[name.field] = value.slice(0, 256);
  }
  if ((key === "aks" || key === "aks-workload-identity") && instance.namespace === undefined) {
    const namespace = readFile(KUBERNETES_NAMESPACE_FILE);
    if (namespace !== undefined && namespace.length > 0) instance.namespace = namespace;
  }
  return instance;
}

/** The evidence line of the platform: `platform: Azure Functions (azure.functions): function app orders, instance 1a2b`. */
export function platformEvidence(env: Pick<HostEnvironment, "platform" | "platformKey" | "platformReason" | "instance">): string {
  const entry = PLATFORMS.find((candidate) => candidate.key === env.platformKey);
  if (entry === undefined) return `platform: unknown (${env.platformReason})`;
  const names = entry.instanceNames.flatMap((name) => (typeof env.instance?.[name.field] === "string" ? [`${name.label} ${env.instance[name.field]}`] : []));
  return `platform: ${entry.displayName} (${entry.platform}; ${env.platformReason})${names.length > 0 ? `: ${names.join(", ")}` : ""}`;
}

/** Platforms whose `cloud.platform` value is OpenTelemetry's (semconv has none for Arc). */
const SEMCONV_PLATFORMS: ReadonlySet<HostingPlatform> = new Set(["azure.container_apps", "azure.app_service", "azure.functions", "azure.vm", "azure.aks"]);

/**
 * The span attributes of the platform: `cloud.provider` and `cloud.platform` (semconv values only), each instance
 * name under its attribute (`faas.instance`, `k8s.pod.name`, `k8s.namespace.name`, …), and
 * `diagnostic_credential.platform` (the table's key, or `unknown`). Empty values are left out.
 */
export function platformAttributes(env: Pick<HostEnvironment, "platform" | "platformKey" | "instance">): Record<string, string> {
  const out: Record<string, string> = {};
  const entry = PLATFORMS.find((candidate) => candidate.key === env.platformKey);
  out["diagnostic_credential.platform"] = entry?.key ?? "unknown";
  if (entry === undefined) return out;
  out["cloud.provider"] = "azure";
  if (SEMCONV_PLATFORMS.has(entry.platform)) out["cloud.platform"] = entry.platform;
  for (const name of entry.instanceNames) {
    const value = env.instance?.[name.field];
    if (typeof value === "string" && value.length > 0) out[name.attribute] = value;
  }
  return out;
}

/** What a classifier reads of a caller's `environment` (the classifiers are public: any object may come in). */
export const HOST_ENVIRONMENT_SHAPE: PlainShape = {
  source: "string",
  sourceReason: "string",
  identityEndpoint: "string",
  identityEndpointMalformed: "boolean",
  identityHeaderSet: "boolean",
  msiEndpoint: "string",
  msiSecretSet: "boolean",
  imdsHostOverride: "string",
  containerApp: { name: "string", revision: "string", replica: "string", hostname: "string", jobName: "string", jobExecution: "string" },
  appServiceName: "string",
  workloadIdentity: "boolean",
  azureClientId: "string",
  expectsIdentityVariables: "boolean",
  hostKind: "string",
  platform: "string",
  platformKey: "string",
  platformReason: "string",
  platformCandidates: ["string"],
  instance: { app: "string", revision: "string", replica: "string", jobExecution: "string", instance: "string", pod: "string", namespace: "string" },
  functionsIdentitySettings: [{ connection: "string", credential: "string", clientId: "string", managedIdentityResourceId: "string" }],
  proxy: { variable: "string", url: "string", noProxy: ["string"] },
};

/**
 * A caller's environment as plain, well-typed values; undefined when it lacks what readHostEnvironment always sets.
 * Lists a caller left out become empty, objects `{}`.
 */
export function copyHostEnvironment(value: unknown): HostEnvironment | undefined {
  const copied = plainCopy(value, HOST_ENVIRONMENT_SHAPE) as Partial<HostEnvironment> | undefined;
  if (copied === undefined || typeof copied.source !== "string" || typeof copied.sourceReason !== "string" || copied.containerApp === undefined)
    return undefined;
  if (typeof copied.hostKind !== "string") return undefined;
  return {
    ...copied,
    platform: copied.platform ?? "unknown",
    platformReason: copied.platformReason ?? "not given",
    platformCandidates: copied.platformCandidates ?? [],
    instance: copied.instance ?? {},
    functionsIdentitySettings: copied.functionsIdentitySettings ?? [],
  } as HostEnvironment;
}
