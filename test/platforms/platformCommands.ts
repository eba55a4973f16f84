/** Environments as the platforms set them (names from their docs; values realistic). */
export const APP_SERVICE_IDENTITY = { IDENTITY_ENDPOINT: "http://127.0.0.1:41234/msi/token", IDENTITY_HEADER: "hdr-0123456789abcdef" };

export const PLATFORM_ENVIRONMENTS = {
  "container-apps": {
    ...APP_SERVICE_IDENTITY,
    CONTAINER_APP_NAME: "ca-orders",
    CONTAINER_APP_REVISION: "ca-orders--r7x2k9q",
    CONTAINER_APP_REPLICA_NAME: "ca-orders--r7x2k9q-5d8f6c7b9-x2x7z",
    CONTAINER_APP_HOSTNAME: "ca-orders--r7x2k9q.kindbay-1a2b3c4d.westeurope.azurecontainerapps.io",
  },
  "container-apps-job": {
    ...APP_SERVICE_IDENTITY,
    CONTAINER_APP_JOB_NAME: "job-nightly",
    CONTAINER_APP_JOB_EXECUTION_NAME: "job-nightly-8x2kq",
    CONTAINER_APP_REPLICA_NAME: "job-nightly-8x2kq-4tz9p",
  },
  "app-service": {
    ...APP_SERVICE_IDENTITY,
    WEBSITE_SITE_NAME: "web-orders",
    WEBSITE_INSTANCE_ID: "4a3f9c2e1b0d8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f",
    WEBSITE_HOSTNAME: "web-orders.azurewebsites.net",
  },
  functions: {
    ...APP_SERVICE_IDENTITY,
    WEBSITE_SITE_NAME: "func-orders",
    WEBSITE_INSTANCE_ID: "9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f4a3f9c2e1b0d8a7f6e5d4c3b2a1f0e",
    FUNCTIONS_WORKER_RUNTIME: "node",
    FUNCTIONS_EXTENSION_VERSION: "~4",
  },
  "aks-workload-identity": {
    KUBERNETES_SERVICE_HOST: "10.0.0.1",
    KUBERNETES_SERVICE_PORT: "443",
    HOSTNAME: "orders-7c9d8f6b5-q2w4e",
    AZURE_CLIENT_ID: "11111111-2222-3333-4444-555555555555",
    AZURE_TENANT_ID: "66666666-7777-8888-9999-000000000000",
    AZURE_FEDERATED_TOKEN_FILE: "/var/run/secrets/azure/tokens/azure-identity-token",
    AZURE_AUTHORITY_HOST: "https://login.microsoftonline.com/",
  },
  aks: { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443", POD_NAME: "orders-7c9d8f6b5-q2w4e", POD_NAMESPACE: "orders" },
  arc: { IDENTITY_ENDPOINT: "http://localhost:40342/metadata/identity/oauth2/token", IMDS_ENDPOINT: "http://localhost:40342" },
  vm: { DIAGNOSTIC_CREDENTIAL_PLATFORM: "vm" },
  vmss: { DIAGNOSTIC_CREDENTIAL_PLATFORM: "vmss" },
} as const;

/** What each platform's commands look like, to check a step holds its platform's and no other's. */
export const PLATFORM_COMMANDS = {
  "container-apps": /az containerapp (?!job)/,
  "container-apps-job": /az containerapp job /,
  "app-service": /az webapp /,
  functions: /az functionapp |scm\.azurewebsites\.net/,
  "aks-workload-identity": /kubectl |az identity federated-credential create/,
  aks: /kubectl |az aks /,
  arc: /az connectedmachine |himdsd/,
  vm: /az vm /,
  vmss: /az vmss /,
} as const;

export type PlatformKeyOfTest = keyof typeof PLATFORM_COMMANDS;

/** The other platforms' patterns (the two AKS entries share kubectl: one family). */
export function othersOf(key: PlatformKeyOfTest): Array<[string, RegExp]> {
  const family = (k: string) => (k.startsWith("aks") ? "aks" : k);
  return Object.entries(PLATFORM_COMMANDS).filter(([other]) => family(other) !== family(key));
}
