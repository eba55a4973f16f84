import type { AccessModel } from "./types.js";

/** Where a service's roles apply: the data in a resource, or the resources themselves (Resource Manager). */
export type Plane = "data" | "control";

/** How one access model grants access: what a H2 diagnosis prints as the fix, and how it names the grant. */
export interface AccessModelDefinition {
  /**
   * The sentence that leads the first grant command (it ends with ":" and the command follows in the same step);
   * per plane where the wording differs. Empty: the grant templates are whole steps themselves.
   */
  intro: string | Readonly<Record<Plane, string>>;
  /** The grant command(s), each one step; a service's own `grantTemplates` replace them. Placeholders as in fingerprint steps. */
  grantTemplates: readonly string[];
  /** The grant is scoped to a resource (a scope to name, and a broader alternative scope to offer). */
  scoped: boolean;
  /** The grant names the identity's principal id (a step that sets `PRINCIPAL_ID` comes first when it is unknown). */
  needsPrincipalId: boolean;
  /** The step that lists what the identity already has, when this model has such a command. Per plane. */
  listExisting?: Readonly<Record<Plane, string>>;
  /** What a grant is called in evidence: "role", "app role". */
  grantNoun: string;
}

/** Every access model a catalog entry can name. Adding a model is adding an entry here (and to the AccessModel union). */
export const ACCESS_MODEL_DEFINITIONS: Readonly<Record<AccessModel, AccessModelDefinition>> = {
  "azure-rbac": {
    intro: {
      data: 'Grant the least-privilege data-plane role "{role}" to principal {principalId} at the exact scope {scopeLabel}:',
      control: 'Grant the least-privilege role "{role}" at the exact scope {scopeLabel} to principal {principalId}:',
    },
    grantTemplates: [
      'az role assignment create --assignee-object-id {principalId} --assignee-principal-type ServicePrincipal --role "{role}" --scope "{scope}"',
    ],
    scoped: true,
    needsPrincipalId: true,
    listExisting: {
      data: "Check what the identity already has (a role at a sibling or narrower scope, or a control-plane role, does not help): az role assignment list --assignee {principalId} --all --output table",
      control:
        "Check what the identity already has (a role at a sibling or narrower scope does not help): az role assignment list --assignee {principalId} --all --output table",
    },
    grantNoun: "role",
  },
  "cosmos-sql-rbac": {
    intro:
      'Grant the Cosmos DB data-plane role "{role}" to principal {principalId} (a Cosmos DB SQL role, not an Azure RBAC role: az role assignment create does not give it):',
    grantTemplates: [
      'az cosmosdb sql role assignment create --account-name {name} --resource-group {rg} --role-definition-id {roleDefinitionId} --principal-id {principalId} --scope "{scope}"',
    ],
    scoped: true,
    needsPrincipalId: true,
    grantNoun: "role",
  },
  // One step, three commands: the ids the third needs are looked up by the first two (`&&`: stop at a failed lookup).
  "graph-app-role": {
    intro:
      'Grant the Microsoft Graph application permission "{role}" to principal {principalId} (an app-role assignment on the Graph service principal; Azure RBAC roles do not apply to Graph):',
    grantTemplates: [
      'GRAPH_SP_ID="$(az ad sp show --id 00000003-0000-0000-c000-000000000000 --query id --output tsv)" && ' +
        'APP_ROLE_ID="$(az ad sp show --id 00000003-0000-0000-c000-000000000000 --query "appRoles[?value==\'{role}\'].id" --output tsv)" && ' +
        'az rest --method POST --uri "https://{host}/v1.0/servicePrincipals/{principalId}/appRoleAssignments" --body "{\\"principalId\\":\\"{principalId}\\",\\"resourceId\\":\\"$GRAPH_SP_ID\\",\\"appRoleId\\":\\"$APP_ROLE_ID\\"}"',
    ],
    scoped: false,
    needsPrincipalId: true,
    grantNoun: "app role",
  },
  "managedhsm-local-rbac": {
    intro: 'Grant the Managed HSM local role "{role}" to principal {principalId} (HSM keys use the HSM\'s local RBAC, not Azure RBAC):',
    grantTemplates: [
      'az keyvault role assignment create --hsm-name {name} --role "{role}" --assignee-object-id {principalId} --assignee-principal-type ServicePrincipal --scope "{scope}"',
    ],
    scoped: true,
    needsPrincipalId: true,
    grantNoun: "role",
  },
  "database-user": {
    intro: "",
    grantTemplates: ['Create a database user for the identity (Azure RBAC roles do not grant database access) and grant it "{role}".'],
    scoped: false,
    needsPrincipalId: false,
    grantNoun: "role",
  },
  "redis-access-policy": {
    intro: "",
    grantTemplates: ['Add a data access policy assignment "{role}" for principal {principalId} on the cache.'],
    scoped: false,
    needsPrincipalId: true,
    grantNoun: "access policy",
  },
};

/** The access model names, for validating `services` input. */
export const ACCESS_MODELS = Object.keys(ACCESS_MODEL_DEFINITIONS) as AccessModel[];
