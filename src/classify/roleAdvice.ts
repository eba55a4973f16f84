/**
 * H2 next steps: the least-privilege role for the operation, the exact scope, and a ready command with the
 * principal id filled in. Everything service-specific comes from the catalog entry (roles, scopeHints,
 * grantTemplates, controlPlaneRoles, propagation); this module only knows the access models' commands.
 */
import { ACCESS_MODEL_DEFINITIONS } from "../catalog/accessModels.js";
import { leastPrivilegedRole, type LeastPrivilegeChoice } from "../catalog/leastPrivilege.js";
import { actionOfRequest } from "../catalog/operations.js";
import { planeOf } from "../catalog/resolve.js";
import { COSMOS_SQL_ROLES, OPERATION_ACTIONS } from "../catalog/roleFamilies.js";
import { recordInternalFault } from "../util/safe.js";
import { bicepDeployCommand, bicepRoleAssignment } from "./bicep.js";
import type { RoleAdvice, ServiceDefinition } from "../catalog/types.js";
import type { BodyFacts } from "./errorBody.js";
import { graphGrantStep, graphPermissionFor, graphWhyLine } from "./graphPermission.js";
import { checkedShellValue, validShellValue, type RefusedShellValue, type ShellValueKind } from "../util/shellSafe.js";

export interface OperationFacts {
  /** Actions/claims/permissions named by the service. */
  actions: readonly string[];
  method?: string;
  path?: string;
  host?: string;
}

/** The least-privilege role for what was attempted: the first role whose conditions all hold, else the service's first role. */
export function selectRole(service: ServiceDefinition, operation: OperationFacts): RoleAdvice | undefined {
  const actionText = operation.actions.join(" | ");
  const method = operation.method?.toUpperCase();
  for (const role of service.roles) {
    const when = role.when;
    if (when === undefined) continue;
    if (when.action !== undefined && (actionText.length === 0 || !safeTest(when.action, actionText))) continue;
    if (when.methods !== undefined && (method === undefined || !when.methods.includes(method))) continue;
    if (when.path !== undefined && (operation.path === undefined || !safeTest(when.path, operation.path))) continue;
    if (when.host !== undefined && (operation.host === undefined || !safeTest(when.host, operation.host))) continue;
    return role;
  }
  return service.roles[0];
}

/** `RegExp.test` without `g`/`y` state: catalog entries are shared, user entries may carry those flags. */
export function safeTest(pattern: RegExp, text: string): boolean {
  return safeExec(pattern, text) !== null;
}

const statelessCache = new WeakMap<RegExp, RegExp>();
export function safeExec(pattern: RegExp, text: string): RegExpExecArray | null {
  try {
    let regex = pattern;
    if (pattern.global || pattern.sticky) {
      regex = statelessCache.get(pattern) ?? new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ""));
      statelessCache.set(pattern, regex);
    }
    return regex.exec(text);
  } catch {
    return null;
  }
}

export interface ScopeChoice {
  scope: string;
  /** A literal resource id (or data-plane scope), not a command substitution or placeholder. */
  concrete: boolean;
  /** Short name for summaries: "vaults/myvault", "myvault.vault.azure.net". */
  label: string;
  /** A broader scope to name as the alternative (the whole Cosmos DB account when the service named a container). */
  alternative?: { scope: string; label: string };
  /** Values quoted by the service that could not be put in a command (left as placeholders). */
  refused?: RefusedShellValue[];
}

/** The exact scope for the role assignment: from the service's words, the request path, or the host. */
export function scopeFor(service: ServiceDefinition, facts: BodyFacts, text: string, host?: string, path?: string): ScopeChoice {
  const refused: RefusedShellValue[] = [];
  const choice = chooseScope(service, facts, text, validShellValue(host, "host"), path, refused);
  return refused.length > 0 ? { ...choice, refused } : choice;
}

function chooseScope(
  service: ServiceDefinition,
  facts: BodyFacts,
  text: string,
  host: string | undefined,
  path: string | undefined,
  refused: RefusedShellValue[],
): ScopeChoice {
  const name = resourceNameOfHost(host);
  for (const hint of service.scopeHints ?? []) {
    let values: Record<string, string> | undefined;
    if (hint.from === "host") {
      if (host !== undefined && name !== undefined) values = { name, host };
    } else if (hint.pattern !== undefined) {
      const sources = hint.from === "resource" ? facts.resources : hint.from === "path" ? (path !== undefined ? [path] : []) : [text];
      for (const source of sources) {
        const match = safeExec(hint.pattern, source);
        if (match !== null) {
          // Quoted by the service (a body is anyone's text): only a value that is a plain resource id or word may
          // reach the command; anything else leaves its placeholder (`<0>`, `<vault>`) and is reported.
          values = { ...(name !== undefined ? { name } : {}), ...(host !== undefined ? { host } : {}) };
          for (const [key, value] of [["0", match[0]], ...Object.entries(match.groups ?? {})] as Array<[string, string | undefined]>) {
            if (value === undefined) continue;
            if (validShellValue(value, "resourceId") !== undefined || validShellValue(value, "word") !== undefined) values[key] = value;
            else refused.push({ name: "scope", kind: "resourceId" });
          }
          break;
        }
      }
    }
    if (values !== undefined) {
      const scope = fillTemplate(hint.template, values);
      const concrete = !scope.includes("$(") && !scope.includes("<");
      const label =
        hint.label !== undefined && !(concrete && scope.startsWith("/subscriptions/"))
          ? fillTemplate(hint.label, values)
          : scopeLabel(scope, concrete, host, service);
      const choice: ScopeChoice = { scope, concrete, label };
      if (hint.alternative !== undefined) {
        const broader = fillTemplate(hint.alternative.template, values);
        if (broader !== scope) choice.alternative = { scope: broader, label: fillTemplate(hint.alternative.label, values) };
      }
      return choice;
    }
  }
  // The service quoted a resource id but no hint trims it: use it as it is (if it is a plain resource id).
  const quoted = facts.resources[0];
  if (quoted !== undefined && (service.scopeHints === undefined || service.scopeHints.length === 0)) {
    if (validShellValue(quoted, "resourceId") !== undefined) return { scope: quoted, concrete: true, label: scopeLabel(quoted, true, host, service) };
    refused.push({ name: "scope", kind: "resourceId" });
  }
  return { scope: `<resource id of the ${service.displayName} resource>`, concrete: false, label: host ?? service.displayName };
}

/** The resource name a host carries (its first DNS label); undefined for IP addresses and localhost (emulators). */
export function resourceNameOfHost(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  const hostname = host.replace(/:\d+$/, "");
  if (hostname.startsWith("[") || /^\d{1,3}(\.\d{1,3}){3}$/.test(hostname) || hostname === "localhost") return undefined;
  const name = hostname.split(".")[0];
  return name !== undefined && name.length > 0 ? name : undefined;
}

function scopeLabel(scope: string, concrete: boolean, host: string | undefined, service: ServiceDefinition): string {
  if (concrete && scope.startsWith("/subscriptions/")) {
    const parts = scope.split("/").filter((p) => p.length > 0);
    return parts.length >= 2 ? parts.slice(-2).join("/") : scope;
  }
  return host ?? service.displayName;
}

/** Fills `{name}` placeholders; unknown ones become `<name>` so a command never carries a raw brace. */
export function fillTemplate(template: string, values: Readonly<Record<string, string | undefined>>): string {
  return template.replace(/\{([A-Za-z0-9_]+)\}/g, (_, key: string) => {
    const value = values[key];
    return value !== undefined && value.length > 0 ? value : `<${key}>`;
  });
}

export interface RoleAdviceInput {
  service: ServiceDefinition;
  /** Other services the host may belong to (Service Bus vs Event Hubs): their role is named as the alternative. */
  alternatives?: readonly ServiceDefinition[];
  facts: BodyFacts;
  text: string;
  host?: string;
  path?: string;
  method?: string;
  principalId?: string;
  clientId?: string;
  identityName?: string;
  app?: { name?: string; resourceGroup?: string };
  /** The host's commands (diagnosis/commands.ts hostCommandValues): `{principalIdAssignment}` and the like. */
  hostCommands?: Readonly<Record<string, string>>;
}

export interface RoleAdviceResult {
  role?: RoleAdvice;
  /** The least-privilege computation behind `role`, when the role data decided it (see catalog/leastPrivilege.ts). */
  computed?: LeastPrivilegeChoice;
  /** `LinkedAuthorizationFailed`: the linked resource the role goes on, and the action denied there. */
  linked?: { scope: string; action: string };
  scope: ScopeChoice;
  /** Principal id as printed: the object id, or `"$PRINCIPAL_ID"` with a step that sets it. */
  principal: string;
  steps: string[];
}

/**
 * Placeholder values shared by grant templates and fingerprint steps, each validated for its kind (see
 * util/shellSafe.ts): one that is not (a claim, the caller's context or a host that could break out of a command) is
 * left as its placeholder or shell variable and listed in `refused`, when given, for the evidence.
 */
export function placeholderValues(
  input: {
    host?: string;
    principalId?: string;
    clientId?: string;
    identityName?: string;
    tenantId?: string;
    app?: { name?: string; resourceGroup?: string };
  },
  refused: RefusedShellValue[] = [],
): Record<string, string | undefined> {
  const check = (name: string, value: string | undefined, kind: ShellValueKind) => checkedShellValue(name, value, kind, refused);
  const host = check("host", input.host, "host");
  const principalId = check("principalId", input.principalId, "guid");
  const resourceGroup = check("rg", input.app?.resourceGroup, "resourceGroup");
  const app = check("app", input.app?.name, "resourceName");
  return {
    name: resourceNameOfHost(host),
    host,
    principalId: principalId ?? '"$PRINCIPAL_ID"',
    clientId: check("clientId", input.clientId, "guid"),
    identityName: check("identityName", input.identityName, "resourceName"),
    tenantId: check("tenantId", input.tenantId, "guid"),
    rg: resourceGroup !== undefined ? quoteArg(resourceGroup) : '"$RG"',
    app: app !== undefined ? quoteArg(app) : '"$APP_NAME"',
  };
}

/** A value safe to paste into a shell command: plain names stay bare, anything else is double-quoted. */
export function quoteArg(value: string): string {
  return /^[A-Za-z0-9._\-/:]+$/.test(value) ? value : `"${value.replace(/["\\$`]/g, "\\$&")}"`;
}

/** ARM's `LinkedAuthorizationFailed`: the action denied on the linked scope(s), and the first linked scope. */
export function linkedAuthorization(text: string): { action: string; scope: string } | undefined {
  const match = /does not have permission to perform action '([^']{1,256})' on the linked scope\(s\) '([^']{1,4096})'/i.exec(text);
  if (match === null) return undefined;
  const scope = (match[2] as string).split(",")[0]?.trim() ?? "";
  return { action: match[1] as string, scope };
}

/** An action string as role definitions write them: `Namespace.Provider/type/…/verb`. */
const ACTION_STRING = /^[A-Za-z0-9]+\.[A-Za-z0-9.]+\/[A-Za-z0-9_./{}-]+$/;

/**
 * The least-privilege role computed from the role definitions: for the action the service named (the linked
 * scope's action for `LinkedAuthorizationFailed`), else the action of the operation the catalog recognised. Only for
 * grants that are roles with definitions (Azure RBAC, Cosmos DB's SQL roles). Never throws: a failure (the data file
 * missing) leaves the catalog's role.
 */
function computedRole(
  service: ServiceDefinition,
  input: RoleAdviceInput,
  catalogRole: RoleAdvice | undefined,
  linked: { action: string; scope: string } | undefined,
): LeastPrivilegeChoice | undefined {
  if (service.accessModel !== "azure-rbac" && service.accessModel !== "cosmos-sql-rbac") return undefined;
  const named = linked?.action ?? input.facts.actions.find((action) => ACTION_STRING.test(action));
  // No action in the answer: the service's operation → action table (method and path), else the catalog operation's.
  const requested =
    named === undefined && input.path !== undefined
      ? actionOfRequest(service, input.method, `https://${input.host ?? "service.invalid"}${input.path}`)
      : undefined;
  const action = named ?? requested?.action ?? (catalogRole !== undefined ? OPERATION_ACTIONS[`${service.name}.${catalogRole.operation}`] : undefined);
  if (action === undefined) return undefined;
  try {
    const choice = computeFor(service, action, linked, requested?.dataAction);
    // Reader, Contributor, Owner answer any control-plane action, a user's own service's too: only Resource
    // Manager (and a linked scope, which is Resource Manager's) takes them; elsewhere the catalog's roles stay.
    return choice?.basis === "generic" && !service.ownsResourceIds && linked === undefined ? undefined : choice;
  } catch (error) {
    recordInternalFault(error);
    return undefined;
  }
}

function computeFor(
  service: ServiceDefinition,
  action: string,
  linked: { action: string; scope: string } | undefined,
  tableSaysData: boolean | undefined,
): LeastPrivilegeChoice | undefined {
  if (service.accessModel === "cosmos-sql-rbac") return leastPrivilegedRole(action, { dataAction: true, roles: COSMOS_SQL_ROLES });
  // Resource Manager and linked scopes name control-plane actions; the operation table says which plane its action
  // is on; otherwise a data service's action may be either (Container Registry's pull is an Actions entry): the role
  // data decides.
  if (planeOf(service) === "control" || linked !== undefined) return leastPrivilegedRole(action, { dataAction: false });
  return leastPrivilegedRole(action, tableSaysData !== undefined ? { dataAction: tableSaysData } : {});
}

/** The ordered next steps of a H2 diagnosis. */
export function roleAdvice(input: RoleAdviceInput): RoleAdviceResult {
  const { service } = input;
  // Graph: the endpoint and method name the least-privileged application permission (classify/graphPermission.ts).
  const graph = service.accessModel === "graph-app-role" ? graphPermissionFor(input.method, input.path) : undefined;
  const catalogRole = selectRole(service, { actions: input.facts.actions, method: input.method, path: input.path, host: input.host });
  const linkedFound = linkedAuthorization(input.text);
  const linked = linkedFound !== undefined && validShellValue(linkedFound.scope, "resourceId") !== undefined ? linkedFound : undefined;
  const computed = graph === undefined ? computedRole(service, input, catalogRole, linked) : undefined;
  const role: RoleAdvice | undefined =
    graph !== undefined
      ? { operation: "graph", role: graph.permission }
      : computed !== undefined
        ? { operation: catalogRole?.operation ?? "computed", role: computed.role.name, roleDefinitionId: computed.role.id }
        : catalogRole;
  const scope: ScopeChoice =
    linked !== undefined
      ? {
          scope: linked.scope,
          concrete: true,
          label: linked.scope
            .split("/")
            .filter((part) => part.length > 0)
            .slice(-2)
            .join("/"),
        }
      : scopeFor(service, input.facts, input.text, input.host, input.path);
  const base = placeholderValues(input);
  const values: Record<string, string | undefined> = {
    principalIdAssignment: 'PRINCIPAL_ID="<the principalId the identity show command prints>"',
    ...input.hostCommands,
    ...base,
    role: role?.role,
    roleDefinitionId: role?.roleDefinitionId,
    scope: scope.scope,
    scopeLabel: scope.label,
  };
  // Each step is one string: a sentence and, after its colon, the command it speaks of.
  const steps: string[] = [];
  const model = ACCESS_MODEL_DEFINITIONS[service.accessModel];
  if (input.principalId === undefined && model.needsPrincipalId) {
    steps.push(
      fillTemplate(
        "Set the identity's principal id (system-assigned; for a user-assigned identity use az identity show --query principalId): {principalIdAssignment}",
        values,
      ),
    );
  }
  const plane = planeOf(service);
  if (role !== undefined) {
    const intro = typeof model.intro === "string" ? model.intro : model.intro[plane];
    const grants =
      graph !== undefined
        ? [graphGrantStep(graph, { host: base.host, principalId: input.principalId }), graphWhyLine(graph)]
        : (service.grantTemplates ?? model.grantTemplates).map((template) => fillTemplate(template, values));
    // The intro leads the first grant command; further templates are steps of their own (each self-contained).
    // (The Graph step carries its own sentence.)
    if (graph === undefined && intro && grants.length > 0) grants[0] = `${fillTemplate(intro, values)} ${grants[0]}`;
    else if (graph === undefined && intro) grants.unshift(fillTemplate(intro, values));
    if (linked !== undefined) {
      steps.push(
        `The denied action is \`${linked.action}\` on the linked resource ${scope.label}: the role goes on that resource (the caller's role on the target itself is not what is missing).`,
      );
    }
    steps.push(...grants);
    if (scope.alternative !== undefined && model.scoped) {
      steps.push(
        `Alternative: the same command with --scope "${scope.alternative.scope}" grants the role on ${scope.alternative.label} (broader than this operation needs).`,
      );
    }
  }
  if (model.listExisting !== undefined) steps.push(fillTemplate(model.listExisting[plane], values));
  // On a control-plane service the roles are control-plane roles by nature: the warning would contradict the advice.
  if (plane === "data" && service.controlPlaneRoles.length > 0) {
    steps.push(
      `${service.controlPlaneRoles.map((r) => `"${r}"`).join(", ")} ${service.controlPlaneRoles.length > 1 ? "are control-plane roles" : "is a control-plane role"}: ${service.controlPlaneRoles.length > 1 ? "they give" : "it gives"} no data access to ${service.displayName}.`,
    );
  }
  for (const alternative of input.alternatives ?? []) {
    const altRole = selectRole(alternative, { actions: input.facts.actions, method: input.method, path: input.path, host: input.host });
    if (altRole !== undefined && altRole.role !== role?.role) {
      steps.push(
        `If ${input.host ?? "this host"} is an ${alternative.displayName} namespace, the role is "${altRole.role}" instead (scope: ${scopeFor(alternative, input.facts, input.text, input.host, input.path).scope}).`,
      );
    }
  }
  // The same grant as infrastructure as code (the runbook's prevention step), after the immediate fix.
  const bicep = service.accessModel === "azure-rbac" && computed !== undefined ? bicepStep(computed, scope, service, input) : undefined;
  if (bicep !== undefined) steps.push(bicep);
  steps.push(`Propagation delay: ${service.propagation}. Retry after that before concluding the assignment did not work.`);
  return {
    ...(role !== undefined ? { role } : {}),
    ...(computed !== undefined ? { computed } : {}),
    ...(linked !== undefined ? { linked } : {}),
    scope,
    principal: values.principalId as string,
    steps,
  };
}

/** The same assignment as Bicep, one step: the sentence, the deploy command, then the file. */
function bicepStep(computed: LeastPrivilegeChoice, scope: ScopeChoice, service: ServiceDefinition, input: RoleAdviceInput): string | undefined {
  const name = resourceNameOfHost(validShellValue(input.host, "host"));
  const target: string | { type: string; name: string } | undefined = scope.concrete
    ? scope.scope
    : service.resourceProvider !== undefined && name !== undefined
      ? { type: service.resourceProvider, name }
      : undefined;
  if (target === undefined) return undefined;
  const assignment = {
    roleDefinitionId: computed.role.id,
    roleName: computed.role.name,
    scope: target,
    ...(input.principalId !== undefined ? { principalId: input.principalId } : {}),
  };
  const file = bicepRoleAssignment(assignment);
  if (file === undefined) return undefined;
  // One line (steps are folded to one line each): printf writes the file's lines, then the deployment applies it.
  // The lines hold only validated values and Bicep syntax: no `"`, `$`, backtick or backslash to escape.
  if (/["$`\\]/.test(file)) return undefined;
  const lines = file.split("\n").map((line) => `"${line}"`);
  return `Or the same assignment as code (Bicep): printf '%s\\n' ${lines.join(" ")} > role-assignment.bicep && ${bicepDeployCommand(assignment)}`;
}
