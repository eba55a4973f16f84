/**
 * The managed-identity sources as data: how each is detected from the environment (MSAL's order: the first entry
 * whose variables are set wins), which hosting platforms use it, the commands that show it, and the ids of the
 * token-failure table's entries specific to it. Pure data, read by src/environment (detection) and above.
 */

/** The managed-identity source MSAL will pick, in MSAL's own order (first match wins). */
export type IdentitySource =
  | "ServiceFabric"
  | "AppService" // also Container Apps and Functions
  | "MachineLearning"
  | "CloudShell"
  | "AzureArc"
  | "DefaultToImds";

/** A source of managed-identity tokens: MSAL's sources, plus AKS workload identity (checked before them). */
export type IdentitySourceId = IdentitySource | "WorkloadIdentity";

/** How a source or a platform is recognised: every `all` variable set (non-empty), at least one `any` variable when given. */
export interface EnvironmentMatch {
  all: readonly string[];
  any?: readonly string[];
}

export interface IdentitySourceEntry {
  id: IdentitySourceId;
  displayName: string;
  /** The variables that select it. Absent: the fallback (IMDS), chosen when no other source matches. */
  detect?: EnvironmentMatch;
  /** Why this source, for the evidence ("IDENTITY_ENDPOINT and IDENTITY_HEADER are set …"). */
  reason: string;
  /**
   * The platforms (ids of hosting/platforms.ts) that get tokens from this source: the candidates when no platform
   * variable says which one this is.
   */
  platforms: readonly string[];
  /** How to ask it for a token by hand, from inside the host (variables stay variables: no secret is printed). */
  probe?: string;
  /**
   * Ids of the token-failure table's entries specific to this source (catalog/tokenFailures.ts, those whose `sources`
   * name it), in table order; the entries for every source are not listed. Data here because hosting is below
   * catalog; test/catalog/identity-source-fingerprints.test.ts checks that the two agree, both ways.
   */
  fingerprints: readonly string[];
}

/**
 * In MSAL's order, after WorkloadIdentity: @azure/identity's ManagedIdentityCredential exchanges the federated
 * token (AZURE_FEDERATED_TOKEN_FILE, AZURE_TENANT_ID and a client id) before it asks MSAL for a source.
 */
export const IDENTITY_SOURCES: readonly IdentitySourceEntry[] = [
  {
    id: "WorkloadIdentity",
    displayName: "AKS workload identity (federated token exchange with Entra ID)",
    detect: { all: ["AZURE_FEDERATED_TOKEN_FILE", "AZURE_TENANT_ID"] },
    reason: "AZURE_FEDERATED_TOKEN_FILE and AZURE_TENANT_ID are set: the SDK exchanges the projected service-account token with Entra ID",
    platforms: ["aks-workload-identity"],
    probe: 'ls -l "$AZURE_FEDERATED_TOKEN_FILE" && echo "client $AZURE_CLIENT_ID tenant $AZURE_TENANT_ID authority ${AZURE_AUTHORITY_HOST:-default}"',
    fingerprints: [
      "workload-identity.token-file-missing",
      "workload-identity.token-file-missing.text",
      "workload-identity.token-file-unreadable",
      "workload-identity.token-file-empty",
      "workload-identity.token-file-empty.read",
      "workload-identity.token-file-not-jwt",
      "workload-identity.variables-not-injected",
      "workload-identity.issuer-mismatch",
      "workload-identity.subject-mismatch",
      "workload-identity.audience-mismatch",
      "workload-identity.no-matching-federated-credential",
      "workload-identity.no-matching-federated-credential.text",
      "workload-identity.application-not-found",
      "workload-identity.application-not-found.text",
      "workload-identity.wrong-tenant",
      "workload-identity.assertion-expired",
      "workload-identity.assertion-lifetime-too-long",
      "workload-identity.oidc-issuer-unreachable",
      "workload-identity.oidc-issuer-unreachable.text",
      "workload-identity.signing-key-unknown",
    ],
  },
  {
    id: "ServiceFabric",
    displayName: "Service Fabric managed identity token service",
    detect: { all: ["IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT"] },
    reason: "IDENTITY_ENDPOINT, IDENTITY_HEADER and IDENTITY_SERVER_THUMBPRINT are set",
    platforms: [],
    fingerprints: [],
  },
  {
    id: "AppService",
    displayName: "App Service identity endpoint (App Service, Functions, Container Apps)",
    detect: { all: ["IDENTITY_ENDPOINT", "IDENTITY_HEADER"] },
    reason: "IDENTITY_ENDPOINT and IDENTITY_HEADER are set (App Service, Functions and Container Apps)",
    platforms: ["container-apps", "container-apps-job", "app-service", "functions"],
    probe: 'curl -s -H "X-IDENTITY-HEADER: $IDENTITY_HEADER" "$IDENTITY_ENDPOINT?api-version=2019-08-01&resource=https://management.azure.com/" | head -c 300',
    fingerprints: [],
  },
  {
    id: "MachineLearning",
    displayName: "Azure Machine Learning identity endpoint",
    detect: { all: ["MSI_ENDPOINT", "MSI_SECRET"] },
    reason: "MSI_ENDPOINT and MSI_SECRET are set",
    platforms: [],
    fingerprints: [],
  },
  {
    id: "CloudShell",
    displayName: "Cloud Shell (the signed-in user's token, not a managed identity)",
    detect: { all: ["MSI_ENDPOINT"] },
    reason: "MSI_ENDPOINT is set without MSI_SECRET",
    platforms: [],
    probe: "az account get-access-token --resource https://management.azure.com/ --query expiresOn",
    fingerprints: [],
  },
  {
    id: "AzureArc",
    displayName: "Azure Arc hybrid instance metadata service (himds)",
    detect: { all: ["IDENTITY_ENDPOINT", "IMDS_ENDPOINT"] },
    reason: "IDENTITY_ENDPOINT and IMDS_ENDPOINT are set",
    platforms: ["arc"],
    probe: "azcmagent show",
    fingerprints: ["arc-identity-not-confirmed", "arc-user-assigned-unsupported"],
  },
  {
    id: "DefaultToImds",
    displayName: "Instance Metadata Service (IMDS, 169.254.169.254)",
    reason: "no identity variables are set, so the Azure SDK falls back to IMDS (169.254.169.254)",
    platforms: ["vm", "vmss"],
    probe:
      'curl -s -H Metadata:true "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/" | head -c 300',
    fingerprints: ["identity-variables-missing"],
  },
];

/** The entry of a source (every IdentitySourceId has one). */
export function identitySourceEntry(id: IdentitySourceId): IdentitySourceEntry {
  return IDENTITY_SOURCES.find((entry) => entry.id === id) ?? IDENTITY_SOURCES[IDENTITY_SOURCES.length - 1]!;
}

/** True when `match` holds in `env`. */
export function environmentMatches(match: EnvironmentMatch, env: Record<string, string | undefined>): boolean {
  const set = (name: string) => typeof env[name] === "string" && env[name]!.length > 0;
  return match.all.every(set) && (match.any === undefined || match.any.some(set));
}
