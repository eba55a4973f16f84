/** The pure verdict logic of verification: permission wildcards, notActions, data actions, scopes, deny assignments, H1. */
import { describe, expect, test } from "vitest";
import { appliesTo, entryAllows, permissionsAllow, scopeRelation, topLevelResource } from "../../src/verify/permissions.js";
import { accessVerdict, identityVerdict, readAttachedIdentities, type AccessFacts } from "../../src/verify/verdict.js";
import { checkResourceManagerEndpoint, resourceManagerFor } from "../../src/verify/endpoint.js";

const SUB = "/subscriptions/11111111-1111-1111-1111-111111111111";
const RG = `${SUB}/resourceGroups/rg`;
const VAULT = `${RG}/providers/Microsoft.KeyVault/vaults/kv`;
const GET_SECRET = "Microsoft.KeyVault/vaults/secrets/getSecret/action";
const PRINCIPAL = "22222222-2222-2222-2222-222222222222";
const NOW = Date.parse("2026-03-01T12:00:00Z");
const SECRETS_USER = { dataActions: ["Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"] };

const facts = (more: Partial<AccessFacts>): AccessFacts => ({
  target: VAULT,
  action: GET_SECRET,
  plane: "data",
  principalId: PRINCIPAL,
  now: NOW,
  propagationMinutes: 10,
  ...more,
});

describe("permission matching", () => {
  test.each([
    ["*", GET_SECRET, true],
    ["Microsoft.KeyVault/*", GET_SECRET, true],
    ["microsoft.keyvault/vaults/secrets/*", GET_SECRET, true],
    ["Microsoft.KeyVault/vaults/*/getSecret/action", GET_SECRET, true],
    ["Microsoft.KeyVault/vaults/keys/*", GET_SECRET, false],
    ["Microsoft.KeyVault/vaults/secrets/getSecret", GET_SECRET, false],
  ])("dataAction %s vs %s → %s", (pattern, action, expected) => {
    expect(entryAllows({ dataActions: [pattern] }, action, "data")).toBe(expected);
  });

  test("notDataActions subtract from the same entry only; another entry still grants", () => {
    const owner = { dataActions: ["Microsoft.KeyVault/vaults/*"], notDataActions: ["Microsoft.KeyVault/vaults/secrets/*"] };
    expect(entryAllows(owner, GET_SECRET, "data")).toBe(false);
    expect(permissionsAllow([owner, SECRETS_USER], GET_SECRET, "data")).toBe(true);
  });

  test("actions never grant a data action, and dataActions never a control action (Owner opens no vault)", () => {
    expect(entryAllows({ actions: ["*"] }, GET_SECRET, "data")).toBe(false);
    expect(entryAllows({ dataActions: ["*"] }, "Microsoft.Resources/subscriptions/resourceGroups/read", "control")).toBe(false);
    expect(
      entryAllows({ actions: ["*/read"], notActions: ["Microsoft.Authorization/*/read"] }, "Microsoft.Authorization/roleAssignments/read", "control"),
    ).toBe(false);
    expect(entryAllows({ actions: ["*/read"] }, "Microsoft.Authorization/permissions/read", "control")).toBe(true);
  });

  test("scope relations: at, above (subscription, management group), below, sibling", () => {
    expect(scopeRelation(VAULT.toLowerCase(), VAULT)).toBe("at");
    expect(scopeRelation(SUB, VAULT)).toBe("above");
    expect(scopeRelation("/providers/Microsoft.Management/managementGroups/mg", VAULT)).toBe("above");
    expect(scopeRelation(`${VAULT}/secrets/s`, VAULT)).toBe("below");
    expect(scopeRelation(`${RG}/providers/Microsoft.KeyVault/vaults/kv2`, VAULT)).toBe("elsewhere");
    expect(scopeRelation(`${SUB}/resourceGroups/rg2`, VAULT)).toBe("elsewhere");
    expect(appliesTo(`${RG}/`, VAULT)).toBe(true);
    expect(topLevelResource(`${VAULT.toLowerCase()}/secrets/x`)).toBe(VAULT.toLowerCase());
  });
});

describe("H2 verdicts", () => {
  test("nothing grants it: confirmed missing", () => {
    const v = accessVerdict(
      facts({
        permissions: [{ actions: ["*/read"] }],
        assignments: [{ scope: RG, roleDefinitionId: "/r/reader", roleName: "Reader", permissions: [{ actions: ["*/read"] }] }],
      }),
    );
    expect(v.outcome).toBe("confirmed");
    expect(v.summary).toBe(`Confirmed: no assignment grants ${GET_SECRET} at any scope above the resource: confirmed missing`);
    expect(v.checks).toContainEqual({
      kind: "role",
      expected: `${GET_SECRET} at ${VAULT} or above`,
      actual: "no assignment grants it",
      verdict: "fail",
      confirmedBy: "arm",
    });
  });

  test("granted 3 min ago at the vault: propagating, with the minutes left of the service's delay", () => {
    const v = accessVerdict(
      facts({
        assignments: [{ scope: VAULT, roleDefinitionId: "/r/ksu", roleName: "Key Vault Secrets User", permissions: [SECRETS_USER], createdOn: NOW - 180_000 }],
      }),
    );
    expect(v.outcome).toBe("propagating");
    expect(v.summary).toBe(`Verified: granted by 'Key Vault Secrets User' assigned 3 min ago at ${VAULT}: still propagating, expect it within ~7 min`);
  });

  test("granted long ago: the refusal has another cause (refuted)", () => {
    const v = accessVerdict(
      facts({
        assignments: [{ scope: SUB, roleDefinitionId: "/r/ksu", roleName: "Key Vault Secrets User", permissions: [SECRETS_USER], createdOn: NOW - 86_400_000 }],
      }),
    );
    expect(v.outcome).toBe("refuted");
  });

  test("the permissions list alone decides when the assignments cannot be read", () => {
    expect(accessVerdict(facts({ permissions: [{ dataActions: ["Microsoft.KeyVault/vaults/secrets/*"] }] })).outcome).toBe("refuted");
    expect(accessVerdict(facts({ permissions: [] })).outcome).toBe("confirmed");
  });

  test("a wildcard role at a sibling scope: granted at a sibling scope", () => {
    const v = accessVerdict(
      facts({
        assignments: [
          {
            scope: `${SUB}/resourceGroups/rg-other`,
            roleDefinitionId: "/r/kva",
            roleName: "Key Vault Administrator",
            permissions: [{ dataActions: ["Microsoft.KeyVault/vaults/*"] }],
          },
        ],
      }),
    );
    expect(v.outcome).toBe("sibling-scope");
    expect(v.summary).toContain(`'Key Vault Administrator' is assigned at ${SUB}/resourceGroups/rg-other, which does not contain ${VAULT}`);
  });

  test("a deny assignment for everyone blocks it; excluded principals and other actions are not blocked", () => {
    const deny = {
      name: "managed app lock",
      scope: RG,
      permissions: [{ dataActions: ["Microsoft.KeyVault/vaults/secrets/*"] }],
      principals: ["00000000-0000-0000-0000-000000000000"],
      excludePrincipals: [],
      doNotApplyToChildScopes: false,
    };
    const granted = [{ scope: VAULT, roleDefinitionId: "/r/ksu", roleName: "Key Vault Secrets User", permissions: [SECRETS_USER] }];
    expect(accessVerdict(facts({ assignments: granted, denies: [deny] })).outcome).toBe("denied");
    expect(accessVerdict(facts({ assignments: granted, denies: [{ ...deny, excludePrincipals: [PRINCIPAL] }] })).outcome).toBe("refuted");
    expect(accessVerdict(facts({ assignments: granted, denies: [{ ...deny, doNotApplyToChildScopes: true }] })).outcome).toBe("refuted");
    expect(
      accessVerdict(facts({ assignments: granted, denies: [{ ...deny, permissions: [{ dataActions: ["Microsoft.KeyVault/vaults/keys/*"] }] }] })).outcome,
    ).toBe("refuted");
  });

  test("a vault on access policies: the RBAC question does not apply", () => {
    const v = accessVerdict(facts({ rbacAuthorization: false, vaultName: "kv", assignments: [] }));
    expect(v.outcome).toBe("access-policies");
    expect(v.nextSteps[0]).toBe(
      `Give the identity an access policy: az keyvault set-policy --name "kv" --object-id "${PRINCIPAL}" --secret-permissions get list`,
    );
  });

  test("a value that cannot go in a shell command becomes a placeholder", () => {
    const v = accessVerdict(facts({ rbacAuthorization: false, vaultName: 'kv"; rm -rf /', assignments: [] }));
    expect(v.nextSteps[0]).toContain('--name "<vault>"');
  });
});

describe("H1 verdicts", () => {
  const app = `${RG}/providers/Microsoft.App/containerApps/ca-orders`;
  const uami = (name: string) => `${RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`;
  const resource = {
    id: app,
    identity: {
      type: "SystemAssigned, UserAssigned",
      principalId: "33333333-3333-3333-3333-333333333333",
      userAssignedIdentities: { [uami("id-a")]: { principalId: "p-a", clientId: "c-a" }, [uami("id-b")]: { principalId: "p-b", clientId: "c-b" } },
    },
  };

  test("the client id asked for is not attached: confirmed, naming what is", () => {
    const v = identityVerdict({ clientId: "c-x" }, readAttachedIdentities(resource, app));
    expect(v.outcome).toBe("confirmed");
    expect(v.summary).toBe(
      "Confirmed: the identity asked for (clientId c-x) is not attached to ca-orders; attached: system-assigned, id-a (clientId c-a), id-b (clientId c-b)",
    );
  });

  test("attached by client id, object id or resource id (any case): refuted", () => {
    const attached = readAttachedIdentities(resource, app);
    expect(identityVerdict({ clientId: "C-A" }, attached).outcome).toBe("refuted");
    expect(identityVerdict({ objectId: "p-b" }, attached).outcome).toBe("refuted");
    expect(identityVerdict({ resourceId: uami("id-b").toUpperCase() }, attached).outcome).toBe("refuted");
    expect(identityVerdict({}, attached).outcome).toBe("refuted");
  });

  test("system-assigned asked for, identity type UserAssigned only: confirmed", () => {
    const v = identityVerdict({}, readAttachedIdentities({ identity: { type: "UserAssigned", userAssignedIdentities: {} } }, app));
    expect(v.outcome).toBe("confirmed");
    expect(v.nextSteps[0]).toContain("--system-assigned");
  });

  test("AKS: the kubelet identity counts as attached", () => {
    const aks = {
      identity: { type: "SystemAssigned" },
      properties: { identityProfile: { kubeletidentity: { resourceId: uami("aks-agentpool"), clientId: "c-k", objectId: "o-k" } } },
    };
    expect(identityVerdict({ clientId: "c-k" }, readAttachedIdentities(aks, `${RG}/providers/Microsoft.ContainerService/managedClusters/aks`)).outcome).toBe(
      "refuted",
    );
  });
});

describe("the Resource Manager endpoint", () => {
  test("follows the cloud of the failure; a configured endpoint keeps the cloud's token scope", () => {
    expect(resourceManagerFor(["https://kv.vault.azure.net/secrets/x"])).toMatchObject({
      endpoint: "https://management.azure.com",
      scope: "https://management.azure.com/.default",
    });
    expect(resourceManagerFor(["https://kv.vault.azure.cn/secrets/x"])).toMatchObject({ endpoint: "https://management.chinacloudapi.cn", cloud: "china" });
    expect(resourceManagerFor([undefined, "https://sts.windows.net/t/", "https://vault.usgovcloudapi.net"])).toMatchObject({
      endpoint: "https://management.usgovcloudapi.net",
    });
    expect(resourceManagerFor(["https://kv.vault.azure.net"], "https://127.0.0.1:8443")).toEqual({
      endpoint: "https://127.0.0.1:8443",
      scope: "https://management.azure.com/.default",
      cloud: "public",
    });
  });

  test("https only, no credentials or query", () => {
    expect(checkResourceManagerEndpoint("https://arm.contoso.internal/")).toBe("https://arm.contoso.internal");
    expect(() => checkResourceManagerEndpoint("http://127.0.0.1:8080")).toThrow(TypeError);
    expect(() => checkResourceManagerEndpoint("https://u:p@arm.example")).toThrow(TypeError);
    expect(() => checkResourceManagerEndpoint("not a url")).toThrow(TypeError);
    expect(checkResourceManagerEndpoint(undefined)).toBeUndefined();
  });
});
