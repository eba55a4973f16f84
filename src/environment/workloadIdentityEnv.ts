import { environmentMatches, identitySourceEntry } from "../hosting/identitySources.js";
import { platformEntry } from "../hosting/platforms.js";

/**
 * What the environment says about AKS workload identity (the webhook sets these variables in a labelled pod). The
 * one reading of them: readHostEnvironment's `workloadIdentity` is this reading's `configured`.
 */
export interface WorkloadIdentityEnvironment {
  /** The WorkloadIdentity source's variables are set (hosting/identitySources.ts): @azure/identity exchanges the token. */
  configured?: boolean;
  /** AZURE_CLIENT_ID. */
  clientId?: string;
  /** AZURE_TENANT_ID. */
  tenantId?: string;
  /** AZURE_FEDERATED_TOKEN_FILE: the projected service-account token. */
  tokenFile?: string;
  /** AZURE_AUTHORITY_HOST. */
  authorityHost?: string;
  /** The AKS platform's variable is set (KUBERNETES_SERVICE_HOST, hosting/platforms.ts): a pod. */
  onKubernetes: boolean;
  /** The pod's name, from the AKS platform's pod variables (POD_NAME, else HOSTNAME). */
  podName?: string;
}

/** The variables that hold the pod's name: the AKS platform's `pod` instance name. */
const POD_NAME_VARIABLES = platformEntry("aks-workload-identity").instanceNames.find((name) => name.field === "pod")?.variables ?? ["HOSTNAME"];

/** Reads the workload identity variables (values bounded; none is a secret: the token file's content is never read here). */
export function readWorkloadIdentityEnvironment(env: Record<string, string | undefined> = process.env): WorkloadIdentityEnvironment {
  const get = (name: string) => {
    const value = env[name];
    return typeof value === "string" && value.trim() !== "" ? value.trim().slice(0, 1024) : undefined;
  };
  const out: WorkloadIdentityEnvironment = {
    configured: environmentMatches(identitySourceEntry("WorkloadIdentity").detect!, env),
    onKubernetes: environmentMatches(platformEntry("aks").detect!, env),
  };
  const fields: Array<[keyof Omit<WorkloadIdentityEnvironment, "onKubernetes" | "configured" | "podName">, string]> = [
    ["clientId", "AZURE_CLIENT_ID"],
    ["tenantId", "AZURE_TENANT_ID"],
    ["tokenFile", "AZURE_FEDERATED_TOKEN_FILE"],
    ["authorityHost", "AZURE_AUTHORITY_HOST"],
  ];
  for (const [key, name] of fields) {
    const value = get(name);
    if (value !== undefined) out[key] = value;
  }
  const podName = POD_NAME_VARIABLES.map(get).find((value) => value !== undefined);
  if (podName !== undefined) out.podName = podName;
  return out;
}
