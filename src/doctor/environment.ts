/** The environment section of the report: what the process environment says about managed identity, with hints. */
import type { ConfiguredIdentity } from "../classify/credentialError.js";
import { redact } from "../util/redact.js";
import type { HostEnvironment } from "../environment/hostEnvironment.js";
import type { SmokeTestEnvironment } from "./types.js";
import { platformEntry } from "../hosting/platforms.js";
import { functionsSelectionConflicts, functionsSettingsEvidence } from "../environment/functionsSettings.js";

/** The host environment (as the Azure SDK reads it) plus the identity asked for, redacted, with notes worth reading first. */
export function describeEnvironment(env: HostEnvironment, configured: ConfiguredIdentity): SmokeTestEnvironment {
  const out: SmokeTestEnvironment = {
    ...env,
    containerApp: { ...env.containerApp },
    configuredIdentity: { ...configured },
    nodeVersion: process.version,
    notes: [],
  };
  // Endpoint URLs are already sanitised (no query); redaction is the last guard before a report leaves.
  if (env.identityEndpoint !== undefined) out.identityEndpoint = redact(env.identityEndpoint);
  if (env.msiEndpoint !== undefined) out.msiEndpoint = redact(env.msiEndpoint);
  if (env.imdsHostOverride !== undefined) out.imdsHostOverride = redact(env.imdsHostOverride);

  const selected = configured.clientId ?? configured.resourceId ?? configured.objectId;
  if (env.azureClientId !== undefined && selected === undefined) {
    out.notes.push(
      `AZURE_CLIENT_ID=${env.azureClientId} is set: DefaultAzureCredential uses that user-assigned identity, a standalone ManagedIdentityCredential does not (this test used the system-assigned identity; pass the client id to test that one)`,
    );
  } else if (env.azureClientId !== undefined && configured.clientId !== undefined && configured.clientId.toLowerCase() !== env.azureClientId.toLowerCase()) {
    out.notes.push(
      `AZURE_CLIENT_ID=${env.azureClientId} differs from the client id tested (${configured.clientId}): DefaultAzureCredential would use AZURE_CLIENT_ID`,
    );
  }
  const entry = env.platformKey !== undefined ? platformEntry(env.platformKey) : undefined;
  out.instance = { ...env.instance };
  out.platformCandidates = [...env.platformCandidates];
  out.functionsIdentitySettings = env.functionsIdentitySettings.map((setting) => ({ ...setting }));
  if (entry?.injectsIdentityVariables === true && env.identityEndpoint === undefined) {
    out.notes.push(
      `${entry.displayName.replace(/^Azure /, "")} sets IDENTITY_ENDPOINT and IDENTITY_HEADER only when a managed identity is assigned to the app: none is set here`,
    );
  }
  if (entry === undefined) out.notes.push(`Hosting platform unknown: ${env.platformReason}`);
  out.notes.push(...functionsSettingsEvidence(env.functionsIdentitySettings));
  for (const conflict of functionsSelectionConflicts(env.functionsIdentitySettings, configured)) {
    out.notes.push(
      `H4 identity mix-up: Functions connection ${conflict.connection} selects ${conflict.setting} (${conflict.settingName}) but this test used ${conflict.credential}`,
    );
  }
  if (env.identityEndpoint !== undefined && !env.identityHeaderSet && env.source === "DefaultToImds") {
    out.notes.push("IDENTITY_ENDPOINT is set without IDENTITY_HEADER: the Azure SDK ignores it and falls back to IMDS");
  }
  if (env.identityEndpointMalformed) out.notes.push("IDENTITY_ENDPOINT is not a valid http(s) URL");
  if (env.workloadIdentity)
    out.notes.push("AKS workload identity is configured (AZURE_FEDERATED_TOKEN_FILE, AZURE_TENANT_ID): the SDK exchanges the federated token with Entra ID");
  return out;
}
