/**
 * Microsoft Graph has no Azure SDK client here: apps call it with `fetch` (zero-config observation of undici, and
 * `credential.diagnose({ response, body })`) or through a core-rest-pipeline pipeline (with `diagnosticPolicy`).
 * An identity's Graph rights are app roles in its token, not Azure RBAC.
 */
import { describe, expect, test } from "vitest";
import { bearerTokenAuthenticationPolicy, createPipelineFromOptions, createPipelineRequest, type HttpClient } from "@azure/core-rest-pipeline";
import { diagnosticPolicy, getDiagnosis, type DiagnosticCredential } from "../../src/index.js";
import { startGraphEmulator } from "../../src/testing.js";
import {
  diagnosticSetup,
  downstream,
  downstreamLog,
  expectLogLine,
  expectRoleAdvice,
  expiredClaims,
  fetchWithToken,
  newIdentity,
  QUIET_MS,
  settledDownstream,
  sleep,
  useEmulators,
  type TokenPlan,
} from "./helpers.js";

const env = useEmulators((base) => ({ graph: startGraphEmulator(base) }), { routeFetch: ({ graph }) => [graph.host] });
/** `https://graph.microsoft.com:<port><path>`: fetch reaches the emulator with the real name (see routeFetchToEmulators). */
const graphUrl = (path: string) => `https://${env.graph.host}:${env.graph.port}${path}`;
const SCOPE = "https://graph.microsoft.com/.default";

const withRoles =
  (...roles: string[]) =>
  () => ({ roles });

/** GET /v1.0/users/<id> with fetch and a token from the credential: what the app sees, and the log. */
async function fetchUser(plan: TokenPlan, configured?: TokenPlan["identity"]) {
  const setup = diagnosticSetup(env.mi, plan, configured);
  const url = graphUrl(`/v1.0/users/${crypto.randomUUID()}`);
  const { response, body } = await fetchWithToken(setup.credential, SCOPE, url);
  return { ...setup, response, body, url };
}

/** A core-rest-pipeline pipeline with the bearer policy and diagnosticPolicy, as a REST client would build it. */
function pipelineFor(credential: DiagnosticCredential) {
  const pipeline = createPipelineFromOptions({});
  pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential, scopes: SCOPE }), { phase: "Sign" });
  const { policy } = diagnosticPolicy(credential);
  pipeline.addPolicy(policy, { afterPhase: "Sign" });
  return (path: string) => pipeline.sendRequest(env.graph.httpClient as HttpClient, createPipelineRequest({ url: `https://graph.microsoft.com${path}` }));
}

describe.concurrent("Graph with fetch: zero-config observation (undici) and credential.diagnose({ response, body })", () => {
  test("H2 no app role: 403 AccessDenied → the User.Read.All app-role assignment, az rest command with the principal id", async () => {
    const identity = newIdentity();
    const { response, body, logs, credential } = await fetchUser({ identity });
    expect(response.status).toBe(403);
    expect(JSON.parse(body).error.code).toBe("AccessDenied");
    const entry = await downstreamLog(logs);
    expectLogLine(entry, { hypothesis: "H2", code: "RoleMissingOrWrongScope", status: 403, host: `graph.microsoft.com:${env.graph.port}`, source: "observed" });
    const diagnosis = credential.diagnose({ response, body });
    expect(diagnosis).toMatchObject({ hypothesis: "H2", code: "RoleMissingOrWrongScope", service: "graph", status: 403, errorCode: "AccessDenied" });
    expectRoleAdvice(diagnosis!, {
      role: "User.Read.All",
      scope: `servicePrincipals/${identity.objectId}/appRoleAssignments`,
      principalId: identity.objectId,
      command: / && az rest --method POST/,
    });
    expect(diagnosis!.nextSteps[0]).toContain("Azure RBAC roles do not apply to Graph");
  });

  test("H2 another app role than the operation needs (Application.Read.All reading users): 403 Authorization_RequestDenied", async () => {
    const identity = newIdentity();
    const { response, body, credential } = await fetchUser({ identity, claims: withRoles("Application.Read.All") });
    const diagnosis = credential.diagnose({ response, body });
    expect(diagnosis).toMatchObject({ hypothesis: "H2", errorCode: "Authorization_RequestDenied" });
    expect(diagnosis!.evidence).toContain("token roles claim: Application.Read.All");
    expectRoleAdvice(diagnosis!, { role: "User.Read.All", scope: "appRoleAssignments", principalId: identity.objectId, command: / && az rest --method POST/ });
  });

  test("H3 token for the wrong audience: 401 InvalidAuthenticationToken 'Invalid audience'", async () => {
    // The app asked for a Key Vault token and sent it to Graph.
    const identity = newIdentity();
    const setup = diagnosticSetup(env.mi, { identity });
    const { response, body } = await fetchWithToken(setup.credential, "https://vault.azure.net/.default", graphUrl("/v1.0/users"));
    expect(response.status).toBe(401);
    const entry = await downstreamLog(setup.logs);
    expectLogLine(entry, { hypothesis: "H3", code: "WrongAudience", status: 401, host: `graph.microsoft.com:${env.graph.port}`, source: "observed" });
    const diagnosis = setup.credential.diagnose({ response, body });
    expect(diagnosis).toMatchObject({ hypothesis: "H3", errorCode: "InvalidAuthenticationToken" });
    expect(diagnosis!.nextSteps[0]).toContain('"https://graph.microsoft.com/.default"');
  });

  test("H4 expired token: 401 'Lifetime validation failed'", async () => {
    const { response, body, logs, credential } = await fetchUser({ identity: newIdentity(), claims: expiredClaims });
    expectLogLine(await downstreamLog(logs), {
      hypothesis: "H4",
      code: "StaleTokenOrIdentityMixup",
      status: 401,
      host: `graph.microsoft.com:${env.graph.port}`,
    });
    expect(credential.diagnose({ response, body })).toMatchObject({ hypothesis: "H4", code: "StaleTokenOrIdentityMixup" });
  });

  test("H4 identity mix-up: another identity's token than the configured one", async () => {
    const configured = newIdentity();
    const other = newIdentity();
    const { response, body, credential } = await fetchUser({ identity: other }, configured);
    const diagnosis = credential.diagnose({ response, body });
    expect(diagnosis).toMatchObject({ hypothesis: "H4", code: "StaleTokenOrIdentityMixup" });
    expect(diagnosis!.summary).toContain(`request made as clientId ${other.clientId}`);
  });

  test("2xx with the app role: nothing logged; requests without our token are ignored", async () => {
    const identity = newIdentity();
    const { response, logs, credential } = await fetchUser({ identity, claims: withRoles("User.Read.All") });
    expect(response.status).toBe(404); // a random id: found nothing, but authorized
    const list = await fetch(graphUrl("/v1.0/users"), { headers: { authorization: `Bearer ${(await credential.getToken(SCOPE))!.token}` } });
    expect(list.status).toBe(200);
    // The same identity's token, minted without the credential: its 403 is not ours to explain.
    const foreign = await env.mi.mintToken({ identity, resource: "https://graph.microsoft.com" });
    expect((await fetch(graphUrl(`/v1.0/users/x-${Date.now()}`), { headers: { authorization: `Bearer ${foreign}` } })).status).toBe(403);
    expect(await settledDownstream(logs, credential)).toEqual([]);
  });
});

describe.concurrent("Graph through a core-rest-pipeline pipeline with diagnosticPolicy", () => {
  test("H2: the 403 response carries the diagnosis (getDiagnosis(response)), logged once", async () => {
    const identity = newIdentity();
    const { credential, logs } = diagnosticSetup(env.mi, { identity });
    const response = await pipelineFor(credential)(`/v1.0/users/${crypto.randomUUID()}`);
    expect(response.status).toBe(403);
    expect(getDiagnosis(response)).toMatchObject({ hypothesis: "H2", service: "graph", errorCode: "AccessDenied" });
    const reported = await settledDownstream(logs);
    expect(reported.map((e) => [e.source, e.hypothesis])).toEqual([["response", "H2"]]);
    expectLogLine(reported[0]!, { hypothesis: "H2", code: "RoleMissingOrWrongScope", status: 403, host: "graph.microsoft.com" });
  });

  test("H3 wrong audience and 2xx", async () => {
    const identity = newIdentity();
    const wrong = diagnosticSetup(env.mi, { identity, audience: "https://management.azure.com" });
    const response = await pipelineFor(wrong.credential)(`/v1.0/users/${crypto.randomUUID()}`);
    expect(getDiagnosis(response)).toMatchObject({ hypothesis: "H3", code: "WrongAudience", status: 401 });
    const good = diagnosticSetup(env.mi, { identity, claims: withRoles("User.Read.All") });
    const ok = await pipelineFor(good.credential)("/v1.0/users");
    expect(ok.status).toBe(200);
    expect(getDiagnosis(ok)).toBeUndefined();
    await sleep(QUIET_MS);
    expect(downstream(wrong.logs).map((e) => e.hypothesis)).toEqual(["H3"]);
    expect(downstream(good.logs)).toEqual([]);
  });
});
