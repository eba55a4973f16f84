/**
 * The hosting platforms as data: how each is recognised from the environment, the names of the running instance it
 * sets, and its commands (show and assign the identity, restart, run the doctor inside, list the instances).
 * Pure data: src/environment detects with it, src/diagnosis/commands.ts fills its command templates (every value
 * validated and quoted there), docs/platforms/<key>.md is tested against it.
 *
 * Command templates: `{rg}`, `{app}`, `{revision}`, `{instance}`, `{pod}`, `{namespace}` become a validated, double-quoted
 * value or a shell variable (`"$APP_NAME"`); `{appBare}` the validated name unquoted (inside a URL); `{identity}` the user-assigned identity's resource id (or the
 * `az identity list` expression that finds it from a client id); `{doctor}` the doctor's command line, `{doctorArgs}` its words after `npx` (unquoted: they are space-separated arguments);
 * `{federatedCredentialName}`, `{issuer}`, `{subject}`, `{audience}` the federated credential's (see FEDERATE).
 */
import type { EnvironmentMatch, IdentitySourceId } from "./identitySources.js";

/**
 * The platform, by its OpenTelemetry `cloud.platform` value (semantic conventions 1.36+: the dotted spellings; the
 * older `azure_*` ones are deprecated). `azure.arc` is this library's name (semconv has no value for Arc-enabled
 * servers: the `cloud.platform` attribute is not set there); `unknown` when the environment does not tell.
 */
export type HostingPlatform = "azure.container_apps" | "azure.app_service" | "azure.functions" | "azure.vm" | "azure.aks" | "azure.arc" | "unknown";

/** One entry of the table: a platform, or a variant of one with its own commands (a Container Apps job, a VMSS). */
export type PlatformKey = "container-apps" | "container-apps-job" | "app-service" | "functions" | "vm" | "vmss" | "aks-workload-identity" | "aks" | "arc";

/** The names of the running instance a platform's variables give. */
export type InstanceField = "app" | "revision" | "replica" | "jobExecution" | "instance" | "pod" | "namespace";

export interface InstanceName {
  field: InstanceField;
  /** The variables that hold it, first set wins. */
  variables: readonly string[];
  /** The span attribute it goes to (OpenTelemetry semconv where one exists). */
  attribute: string;
  /** Label in the doctor's report and the evidence ("revision", "pod"). */
  label: string;
}

/** A command and the sentence that says why, as a next step prints them (`sentence: command`). */
export interface PlatformStep {
  /** Absent: the step's usual sentence about the platform's `noun` (diagnosis/commands.ts). */
  sentence?: string;
  command: string;
}

export interface PlatformCommands {
  /** Which identities the host has. */
  showIdentity: PlatformStep;
  /** Assign the identity the code asks for. */
  assignSystemIdentity: PlatformStep;
  assignUserIdentity: PlatformStep;
  /** Start fresh instances (H4: drop cached tokens; pick up an identity assigned since they started). */
  restart: PlatformStep;
  /** Run `npx diagnostic-credential doctor` where the app runs. */
  doctorInInstance: PlatformStep;
  /** List the running instances, to compare one with the others. Absent where there is no such list. */
  listInstances?: PlatformStep;
  /** The command that prints the identity's principal (object) id, for `PRINCIPAL_ID="$(…)"`. */
  principalId: string;
  /** The command that lists the outbound IP addresses (for a service's firewall). */
  outboundIps: string;
}

export interface PlatformEntry {
  key: PlatformKey;
  platform: HostingPlatform;
  displayName: string;
  /** What the identity belongs to, in the usual sentences: "web app", "job", "VM". */
  noun: string;
  /** The variables that say the process runs here. Absent: the environment cannot tell (a VM); only named candidates. */
  detect?: EnvironmentMatch;
  /** Why, for the evidence: the variables that decided. */
  detectedBy: string;
  /** The identity source(s) its apps normally use. */
  sources: readonly IdentitySourceId[];
  /** The platform sets IDENTITY_ENDPOINT/IDENTITY_HEADER only when an identity is assigned: their absence is H1. */
  injectsIdentityVariables: boolean;
  instanceNames: readonly InstanceName[];
  commands: PlatformCommands;
}

const RG = "--resource-group {rg}";

const CONTAINER_APP_NAMES: readonly InstanceName[] = [
  { field: "app", variables: ["CONTAINER_APP_NAME"], attribute: "azure.container_app.name", label: "app" },
  { field: "revision", variables: ["CONTAINER_APP_REVISION"], attribute: "azure.container_app.revision", label: "revision" },
  { field: "replica", variables: ["CONTAINER_APP_REPLICA_NAME"], attribute: "azure.container_app.replica", label: "replica" },
];
const POD_NAMES: readonly InstanceName[] = [
  { field: "pod", variables: ["POD_NAME", "HOSTNAME"], attribute: "k8s.pod.name", label: "pod" },
  { field: "namespace", variables: ["POD_NAMESPACE"], attribute: "k8s.namespace.name", label: "namespace" },
];
/**
 * The federated credential that lets the pod's service account get tokens as a user-assigned identity: the one
 * template, used by the platform's steps and by the workload identity diagnosis (which fills `{issuer}`, `{subject}`,
 * `{audience}` and `{federatedCredentialName}` from the projected token's claims; unknown, each is its entry of
 * FEDERATED_CREDENTIAL_DEFAULTS).
 */
const FEDERATE =
  'az identity federated-credential create --name {federatedCredentialName} --identity-name "$IDENTITY_NAME" --resource-group {rg} --issuer {issuer} --subject {subject} --audience {audience}';

/** The cluster's OIDC issuer URL: what a federated credential's issuer must equal, character for character. */
export const AKS_OIDC_ISSUER_COMMAND = 'az aks show --name "$CLUSTER_NAME" --resource-group {rg} --query oidcIssuerProfile.issuerUrl --output tsv';

/** The federated credential template's values when the projected token's claims are not known (templates themselves). */
export const FEDERATED_CREDENTIAL_DEFAULTS = {
  federatedCredentialName: '"$FEDERATED_CREDENTIAL_NAME"',
  issuer: `"$(${AKS_OIDC_ISSUER_COMMAND})"`,
  subject: '"system:serviceaccount:{namespaceBare}:$SERVICE_ACCOUNT"',
  audience: '"api://AzureADTokenExchange"',
} as const;

/** The audience of a projected workload identity token (and of a federated credential) unless one was chosen. */
export const WORKLOAD_IDENTITY_AUDIENCE = "api://AzureADTokenExchange";

const KUBECTL_STEPS = {
  restart: {
    sentence: "Restart the pods (a rollout: new pods get fresh tokens and the identity as configured now)",
    command: 'kubectl rollout restart deployment "$DEPLOYMENT" --namespace {namespace}',
  },
  doctorInInstance: { command: "kubectl exec {pod} --namespace {namespace} -- {doctor}" },
  listInstances: { command: "kubectl get pods --namespace {namespace} --output wide" },
};

/** The identity commands az has for a resource kind (`webapp`, `functionapp`, `vm`, `vmss`): show, assign, restart. */
function identityCommands(cli: string, name: string) {
  const identity = `az ${cli} identity`;
  return {
    principalId: `${identity} show --name ${name} ${RG} --query principalId --output tsv`,
    showIdentity: { command: `${identity} show --name ${name} ${RG}` },
    assignSystemIdentity: { command: `${identity} assign --name ${name} ${RG} --identities "[system]"` },
    assignUserIdentity: { command: `${identity} assign --name ${name} ${RG} --identities {identity}` },
    restart: { command: `az ${cli} restart --name ${name} ${RG}` },
  };
}

/** In detection order: the first entry whose variables are set wins. */
export const PLATFORMS: readonly PlatformEntry[] = [
  {
    key: "container-apps-job",
    platform: "azure.container_apps",
    displayName: "Azure Container Apps job",
    noun: "job",
    detect: { all: ["CONTAINER_APP_JOB_NAME"] },
    detectedBy: "CONTAINER_APP_JOB_NAME is set",
    sources: ["AppService"],
    injectsIdentityVariables: true,
    instanceNames: [
      { field: "app", variables: ["CONTAINER_APP_JOB_NAME"], attribute: "azure.container_app.name", label: "job" },
      { field: "jobExecution", variables: ["CONTAINER_APP_JOB_EXECUTION_NAME"], attribute: "azure.container_app.job.execution", label: "execution" },
      { field: "replica", variables: ["CONTAINER_APP_REPLICA_NAME"], attribute: "azure.container_app.replica", label: "replica" },
    ],
    commands: {
      principalId: "az containerapp job show --name {app} --resource-group {rg} --query identity.principalId --output tsv",
      outboundIps: 'az containerapp env show --name "$ENVIRONMENT_NAME" --resource-group {rg} --query properties.staticIp',
      showIdentity: { sentence: "See which managed identities the job has", command: `az containerapp job identity show --name {app} ${RG}` },
      assignSystemIdentity: {
        sentence: "Assign a system-assigned identity to the job",
        command: `az containerapp job identity assign --name {app} ${RG} --system-assigned`,
      },
      assignUserIdentity: {
        sentence: "Attach the user-assigned identity the code asks for to the job",
        command: `az containerapp job identity assign --name {app} ${RG} --user-assigned {identity}`,
      },
      restart: {
        sentence: "Start a new execution (a running execution keeps the environment and tokens it started with)",
        command: `az containerapp job start --name {app} ${RG}`,
      },
      doctorInInstance: {
        sentence: "Run the doctor as an execution of the job",
        command: `az containerapp job start --name {app} ${RG} --command "npx" --args {doctorArgs}`,
      },
      listInstances: {
        sentence: "List the executions, to compare this one with the others",
        command: `az containerapp job execution list --name {app} ${RG} --output table`,
      },
    },
  },
  {
    key: "container-apps",
    platform: "azure.container_apps",
    displayName: "Azure Container Apps",
    noun: "app",
    detect: { all: ["CONTAINER_APP_NAME"] },
    detectedBy: "CONTAINER_APP_NAME is set",
    sources: ["AppService"],
    injectsIdentityVariables: true,
    instanceNames: CONTAINER_APP_NAMES,
    commands: {
      principalId: "az containerapp show --name {app} --resource-group {rg} --query identity.principalId --output tsv",
      outboundIps: "az containerapp show --name {app} --resource-group {rg} --query properties.outboundIpAddresses",
      showIdentity: {
        sentence: "See which managed identities the app has (the system-assigned principalId, the user-assigned identities and their client ids)",
        command: `az containerapp show --name {app} ${RG} --query identity --output json`,
      },
      assignSystemIdentity: {
        sentence: "Assign a system-assigned identity to the app",
        command: `az containerapp identity assign --name {app} ${RG} --system-assigned`,
      },
      assignUserIdentity: {
        sentence: "Attach the user-assigned identity the code asks for to the app",
        command: `az containerapp identity assign --name {app} ${RG} --user-assigned {identity}`,
      },
      restart: {
        sentence:
          "Restart the revision so its replicas drop the cached token and request a new one (an identity added after the revision was created needs a new revision)",
        command: `az containerapp revision restart --name {app} ${RG} --revision {revision}`,
      },
      doctorInInstance: {
        sentence: "Check from inside the container (environment, identity endpoint, a token request, as the app sees them)",
        command: `az containerapp exec --name {app} ${RG} --command "{doctor}"`,
      },
      listInstances: {
        sentence: "List the replicas, to compare this one with the others",
        command: `az containerapp replica list --name {app} ${RG} --revision {revision} --output table`,
      },
    },
  },
  {
    key: "functions",
    platform: "azure.functions",
    displayName: "Azure Functions",
    noun: "function app",
    detect: { all: ["WEBSITE_SITE_NAME"], any: ["FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"] },
    detectedBy: "WEBSITE_SITE_NAME with FUNCTIONS_WORKER_RUNTIME or FUNCTIONS_EXTENSION_VERSION is set",
    sources: ["AppService"],
    injectsIdentityVariables: true,
    instanceNames: [
      { field: "app", variables: ["WEBSITE_SITE_NAME"], attribute: "faas.name", label: "function app" },
      { field: "instance", variables: ["WEBSITE_INSTANCE_ID"], attribute: "faas.instance", label: "instance" },
    ],
    commands: {
      ...identityCommands("functionapp", "{app}"),
      outboundIps: "az functionapp show --name {app} --resource-group {rg} --query possibleOutboundIpAddresses --output tsv",
      doctorInInstance: {
        sentence: "Check from inside the app: run the doctor in its console (Kudu)",
        command: "https://{appBare}.scm.azurewebsites.net/DebugConsole, then: {doctor}",
      },
      listInstances: {
        command: `az rest --method get --url "https://management.azure.com/subscriptions/$SUBSCRIPTION_ID/resourceGroups/$RG/providers/Microsoft.Web/sites/{appBare}/instances?api-version=2023-12-01"`,
      },
    },
  },
  {
    key: "app-service",
    platform: "azure.app_service",
    displayName: "Azure App Service",
    noun: "web app",
    detect: { all: ["WEBSITE_SITE_NAME"] },
    detectedBy: "WEBSITE_SITE_NAME is set (without the Functions variables)",
    sources: ["AppService"],
    injectsIdentityVariables: true,
    instanceNames: [
      { field: "app", variables: ["WEBSITE_SITE_NAME"], attribute: "azure.app_service.name", label: "site" },
      { field: "instance", variables: ["WEBSITE_INSTANCE_ID"], attribute: "service.instance.id", label: "instance" },
    ],
    commands: {
      ...identityCommands("webapp", "{app}"),
      outboundIps: "az webapp show --name {app} --resource-group {rg} --query possibleOutboundIpAddresses --output tsv",
      doctorInInstance: {
        sentence: "Check from inside the instance: run npx diagnostic-credential doctor in an SSH session",
        command: `az webapp ssh --name {app} ${RG} --instance {instance}`,
      },
      listInstances: { command: `az webapp list-instances --name {app} ${RG} --output table` },
    },
  },
  {
    key: "aks-workload-identity",
    platform: "azure.aks",
    displayName: "Azure Kubernetes Service, workload identity",
    noun: "deployment",
    detect: { all: ["KUBERNETES_SERVICE_HOST", "AZURE_FEDERATED_TOKEN_FILE"] },
    detectedBy: "KUBERNETES_SERVICE_HOST and AZURE_FEDERATED_TOKEN_FILE are set",
    sources: ["WorkloadIdentity"],
    injectsIdentityVariables: false,
    instanceNames: POD_NAMES,
    commands: {
      principalId: 'az identity show --name "$IDENTITY_NAME" --resource-group {rg} --query principalId --output tsv',
      outboundIps: 'az aks show --name "$CLUSTER_NAME" --resource-group {rg} --query networkProfile.loadBalancerProfile.effectiveOutboundIPs',
      showIdentity: {
        sentence:
          "See which identity the pod's service account names (annotation azure.workload.identity/client-id; the pod needs the label azure.workload.identity/use=true)",
        command: 'kubectl get serviceaccount "$SERVICE_ACCOUNT" --namespace {namespace} --output yaml',
      },
      assignSystemIdentity: {
        sentence: "Federate a user-assigned identity with the pod's service account (workload identity has no system-assigned identity)",
        command: FEDERATE,
      },
      assignUserIdentity: {
        sentence: "Federate the user-assigned identity the code asks for with the pod's service account",
        command: FEDERATE,
      },
      ...KUBECTL_STEPS,
    },
  },
  {
    key: "aks",
    platform: "azure.aks",
    displayName: "Azure Kubernetes Service, pod or node identity (IMDS)",
    noun: "deployment",
    detect: { all: ["KUBERNETES_SERVICE_HOST"] },
    detectedBy: "KUBERNETES_SERVICE_HOST is set without AZURE_FEDERATED_TOKEN_FILE (IMDS: pod identity or the node's kubelet identity)",
    sources: ["DefaultToImds"],
    injectsIdentityVariables: false,
    instanceNames: POD_NAMES,
    commands: {
      principalId: 'az aks show --name "$CLUSTER_NAME" --resource-group {rg} --query identityProfile.kubeletidentity.objectId --output tsv',
      outboundIps: 'az aks show --name "$CLUSTER_NAME" --resource-group {rg} --query networkProfile.loadBalancerProfile.effectiveOutboundIPs',
      showIdentity: {
        sentence: "See the cluster's identities (through IMDS a pod gets the node's kubelet identity, or its pod identity when pod identity is installed)",
        command:
          'az aks show --name "$CLUSTER_NAME" --resource-group {rg} --query "{kubelet: identityProfile.kubeletidentity, oidcIssuer: oidcIssuerProfile.issuerUrl}"',
      },
      assignSystemIdentity: {
        sentence: "Use workload identity (pod identity is deprecated): enable it on the cluster, then federate an identity with the pod's service account",
        command: 'az aks update --name "$CLUSTER_NAME" --resource-group {rg} --enable-oidc-issuer --enable-workload-identity',
      },
      assignUserIdentity: {
        sentence:
          "Use workload identity for the identity the code asks for: enable it on the cluster, then federate that identity with the pod's service account",
        command: 'az aks update --name "$CLUSTER_NAME" --resource-group {rg} --enable-oidc-issuer --enable-workload-identity',
      },
      ...KUBECTL_STEPS,
    },
  },
  {
    key: "arc",
    platform: "azure.arc",
    displayName: "Azure Arc-enabled server",
    noun: "machine",
    detect: { all: ["IDENTITY_ENDPOINT", "IMDS_ENDPOINT"] },
    detectedBy: "IDENTITY_ENDPOINT and IMDS_ENDPOINT are set (the Arc agent)",
    sources: ["AzureArc"],
    injectsIdentityVariables: false,
    instanceNames: [],
    commands: {
      principalId: 'az connectedmachine show --name "$MACHINE_NAME" --resource-group {rg} --query identity.principalId --output tsv',
      outboundIps: "curl -s https://api.ipify.org (run on the machine: its public egress address)",
      showIdentity: {
        sentence: "See the machine's identity (Arc-enabled servers have one system-assigned identity)",
        command: 'az connectedmachine show --name "$MACHINE_NAME" --resource-group {rg} --query identity',
      },
      assignSystemIdentity: {
        sentence: "The identity comes with the machine's connection: check the agent's status (reconnect with azcmagent connect when it is disconnected)",
        command: 'az connectedmachine show --name "$MACHINE_NAME" --resource-group {rg} --query "{status: status, identity: identity}"',
      },
      assignUserIdentity: {
        sentence: "Arc-enabled servers have only their system-assigned identity: select none in code, or grant the roles to the machine's identity",
        command: 'az connectedmachine show --name "$MACHINE_NAME" --resource-group {rg} --query identity.principalId --output tsv',
      },
      restart: { sentence: "Restart the Arc agent's identity service on the machine", command: "sudo systemctl restart himdsd" },
      doctorInInstance: {
        command:
          'az connectedmachine run-command create --machine-name "$MACHINE_NAME" --resource-group {rg} --name diagnostic-credential-doctor --script "{doctor}"',
      },
    },
  },
  {
    key: "vm",
    platform: "azure.vm",
    displayName: "Azure virtual machine",
    noun: "VM",
    detectedBy: "named by DIAGNOSTIC_CREDENTIAL_PLATFORM (a VM's environment does not say)",
    sources: ["DefaultToImds"],
    injectsIdentityVariables: false,
    instanceNames: [],
    commands: {
      ...identityCommands("vm", '"$VM_NAME"'),
      outboundIps: 'az vm list-ip-addresses --name "$VM_NAME" --resource-group {rg} --output table',
      doctorInInstance: {
        command: 'az vm run-command invoke --name "$VM_NAME" --resource-group {rg} --command-id RunShellScript --scripts "{doctor}"',
      },
    },
  },
  {
    key: "vmss",
    platform: "azure.vm",
    displayName: "Azure virtual machine scale set",
    noun: "scale set",
    detectedBy: "named by DIAGNOSTIC_CREDENTIAL_PLATFORM (a VMSS instance's environment does not say)",
    sources: ["DefaultToImds"],
    injectsIdentityVariables: false,
    instanceNames: [],
    commands: {
      ...identityCommands("vmss", '"$VMSS_NAME"'),
      outboundIps: 'az vmss list-instance-public-ips --name "$VMSS_NAME" --resource-group {rg} --output table',
      restart: { command: 'az vmss restart --name "$VMSS_NAME" --resource-group {rg} --instance-ids "$INSTANCE_ID"' },
      doctorInInstance: {
        command:
          'az vmss run-command invoke --name "$VMSS_NAME" --resource-group {rg} --instance-id "$INSTANCE_ID" --command-id RunShellScript --scripts "{doctor}"',
      },
      listInstances: { command: 'az vmss list-instances --name "$VMSS_NAME" --resource-group {rg} --output table' },
    },
  },
];

/** The variable that names the platform where the environment cannot (a VM): a key of {@link PLATFORMS}. */
export const PLATFORM_OVERRIDE_VARIABLE = "DIAGNOSTIC_CREDENTIAL_PLATFORM";

/** The entry of a key. */
export function platformEntry(key: PlatformKey): PlatformEntry {
  return PLATFORMS.find((entry) => entry.key === key)!;
}

/** Every key, in table order: the candidates when nothing is known. */
export const PLATFORM_KEYS: readonly PlatformKey[] = PLATFORMS.map((entry) => entry.key);

/** The service-account namespace file of a Kubernetes pod: read (bounded) when POD_NAMESPACE is not set. */
export const KUBERNETES_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
