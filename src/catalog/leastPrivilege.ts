/**
 * Least privilege by computation: for an action the service named (or the catalog derived from the request), the
 * built-in role that grants it with the fewest other permissions, among the roles made for the action's service
 * (roleFamilies.ts). Loads the role data on the first call.
 *
 * Ranking, in order:
 * 1. Only roles that grant the action in its plane (Actions − NotActions, or DataActions − NotDataActions).
 * 2. Among them, the roles of the most specific family (for a control-plane read, only roles that cannot write it) whose prefix covers the action (Key Vault's secrets roles
 *    for a secret, then every Key Vault role); failing every family, the roles whose own namespace is the action's
 *    (the namespace most of their non-supporting actions belong to); failing that, for a control-plane action only,
 *    the generic roles (Reader, Contributor, Owner…). A data action never gets a generic role.
 * 3. A role that can write role assignments (a "privileged administrator role" in the RBAC docs' words: it can grant
 *    itself anything) only when no other candidate grants the action.
 * 4. Fewest permissions in the action's plane, then in the other plane (grantedPermissionCounts), then fewest
 *    wildcard patterns, then name.
 * The runner-up is named when it is close: same privilege class, at most twice the permissions in the action's plane
 * or at most 4 more.
 */
import { builtInRoles, canAssignRoles, grantedPermissionCounts, roleGrants, type RoleDefinition } from "./roleDefinitions.js";
import { GENERIC_ROLES, ROLE_FAMILIES, SUPPORTING_ACTION_PREFIXES } from "./roleFamilies.js";

export interface RoleRef {
  name: string;
  id: string;
}

export interface LeastPrivilegeChoice {
  role: RoleRef;
  /** The action it was chosen for, as given. */
  action: string;
  dataAction: boolean;
  /** Known permissions the role grants (what the ranking counts). */
  permissions: number;
  /** Roles of the chosen group (family, own namespace or generic) that grant the action. */
  candidates: number;
  /** Every role of the set that grants the action, whatever it is made for. */
  granting: number;
  /** How the candidates were chosen: the family prefix, `namespace <ns>` or `generic`. */
  basis: string;
  /** One line: why this role. */
  why: string;
  /** The next smallest candidate, when close. */
  runnerUp?: RoleRef & { permissions: number };
}

export interface LeastPrivilegeOptions {
  /** The action is a data action (DataActions) rather than a control-plane one; default: decided from the data. */
  dataAction?: boolean;
  /** A service's own role set instead of the built-in Azure roles (Cosmos DB's SQL data roles). */
  roles?: readonly RoleDefinition[];
}

/** The built-in roles alone (one array, so the counts' universe is computed once). */
const NO_ROLES: readonly RoleDefinition[] = [];

const ACTION = /^[A-Za-z0-9.]+\/[A-Za-z0-9_./*{}-]+$/;

/** Answers already computed, per role set: the same denied action tends to come back (retries, every replica). */
const answers = new WeakMap<readonly RoleDefinition[], Map<string, LeastPrivilegeChoice | undefined>>();
const MAX_ANSWERS = 512;

/** The least-privileged role granting `action`; undefined when no role does (or the action is not an action string). */
export function leastPrivilegedRole(action: string, options: LeastPrivilegeOptions = {}): LeastPrivilegeChoice | undefined {
  if (!ACTION.test(action) || action.length > 256) return undefined;
  const roleSet = options.roles ?? NO_ROLES;
  let known = answers.get(roleSet);
  if (known === undefined) answers.set(roleSet, (known = new Map()));
  const key = `${options.dataAction ?? "?"} ${action}`;
  if (known.has(key)) return known.get(key);
  const answer = computeLeastPrivilegedRole(action, options);
  if (known.size >= MAX_ANSWERS) known.clear();
  known.set(key, answer);
  return answer;
}

function computeLeastPrivilegedRole(action: string, options: LeastPrivilegeOptions): LeastPrivilegeChoice | undefined {
  const roleSet = options.roles ?? builtInRoles().roles;
  const dataAction = options.dataAction ?? isDataAction(action, roleSet);
  const granting = roleSet.filter((role) => roleGrants(role, action, dataAction));
  if (granting.length === 0) return undefined;
  const lower = action.toLowerCase();
  let basis: string | undefined;
  let candidates: RoleDefinition[] = [];
  if (options.roles !== undefined) {
    candidates = granting;
    basis = "service";
  }
  // A control-plane read is what read-only roles are made for: a family role that can also write or delete the
  // resource or its children (Website Contributor for `Microsoft.Web/sites/read`, the federated-credential role for
  // an identity's read) is not a candidate for it; Reader is, at the end.
  const readOf = !dataAction && /\/read$/i.test(action) ? action.replace(/\/read$/i, "") : undefined;
  const writesOfRead = readOf === undefined ? [] : writesUnder(readOf, roleSet);
  const madeFor = (role: RoleDefinition) => writesOfRead.every((write) => !roleGrants(role, write, false));
  for (const family of options.roles === undefined ? familiesFor(lower) : []) {
    candidates = granting.filter((role) => family.roles.test(role.name) && madeFor(role));
    if (candidates.length > 0) {
      basis = family.prefix;
      break;
    }
  }
  const namespace = action.split("/")[0] as string;
  // The own-namespace rule only for namespaces no family names: a family is the service's word on its roles.
  if (candidates.length === 0 && (options.roles !== undefined || familiesFor(lower).length === 0)) {
    candidates = granting.filter((role) => !GENERIC_ROLES.includes(role.name) && madeFor(role) && homeNamespaces(role).has(namespace.toLowerCase()));
    basis = `namespace ${namespace}`;
  }
  if (candidates.length === 0 && !dataAction) {
    candidates = granting.filter((role) => GENERIC_ROLES.includes(role.name));
    basis = "generic";
  }
  if (candidates.length === 0 || basis === undefined) return undefined;
  const ranked = candidates
    .map((role) => {
      const counts = grantedPermissionCounts(role, options.roles ?? NO_ROLES);
      return {
        role,
        escalates: canAssignRoles(role) ? 1 : 0,
        plane: dataAction ? counts.data : counts.control,
        other: dataAction ? counts.control : counts.data,
        wildcards: wildcardCount(role),
      };
    })
    .sort(
      (a, b) =>
        a.escalates - b.escalates ||
        a.plane - b.plane ||
        a.other - b.other ||
        a.wildcards - b.wildcards ||
        (a.role.name < b.role.name ? -1 : a.role.name > b.role.name ? 1 : 0),
    );
  const best = ranked[0] as (typeof ranked)[number];
  const second = ranked[1];
  const close = second !== undefined && second.escalates === best.escalates && (second.plane <= best.plane * 2 || second.plane - best.plane <= 4);
  const permissions = best.plane + best.other;
  const group =
    basis === "generic"
      ? "generic built-in roles"
      : basis === "service"
        ? "roles of the service"
        : `roles made for ${basis.startsWith("namespace ") ? namespace : basis}`;
  const why =
    `grants \`${action}\`${dataAction ? " (a data action)" : ""}; ` +
    (candidates.length === 1
      ? `the only one of the ${group} that does`
      : `the smallest of ${candidates.length} ${group} that do (${permissions} permission${permissions === 1 ? "" : "s"})`) +
    (close && second !== undefined ? `; runner-up "${second.role.name}" (${second.plane + second.other})` : "");
  return {
    role: { name: best.role.name, id: best.role.id },
    action,
    dataAction,
    permissions,
    candidates: candidates.length,
    granting: granting.length,
    basis,
    why,
    ...(close && second !== undefined ? { runnerUp: { name: second.role.name, id: second.role.id, permissions: second.plane + second.other } } : {}),
  };
}

/**
 * A data action when the definitions name it in a DataActions list, or a role made for something (not a generic
 * one) grants it through DataActions; a control-plane action otherwise. Callers that know the plane say it (ARM's
 * AuthorizationFailed names control-plane actions, Key Vault's `Action:` line data actions).
 */
function isDataAction(action: string, roleSet: readonly RoleDefinition[]): boolean {
  if (builtInRoles().knownDataActions.has(action)) return true;
  return roleSet.some((role) => !GENERIC_ROLES.includes(role.name) && roleGrants(role, action, true));
}

/** The writes and deletes of a resource type and its children that the definitions name (`…/sites/write`, `…/sites/config/write`). */
function writesUnder(type: string, roleSet: readonly RoleDefinition[]): string[] {
  const lower = type.toLowerCase();
  const found = new Set<string>([`${type}/write`, `${type}/delete`]);
  for (const role of roleSet) {
    for (const block of role.permissions) {
      for (const value of block.actions) {
        const candidate = value.toLowerCase();
        if (!candidate.includes("*") && candidate.startsWith(`${lower}/`) && /\/(write|delete)$/.test(candidate)) found.add(value);
      }
    }
  }
  return [...found];
}

function familiesFor(lowerAction: string): typeof ROLE_FAMILIES {
  return ROLE_FAMILIES.filter((family) => {
    const prefix = family.prefix.toLowerCase();
    return lowerAction === prefix || lowerAction.startsWith(`${prefix}/`);
  }).sort((a, b) => b.prefix.length - a.prefix.length);
}

const homes = new WeakMap<RoleDefinition, Set<string>>();

/** The namespace a role is made for: the one holding most of its actions, supporting ones (role reads, deployments…) aside. */
export function homeNamespaces(role: RoleDefinition): Set<string> {
  const cached = homes.get(role);
  if (cached !== undefined) return cached;
  const counts = new Map<string, number>();
  for (const block of role.permissions) {
    for (const pattern of [...block.actions, ...block.dataActions]) {
      const lower = pattern.toLowerCase();
      if (SUPPORTING_ACTION_PREFIXES.some((prefix) => lower.startsWith(prefix))) continue;
      const namespace = lower.split("/")[0] as string;
      if (namespace.includes("*")) continue;
      counts.set(namespace, (counts.get(namespace) ?? 0) + 1);
    }
  }
  const top = Math.max(0, ...counts.values());
  // One namespace, or none: a role split evenly between two services is made for neither.
  const tops = [...counts].filter(([, count]) => count === top && top > 0).map(([namespace]) => namespace);
  const result = new Set(tops.length === 1 ? tops : []);
  homes.set(role, result);
  return result;
}

function wildcardCount(role: RoleDefinition): number {
  return role.permissions.reduce((sum, block) => sum + [...block.actions, ...block.dataActions].filter((pattern) => pattern.includes("*")).length, 0);
}
