/** What the environment says about AKS workload identity (the webhook sets these variables in a labelled pod). */
export interface WorkloadIdentityEnvironment {
  /** AZURE_CLIENT_ID. */
  clientId?: string;
  /** AZURE_TENANT_ID. */
  tenantId?: string;
  /** AZURE_FEDERATED_TOKEN_FILE: the projected service-account token. */
  tokenFile?: string;
  /** AZURE_AUTHORITY_HOST. */
  authorityHost?: string;
  /** KUBERNETES_SERVICE_HOST is set: a pod. */
  onKubernetes: boolean;
  /** HOSTNAME: the pod's name in a pod. */
  podName?: string;
}

/** Reads the workload identity variables (values bounded; none is a secret: the token file's content is never read here). */
export function readWorkloadIdentityEnvironment(env: Record<string, string | undefined> = process.env): WorkloadIdentityEnvironment {
  const get = (name: string) => {
    const value = env[name];
    return typeof value === "string" && value.trim() !== "" ? value.trim().slice(0, 1024) : undefined;
  };
  const out: WorkloadIdentityEnvironment = { onKubernetes: get("KUBERNETES_SERVICE_HOST") !== undefined };
  const fields: Array<[keyof Omit<WorkloadIdentityEnvironment, "onKubernetes">, string]> = [
    ["clientId", "AZURE_CLIENT_ID"],
    ["tenantId", "AZURE_TENANT_ID"],
    ["tokenFile", "AZURE_FEDERATED_TOKEN_FILE"],
    ["authorityHost", "AZURE_AUTHORITY_HOST"],
    ["podName", "HOSTNAME"],
  ];
  for (const [key, name] of fields) {
    const value = get(name);
    if (value !== undefined) out[key] = value;
  }
  return out;
}
