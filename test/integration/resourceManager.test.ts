/**
 * Azure Resource Manager, through the real ResourceManagementClient (@azure/arm-resources 7) with
 * `diagnosticPolicy` in `additionalPolicies`, and with zero-config observation only.
 */
import { describe, expect, test } from "vitest";
import type { TokenCredential } from "@azure/core-auth";
import { ResourceManagementClient } from "@azure/arm-resources";
import { diagnosticPolicy, getDiagnosis, type DiagnosticCredential } from "../../src/index.js";
import { startResourceManagerEmulator } from "../../src/testing.js";
import {
  diagnosticSetup,
  downstreamLog,
  expectDiagnosis,
  expectLogLine,
  expectRoleAdvice,
  expiredClaims,
  failWithAndWithoutLibrary,
  newIdentity,
  otherTenantClaims,
  RESOURCE_GROUP,
  settledDownstream,
  testReportedOnce,
  SUBSCRIPTION,
  uniqueName,
  useEmulators,
  type TokenPlan,
} from "./helpers.js";

const env = useEmulators((base) => ({ arm: startResourceManagerEmulator(base) }));
const HOST = "management.azure.com";
const groupScope = (name: string) => `/subscriptions/${SUBSCRIPTION}/resourceGroups/${name}`;

function client(credential: TokenCredential, policy?: DiagnosticCredential): ResourceManagementClient {
  return new ResourceManagementClient(credential, SUBSCRIPTION, {
    httpClient: env.arm.httpClient,
    ...(policy ? { additionalPolicies: [diagnosticPolicy(policy)] } : {}),
  });
}

/** Reads a resource group (a name of its own per test) with the policy or zero-config only, then without the library. */
async function getGroup(plan: TokenPlan, options: { policy: boolean; configured?: TokenPlan["identity"]; group?: string }) {
  const group = options.group ?? uniqueName("rg");
  const result = await failWithAndWithoutLibrary(env.mi, plan, options, (credential, policy) => client(credential, policy).resourceGroups.get(group));
  return { ...result, group };
}

describe.concurrent("Resource Manager with diagnosticPolicy (resourceGroups.get)", () => {
  test("H2 no role: 403 AuthorizationFailed → Reader at the exact resource-group scope, az command with the principal id", async () => {
    const identity = newIdentity();
    const { error, logs, group } = await getGroup({ identity }, { policy: true });
    expect(error).toMatchObject({ name: "RestError", statusCode: 403, code: "AuthorizationFailed" });
    const diagnosis = expectDiagnosis(error, {
      hypothesis: "H2",
      code: "RoleMissingOrWrongScope",
      service: "arm",
      status: 403,
      errorCode: "AuthorizationFailed",
      confidence: "high",
    });
    expect(diagnosis.evidence).toContain(`resource named by the service: ${groupScope(group)}`);
    expect(diagnosis.evidence).toContain("operation named by the service: Microsoft.Resources/subscriptions/resourceGroups/read");
    expectRoleAdvice(diagnosis, {
      role: "Reader",
      scope: `--scope "${groupScope(group)}"`,
      principalId: identity.objectId,
      command: /: az role assignment create .*--role "Reader"/,
    });
    expectLogLine(await downstreamLog(logs), { hypothesis: "H2", code: "RoleMissingOrWrongScope", status: 403, host: HOST, source: "response" });
  });

  test("H2 a data-plane role only (Key Vault Secrets User on the subscription) gives no control-plane read", async () => {
    const identity = newIdentity();
    env.arm.rbac.grant({ principalId: identity.objectId, role: "Key Vault Secrets User", scope: `/subscriptions/${SUBSCRIPTION}` });
    const { error, group } = await getGroup({ identity }, { policy: true });
    const diagnosis = expectDiagnosis(error, { hypothesis: "H2", errorCode: "AuthorizationFailed" });
    expectRoleAdvice(diagnosis, { role: "Reader", scope: groupScope(group), principalId: identity.objectId, command: /: az role assignment create/ });
  });

  test("H2 role at a sibling scope (Reader on another resource group)", async () => {
    const identity = newIdentity();
    env.arm.rbac.grant({ principalId: identity.objectId, role: "Reader", scope: groupScope("rg-billing") });
    const { error, group } = await getGroup({ identity }, { policy: true });
    const diagnosis = expectDiagnosis(error, { hypothesis: "H2", code: "RoleMissingOrWrongScope" });
    expectRoleAdvice(diagnosis, {
      role: "Reader",
      scope: `--scope "${groupScope(group)}"`,
      principalId: identity.objectId,
      command: /: az role assignment create/,
    });
  });

  test("H3 token for the wrong audience: 401 InvalidAuthenticationTokenAudience", async () => {
    const identity = newIdentity();
    const { error, logs } = await getGroup({ identity, audience: "https://vault.azure.net" }, { policy: true });
    expect(error).toMatchObject({ statusCode: 401, code: "InvalidAuthenticationTokenAudience" });
    const diagnosis = expectDiagnosis(error, { hypothesis: "H3", code: "WrongAudience", service: "arm", errorCode: "InvalidAuthenticationTokenAudience" });
    expect(diagnosis.nextSteps[0]).toContain('Request the token for "https://management.azure.com/.default"');
    expectLogLine(await downstreamLog(logs), { hypothesis: "H3", code: "WrongAudience", status: 401, host: HOST });
  });

  test("H4 expired token: 401 ExpiredAuthenticationToken", async () => {
    const { error } = await getGroup({ identity: newIdentity(), claims: expiredClaims }, { policy: true });
    expectDiagnosis(error, { hypothesis: "H4", code: "StaleTokenOrIdentityMixup", errorCode: "ExpiredAuthenticationToken", status: 401 });
  });

  test("H4 token from another tenant: 401 InvalidAuthenticationTokenTenant", async () => {
    const { error } = await getGroup({ identity: newIdentity(), claims: otherTenantClaims }, { policy: true });
    const diagnosis = expectDiagnosis(error, { hypothesis: "H4", code: "StaleTokenOrIdentityMixup", errorCode: "InvalidAuthenticationTokenTenant" });
    expect(diagnosis.summary).toContain("99999999-9999-4999-8999-999999999999");
  });

  test("H4 identity mix-up: AuthorizationFailed names another object id than the configured identity's", async () => {
    const configured = newIdentity();
    const other = newIdentity();
    env.arm.rbac.grant({ principalId: configured.objectId, role: "Reader", scope: `/subscriptions/${SUBSCRIPTION}` });
    const { error } = await getGroup({ identity: other }, { policy: true, configured });
    expect(error.message).toContain(`with object id '${other.objectId}'`);
    const diagnosis = expectDiagnosis(error, { hypothesis: "H4", code: "StaleTokenOrIdentityMixup", errorCode: "AuthorizationFailed" });
    expect(diagnosis.evidence).toContain(`caller seen by the service: oid=${other.objectId} appid=${other.clientId}`);
  });

  test("2xx: Reader reads the group; no diagnosis, no log line", async () => {
    const identity = newIdentity();
    env.arm.rbac.grant({ principalId: identity.objectId, role: "Reader", scope: groupScope(RESOURCE_GROUP) });
    const { credential, logs } = diagnosticSetup(env.mi, { identity });
    expect((await client(credential, credential).resourceGroups.get(RESOURCE_GROUP)).name).toBe(RESOURCE_GROUP);
    expect(await settledDownstream(logs, credential)).toEqual([]);
  });

  testReportedOnce("with the policy AND zero-config observation active, one failure is reported once", (plan) => getGroup(plan, { policy: true }));
});

describe.concurrent("Resource Manager with zero-config observation only (node:http)", () => {
  test("H2: logged with the real host; credential.diagnose(error) adds the exact scope from the body", async () => {
    const identity = newIdentity();
    const { error, logs, credential, group } = await getGroup({ identity }, { policy: false });
    expectLogLine(await downstreamLog(logs), { hypothesis: "H2", code: "RoleMissingOrWrongScope", status: 403, host: HOST, source: "observed" });
    expect(getDiagnosis(error)).toBeUndefined();
    const diagnosis = credential.diagnose(error);
    expectRoleAdvice(diagnosis!, {
      role: "Reader",
      scope: `--scope "${groupScope(group)}"`,
      principalId: identity.objectId,
      command: /: az role assignment create/,
    });
  });

  test("H3 wrong audience and H4 expired token", async () => {
    const [audience, expired] = await Promise.all([
      getGroup({ identity: newIdentity(), audience: "https://storage.azure.com" }, { policy: false }),
      getGroup({ identity: newIdentity(), claims: expiredClaims }, { policy: false }),
    ]);
    expectLogLine(await downstreamLog(audience.logs), { hypothesis: "H3", code: "WrongAudience", status: 401, host: HOST, source: "observed" });
    expectLogLine(await downstreamLog(expired.logs), { hypothesis: "H4", code: "StaleTokenOrIdentityMixup", status: 401, host: HOST, source: "observed" });
  });
});
