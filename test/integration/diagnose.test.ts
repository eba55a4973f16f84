/**
 * `credential.diagnose(failure)` for failures that do not pass a pipeline policy: a fetch `Response` (with or without
 * its body), a plain `{ url, status, headers, body }`, an error thrown by `getToken` (this credential's or another
 * credential's). The token this credential issued for the target's audience is what the failure is correlated with.
 * (RestErrors of each SDK: in the per-service files; AMQP errors: serviceBus.test.ts.)
 */
import { describe, expect, test } from "vitest";
import { CredentialUnavailableError } from "@azure/identity";
import { SecretClient } from "@azure/keyvault-secrets";
import { DiagnosticCredential, diagnosticPolicy, getDiagnosis, type DiagnosisLogEntry } from "../../src/index.js";
import { startKeyVaultEmulator } from "../../src/testing.js";
import { diagnosticSetup, failure, newIdentity, rotatingCredential, useEmulators, wrap } from "./helpers.js";

const env = useEmulators((base) => ({ kv: startKeyVaultEmulator({ ...base, vaultName: "diag-kv" }) }), { routeFetch: ({ kv }) => [kv.host] });

describe.concurrent("credential.diagnose(failure)", () => {
  test("a fetch Response alone (body not read): classified from status + headers, with the token issued for the vault", async () => {
    const identity = newIdentity();
    const { credential } = diagnosticSetup(env.mi, { identity });
    const token = (await credential.getToken("https://vault.azure.net/.default"))!.token;
    env.kv.setSecret("fetched", "x");
    const response = await fetch(`https://${env.kv.host}:${env.kv.port}/secrets/fetched?api-version=7.6`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(403);
    const diagnosis = credential.diagnose(response);
    expect(diagnosis).toMatchObject({ hypothesis: "H2", service: "keyvault", status: 403 });
    expect(diagnosis!.identity).toMatchObject({ objectId: identity.objectId });
    // The body is still there for the app: diagnose did not consume it.
    expect(JSON.parse(await response.text()).error.innererror.code).toBe("ForbiddenByRbac");
  });

  test("a plain { url, status, headers, body }: the token issued for the URL's audience is the evidence (H3 here)", async () => {
    const identity = newIdentity();
    // The app asked for a Storage token and sent it to Key Vault.
    const { credential } = diagnosticSetup(env.mi, { identity });
    await credential.getToken("https://vault.azure.net/.default");
    const diagnosis = credential.diagnose({
      url: "https://diag-kv.vault.azure.net/secrets/x?api-version=7.6",
      status: 401,
      headers: { "www-authenticate": `Bearer authorization="https://login.windows.net/${env.mi.tenantId}", resource="https://vault.azure.net"` },
      body: JSON.stringify({
        error: { code: "Unauthorized", message: "AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://storage.azure.com." },
      }),
    });
    expect(diagnosis).toMatchObject({ hypothesis: "H3", code: "WrongAudience", service: "keyvault", status: 401 });
    // Correlated: the credential's own Key Vault token (right audience) is in the evidence, so the request carried another.
    expect(diagnosis!.evidence).toContain("the token given for diagnosis has the right audience: the request may have carried another token");
  });

  test("an error thrown by this credential's getToken already carries its diagnosis: diagnose returns it, logs nothing more", async () => {
    const logs: DiagnosisLogEntry[] = [];
    const credential = new DiagnosticCredential({
      credential: {
        getToken: () =>
          Promise.reject(
            new CredentialUnavailableError(
              "ManagedIdentityCredential: Network unreachable. Message: network_error: See https://aka.ms/msal.js.errors#network_error for details",
            ),
          ),
      },
      logger: (entry) => logs.push(entry),
      tokenTimeoutMs: 0,
    });
    const error = await failure(credential.getToken("https://vault.azure.net/.default"));
    expect(error.name).toBe("CredentialUnavailableError");
    expect(error.diagnosis).toMatchObject({ hypothesis: "H5", code: "IdentityEndpointUnreachable" });
    const before = logs.length;
    expect(credential.diagnose(error)).toBe(error.diagnosis);
    expect(getDiagnosis(error)).toBe(error.diagnosis);
    expect(logs.length).toBe(before);
  });

  test("an error thrown by another credential (a ManagedIdentityCredential the app also uses) is classified", async () => {
    const { credential } = diagnosticSetup(env.mi, { identity: newIdentity() });
    const error = new CredentialUnavailableError(
      "ManagedIdentityCredential: Network unreachable. Message: network_error: See https://aka.ms/msal.js.errors#network_error for details",
    );
    expect(credential.diagnose(error)).toMatchObject({ hypothesis: "H5", code: "IdentityEndpointUnreachable" });
    expect(getDiagnosis(error)).toMatchObject({ hypothesis: "H5" });
  });

  test("failures that are not about authentication get no diagnosis (404, 429, a TypeError)", async () => {
    const identity = newIdentity();
    env.kv.rbac.grant({ principalId: identity.objectId, role: "Key Vault Secrets User", scope: env.kv.resourceId });
    const { credential } = diagnosticSetup(env.mi, { identity });
    const notFound = await failure(
      new SecretClient(env.kv.endpoint, credential, { httpClient: env.kv.httpClient, additionalPolicies: [diagnosticPolicy(credential)] }).getSecret("missing"),
    );
    expect(notFound.statusCode).toBe(404);
    expect(getDiagnosis(notFound)).toBeUndefined();
    expect(credential.diagnose(notFound)).toBeUndefined();
    expect(credential.diagnose({ url: "https://diag-kv.vault.azure.net/secrets/x", status: 429, headers: {} })).toBeUndefined();
    expect(credential.diagnose(new TypeError("x is not a function"))).toBeUndefined();
  });

  test("a request whose challenged 401 was retried and then answered 404: the 404 error carries no stale diagnosis", async () => {
    // Tokens 1 and 2 expired (401 with a challenge), token 3 good: the retry reaches the vault, which has no such secret.
    const identity = newIdentity();
    env.kv.rbac.grant({ principalId: identity.objectId, role: "Key Vault Secrets User", scope: env.kv.resourceId });
    const { credential, logs } = wrap(
      rotatingCredential(env.mi, identity, () => ({ exp: Math.floor(Date.now() / 1000) - 3600 }), 2),
      identity,
    );
    const client = new SecretClient(env.kv.endpoint, credential, { httpClient: env.kv.httpClient, additionalPolicies: [diagnosticPolicy(credential)] });
    env.kv.setSecret("warm", "x");
    expect(getDiagnosis(await failure(client.getSecret("warm")))).toMatchObject({ hypothesis: "H4", status: 401 }); // challenge, token 1: 401
    const before = env.kv.requests.length;
    const notFound = await failure(client.getSecret("missing-too")); // token 2: 401, the client retries with token 3: 404
    expect(env.kv.requests.slice(before).map((r) => r.status)).toEqual([401, 404]);
    expect(notFound.statusCode).toBe(404);
    expect(getDiagnosis(notFound)).toBeUndefined();
    credential.flushLogs();
    expect(logs.filter((e) => e.source === "response").map((e) => e.status)).toEqual([401]);
  });
});
