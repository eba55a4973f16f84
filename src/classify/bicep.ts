/**
 * The role assignment of a H2 fix as Bicep (the runbook's prevention step: manage RBAC as code): a
 * `Microsoft.Authorization/roleAssignments` extension resource on the target, with the role definition id, a
 * deterministic `guid()` name and `principalType: 'ServicePrincipal'` (assignments to a new managed identity fail
 * to replicate without it). Shape from learn.microsoft.com/azure/role-based-access-control/role-assignments-bicep.
 * Every value is validated (util/shellSafe.ts) and written as a Bicep string literal; anything else is not emitted.
 */
import { validShellValue } from "../util/shellSafe.js";

/** API versions to declare an `existing` target with, per resource type (any published version reads a resource's id). */
const TARGET_API_VERSIONS: Readonly<Record<string, string>> = {
  "microsoft.keyvault/vaults": "2023-07-01",
  "microsoft.storage/storageaccounts": "2023-05-01",
  "microsoft.storage/storageaccounts/blobservices/containers": "2023-05-01",
  "microsoft.storage/storageaccounts/queueservices/queues": "2023-05-01",
  "microsoft.storage/storageaccounts/tableservices/tables": "2023-05-01",
  "microsoft.storage/storageaccounts/fileservices/shares": "2023-05-01",
  "microsoft.servicebus/namespaces": "2021-11-01",
  "microsoft.servicebus/namespaces/queues": "2021-11-01",
  "microsoft.servicebus/namespaces/topics": "2021-11-01",
  "microsoft.eventhub/namespaces": "2024-01-01",
  "microsoft.eventhub/namespaces/eventhubs": "2024-01-01",
  "microsoft.appconfiguration/configurationstores": "2023-03-01",
  "microsoft.cognitiveservices/accounts": "2023-05-01",
  "microsoft.eventgrid/topics": "2022-06-15",
  "microsoft.eventgrid/namespaces": "2023-12-15-preview",
  "microsoft.insights/datacollectionrules": "2022-06-01",
  "microsoft.containerregistry/registries": "2023-07-01",
  "microsoft.managedidentity/userassignedidentities": "2023-01-31",
  "microsoft.search/searchservices": "2023-11-01",
  "microsoft.operationalinsights/workspaces": "2022-10-01",
  "microsoft.documentdb/databaseaccounts": "2024-05-15",
  "microsoft.web/sites": "2023-12-01",
  "microsoft.compute/virtualmachines": "2023-09-01",
  "microsoft.kusto/clusters": "2023-08-15",
  "microsoft.signalrservice/signalr": "2023-02-01",
  "microsoft.signalrservice/webpubsub": "2023-02-01",
  "microsoft.batch/batchaccounts": "2024-02-01",
};

/** A Bicep single-quoted string literal. */
export function bicepString(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\$\{/g, "\\${")}'`;
}

export interface BicepAssignmentInput {
  /** The role's definition id (a GUID). */
  roleDefinitionId: string;
  roleName: string;
  /** The principal's object id; absent: a `principalId` parameter without a default. */
  principalId?: string;
  /** The exact scope as a resource id, or the target's type and name when only those are known. */
  scope: string | { type: string; name: string };
}

interface Target {
  kind: "resource" | "resourceGroup" | "subscription";
  type?: string;
  name?: string;
  resourceGroup?: string;
}

function targetOf(scope: BicepAssignmentInput["scope"]): Target | undefined {
  if (typeof scope !== "string") return { kind: "resource", type: scope.type, name: scope.name };
  if (validShellValue(scope, "resourceId") === undefined) return undefined;
  const parts = scope.split("/").filter((part) => part.length > 0);
  if (parts[0]?.toLowerCase() !== "subscriptions" || parts[1] === undefined) return undefined;
  if (parts.length === 2) return { kind: "subscription" };
  if (parts[2]?.toLowerCase() !== "resourcegroups" || parts[3] === undefined) return undefined;
  if (parts.length === 4) return { kind: "resourceGroup", resourceGroup: parts[3] };
  if (parts[4]?.toLowerCase() !== "providers" || parts.length < 8 || parts.length % 2 !== 0) return undefined;
  const namespace = parts[5] as string;
  const types: string[] = [];
  const names: string[] = [];
  for (let at = 6; at < parts.length; at += 2) {
    types.push(parts[at] as string);
    names.push(parts[at + 1] as string);
  }
  return { kind: "resource", type: `${namespace}/${types.join("/")}`, name: names.join("/"), resourceGroup: parts[3] };
}

/** The Bicep file, or undefined when a value cannot be written safely or the target's type is not one this knows. */
export function bicepRoleAssignment(input: BicepAssignmentInput): string | undefined {
  const roleId = validShellValue(input.roleDefinitionId, "guid");
  const principalId = input.principalId !== undefined ? validShellValue(input.principalId, "guid") : undefined;
  if (roleId === undefined || (input.principalId !== undefined && principalId === undefined)) return undefined;
  const target = targetOf(input.scope);
  if (target === undefined) return undefined;
  const lines: string[] = [];
  if (target.kind === "subscription") lines.push("targetScope = 'subscription'", "");
  lines.push(
    principalId !== undefined
      ? `param principalId string = ${bicepString(principalId)}`
      : "@description('Object (principal) id of the managed identity')\nparam principalId string",
    "",
  );
  let scopeId = target.kind === "subscription" ? "subscription().id" : "resourceGroup().id";
  let scopeLine = "";
  if (target.kind === "resource") {
    const type = target.type as string;
    const apiVersion = TARGET_API_VERSIONS[type.toLowerCase()];
    const name = target.name as string;
    if (apiVersion === undefined || !/^[A-Za-z0-9./-]+$/.test(type) || !/^[A-Za-z0-9._()/-]+$/.test(name)) return undefined;
    lines.push(`resource target '${type}@${apiVersion}' existing = {`, `  name: ${bicepString(name)}`, "}", "");
    scopeId = "target.id";
    scopeLine = "  scope: target\n";
  }
  lines.push(
    `// ${input.roleName.replace(/[\r\n]/g, " ")}`,
    "resource roleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {",
    `  name: guid(${scopeId}, principalId, ${bicepString(roleId)})`,
    `${scopeLine}  properties: {`,
    `    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', ${bicepString(roleId)})`,
    "    principalId: principalId",
    "    principalType: 'ServicePrincipal'",
    "  }",
    "}",
  );
  return lines.join("\n").replace(/\n{2}(?=\n)/g, "\n");
}

/** The `az deployment` command that applies the file, for the step that shows it. */
export function bicepDeployCommand(input: BicepAssignmentInput): string {
  const target = targetOf(input.scope);
  const group = target?.resourceGroup !== undefined ? validShellValue(target.resourceGroup, "resourceGroup") : undefined;
  if (target?.kind === "subscription") return "az deployment sub create --location <location> --template-file role-assignment.bicep";
  return `az deployment group create --resource-group ${group !== undefined ? `"${group}"` : '"$RG"'} --template-file role-assignment.bicep`;
}
