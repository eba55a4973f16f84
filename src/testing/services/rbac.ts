import { randomUUID } from "node:crypto";
/**
 * A role-assignment table for the service emulators: who (principal object id) has which role at which scope.
 * Azure RBAC semantics, reduced to what the emulators need:
 * - a role grants `actions` (control plane) and `dataActions` (data plane); a control-plane role such as Owner or
 *   Contributor (`actions: ["*"]`) grants no data action, which is why it does not open a vault or a blob;
 * - an assignment at a scope applies to that scope and everything below it (subscription → resource group →
 *   resource → child), never to a sibling;
 * - a grant made at run time can take effect only after a propagation delay, as real assignments do.
 */

/** One role assignment. `role` is a role name ("Key Vault Secrets User") or a role definition id. */
export interface RoleAssignment {
  /** The principal's object id (`oid` claim). */
  principalId: string;
  /** A role name the emulator knows ("Key Vault Secrets User", see BUILT_IN_ROLES) or a role definition id. */
  role: string;
  /** `/subscriptions/…[/resourceGroups/…[/providers/…]]`. Cosmos DB also takes its own form: `/`, `/dbs/<db>`, `/dbs/<db>/colls/<c>`. */
  scope: string;
  /**
   * When the assignment was created (Resource Manager's `createdOn`): an ISO time or epoch ms. Default: a day before
   * the emulator started for assignments given at start, the grant's time for `grant()`.
   */
  createdOn?: string | number;
}

/** A role definition: wildcards (`*`) match any run of characters, case-insensitively, as in Azure. */
export interface RoleDefinition {
  /** Control-plane operations it allows ("Microsoft.Storage/storageAccounts/blobServices/containers/read"). Default: none. */
  actions?: readonly string[];
  /** Data-plane operations it allows ("Microsoft.KeyVault/vaults/secrets/getSecret/action"). Default: none. */
  dataActions?: readonly string[];
}

/** The live table of an emulator. */
export interface RoleAssignmentTable {
  /** Adds an assignment. It takes effect after `propagationDelayMs` (default: the emulator's `propagationDelayMs`). */
  grant(
    assignment: RoleAssignment,
    options?: {
      /** Milliseconds before the grant takes effect, overriding the emulator's default for this one. */
      propagationDelayMs?: number;
    },
  ): void;
  /** Removes matching assignments (fields left out match anything); effective at once. Returns how many went. */
  revoke(match: Partial<RoleAssignment>): number;
  /** The assignments, with the time each takes (took) effect (epoch ms, emulator clock). */
  list(): Array<
    RoleAssignment & {
      /** When the assignment takes (took) effect, epoch ms on the emulator clock. */
      effectiveAt: number;
      /** When it was created, epoch ms (`createdOn`). */
      createdAt: number;
      /** The assignment's name (a GUID), as in its Resource Manager id. */
      assignmentName: string;
    }
  >;
}

/**
 * Role definition ids (GUIDs) of the built-in roles the emulators know: the real ones (`az role definition list`),
 * as Resource Manager's role assignments reference them.
 */
export const BUILT_IN_ROLE_IDS: Readonly<Record<string, string>> = {
  Owner: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
  Contributor: "b24988ac-6180-42a0-ab88-20f7382dd24c",
  Reader: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
  "Key Vault Contributor": "f25e0fa2-a7c8-4377-a976-54943a77a395",
  "Storage Account Contributor": "17d1049b-9a84-46fb-8f53-869881c3d3ab",
  "Cosmos DB Operator": "230815da-be43-4aae-9cb4-875f7bd000aa",
  "DocumentDB Account Contributor": "5bd9cd88-fe45-4216-938b-f97437e15450",
  "Azure Service Bus Data Owner": "090c5cfd-751d-490a-894a-3ce6f1109419",
  "Key Vault Administrator": "00482a5a-887f-4fb3-b363-3b7fe8e74483",
  "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
  "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
  "Key Vault Reader": "21090545-7ca7-4776-b22c-e363652d74d2",
  "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
  "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
  "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
  "Azure Service Bus Data Sender": "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39",
  "Azure Service Bus Data Receiver": "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0",
};

/** Built-in Azure roles the emulators know (subset of each role's permissions that the emulators check). */
export const BUILT_IN_ROLES: Readonly<Record<string, RoleDefinition>> = {
  // Control plane: no data actions.
  Owner: { actions: ["*"] },
  Contributor: { actions: ["*"] },
  Reader: { actions: ["*/read"] },
  "Key Vault Contributor": { actions: ["Microsoft.KeyVault/*", "Microsoft.Resources/subscriptions/resourceGroups/read"] },
  "Storage Account Contributor": { actions: ["Microsoft.Storage/storageAccounts/*", "Microsoft.Resources/subscriptions/resourceGroups/read"] },
  "Cosmos DB Operator": { actions: ["Microsoft.DocumentDb/databaseAccounts/*", "Microsoft.Resources/subscriptions/resourceGroups/read"] },
  "DocumentDB Account Contributor": { actions: ["Microsoft.DocumentDb/databaseAccounts/*", "Microsoft.Resources/subscriptions/resourceGroups/read"] },
  "Azure Service Bus Data Owner": { actions: ["Microsoft.ServiceBus/*"], dataActions: ["Microsoft.ServiceBus/*"] },
  // Key Vault (RBAC permission model).
  "Key Vault Administrator": {
    actions: ["Microsoft.KeyVault/checkNameAvailability/read", "Microsoft.KeyVault/vaults/*/read"],
    dataActions: ["Microsoft.KeyVault/vaults/*"],
  },
  "Key Vault Secrets Officer": { actions: ["Microsoft.KeyVault/vaults/*/read"], dataActions: ["Microsoft.KeyVault/vaults/secrets/*"] },
  "Key Vault Secrets User": { dataActions: ["Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"] },
  "Key Vault Reader": { actions: ["Microsoft.KeyVault/vaults/*/read"], dataActions: ["Microsoft.KeyVault/vaults/secrets/readMetadata/action"] },
  // Storage.
  "Storage Blob Data Owner": {
    actions: ["Microsoft.Storage/storageAccounts/blobServices/containers/*"],
    dataActions: ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"],
  },
  "Storage Blob Data Contributor": {
    actions: ["Microsoft.Storage/storageAccounts/blobServices/containers/read", "Microsoft.Storage/storageAccounts/blobServices/containers/write"],
    dataActions: [
      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
    ],
  },
  "Storage Blob Data Reader": {
    actions: ["Microsoft.Storage/storageAccounts/blobServices/containers/read"],
    dataActions: ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"],
  },
  // Service Bus.
  "Azure Service Bus Data Sender": {
    actions: ["Microsoft.ServiceBus/*/queues/read", "Microsoft.ServiceBus/*/topics/read"],
    dataActions: ["Microsoft.ServiceBus/*/send/action"],
  },
  "Azure Service Bus Data Receiver": {
    actions: ["Microsoft.ServiceBus/*/queues/read", "Microsoft.ServiceBus/*/topics/read"],
    dataActions: ["Microsoft.ServiceBus/*/receive/action"],
  },
};

/**
 * Cosmos DB's own (SQL) built-in role definitions, by id and by name. Cosmos data access is not Azure RBAC:
 * `az cosmosdb sql role assignment create … --role-definition-id 00000000-0000-0000-0000-000000000001`.
 */
export const COSMOS_BUILT_IN_ROLES: Readonly<Record<string, RoleDefinition>> = (() => {
  const reader: RoleDefinition = {
    dataActions: [
      "Microsoft.DocumentDB/databaseAccounts/readMetadata",
      "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/executeQuery",
      "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/readChangeFeed",
      "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/read",
    ],
  };
  const contributor: RoleDefinition = {
    dataActions: [
      "Microsoft.DocumentDB/databaseAccounts/readMetadata",
      "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/*",
      "Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers/items/*",
    ],
  };
  return {
    "00000000-0000-0000-0000-000000000001": reader,
    "Cosmos DB Built-in Data Reader": reader,
    "00000000-0000-0000-0000-000000000002": contributor,
    "Cosmos DB Built-in Data Contributor": contributor,
  };
})();

export interface RbacTableOptions {
  assignments?: readonly RoleAssignment[];
  propagationDelayMs?: number;
  now: () => number;
  /** Role definitions by name or id (case-insensitive). */
  roles: Readonly<Record<string, RoleDefinition>>;
  /** Maps an assignment's scope to the canonical form requests are checked against (Cosmos: `/dbs/x` → account id + `/dbs/x`). */
  normalizeScope?: (scope: string) => string;
}

/** The table plus the check the emulators make. */
export interface RbacTable extends RoleAssignmentTable {
  /**
   * Whether `principalId` holds `permission` (an action or data action, per `kind`) at `resourceScope`, right now:
   * through an assignment at that scope or above it, or, with `orBelow`, also at a scope below it.
   */
  allows(principalId: string, kind: "action" | "dataAction", permission: string, resourceScope: string, options?: { orBelow?: boolean }): boolean;
}

export function createRbacTable(options: RbacTableOptions): RbacTable {
  const normalize = options.normalizeScope ?? ((s: string) => s);
  const roles = new Map(Object.entries(options.roles).map(([name, def]) => [name.toLowerCase(), def]));
  const startedAt = options.now();
  const created = (value: string | number | undefined, fallback: number): number => {
    const ms = typeof value === "number" ? value : typeof value === "string" ? Date.parse(value) : NaN;
    return Number.isFinite(ms) ? ms : fallback;
  };
  const entries: Array<RoleAssignment & { effectiveAt: number; createdAt: number; assignmentName: string }> = (options.assignments ?? []).map((a) => ({
    ...a,
    effectiveAt: -Infinity,
    createdAt: created(a.createdOn, startedAt - 86_400_000),
    assignmentName: randomUUID(),
  }));
  return {
    grant(assignment, grantOptions) {
      const delay = grantOptions?.propagationDelayMs ?? options.propagationDelayMs ?? 0;
      const now = options.now();
      entries.push({ ...assignment, effectiveAt: now + delay, createdAt: created(assignment.createdOn, now), assignmentName: randomUUID() });
    },
    revoke(match) {
      let removed = 0;
      for (let i = entries.length - 1; i >= 0; i--) {
        const e = entries[i]!;
        const hit =
          (match.principalId === undefined || same(match.principalId, e.principalId)) &&
          (match.role === undefined || same(match.role, e.role)) &&
          (match.scope === undefined || same(trimScope(match.scope), trimScope(e.scope)));
        if (hit) {
          entries.splice(i, 1);
          removed++;
        }
      }
      return removed;
    },
    list() {
      return entries.map((e) => ({ ...e }));
    },
    allows(principalId, kind, permission, resourceScope, allowsOptions) {
      const now = options.now();
      const target = trimScope(resourceScope).toLowerCase();
      return entries.some((e) => {
        if (e.effectiveAt > now || !same(e.principalId, principalId)) return false;
        const scope = trimScope(normalize(e.scope)).toLowerCase();
        const atOrAbove = target === scope || scope === "" || target.startsWith(`${scope}/`);
        if (!atOrAbove && !(allowsOptions?.orBelow && scope.startsWith(`${target}/`))) return false;
        const def = roles.get(e.role.toLowerCase());
        const patterns = (kind === "action" ? def?.actions : def?.dataActions) ?? [];
        return patterns.some((p) => wildcard(p).test(permission));
      });
    },
  };
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const trimScope = (scope: string) => scope.trim().replace(/\/+$/, "");

const patternCache = new Map<string, RegExp>();
function wildcard(pattern: string): RegExp {
  let re = patternCache.get(pattern);
  if (!re) {
    re = new RegExp(
      `^${pattern
        .split("*")
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
        .join(".*")}$`,
      "i",
    );
    patternCache.set(pattern, re);
  }
  return re;
}
