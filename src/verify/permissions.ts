/**
 * Azure RBAC arithmetic, pure: whether a set of permissions (a role definition's, or what
 * `Microsoft.Authorization/permissions` answers) allows an operation, and how two scopes relate. Wildcards and
 * case follow Azure: `*` matches any run of characters, comparisons ignore case, and an entry's `notActions` /
 * `notDataActions` subtract from that entry's own `actions` / `dataActions` only (they are not denies).
 */

/** One permission entry, as role definitions, deny assignments and the permissions list carry it. */
export interface PermissionEntry {
  actions?: readonly string[];
  notActions?: readonly string[];
  dataActions?: readonly string[];
  notDataActions?: readonly string[];
}

/** Control-plane operations are `actions`; data-plane ones (`…/getSecret/action`, `…/blobs/read`) are `dataActions`. */
export type OperationPlane = "control" | "data";

const patternCache = new Map<string, RegExp>();

/** Whether an Azure permission pattern (`Microsoft.KeyVault/vaults/*`, `*\/read`, `*`) matches `operation`. */
export function patternMatches(pattern: string, operation: string): boolean {
  let re = patternCache.get(pattern);
  if (re === undefined) {
    const body = pattern
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*");
    re = new RegExp(`^${body}$`, "i");
    if (patternCache.size < 512) patternCache.set(pattern, re);
  }
  return re.test(operation);
}

/** Whether one entry allows `operation` on `plane`: some allowed pattern matches and no excluded one does. */
export function entryAllows(entry: PermissionEntry, operation: string, plane: OperationPlane): boolean {
  const allowed = (plane === "data" ? entry.dataActions : entry.actions) ?? [];
  const excluded = (plane === "data" ? entry.notDataActions : entry.notActions) ?? [];
  return (
    allowed.some((p) => typeof p === "string" && patternMatches(p, operation)) && !excluded.some((p) => typeof p === "string" && patternMatches(p, operation))
  );
}

/** Whether any entry allows `operation` (the union of entries is what a principal holds). */
export function permissionsAllow(entries: readonly PermissionEntry[], operation: string, plane: OperationPlane): boolean {
  return entries.some((entry) => entryAllows(entry, operation, plane));
}

/**
 * The plane of an operation name: data actions name a data object below the resource type and end in an action
 * verb (`Microsoft.KeyVault/vaults/secrets/getSecret/action`, `…/containers/blobs/read`). The service's plane decides
 * when it is known; this is the fallback.
 */
export function planeOfOperation(operation: string, servicePlane?: OperationPlane): OperationPlane {
  if (servicePlane !== undefined) return servicePlane;
  return /\/(secrets|keys|certificates|blobs|messages|entities)\//i.test(operation) || /\/(send|receive|getSecret)\/action$/i.test(operation)
    ? "data"
    : "control";
}

/** How an assignment's scope relates to the target's: at it, above it (it applies), below it, or elsewhere (a sibling). */
export type ScopeRelation = "at" | "above" | "below" | "elsewhere";

/** Lower case, no trailing slash: ARM scopes compare case-insensitively. */
export function normalizeScope(scope: string): string {
  return scope.trim().replace(/\/+$/, "").toLowerCase();
}

/** How `scope` relates to `target`. A management group (or the root `/`) is above every subscription scope. */
export function scopeRelation(scope: string, target: string): ScopeRelation {
  const s = normalizeScope(scope);
  const t = normalizeScope(target);
  if (s === t) return "at";
  if (s === "" || s.startsWith("/providers/microsoft.management/managementgroups/")) return "above";
  if (t.startsWith(`${s}/`)) return "above";
  if (s.startsWith(`${t}/`)) return "below";
  return "elsewhere";
}

/** Whether an assignment at `scope` applies to `target` (at or above it). */
export function appliesTo(scope: string, target: string): boolean {
  const relation = scopeRelation(scope, target);
  return relation === "at" || relation === "above";
}

/**
 * The top-level resource of a resource id (`…/providers/NS/type/name`), dropping child segments such as
 * `/secrets/x`: where roles are assigned and what the resource GET reads. Undefined for anything else.
 */
export function topLevelResource(id: string): string | undefined {
  const match = /^(\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/[^/]+\/[^/]+\/[^/]+)/i.exec(id.trim());
  return match?.[1];
}

/** `/subscriptions/<sub>` and `…/resourceGroups/<rg>` of a resource id, when it has them. */
export function scopeParts(id: string): { subscriptionId?: string; resourceGroup?: string } {
  const match = /^\/subscriptions\/([^/]+)(?:\/resourcegroups\/([^/]+))?/i.exec(id.trim());
  if (!match) return {};
  return { subscriptionId: match[1], ...(match[2] ? { resourceGroup: match[2] } : {}) };
}

/** The resource type of a resource id: `Microsoft.App/containerApps`. */
export function resourceTypeOf(id: string): string | undefined {
  const match = /\/providers\/([^/]+)\/([^/]+)\/[^/]+/i.exec(id);
  return match ? `${match[1]}/${match[2]}` : undefined;
}
