/**
 * HTTPS emulators of the Azure services whose managed-identity failures diagnostic-credential explains: each checks
 * the bearer token (signature, audience, tenant, lifetime), a live role-assignment table and optional network rules,
 * and answers every failure with the real service's status, headers and body shape (../shared/research/service-errors.md).
 *
 * ## Pointing the real SDK clients at an emulator
 *
 * Preferred: keep the real host name and pass the emulator's `httpClient` (or, for several emulators, the one from
 * `startServiceEmulators`). The request URL stays `https://myvault.vault.azure.net/...`, so pipeline policies, error
 * messages and diagnoses see the real host; the client connects to 127.0.0.1:<port>, with TLS SNI and the certificate
 * check done for the real name (the server certificate lists it) against the emulator CA.
 *
 * | service | client |
 * |---|---|
 * | Key Vault | `new SecretClient(kv.endpoint, cred, { httpClient: kv.httpClient })` |
 * | Blob Storage | `new BlobServiceClient(st.endpoint, cred, { httpClient: st.httpClient })` (storage-blob's `httpClient` is the core-http v1 shape: the emulator client accepts both) |
 * | Cosmos DB | `new CosmosClient({ endpoint: cosmos.endpoint, aadCredentials: cred, httpClient: cosmos.httpClient })` (scope `https://<acct>.documents.azure.com/.default`) |
 * | Resource Manager | `new ResourceManagementClient(cred, subscriptionId, { httpClient: arm.httpClient })` |
 * | Graph, Service Bus REST | `httpClient.sendRequest(createPipelineRequest({ url: `${graph.endpoint}/v1.0/users`, headers })` |
 *
 * By address instead (`https://127.0.0.1:<port>`), with `createTrustingHttpClient(emulator.ca)`:
 * - Key Vault: add `disableChallengeResourceVerification: true` (the challenge's `resource` must otherwise be a
 *   parent domain of the vault host).
 * - Storage: path-style URL `https://127.0.0.1:<port>/<account>`: the SDK treats IP hosts as path-style.
 * - Cosmos: `endpoint: "https://127.0.0.1:<port>/"` and `aadScope: "https://cosmos.azure.com/.default"` (the default scope
 *   would be the IP address). `agent: new https.Agent({ ca })` works too.
 * - Resource Manager: `endpoint: "https://127.0.0.1:<port>", credentialScopes: ["https://management.azure.com/.default"]`
 *   (`@azure/arm-resources` 7 sends to `endpoint`, not `$host`, and derives the default scope from it).
 * - Child processes (the CLI, `runScenario`): write `emulator.ca` to a file and start them with
 *   `NODE_EXTRA_CA_CERTS=<file>`; Node reads it once at process start.
 *
 * bearerTokenAuthenticationPolicy refuses plain http, hence TLS everywhere.
 */
import { createEmulatorHttpClient, type EmulatorHttpClient } from "./httpClient.js";
import { startBlobStorageEmulator, type BlobStorageEmulator, type BlobStorageEmulatorOptions } from "./blobStorage.js";
import { startCosmosEmulator, type CosmosEmulator, type CosmosEmulatorOptions } from "./cosmos.js";
import { startGraphEmulator, type GraphEmulator, type GraphEmulatorOptions } from "./graph.js";
import { startKeyVaultEmulator, type KeyVaultEmulator, type KeyVaultEmulatorOptions } from "./keyVault.js";
import {
  startResourceManagerEmulator,
  type EmulatedArmResource,
  type EmulatedDenyAssignment,
  type ResourceManagerEmulator,
  type ResourceManagerEmulatorOptions,
} from "./resourceManager.js";
import type { ServiceEmulator, ServiceEmulatorOptions } from "./server.js";
import { startServiceBusEmulator, type ServiceBusEmulator, type ServiceBusEmulatorOptions } from "./serviceBus.js";
import { createTestCertificateAuthority } from "./tls.js";

/** One service's options inside {@link ServiceEmulatorsOptions}: its own options, plus any common one to override. */
export type ServiceEmulatorOverrides<T extends ServiceEmulatorOptions> = Omit<T, keyof ServiceEmulatorOptions> & Partial<ServiceEmulatorOptions>;

/** Options of {@link startServiceEmulators}: the common ones, plus per-service ones that add to or override them. */
export interface ServiceEmulatorsOptions extends Omit<ServiceEmulatorOptions, "certificateAuthority" | "port" | "hostNames" | "audiences"> {
  /** Key Vault's own options (vault name, secrets) and overrides. */
  keyVault?: ServiceEmulatorOverrides<KeyVaultEmulatorOptions>;
  /** Blob Storage's own options (account name, containers) and overrides. */
  storage?: ServiceEmulatorOverrides<BlobStorageEmulatorOptions>;
  /** Service Bus's own options (namespace, queues) and overrides. */
  serviceBus?: ServiceEmulatorOverrides<ServiceBusEmulatorOptions>;
  /** Cosmos DB's own options (account name, containers) and overrides. */
  cosmos?: ServiceEmulatorOverrides<CosmosEmulatorOptions>;
  /** Microsoft Graph's own options (users, applications) and overrides. */
  graph?: ServiceEmulatorOverrides<GraphEmulatorOptions>;
  /** Resource Manager's own options (resource groups) and overrides. */
  resourceManager?: ServiceEmulatorOverrides<ResourceManagerEmulatorOptions>;
}

/** The six emulators, sharing one CA, and one `httpClient` that routes all their host names. */
export interface ServiceEmulators {
  /** The Key Vault emulator. */
  keyVault: KeyVaultEmulator;
  /** The Blob Storage emulator. */
  storage: BlobStorageEmulator;
  /** The Service Bus emulator. */
  serviceBus: ServiceBusEmulator;
  /** The Cosmos DB emulator. */
  cosmos: CosmosEmulator;
  /** The Microsoft Graph emulator. */
  graph: GraphEmulator;
  /** The Resource Manager emulator. */
  resourceManager: ResourceManagerEmulator;
  /** All six, for loops (grant everywhere, firewall everywhere, collect requests). */
  all: ServiceEmulator[];
  /** PEM of the shared CA. */
  ca: string;
  /** Routes every emulator's host name to it and trusts the CA. */
  httpClient: EmulatorHttpClient;
  /** Stops all six; resolves when every one is closed. */
  close(): Promise<void>;
}

/** Starts all six service emulators with one CA. */
export async function startServiceEmulators(options: ServiceEmulatorsOptions): Promise<ServiceEmulators> {
  const { keyVault, storage, serviceBus, cosmos, graph, resourceManager, ...common } = options;
  const certificateAuthority = createTestCertificateAuthority();
  const base = { ...common, certificateAuthority };
  const started = await Promise.allSettled([
    startKeyVaultEmulator({ ...base, ...keyVault }),
    startBlobStorageEmulator({ ...base, ...storage }),
    startServiceBusEmulator({ ...base, ...serviceBus }),
    startCosmosEmulator({ ...base, ...cosmos }),
    startGraphEmulator({ ...base, ...graph }),
    startResourceManagerEmulator({ ...base, ...resourceManager }),
  ] as const);
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await Promise.all(started.map((s) => (s.status === "fulfilled" ? s.value.close() : undefined)));
    throw (failed as PromiseRejectedResult).reason;
  }
  const [kv, st, sb, cs, gr, arm] = started.map((s) => (s as PromiseFulfilledResult<ServiceEmulator>).value) as [
    KeyVaultEmulator,
    BlobStorageEmulator,
    ServiceBusEmulator,
    CosmosEmulator,
    GraphEmulator,
    ResourceManagerEmulator,
  ];
  const all: ServiceEmulator[] = [kv, st, sb, cs, gr, arm];
  return {
    keyVault: kv,
    storage: st,
    serviceBus: sb,
    cosmos: cs,
    graph: gr,
    resourceManager: arm,
    all,
    ca: certificateAuthority.cert,
    httpClient: createEmulatorHttpClient({ ca: certificateAuthority.cert, routes: Object.assign({}, ...all.map((e) => e.routes)) }),
    async close() {
      await Promise.all(all.map((e) => e.close()));
    },
  };
}

export { startKeyVaultEmulator, startBlobStorageEmulator, startServiceBusEmulator, startCosmosEmulator, startGraphEmulator, startResourceManagerEmulator };
export type {
  KeyVaultEmulator,
  KeyVaultEmulatorOptions,
  BlobStorageEmulator,
  BlobStorageEmulatorOptions,
  ServiceBusEmulator,
  ServiceBusEmulatorOptions,
  CosmosEmulator,
  CosmosEmulatorOptions,
  GraphEmulator,
  GraphEmulatorOptions,
  ResourceManagerEmulator,
  ResourceManagerEmulatorOptions,
  EmulatedArmResource,
  EmulatedDenyAssignment,
};
export { createEmulatorHttpClient, createTrustingHttpClient } from "./httpClient.js";
export type { EmulatorHttpClient, EmulatorHttpClientOptions, LegacyHttpHeadersLike, LegacyResponseLike, LegacyWebResourceLike } from "./httpClient.js";
export { createTestCertificateAuthority } from "./tls.js";
export type { TestCertificateAuthority } from "./tls.js";
export { BUILT_IN_ROLES, BUILT_IN_ROLE_IDS, COSMOS_BUILT_IN_ROLES } from "./rbac.js";
export type { RoleAssignment, RoleAssignmentTable, RoleDefinition } from "./rbac.js";
export type { ServiceEmulator, ServiceEmulatorOptions, EmulatedService, RecordedServiceRequest } from "./server.js";
export type { IssuerKeys, TokenFailureReason } from "./tokenCheck.js";
