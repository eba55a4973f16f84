import { registerSecret } from "../util/redact.js";
import { readProxyEnvironment, type ProxyEnvironment } from "./proxy.js";

/** The managed-identity source MSAL will pick, in MSAL's own order (first match wins). */
export type IdentitySource =
  | "ServiceFabric"
  | "AppService" // also Container Apps and Functions
  | "MachineLearning"
  | "CloudShell"
  | "AzureArc"
  | "DefaultToImds";

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
}

type Env = Record<string, string | undefined>;

/** Reads the identity-related environment. Pure apart from registering secrets for redaction. */
export function readHostEnvironment(env: Env = process.env): HostEnvironment {
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

  let source: IdentitySource;
  let sourceReason: string;
  if (identityEndpointRaw && identityHeader && get("IDENTITY_SERVER_THUMBPRINT")) {
    source = "ServiceFabric";
    sourceReason = "IDENTITY_ENDPOINT, IDENTITY_HEADER and IDENTITY_SERVER_THUMBPRINT are set";
  } else if (identityEndpointRaw && identityHeader) {
    source = "AppService";
    sourceReason = "IDENTITY_ENDPOINT and IDENTITY_HEADER are set (App Service, Functions and Container Apps)";
  } else if (msiEndpointRaw && msiSecret) {
    source = "MachineLearning";
    sourceReason = "MSI_ENDPOINT and MSI_SECRET are set";
  } else if (msiEndpointRaw) {
    source = "CloudShell";
    sourceReason = "MSI_ENDPOINT is set without MSI_SECRET";
  } else if (identityEndpointRaw && get("IMDS_ENDPOINT")) {
    source = "AzureArc";
    sourceReason = "IDENTITY_ENDPOINT and IMDS_ENDPOINT are set";
  } else {
    source = "DefaultToImds";
    sourceReason = identityEndpointRaw
      ? "IDENTITY_ENDPOINT is set but IDENTITY_HEADER is not, so the Azure SDK falls back to IMDS"
      : "no identity variables are set, so the Azure SDK falls back to IMDS (169.254.169.254)";
  }

  const sanitized = sanitizeEndpoint(identityEndpointRaw);
  const result: HostEnvironment = {
    source,
    sourceReason,
    identityEndpointMalformed: identityEndpointRaw !== undefined && sanitized === undefined,
    identityHeaderSet: identityHeader !== undefined,
    msiSecretSet: msiSecret !== undefined,
    containerApp,
    workloadIdentity: Boolean(get("AZURE_FEDERATED_TOKEN_FILE") && get("AZURE_TENANT_ID")),
    expectsIdentityVariables: hostKind !== "unknown",
    hostKind,
  };
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
