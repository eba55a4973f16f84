/**
 * The built-in Azure role definitions (src/catalog/builtin-roles.json, made by scripts/generate-roles.mjs) and
 * Azure's rules for what a role grants. Loaded on first use (a diagnosed missing role), never on import: the file
 * is read from beside this module (dist/builtin-roles.json in the package, one copy for the ESM and CommonJS entries).
 *
 * Matching, from "Understand Azure role definitions" (learn.microsoft.com/azure/role-based-access-control/
 * role-definitions):
 * - `*` "grants access to all actions that match the string": it matches any characters, `/` included
 *   (`Microsoft.Compute/*` grants every action of the provider; `Microsoft.CostManagement/exports/*` grants
 *   `…/exports/action` and `…/exports/run/action`).
 * - A `/*\/` segment also matches no segment at all: Managed Identity Operator's documented grant "Assign User
 *   Assigned Identity" is `…/userAssignedIdentities/*\/assign/action`, for the action `…/userAssignedIdentities/assign/action`.
 * - Case does not matter (the docs' own `microsoft.web/sites/restart/Action`; Contributor's NotActions
 *   `Microsoft.Authorization/*\/Delete` subtract `…/delete`).
 * - "Actions - NotActions = Effective control plane permissions", "DataActions - NotDataActions = Effective data
 *   plane permissions": the planes are kept apart (a wildcard in Actions grants no data action) and a Not-list only
 *   subtracts from its own plane, within its own permission block.
 */
import { readFileSync } from "node:fs";

export interface PermissionBlock {
  actions: readonly string[];
  notActions: readonly string[];
  dataActions: readonly string[];
  notDataActions: readonly string[];
}

/** One role definition: a built-in Azure role or a service's own (Cosmos DB's SQL data roles). */
export interface RoleDefinition {
  /** "Key Vault Secrets User". */
  name: string;
  /** The role definition id (a GUID for Azure roles). */
  id: string;
  permissions: readonly PermissionBlock[];
}

export interface RoleDataSource {
  file: string;
  sha256: string;
  date: string;
  roles: number;
  actions: number;
}

interface RoleData {
  source: RoleDataSource;
  roles: RoleDefinition[];
  /** Every action string without a wildcard that some role names, per plane: what "how many permissions" counts. */
  knownActions: ReadonlySet<string>;
  knownDataActions: ReadonlySet<string>;
}

let loaded: RoleData | undefined;
let loadCount = 0;

/** How many times the data file was read (tests: importing the package reads it zero times). */
export function roleDataLoads(): number {
  return loadCount;
}

/** The built-in role definitions; read and decoded on the first call. Throws when the file is missing or malformed. */
export function builtInRoles(): RoleData {
  if (loaded !== undefined) return loaded;
  loadCount++;
  const file = JSON.parse(readFileSync(new URL("./builtin-roles.json", import.meta.url), "utf8")) as {
    source: RoleDataSource;
    actions: string;
    roles: string[][];
  };
  loaded = decodeRoleData(file);
  return loaded;
}

/** Decodes the generator's compact form (see scripts/generate-roles.mjs). */
export function decodeRoleData(file: { source: RoleDataSource; actions: string; roles: string[][] }): RoleData {
  const strings: string[] = [];
  let previous = "";
  for (const line of file.actions.split("\n")) {
    const space = line.indexOf(" ");
    const value = previous.slice(0, parseInt(line.slice(0, space), 36)) + line.slice(space + 1);
    strings.push(value);
    previous = value;
  }
  const list = (encoded: string | undefined): string[] => {
    if (encoded === undefined || encoded.length === 0) return [];
    let index = -1;
    return encoded.split(",").map((gap) => strings[(index += parseInt(gap, 36))] as string);
  };
  const control = new Set<string>();
  const data = new Set<string>();
  const roles = file.roles.map(([name, id, ...lists]) => {
    const permissions: PermissionBlock[] = [];
    for (let at = 0; at < lists.length; at += 4) {
      const block = { actions: list(lists[at]), notActions: list(lists[at + 1]), dataActions: list(lists[at + 2]), notDataActions: list(lists[at + 3]) };
      for (const value of [...block.actions, ...block.notActions]) if (!value.includes("*")) control.add(value);
      for (const value of [...block.dataActions, ...block.notDataActions]) if (!value.includes("*")) data.add(value);
      permissions.push(block);
    }
    return { name: name as string, id: id as string, permissions };
  });
  return { source: file.source, roles, knownActions: control, knownDataActions: data };
}

/** A pattern compiled once: its literal start (lower case, up to the first `*`) rules most actions out without the regex. */
const compiled = new Map<string, { prefix: string; regex: RegExp }>();

/** Whether a role definition's action pattern (with `*` wildcards) covers an action, by Azure's rules (see above). */
export function actionPatternMatches(pattern: string, action: string): boolean {
  let entry = compiled.get(pattern);
  if (entry === undefined) {
    const source = pattern
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join("\u0000")
      // `/*/`: any segments, or none.
      .replace(/\/\u0000\//g, "/(?:.*/)?")
      .replace(/\u0000/g, ".*");
    const star = pattern.indexOf("*");
    // The literal start, up to the last `/` before the first `*` (a `/*/` may match no segment at all).
    const literal = star < 0 ? pattern : pattern.slice(0, Math.max(0, pattern.lastIndexOf("/", star - 1)));
    entry = { prefix: literal.toLowerCase(), regex: new RegExp(`^${source}$`, "i") };
    compiled.set(pattern, entry);
  }
  if (entry.prefix.length > 0 && !action.toLowerCase().startsWith(entry.prefix)) return false;
  return entry.regex.test(action);
}

/** Whether a role grants an action of the given plane: some block allows it and that block's Not-list does not take it away. */
export function roleGrants(role: RoleDefinition, action: string, dataAction: boolean): boolean {
  return role.permissions.some((block) => {
    const allow = dataAction ? block.dataActions : block.actions;
    const deny = dataAction ? block.notDataActions : block.notActions;
    return allow.some((pattern) => actionPatternMatches(pattern, action)) && !deny.some((pattern) => actionPatternMatches(pattern, action));
  });
}

export interface PermissionCounts {
  control: number;
  data: number;
}

const sizes = new WeakMap<RoleDefinition, PermissionCounts>();
const universes = new WeakMap<readonly RoleDefinition[], { control: string[]; data: string[] }>();

/**
 * How many permissions a role grants, per plane, counted on what can be counted: every string the definitions of
 * `roleSet` (and the built-in roles) list in that plane, wildcard patterns included and taken literally. A role's
 * `Microsoft.AppConfiguration/configurationStores/*\/*` covers the `…/*\/read` of another role, not the reverse, so a
 * service whose roles are all wildcards still ranks them; a wildcard counts for every string it covers.
 */
export function grantedPermissionCounts(role: RoleDefinition, roleSet: readonly RoleDefinition[] = []): PermissionCounts {
  const cached = sizes.get(role);
  if (cached !== undefined) return cached;
  let universe = universes.get(roleSet);
  if (universe === undefined) {
    const control = new Set<string>();
    const data = new Set<string>();
    for (const other of [...builtInRoles().roles, ...roleSet]) {
      for (const block of other.permissions) {
        for (const value of [...block.actions, ...block.notActions]) control.add(value);
        for (const value of [...block.dataActions, ...block.notDataActions]) data.add(value);
      }
    }
    universe = { control: [...control], data: [...data] };
    universes.set(roleSet, universe);
  }
  const counts = {
    control: universe.control.filter((action) => roleGrants(role, action, false)).length,
    data: universe.data.filter((action) => roleGrants(role, action, true)).length,
  };
  sizes.set(role, counts);
  return counts;
}

/** Whether a role can write role assignments: it can grant itself anything (a privileged administrator role). */
export function canAssignRoles(role: RoleDefinition): boolean {
  return roleGrants(role, "Microsoft.Authorization/roleAssignments/write", false);
}
