/**
 * The built-in role data and the rules that read it: the generator's check mode, lazy loading, Azure's wildcard
 * rules (from "Understand Azure role definitions", learn.microsoft.com/azure/role-based-access-control/role-definitions),
 * the issue's cases end to end (classifyResponse), every catalog service's H2 and the Bicep beside the command.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { classifyResponse } from "../../src/index.js";
import { SERVICE_CATALOG } from "../../src/catalog/services.js";
import { actionPatternMatches, builtInRoles, roleDataLoads, roleGrants, type RoleDefinition } from "../../src/catalog/roleDefinitions.js";
import { leastPrivilegedRole } from "../../src/catalog/leastPrivilege.js";
import { roleAdvice } from "../../src/classify/roleAdvice.js";
import { bicepRoleAssignment } from "../../src/classify/bicep.js";
import { REPO_ROOT } from "../helpers/childScenario.js";

const SUB = "0d0d0d0d-0000-1111-2222-333333333333";
const OID = "0cd52919-aaf4-4022-a022-5ed15ed0fc24";

describe("loading", () => {
  it("importing the package does not read the role data; the first diagnosed missing role does, once", () => {
    // This file imported src/index.js above: nothing has asked for a role yet.
    expect(roleDataLoads()).toBe(0);
    const started = performance.now();
    const diagnosis = classifyResponse({
      url: "https://kv-orders.vault.azure.net/secrets/db?api-version=7.5",
      status: 403,
      body: JSON.stringify({
        error: {
          code: "Forbidden",
          message: `Caller is not authorized to perform action on resource.\r\nCaller: appid=x;oid=${OID};iss=https://sts.windows.net/t/\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\nResource: '/subscriptions/${SUB}/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv-orders/secrets/db'\r\nAssignment: (not found)`,
          innererror: { code: "ForbiddenByRbac" },
        },
      }),
    });
    const firstMs = performance.now() - started;
    expect(roleDataLoads()).toBe(1);
    expect(diagnosis?.evidence).toContain(
      'why "Key Vault Secrets User": grants `Microsoft.KeyVault/vaults/secrets/getSecret/action` (a data action); the smallest of 2 roles made for Microsoft.KeyVault/vaults/secrets that do (2 permissions); runner-up "Key Vault Secrets Officer" (86)',
    );
    leastPrivilegedRole("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read");
    expect(roleDataLoads()).toBe(1);
    console.log(`first diagnosed missing role, data load and decode included: ${firstMs.toFixed(0)} ms`);
    const data = builtInRoles();
    expect(data.roles).toHaveLength(887);
    expect(data.source).toMatchObject({ file: "azure-builtin-roles.json", date: "2026-03-03", roles: 887 });
    expect(data.source.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("the committed data file is exactly what scripts/generate-roles.mjs makes (--check)", () => {
    const output = execFileSync(process.execPath, [path.join(REPO_ROOT, "scripts", "generate-roles.mjs"), "--check"], { cwd: REPO_ROOT, encoding: "utf8" });
    expect(output).toContain("is up to date (887 roles, 5045 action strings)");
  });

  it("--check fails on a dump that differs, and a dump's custom roles are dropped", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "roles-"));
    const dump = JSON.parse(readFileSync(path.join(REPO_ROOT, "..", "shared", "data", "azure-builtin-roles.json"), "utf8")) as unknown[];
    writeFileSync(path.join(dir, "roles.json"), JSON.stringify(dump.slice(1)));
    expect(() =>
      execFileSync(process.execPath, [path.join(REPO_ROOT, "scripts", "generate-roles.mjs"), path.join(dir, "roles.json"), "--check"], {
        cwd: REPO_ROOT,
        stdio: "pipe",
      }),
    ).toThrow();
  });
});

const role = (actions: string[], notActions: string[] = [], dataActions: string[] = [], notDataActions: string[] = []): RoleDefinition => ({
  name: "test",
  id: "00000000-0000-0000-0000-000000000000",
  permissions: [{ actions, notActions, dataActions, notDataActions }],
});

describe("Azure's wildcard rules (role-definitions: Actions format, NotActions, DataActions)", () => {
  it("`*` matches any characters, `/` included: `Microsoft.CostManagement/exports/*` grants exports/action and exports/run/action", () => {
    expect(actionPatternMatches("Microsoft.CostManagement/exports/*", "Microsoft.CostManagement/exports/action")).toBe(true);
    expect(actionPatternMatches("Microsoft.CostManagement/exports/*", "Microsoft.CostManagement/exports/run/action")).toBe(true);
    expect(actionPatternMatches("Microsoft.Compute/*", "Microsoft.Compute/virtualMachines/read")).toBe(true);
    expect(actionPatternMatches("*/read", "Microsoft.Web/sites/read")).toBe(true);
    expect(actionPatternMatches("Microsoft.Network/*/read", "Microsoft.Network/virtualNetworks/subnets/read")).toBe(true);
    expect(actionPatternMatches("Microsoft.Network/*/read", "Microsoft.Network/virtualNetworks/write")).toBe(false);
    expect(actionPatternMatches("Microsoft.Compute/*", "Microsoft.ComputeX/read")).toBe(false);
  });

  it("a `/*/` segment also matches none: Managed Identity Operator's `userAssignedIdentities/*/assign/action` grants `userAssignedIdentities/assign/action`", () => {
    expect(
      actionPatternMatches(
        "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
        "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
      ),
    ).toBe(true);
    expect(actionPatternMatches("Microsoft.ManagedIdentity/userAssignedIdentities/*/read", "Microsoft.ManagedIdentity/userAssignedIdentities/read")).toBe(true);
    const operator = builtInRoles().roles.find((r) => r.name === "Managed Identity Operator") as RoleDefinition;
    expect(roleGrants(operator, "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", false)).toBe(true);
    expect(roleGrants(operator, "Microsoft.ManagedIdentity/userAssignedIdentities/write", false)).toBe(false);
  });

  it("case does not matter (the docs' `microsoft.web/sites/restart/Action`; Contributor's `Microsoft.Authorization/*/Delete`)", () => {
    expect(actionPatternMatches("microsoft.web/sites/restart/Action", "Microsoft.Web/sites/restart/action")).toBe(true);
    const contributor = builtInRoles().roles.find((r) => r.name === "Contributor") as RoleDefinition;
    expect(roleGrants(contributor, "Microsoft.Authorization/roleAssignments/delete", false)).toBe(false);
    expect(roleGrants(contributor, "Microsoft.Web/sites/delete", false)).toBe(true);
  });

  it("NotActions subtract from Actions and NotDataActions from DataActions, each in its own plane (the docs' Storage queue example)", () => {
    const queue = "Microsoft.Storage/storageAccounts/queueServices/queues/messages";
    const subtracted = role([], [], [`${queue}/*`], [`${queue}/delete`]);
    expect(roleGrants(subtracted, `${queue}/read`, true)).toBe(true);
    expect(roleGrants(subtracted, `${queue}/process/action`, true)).toBe(true);
    expect(roleGrants(subtracted, `${queue}/delete`, true)).toBe(false);
    // A NotActions entry does not subtract a data action.
    expect(roleGrants(role([], [`${queue}/delete`], [`${queue}/*`]), `${queue}/delete`, true)).toBe(true);
  });

  it("Actions grant no data action: Owner's `*` does not read a blob", () => {
    const owner = builtInRoles().roles.find((r) => r.name === "Owner") as RoleDefinition;
    expect(roleGrants(owner, "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", true)).toBe(false);
    expect(roleGrants(owner, "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", false)).toBe(true);
    expect(leastPrivilegedRole("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", { dataAction: true })?.role.name).toBe(
      "Storage Blob Data Reader",
    );
  });
});

describe("the absurd picks of a bare permission count are avoided", () => {
  it.each([
    ["Microsoft.CognitiveServices/accounts/AIServices/agents/read", "Azure AI User", "Defender CSPM"],
    ["Microsoft.KeyVault/vaults/keys/read", "Key Vault Crypto Service Encryption User", "Key Vault Certificate User"],
    ["Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", "Managed Identity Operator", "Azure Red Hat OpenShift Machine API Operator"],
    ["Microsoft.Web/sites/read", "Reader", "Microsoft Sentinel Playbook Operator"],
  ])("%s → %s, not %s", (action, expected, absurd) => {
    const granting = builtInRoles().roles.filter((r) => roleGrants(r, action, action.includes("AIServices") || action.includes("/keys/")));
    expect(granting.map((r) => r.name)).toContain(absurd);
    const choice = leastPrivilegedRole(action);
    expect(choice?.role.name).toBe(expected);
    expect(choice?.role.name).not.toMatch(/Sentinel|Defender|OpenShift/);
  });
});

const linkedBody = (identity: string) =>
  JSON.stringify({
    error: {
      code: "LinkedAuthorizationFailed",
      // The shape of aad-pod-identity#443 (and #585, #613): permission on the VM, none on the identity.
      message: `The client '${OID}' with object id '${OID}' has permission to perform action 'Microsoft.Compute/virtualMachines/write' on scope '/subscriptions/${SUB}/resourceGroups/MC_app_aks_westeurope/providers/Microsoft.Compute/virtualMachines/aks-agentpool-22656173-0'; however, it does not have permission to perform action 'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action' on the linked scope(s) '${identity}' or the linked scope(s) are invalid.`,
    },
  });

describe("the issue's cases, end to end", () => {
  it("LinkedAuthorizationFailed assigning a user-assigned identity → Managed Identity Operator on the identity, not Contributor on the VM", () => {
    const identity = `/subscriptions/${SUB}/resourcegroups/rg-app/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders`;
    const diagnosis = classifyResponse({
      url: `https://management.azure.com/subscriptions/${SUB}/resourceGroups/MC_app_aks_westeurope/providers/Microsoft.Compute/virtualMachines/aks-agentpool-22656173-0?api-version=2023-09-01`,
      status: 403,
      method: "PUT",
      body: linkedBody(identity),
    });
    expect(diagnosis?.hypothesis).toBe("H2");
    const steps = diagnosis?.nextSteps.join("\n") ?? "";
    expect(steps).toContain(`--role "Managed Identity Operator" --scope "${identity}"`);
    expect(steps).not.toContain('--role "Contributor"');
    expect(steps).toContain("on the linked resource userAssignedIdentities/id-orders");
    expect(diagnosis?.evidence).toContain(
      `linked scope: the action \`Microsoft.ManagedIdentity/userAssignedIdentities/assign/action\` was denied on ${identity}`,
    );
    // The Bicep names the identity as the assignment's scope.
    expect(steps).toContain("resource target 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {");
    expect(steps).toContain('--resource-group "rg-app" --template-file role-assignment.bicep');
  });

  it("Service Bus: a topic create refused for its 'Manage' claim → Data Owner (not Data Sender)", () => {
    const diagnosis = classifyResponse({
      url: "https://sb-orders.servicebus.windows.net/orders-topic?api-version=2021-05",
      status: 401,
      method: "PUT",
      body: "<Error><Code>401</Code><Detail>Unauthorized access. 'Manage' claim(s) are required to perform this operation. Resource: 'sb://sb-orders.servicebus.windows.net/orders-topic'. TrackingId:1, SystemTracker:sb-orders.servicebus.windows.net:orders-topic, Timestamp:2025-05-01T12:00:00</Detail></Error>",
    });
    expect(diagnosis?.service).toBe("servicebus");
    expect(diagnosis?.nextSteps.join("\n")).toContain('--role "Azure Service Bus Data Owner"');
    // The entity's path does not say queue or topic: the operation table's stand-in action, which only Data Owner grants.
    expect(diagnosis?.evidence.join("\n")).toMatch(/grants `Microsoft\.ServiceBus\/namespaces\/(queues|topics)\/write`/);
  });

  it("Key Vault's keys/read → a role made for keys; an OpenAI answer's data action → Cognitive Services OpenAI User", () => {
    expect(leastPrivilegedRole("Microsoft.KeyVault/vaults/keys/read")?.role.name).toMatch(/^Key Vault Crypto /);
    const diagnosis = classifyResponse({
      url: "https://oai-orders.openai.azure.com/openai/deployments/gpt/chat/completions?api-version=2024-06-01",
      status: 401,
      method: "POST",
      body: JSON.stringify({
        error: {
          code: "PermissionDenied",
          message: `The principal \`${OID}\` lacks the required data action \`Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action\` to perform \`POST /openai/deployments/{deployment-id}/chat/completions\` operation.`,
        },
      }),
    });
    expect(diagnosis?.nextSteps.join("\n")).toContain('--role "Cognitive Services OpenAI User"');
  });
});

describe("every catalog service answers its H2 with a computed role", () => {
  const RBAC = SERVICE_CATALOG.filter((service) => service.accessModel === "azure-rbac" || service.accessModel === "cosmos-sql-rbac");

  it("covers the catalog: the Azure RBAC and Cosmos DB services compute; the others grant something that is not a role definition", () => {
    expect(RBAC.map((service) => service.name).sort()).toEqual(
      [
        "acr",
        "aifoundry",
        "appconfig",
        "arm",
        "batch",
        "cosmos",
        "eventgrid",
        "eventgridnamespaces",
        "eventhubs",
        "keyvault",
        "loganalytics",
        "monitor",
        "openai",
        "search",
        "servicebus",
        "signalr",
        "storage",
        "webpubsub",
      ].sort(),
    );
    // Graph app roles (its own table), database users, Redis access policies, Managed HSM local roles.
    for (const service of SERVICE_CATALOG.filter((s) => !RBAC.includes(s))) {
      expect(["graph-app-role", "database-user", "redis-access-policy", "managedhsm-local-rbac"]).toContain(service.accessModel);
    }
  });

  it.each(RBAC.map((service) => [service.name, service] as const))(
    "%s: each of its operations → a computed role that grants the operation's action",
    (_name, service) => {
      const operations = service.name === "arm" ? [undefined] : [...new Set(service.roles.map((r) => r.operation))];
      for (const operation of operations) {
        const catalogRole = service.roles.find((r) => r.operation === operation);
        const actions = service.name === "arm" ? ["Microsoft.Web/sites/read"] : [];
        const probe = { ...service, roles: catalogRole !== undefined ? [catalogRole] : service.roles };
        const advice = roleAdvice({
          service: probe,
          facts: { resources: [], actions } as never,
          text: "",
          host: `x${service.hostSuffixes[0] ?? ".example.net"}`,
          principalId: OID,
        });
        if (service.name === "openai" && operation === "cognitive") {
          expect(advice.computed).toBeUndefined(); // no single action stands for "any Cognitive Services call"
          continue;
        }
        expect(advice.computed, `${service.name} ${operation}`).toBeDefined();
        expect(advice.role?.role).toBe(advice.computed?.role.name);
        expect(advice.computed?.why).toMatch(/^grants `[^`]+`/);
        if (service.accessModel === "azure-rbac" && service.plane !== "control") {
          expect(["Owner", "Contributor", "Reader", "User Access Administrator"]).not.toContain(advice.role?.role);
        }
      }
    },
  );
});

describe("Bicep beside the az command", () => {
  /**
   * Well-formedness by grammar (no bicep CLI installs here: its npm wrapper downloads the binary from GitHub): the
   * statements a role-assignment file may hold, balanced braces, string literals closed, and the roleAssignments
   * resource's required properties.
   */
  function expectWellFormedBicep(file: string): void {
    let depth = 0;
    for (const line of file.split("\n")) {
      const code = line.replace(/'(?:[^'\\]|\\.)*'/g, "S");
      expect(code, line).not.toMatch(/'/); // every string literal closed on its line
      if (depth === 0) {
        expect(line, line).toMatch(
          /^(|\/\/ .*|targetScope = '(subscription|resourceGroup)'|param [a-zA-Z]+ string( = '[0-9a-f-]{36}')?|@description\('[^']*'\)|resource [a-zA-Z]+ '[A-Za-z.]+\/[A-Za-z/]+@\d{4}-\d{2}-\d{2}(-preview)?'( existing)? = \{)$/,
        );
      } else {
        expect(line, line).toMatch(/^ +([a-zA-Z]+: .+|[a-zA-Z]+: \{|\})$|^\}$/);
      }
      depth += (code.match(/\{/g) ?? []).length - (code.match(/\}/g) ?? []).length;
      expect(depth).toBeGreaterThanOrEqual(0);
    }
    expect(depth).toBe(0);
    expect(file).toMatch(/resource roleAssignment 'Microsoft\.Authorization\/roleAssignments@2022-04-01' = \{/);
    expect(file).toMatch(/\n {2}name: guid\(.+, principalId, '[0-9a-f-]{36}'\)\n/);
    expect(file).toMatch(/\n {4}roleDefinitionId: subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions', '[0-9a-f-]{36}'\)\n/);
    expect(file).toMatch(/\n {4}principalId: principalId\n/);
    expect(file).toMatch(/\n {4}principalType: 'ServicePrincipal'\n/);
  }

  it.each([
    [`/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-orders`, "Microsoft.KeyVault/vaults"],
    [
      `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st/blobServices/default/containers/c1`,
      "Microsoft.Storage/storageAccounts/blobServices/containers",
    ],
    [`/subscriptions/${SUB}/resourceGroups/rg`, undefined],
    [`/subscriptions/${SUB}`, undefined],
  ])("scope %s", (scope, type) => {
    const file = bicepRoleAssignment({ roleDefinitionId: "4633458b-17de-408a-b874-0445c86b69e6", roleName: "Key Vault Secrets User", principalId: OID, scope });
    expect(file).toBeDefined();
    expectWellFormedBicep(file as string);
    if (type !== undefined) expect(file).toContain(`resource target '${type}@`);
    if (scope.split("/").length === 3) expect(file).toMatch(/^targetScope = 'subscription'/);
  });

  it("refuses values it cannot write safely, and leaves an unknown principal as a parameter", () => {
    expect(bicepRoleAssignment({ roleDefinitionId: "x'y", roleName: "r", scope: `/subscriptions/${SUB}` })).toBeUndefined();
    expect(
      bicepRoleAssignment({ roleDefinitionId: "4633458b-17de-408a-b874-0445c86b69e6", roleName: "r", scope: "/subscriptions/x'; rm -rf /" }),
    ).toBeUndefined();
    const file = bicepRoleAssignment({
      roleDefinitionId: "4633458b-17de-408a-b874-0445c86b69e6",
      roleName: "r",
      scope: { type: "Microsoft.KeyVault/vaults", name: "kv" },
    });
    expect(file).toContain("param principalId string\n");
    expectWellFormedBicep(file as string);
  });

  it("the step's printf writes exactly that file (run in a shell)", () => {
    const identity = `/subscriptions/${SUB}/resourcegroups/rg-app/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders`;
    const diagnosis = classifyResponse({
      url: `https://management.azure.com/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm?api-version=2023-09-01`,
      status: 403,
      method: "PUT",
      body: linkedBody(identity),
    });
    const step = diagnosis?.nextSteps.find((s) => s.startsWith("Or the same assignment as code (Bicep): ")) as string;
    const command = step.slice("Or the same assignment as code (Bicep): ".length).split(" > role-assignment.bicep")[0] as string;
    const dir = mkdtempSync(path.join(tmpdir(), "bicep-"));
    execFileSync("bash", ["-c", `${command} > role-assignment.bicep`], { cwd: dir });
    const file = readFileSync(path.join(dir, "role-assignment.bicep"), "utf8");
    expectWellFormedBicep(file.trimEnd());
    expect(file).toContain("roleDefinitions', 'f1a07417-d97a-45cb-824c-7a7467783830')"); // Managed Identity Operator
  });
});
