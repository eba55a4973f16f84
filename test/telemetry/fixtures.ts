/**
 * Shared fixtures of the telemetry tests: the Container Apps variables (set before any credential is made:
 * readHostEnvironment reads process.env in the constructor), JWTs made with jose, fake credentials, a Key Vault
 * emulator with the real SecretClient.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { CredentialUnavailableError } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import type { HttpClient, PipelineRequest, PipelineResponse } from "@azure/core-rest-pipeline";
import { createHttpHeaders } from "@azure/core-rest-pipeline";
import { DiagnosticCredential, diagnosticPolicy, type DiagnosisLogEntry } from "../../src/index.js";
import { startKeyVaultEmulator, type KeyVaultEmulator } from "../../src/testing.js";
import { CLIENT_ID, createTestIssuer, MIRID, PRINCIPAL, RESOURCE_GROUP, SUBSCRIPTION, TENANT, type TestIssuer } from "../emulators/helpers.js";

export { CLIENT_ID, MIRID, PRINCIPAL, TENANT };

export const CONTAINER_APP = { name: "ca-orders", revision: "ca-orders--r7x2k9q", replica: "ca-orders--r7x2k9q-5d8f6c7b9-x2x7z" } as const;
export const CA_ATTRIBUTES = {
  "diagnostic_credential.platform": "container-apps",
  "cloud.provider": "azure",
  "cloud.platform": "azure.container_apps",
  "azure.container_app.name": CONTAINER_APP.name,
  "azure.container_app.revision": CONTAINER_APP.revision,
  "azure.container_app.replica": CONTAINER_APP.replica,
} as const;

/**
 * Sets CONTAINER_APP_NAME/_REVISION/_REPLICA_NAME and the identity endpoint variables the platform sets when an
 * identity is assigned. Call before constructing credentials.
 */
export function setContainerAppEnv(): void {
  process.env.IDENTITY_ENDPOINT = "http://localhost:42356/msi/token";
  process.env.IDENTITY_HEADER = "test-identity-header-0123456789";
  process.env.CONTAINER_APP_NAME = CONTAINER_APP.name;
  process.env.CONTAINER_APP_REVISION = CONTAINER_APP.revision;
  process.env.CONTAINER_APP_REPLICA_NAME = CONTAINER_APP.replica;
}

export const VAULT_SCOPE = "https://vault.azure.net/.default";

/** A credential answering from a list of outcomes (the last repeats): a token, or an error to throw. */
export function scriptedCredential(outcomes: Array<AccessToken | Error | (() => Promise<AccessToken>)>): TokenCredential & { calls: number } {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    async getToken(): Promise<AccessToken> {
      const outcome = outcomes[Math.min(calls, outcomes.length - 1)]!;
      calls++;
      if (outcome instanceof Error) throw outcome;
      if (typeof outcome === "function") return outcome();
      return outcome;
    },
  };
}

export const identityNotFound = () =>
  new CredentialUnavailableError("ManagedIdentityCredential: Authentication failed. Message invalid_request: Identity not found");
export const networkUnreachable = () =>
  new CredentialUnavailableError("ManagedIdentityCredential: Network unreachable. Message: connect ECONNREFUSED 169.254.169.254:80");

export function accessToken(token: string, lifetimeMs = 3_600_000): AccessToken {
  return { token, expiresOnTimestamp: Date.now() + lifetimeMs, tokenType: "Bearer" };
}

/** Every part of a JWT that must never appear anywhere: the whole, the payload and the signature segments. */
export function secretParts(token: string): string[] {
  const [, payload, signature] = token.split(".");
  return [token, payload!, signature!];
}

export interface Vault {
  issuer: TestIssuer;
  kv: KeyVaultEmulator;
  /** Emulator clock offset (ms), for propagation delays without waiting. */
  advance(ms: number): void;
  close(): Promise<void>;
}

/** A Key Vault emulator (RBAC model) with a secret, trusting the test issuer; its clock can be advanced. */
export async function startVault(options: { propagationDelayMs?: number; vaultName?: string } = {}): Promise<Vault> {
  const issuer = await createTestIssuer();
  let offset = 0;
  const kv = await startKeyVaultEmulator({
    issuerKeys: issuer.publicJwk,
    tenantId: TENANT,
    subscriptionId: SUBSCRIPTION,
    resourceGroup: RESOURCE_GROUP,
    vaultName: options.vaultName ?? "orders-kv",
    secrets: { "db-password": "s3cret" },
    propagationDelayMs: options.propagationDelayMs ?? 0,
    now: () => Date.now() + offset,
  });
  return {
    issuer,
    kv,
    advance(ms) {
      offset += ms;
    },
    close: () => kv.close(),
  };
}

export interface VaultClient {
  credential: DiagnosticCredential;
  inner: TokenCredential & { scopes: string[][]; calls: GetTokenOptions[] };
  client: SecretClient;
  logs: DiagnosisLogEntry[];
}

/** A DiagnosticCredential wrapping the issuer's credential (claims overrides), a SecretClient with the policy. */
export function vaultClient(
  vault: Vault,
  claims: Record<string, unknown>,
  options: { policy?: boolean; httpClient?: HttpClient; credentialOptions?: Record<string, unknown> } = {},
): VaultClient {
  const logs: DiagnosisLogEntry[] = [];
  const inner = vault.issuer.credential(claims);
  const credential = new DiagnosticCredential({ credential: inner, logger: (entry) => logs.push(entry), ...options.credentialOptions });
  const client = new SecretClient(vault.kv.endpoint, credential, {
    httpClient: options.httpClient ?? vault.kv.httpClient,
    retryOptions: { maxRetries: 0 },
    ...(options.policy === false ? {} : { additionalPolicies: [diagnosticPolicy(credential)] }),
  });
  return { credential, inner, client, logs };
}

/**
 * An HttpClient in front of the emulator's that answers one request carrying a token (after `skip` of them) with a
 * CAE claims challenge (401 `insufficient_claims`), as a service does after a revocation event. The client's policy
 * answers it with a new token and one retry.
 */
export function caeChallengeOnce(inner: HttpClient, skip = 1): HttpClient & { challenged: number } {
  let challenged = 0;
  let authenticated = 0;
  const claims = Buffer.from(JSON.stringify({ access_token: { nbf: { essential: true, value: String(Math.floor(Date.now() / 1000)) } } })).toString("base64");
  return {
    get challenged() {
      return challenged;
    },
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      if (challenged === 0 && request.headers.get("authorization") && authenticated++ >= skip) {
        challenged++;
        return {
          request,
          status: 401,
          headers: createHttpHeaders({
            "content-type": "application/json; charset=utf-8",
            "www-authenticate": `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="${claims}"`,
          }),
          bodyAsText: JSON.stringify({ error: { code: "Unauthorized", message: "AKV10059: The token has been revoked (claims challenge)." } }),
        };
      }
      return inner.sendRequest(request);
    },
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
