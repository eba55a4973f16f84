/**
 * Key Vault, through the real SecretClient: every hypothesis with `diagnosticPolicy` in `additionalPolicies`, and
 * again with no policy (zero-config observation of node:http). The error the client throws is compared with the one
 * it throws without the library.
 */
import { describe, expect, test } from "vitest";
import type { TokenCredential } from "@azure/core-auth";
import { SecretClient } from "@azure/keyvault-secrets";
import { diagnosticPolicy, getDiagnosis, type DiagnosticCredential } from "../../src/index.js";
import { startKeyVaultEmulator, type KeyVaultEmulator } from "../../src/testing.js";
import { expectChecks, expectNoCheck, failedKinds } from "../helpers/findings.js";
import {
  diagnosticSetup,
  downstreamLog,
  expectDiagnosis,
  expectLogLine,
  expectRoleAdvice,
  expiredClaims,
  failure,
  failWithAndWithoutLibrary,
  newIdentity,
  otherTenantClaims,
  RESOURCE_GROUP,
  resourceIdOf,
  rotatingCredential,
  settledDownstream,
  SUBSCRIPTION,
  testReportedOnce,
  uniqueName,
  useEmulators,
  wrap,
  type TokenPlan,
} from "./helpers.js";

const env = useEmulators((base) => ({
  kv: startKeyVaultEmulator({ ...base, vaultName: "orders-kv" }),
  locked: startKeyVaultEmulator({ ...base, vaultName: "locked-kv", firewall: true }),
}));
const VAULT_SCOPE = `/subscriptions/${SUBSCRIPTION}/resourcegroups/${RESOURCE_GROUP}/providers/microsoft.keyvault/vaults/orders-kv`;
const VAULT_ID = resourceIdOf("Microsoft.KeyVault/vaults/orders-kv");
const HOST = "orders-kv.vault.azure.net";

function client(credential: TokenCredential, options: { policy?: DiagnosticCredential; vault?: KeyVaultEmulator } = {}): SecretClient {
  const vault = options.vault ?? env.kv;
  return new SecretClient(vault.endpoint, credential, {
    httpClient: vault.httpClient,
    ...(options.policy ? { additionalPolicies: [diagnosticPolicy(options.policy)] } : {}),
  });
}

/**
 * Reads a secret with the policy (or with zero-config only), then the same read without the library: the thrown
 * errors must look the same to the caller.
 */
async function readSecret(plan: TokenPlan, options: { policy: boolean; vault?: KeyVaultEmulator; configured?: TokenPlan["identity"]; secret?: string }) {
  const vault = options.vault ?? env.kv;
  const secret = options.secret ?? uniqueName("s");
  vault.setSecret(secret, "value");
  const result = await failWithAndWithoutLibrary(env.mi, plan, options, (credential, policy) => client(credential, { vault, policy }).getSecret(secret));
  return { ...result, secret };
}

function grant(principalId: string, role: string, scope = VAULT_ID) {
  env.kv.rbac.grant({ principalId, role, scope });
}

describe.concurrent("Key Vault with diagnosticPolicy (SecretClient.getSecret)", () => {
  test("H2 no role: 403 ForbiddenByRbac → Key Vault Secrets User at the vault, az command with the principal id", async () => {
    const identity = newIdentity();
    const { error, logs } = await readSecret({ identity }, { policy: true });
    expect(error).toMatchObject({ name: "RestError", statusCode: 403, code: "Forbidden" });
    const diagnosis = expectDiagnosis(error, {
      hypothesis: "H2",
      code: "RoleMissingOrWrongScope",
      service: "keyvault",
      status: 403,
      errorCode: "ForbiddenByRbac",
      confidence: "high",
    });
    expect(diagnosis.identity).toMatchObject({ objectId: identity.objectId, clientId: identity.clientId });
    expect(diagnosis.evidence).toContain("operation named by the service: Microsoft.KeyVault/vaults/secrets/getSecret/action");
    expectRoleAdvice(diagnosis, {
      role: "Key Vault Secrets User",
      scope: VAULT_SCOPE,
      principalId: identity.objectId,
      command: /: az role assignment create .*--role "Key Vault Secrets User"/,
    });
    // In structure: the catalog entry that decided, the token's audience and lifetime fine, the role missing.
    expect(diagnosis.rule).toEqual({ id: "keyvault.forbidden-by-rbac", source: "catalog:keyvault" });
    expectChecks(
      diagnosis,
      { kind: "audience", verdict: "pass", expected: "https://vault.azure.net/.default", actual: "https://vault.azure.net", confirmedBy: "token" },
      { kind: "lifetime", verdict: "pass", confirmedBy: "token" },
      { kind: "service-code", verdict: "fail", expected: "ForbiddenByRbac", confirmedBy: "answer" },
      { kind: "role", verdict: "fail", expected: `Key Vault Secrets User at ${VAULT_SCOPE}`, actual: "no role assignment", confirmedBy: "answer" },
    );
    expect(failedKinds(diagnosis)).toEqual(["service-code", "role"]);
    const entry = await downstreamLog(logs);
    expectLogLine(entry, { hypothesis: "H2", code: "RoleMissingOrWrongScope", status: 403, host: HOST, source: "response" });
    expect(entry.level).toBe("error");
    expect(entry).toMatchObject({ rule: diagnosis.rule, checks: diagnosis.checks });
  });

  test("H2 control-plane role only (Owner, Key Vault Contributor at the vault): still 403, the diagnosis says they give no data access", async () => {
    const identity = newIdentity();
    grant(identity.objectId, "Owner");
    grant(identity.objectId, "Key Vault Contributor");
    const { error } = await readSecret({ identity }, { policy: true });
    const diagnosis = expectDiagnosis(error, { hypothesis: "H2", errorCode: "ForbiddenByRbac" });
    expect(diagnosis.nextSteps.join("\n")).toMatch(/"Key Vault Contributor", "Contributor", "Owner" are control-plane roles: they give no data access/);
    expectRoleAdvice(diagnosis, { role: "Key Vault Secrets User", scope: VAULT_SCOPE, principalId: identity.objectId, command: /: az role assignment create/ });
  });

  test("H2 role at a sibling scope (Secrets User on another vault): the exact scope to grant is this vault", async () => {
    const identity = newIdentity();
    grant(identity.objectId, "Key Vault Secrets User", VAULT_ID.replace("orders-kv", "billing-kv"));
    const { error } = await readSecret({ identity }, { policy: true });
    const diagnosis = expectDiagnosis(error, { hypothesis: "H2", code: "RoleMissingOrWrongScope" });
    expect(diagnosis.evidence).toContain("the service found no role assignment for the caller on this resource");
    expectRoleAdvice(diagnosis, { role: "Key Vault Secrets User", scope: VAULT_SCOPE, principalId: identity.objectId, command: /: az role assignment create/ });
  });

  test("H3 token for the wrong audience: 401 AKV10022 → WrongAudience, request https://vault.azure.net/.default", async () => {
    const identity = newIdentity();
    grant(identity.objectId, "Key Vault Secrets User");
    const { error, logs } = await readSecret({ identity, audience: "https://management.azure.com" }, { policy: true });
    expect(error).toMatchObject({ statusCode: 401, code: "Unauthorized" });
    const diagnosis = expectDiagnosis(error, {
      hypothesis: "H3",
      code: "WrongAudience",
      service: "keyvault",
      status: 401,
      errorCode: "Unauthorized",
      confidence: "high",
    });
    expect(diagnosis.evidence.join("\n")).toContain("AKV10022: Invalid audience");
    expect(diagnosis.rule).toEqual({ id: "claims.wrong-audience", source: "claims" });
    expectChecks(diagnosis, {
      kind: "audience",
      verdict: "fail",
      expected: "https://vault.azure.net/.default",
      actual: expect.stringMatching(/^https:\/\/management\.azure\.com\/?$/),
      confirmedBy: "token",
    });
    expect(failedKinds(diagnosis)).not.toContain("lifetime");
    expect(diagnosis.nextSteps[0]).toContain('Request the token for "https://vault.azure.net/.default"');
    const entry = await downstreamLog(logs);
    expectLogLine(entry, { hypothesis: "H3", code: "WrongAudience", status: 401, host: HOST, source: "response" });
    expect(entry.level).toBe("warn");
  });

  test("H4 expired token: 401 → StaleTokenOrIdentityMixup with the lifetime check", async () => {
    const identity = newIdentity();
    grant(identity.objectId, "Key Vault Secrets User");
    const { error, logs } = await readSecret({ identity, claims: expiredClaims }, { policy: true });
    const diagnosis = expectDiagnosis(error, { hypothesis: "H4", code: "StaleTokenOrIdentityMixup", service: "keyvault", status: 401 });
    expect(diagnosis.summary).toMatch(/the token sent had expired at .* \(60 min before the request\)/);
    expect(diagnosis.rule).toEqual({ id: "claims.expired", source: "claims" });
    expectChecks(
      diagnosis,
      {
        kind: "lifetime",
        verdict: "fail",
        expected: expect.stringMatching(/^valid at /),
        actual: expect.stringMatching(/^expired at \d{4}-/),
        confirmedBy: "token",
      },
      { kind: "audience", verdict: "pass" },
    );
    expectLogLine(await downstreamLog(logs), { hypothesis: "H4", code: "StaleTokenOrIdentityMixup", status: 401, host: HOST });
  });

  test("H4 token from another tenant: 401 AKV10032 → the tenant check names both tenants", async () => {
    const identity = newIdentity();
    grant(identity.objectId, "Key Vault Secrets User");
    const { error } = await readSecret({ identity, claims: otherTenantClaims }, { policy: true });
    const diagnosis = expectDiagnosis(error, { hypothesis: "H4", code: "StaleTokenOrIdentityMixup", errorCode: "Unauthorized" });
    expect(diagnosis.evidence.join("\n")).toContain("AKV10032: Invalid issuer");
    expect(diagnosis.rule).toEqual({ id: "claims.wrong-tenant", source: "claims" });
    expectChecks(diagnosis, {
      kind: "tenant",
      verdict: "fail",
      expected: env.mi.tenantId,
      actual: "99999999-9999-4999-8999-999999999999",
      confirmedBy: "token",
    });
    expect(diagnosis.summary).toContain(`the token is from tenant 99999999-9999-4999-8999-999999999999 but ${HOST} belongs to tenant ${env.mi.tenantId}`);
  });

  test("H4 identity mix-up: the 403 names another caller than the configured identity", async () => {
    const configured = newIdentity("uami-orders");
    const other = newIdentity("uami-billing");
    grant(configured.objectId, "Key Vault Secrets User");
    const { error } = await readSecret({ identity: other }, { policy: true, configured });
    const diagnosis = expectDiagnosis(error, { hypothesis: "H4", code: "StaleTokenOrIdentityMixup", errorCode: "ForbiddenByRbac" });
    expect(diagnosis.summary).toContain(
      `request made as clientId ${other.clientId} (the token sent) but the app is configured for clientId ${configured.clientId}`,
    );
    expect(diagnosis.evidence).toContain(`caller seen by the service: oid=${other.objectId} appid=${other.clientId}`);
    expect(diagnosis.nextSteps[0]).toContain(`new DiagnosticCredential("${configured.clientId}")`);
    expect(diagnosis.rule).toEqual({ id: "claims.identity-mixup", source: "claims" });
    expectChecks(diagnosis, {
      kind: "identity",
      verdict: "fail",
      expected: `clientId=${configured.clientId}`,
      actual: `clientId=${other.clientId}`,
      confirmedBy: "token",
    });
  });

  test("not-identity: the vault firewall (403 ForbiddenByFirewall) even with the right role", async () => {
    const identity = newIdentity();
    env.locked.rbac.grant({ principalId: identity.objectId, role: "Key Vault Secrets User", scope: env.locked.resourceId });
    const { error, logs } = await readSecret({ identity }, { policy: true, vault: env.locked });
    const diagnosis = expectDiagnosis(error, {
      hypothesis: "not-identity",
      code: "NotAnIdentityProblem",
      service: "keyvault",
      status: 403,
      errorCode: "ForbiddenByFirewall",
    });
    expect(diagnosis.nextSteps.join("\n")).toContain("Not an identity problem");
    expect(diagnosis.rule).toEqual({ id: "keyvault.forbidden-by-firewall", source: "catalog:keyvault" });
    expectChecks(diagnosis, { kind: "service-code", verdict: "fail", expected: "ForbiddenByFirewall" }, { kind: "audience", verdict: "pass" });
    expectNoCheck(diagnosis, "role");
    expectLogLine(await downstreamLog(logs), { hypothesis: "not-identity", code: "NotAnIdentityProblem", status: 403, host: "locked-kv.vault.azure.net" });
  });

  test("2xx: the unauthenticated challenge 401 and the 200 produce no diagnosis and no log line", async () => {
    const identity = newIdentity();
    grant(identity.objectId, "Key Vault Secrets User");
    const setup = diagnosticSetup(env.mi, { identity });
    env.kv.setSecret("greeting", "hello");
    const before = env.kv.requests.length;
    const secret = await client(setup.credential, { policy: setup.credential }).getSecret("greeting");
    expect(secret.value).toBe("hello");
    const mine = env.kv.requests.slice(before).filter((r) => r.path.startsWith("/secrets/greeting"));
    expect(mine.map((r) => [r.status, r.tokenFailure])).toContainEqual([401, "missing"]);
    expect(await settledDownstream(setup.logs, setup.credential)).toEqual([]);
  });

  testReportedOnce("with the policy AND zero-config observation active, one failure is reported once", (plan) => readSecret(plan, { policy: true }));

  test("a challenged 401 that the pipeline answers on retry is not a failure; the one it cannot answer is reported once", async () => {
    // Tokens 1 and 2 are expired, later ones are good (see rotatingCredential).
    const identity = newIdentity();
    grant(identity.objectId, "Key Vault Secrets User");
    const { credential, logs } = wrap(rotatingCredential(env.mi, identity, expiredClaims, 2), identity);
    env.kv.setSecret("rotating", "v1");
    const c = client(credential, { policy: credential });
    // 1st call: challenge round trip, then token 1 (expired): 401 after the retry: the client throws, a failure.
    const first = await failure(c.getSecret("rotating"));
    expect(getDiagnosis(first)).toMatchObject({ hypothesis: "H4", status: 401 });
    // 2nd call: token 2 (expired) → 401 challenge → the client gets token 3 and retries → 200: no failure.
    expect((await c.getSecret("rotating")).value).toBe("v1");
    const reported = await settledDownstream(logs, credential);
    expect(reported.map((e) => [e.hypothesis, e.status, e.count])).toEqual([["H4", 401, 1]]);
  });
});

describe.concurrent("Key Vault with zero-config observation only (no policy, node:http)", () => {
  test("H2 no role: logged from status + headers with the real host; credential.diagnose(error) adds the body", async () => {
    const identity = newIdentity();
    const { error, logs, credential } = await readSecret({ identity }, { policy: false });
    expect(getDiagnosis(error)).toBeUndefined();
    const entry = await downstreamLog(logs);
    expectLogLine(entry, { hypothesis: "H2", code: "RoleMissingOrWrongScope", status: 403, host: HOST, source: "observed" });
    expect(entry.service).toBe("keyvault");
    // The body is the client's: the user hands the error over for the full diagnosis.
    const diagnosis = credential.diagnose(error);
    expect(diagnosis).toMatchObject({ hypothesis: "H2", errorCode: "ForbiddenByRbac", service: "keyvault" });
    expect(getDiagnosis(error)).toBe(diagnosis);
    expectRoleAdvice(diagnosis!, {
      role: "Key Vault Secrets User",
      scope: VAULT_SCOPE,
      principalId: identity.objectId,
      command: /: az role assignment create/,
    });
  });

  test("H3 wrong audience: the token's audience decides without the body", async () => {
    const { logs } = await readSecret({ identity: newIdentity(), audience: "https://storage.azure.com" }, { policy: false });
    const entry = await downstreamLog(logs);
    expectLogLine(entry, { hypothesis: "H3", code: "WrongAudience", status: 401, host: HOST, source: "observed" });
  });

  test("H4 expired token", async () => {
    const { logs } = await readSecret({ identity: newIdentity(), claims: expiredClaims }, { policy: false });
    expectLogLine(await downstreamLog(logs), { hypothesis: "H4", code: "StaleTokenOrIdentityMixup", status: 401, host: HOST, source: "observed" });
  });

  test("H4 identity mix-up", async () => {
    const configured = newIdentity();
    grant(configured.objectId, "Key Vault Secrets User");
    const { logs } = await readSecret({ identity: newIdentity() }, { policy: false, configured });
    expectLogLine(await downstreamLog(logs), { hypothesis: "H4", code: "StaleTokenOrIdentityMixup", status: 403, host: HOST, source: "observed" });
  });

  test("not-identity needs the body: zero-config says so (medium confidence, a caveat), credential.diagnose(error) finds the firewall", async () => {
    const identity = newIdentity();
    env.locked.rbac.grant({ principalId: identity.objectId, role: "Key Vault Secrets User", scope: env.locked.resourceId });
    const { error, logs, credential } = await readSecret({ identity }, { policy: false, vault: env.locked });
    const entry = await downstreamLog(logs);
    // Status and headers alone: a 403 with a good token reads as a missing role, and the line says what it could not see.
    expect(entry).toMatchObject({ hypothesis: "H2", confidence: "medium", source: "observed" });
    expect(entry.evidence).toContain("seen without the response body (zero-config observation): the service's error code was not read");
    expect(entry.nextSteps.at(-1)).toMatch(/firewall, private link.*credential\.diagnose\(error\)/);
    expect(credential.diagnose(error)).toMatchObject({ hypothesis: "not-identity", code: "NotAnIdentityProblem", errorCode: "ForbiddenByFirewall" });
  });

  test("a challenged 401 answered on retry is not reported by zero-config either", async () => {
    const identity = newIdentity();
    grant(identity.objectId, "Key Vault Secrets User");
    const { credential, logs } = wrap(rotatingCredential(env.mi, identity, expiredClaims, 2), identity);
    env.kv.setSecret("rotating-zc", "v1");
    const c = client(credential);
    await failure(c.getSecret("rotating-zc"));
    expect((await c.getSecret("rotating-zc")).value).toBe("v1");
    expect((await settledDownstream(logs, credential)).map((e) => [e.hypothesis, e.status, e.source, e.count])).toEqual([["H4", 401, "observed", 1]]);
  });

  test("requests without a token this credential issued are ignored; a 2xx produces nothing", async () => {
    const identity = newIdentity();
    const setup = diagnosticSetup(env.mi, { identity });
    await setup.credential.getToken("https://vault.azure.net/.default"); // the credential has issued tokens
    // The same identity's token, minted without the credential: a 403 nobody here is asked to explain.
    await failure(client(setup.plain).getSecret("not-ours"));
    grant(identity.objectId, "Key Vault Secrets User");
    env.kv.setSecret("fine", "ok");
    expect((await client(setup.credential).getSecret("fine")).value).toBe("ok");
    expect(await settledDownstream(setup.logs, setup.credential)).toEqual([]);
  });
});
