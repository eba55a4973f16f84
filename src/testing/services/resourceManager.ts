import { createHash } from "node:crypto";
import { BUILT_IN_ROLE_IDS, BUILT_IN_ROLES } from "./rbac.js";
import {
  DEFAULT_RESOURCE_GROUP,
  DEFAULT_REGION,
  DEFAULT_SUBSCRIPTION_ID,
  dotnetUtc,
  json,
  startEmulatorServer,
  type Reply,
  type ServiceEmulator,
  type ServiceEmulatorOptions,
} from "./server.js";

/** Options of {@link startResourceManagerEmulator}. */
export interface ResourceManagerEmulatorOptions extends ServiceEmulatorOptions {
  /** Resources served on `GET <id>` (apps with their identity block, vaults with their properties). Default: none. */
  resources?: readonly EmulatedArmResource[];
  /** Deny assignments in effect. Default: none. */
  denyAssignments?: readonly EmulatedDenyAssignment[];
  /** Resource groups of the subscription. Default: one, named `resourceGroup` (default `rg-emulators`), in `region`. */
  resourceGroups?: ReadonlyArray<{
    /** The resource group's name. */
    name: string;
    /** Its Azure region. Default: `region`. */
    location?: string;
    /** Its tags. Default: none. */
    tags?: Record<string, string>;
  }>;
}

/**
 * A resource the emulator serves on `GET <id>?api-version=…` (any api-version), in Resource Manager's shape: an app
 * with its `identity` block (Container Apps, App Service, VM, VMSS, AKS), a Key Vault with `properties`
 * (`enableRbacAuthorization`). Reading it needs `<type>/read` at its id (Reader).
 */
export interface EmulatedArmResource {
  /** `/subscriptions/<sub>/resourceGroups/<rg>/providers/<namespace>/<type>/<name>`. */
  id: string;
  /** Its region. Default: the emulator's `region`. */
  location?: string;
  /**
   * The `identity` block as Resource Manager returns it:
   * `{ type: "SystemAssigned, UserAssigned", principalId, tenantId, userAssignedIdentities: { "<uami id>": { principalId, clientId } } }`.
   */
  identity?: Record<string, unknown>;
  /** `properties` (Key Vault: `{ enableRbacAuthorization: false, vaultUri, tenantId, accessPolicies: [] }`). */
  properties?: Record<string, unknown>;
  /** Its tags. */
  tags?: Record<string, string>;
}

/**
 * A deny assignment (what managed applications, deployment stacks and Blueprints create): denies its `actions` /
 * `dataActions` to its principals at its scope and below. Listed by `…/providers/Microsoft.Authorization/denyAssignments`.
 */
export interface EmulatedDenyAssignment {
  /** `denyAssignmentName`. */
  name: string;
  /** Where it applies (and below, unless `doNotApplyToChildScopes`). */
  scope: string;
  /** Object ids it denies; `00000000-0000-0000-0000-000000000000` is everyone. */
  principalIds: string[];
  /** Object ids it spares. */
  excludePrincipalIds?: string[];
  /** Control-plane operations denied (wildcards allowed). */
  actions?: string[];
  /** Operations taken out of `actions`. */
  notActions?: string[];
  /** Data-plane operations denied (`Microsoft.KeyVault/vaults/secrets/*`). */
  dataActions?: string[];
  /** Operations taken out of `dataActions`. */
  notDataActions?: string[];
  /** Applies at `scope` only, not below it. Default false. */
  doNotApplyToChildScopes?: boolean;
}

/** A running Resource Manager emulator. */
export interface ResourceManagerEmulator extends ServiceEmulator {
  /** Adds or replaces a resource (by id, case-insensitively). */
  putResource(resource: EmulatedArmResource): void;
  /** Removes a resource; true when there was one. */
  removeResource(id: string): boolean;
  /** The deny assignments, mutable at run time. */
  readonly denyAssignments: EmulatedDenyAssignment[];
}

const READ_RESOURCE_GROUPS = "Microsoft.Resources/subscriptions/resourceGroups/read";
const DEFAULT_AUDIENCES = ["https://management.azure.com", "https://management.core.windows.net"];

/**
 * Azure Resource Manager: resource groups (enough for `@azure/arm-resources` `resourceGroups.list()`/`get()`:
 * `GET /subscriptions/{sub}/resourcegroups` and `GET /subscriptions/{sub}/resourceGroups/{rg}`), and what
 * verification reads, in the shapes of the azure-rest-api-specs examples (Authorization 2022-04-01):
 * - `GET <resource id>` of the `resources` table, and `GET /subscriptions/{sub}/resources?$filter=resourceType eq '…' and name eq '…'`;
 * - `GET <scope>/providers/Microsoft.Authorization/permissions`: the caller's own effective permissions there;
 * - `GET <scope>/providers/Microsoft.Authorization/roleAssignments` with `$filter=atScope()`, `principalId eq '…'`
 *   or `assignedTo('…')`, each with `createdOn`;
 * - `GET [<scope>]/providers/Microsoft.Authorization/roleDefinitions/{id}` (the built-in roles the emulators know);
 * - `GET <scope>/providers/Microsoft.Authorization/denyAssignments`.
 * Every read needs its `…/read` action at its scope (Reader has them all) and is otherwise refused with Resource
 * Manager's `403 AuthorizationFailed` body naming the action and the scope.
 * Control-plane roles apply here (Reader, Contributor, Owner). 401s carry
 * `WWW-Authenticate: Bearer authorization_uri="https://login.windows.net/", error="invalid_token", error_description="…"`.
 * No network rules (`setFirewall` has no effect).
 */
export async function startResourceManagerEmulator(options: ResourceManagerEmulatorOptions): Promise<ResourceManagerEmulator> {
  const subscriptionId = options.subscriptionId ?? DEFAULT_SUBSCRIPTION_ID;
  const subscriptionScope = `/subscriptions/${subscriptionId}`;
  const groups = (options.resourceGroups ?? [{ name: options.resourceGroup ?? DEFAULT_RESOURCE_GROUP }]).map((g) => ({
    id: `${subscriptionScope}/resourceGroups/${g.name}`,
    name: g.name,
    type: "Microsoft.Resources/resourceGroups",
    location: g.location ?? options.region ?? DEFAULT_REGION,
    ...(g.tags ? { tags: g.tags } : {}),
    properties: { provisioningState: "Succeeded" },
  }));
  const resources = new Map<string, EmulatedArmResource>();
  for (const r of options.resources ?? []) resources.set(r.id.toLowerCase(), r);
  const denyAssignments: EmulatedDenyAssignment[] = [...(options.denyAssignments ?? [])];
  const audiences = options.audiences ?? DEFAULT_AUDIENCES;
  const audienceList = audiences.flatMap((a) => [`'${a.replace(/\/+$/, "")}/'`, `'${a.replace(/\/+$/, "")}'`]).join(",");

  const error = (status: number, code: string, message: string, headers: Record<string, string> = {}): Reply =>
    json(status, { error: { code, message } }, code, headers);
  const unauthorized = (code: string, message: string, description: string, authority = "https://login.windows.net/"): Reply =>
    error(401, code, message, {
      "www-authenticate": `Bearer authorization_uri="${authority}", error="invalid_token", error_description="${description}"`,
      "x-ms-failure-cause": "gateway",
    });

  const server = await startEmulatorServer(
    {
      service: "arm",
      host: "management.azure.com",
      resourceId: subscriptionScope,
      audiences,
      roles: BUILT_IN_ROLES,
      headers: (call, env) => ({
        "cache-control": "no-cache",
        pragma: "no-cache",
        expires: "-1",
        "strict-transport-security": "max-age=31536000; includeSubDomains",
        "x-content-type-options": "nosniff",
        "x-ms-request-id": call.requestId,
        "x-ms-correlation-request-id": call.clientRequestId ?? call.requestId,
        "x-ms-routing-request-id": `${env.region.toUpperCase()}:${new Date(env.now()).toISOString().replace(/[-:]|\.\d+/g, "")}:${call.requestId}`,
        "x-ms-ratelimit-remaining-subscription-reads": "11999",
        ...(call.clientRequestId ? { "x-ms-client-request-id": call.clientRequestId } : {}),
      }),
      tokenFailure(call, failure, env) {
        const claims = failure.claims;
        switch (failure.reason) {
          case "missing":
            return unauthorized(
              "AuthenticationFailed",
              "Authentication failed. The 'Authorization' header is missing.",
              "The authentication failed because of missing 'Authorization' header.",
            );
          case "malformed":
          case "signature":
            return unauthorized("InvalidAuthenticationToken", "The access token is invalid.", "The access token is invalid.");
          case "audience": {
            const text = `wrong audience or resource '${claims?.aud ?? ""}'. It should exactly match with one of the allowed audiences ${audienceList}.`;
            return unauthorized(
              "InvalidAuthenticationTokenAudience",
              `The access token has been obtained for ${text}`,
              `The access token has been obtained from ${text}`,
            );
          }
          case "tenant":
            return unauthorized(
              "InvalidAuthenticationTokenTenant",
              `The access token is from the wrong issuer '${claims?.iss ?? ""}'. It must match the tenant 'https://sts.windows.net/${env.tenantId}/' associated with this subscription. ` +
                `Please use the authority (URL) 'https://login.windows.net/${env.tenantId}' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, ` +
                "but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.",
              "The access token is from the wrong issuer.",
              `https://login.windows.net/${env.tenantId}`,
            );
          case "expired":
            return unauthorized(
              "ExpiredAuthenticationToken",
              `The access token expiry UTC time '${dotnetUtc((claims?.exp ?? 0) * 1000)}' is earlier than current UTC time '${dotnetUtc(env.now())}'.`,
              "The access token has expired.",
            );
          case "not-yet-valid": // unverified text
            return unauthorized(
              "InvalidAuthenticationToken",
              `The access token validity start UTC time '${dotnetUtc((claims?.nbf ?? 0) * 1000)}' is later than current UTC time '${dotnetUtc(env.now())}'.`,
              "The access token is not yet valid.",
            );
        }
      },
      handle(call, caller, env) {
        if (!call.url.searchParams.get("api-version")) {
          return error(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
        }
        const path = call.url.pathname.replace(/\/+$/, "");
        const denied = (action: string, scope: string) =>
          error(
            403,
            "AuthorizationFailed",
            `The client '${caller.appid ?? caller.azp ?? caller.oid}' with object id '${caller.oid}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
            { "x-ms-failure-cause": "gateway" },
          );
        const allows = (action: string, scope: string) => env.rbac.allows(caller.oid, "action", action, scope);
        const invalid = () => error(400, "InvalidResourceType", `The resource type could not be found for the request '${call.method} ${call.url.pathname}'.`);
        if (call.method !== "GET") return invalid();
        const sub = /^\/subscriptions\/([^/]+)/i.exec(path)?.[1];
        if (sub !== undefined && sub.toLowerCase() !== subscriptionId.toLowerCase()) {
          return error(404, "SubscriptionNotFound", `The subscription '${sub}' could not be found.`);
        }
        const authz = /^(.*)\/providers\/Microsoft\.Authorization\/(permissions|roleAssignments|denyAssignments|roleDefinitions)(?:\/([^/]+))?$/i.exec(path);
        if (authz) {
          const scope = authz[1] || "/";
          const kind = authz[2]!.toLowerCase();
          const filter = call.url.searchParams.get("$filter") ?? "";
          if (kind === "roledefinitions") {
            if (!authz[3]) return invalid();
            const found = roleDefinitionById(authz[3], subscriptionScope);
            return found
              ? json(200, found)
              : error(404, "RoleDefinitionDoesNotExist", "The specified role definition with ID '" + authz[3] + "' does not exist.");
          }
          if (authz[3]) return invalid();
          const action = `Microsoft.Authorization/${authz[2]}/read`;
          if (!allows(action, scope)) return denied(action, scope);
          if (kind === "permissions") {
            const now = env.now();
            const value = env.rbac
              .list()
              .filter((a) => a.effectiveAt <= now && same(a.principalId, caller.oid) && atOrAbove(a.scope, scope))
              .map((a) => {
                const def = roleByName(a.role);
                return { actions: [...(def?.actions ?? [])], notActions: [], dataActions: [...(def?.dataActions ?? [])], notDataActions: [] };
              });
            return json(200, { value });
          }
          if (kind === "roleassignments") {
            const principal = /principalId\s+eq\s+'([^']+)'/i.exec(filter)?.[1] ?? /assignedTo\('([^']+)'\)/i.exec(filter)?.[1];
            const onlyAbove = /atScope\(\)/i.test(filter);
            const value = env.rbac
              .list()
              .filter(
                (a) => (principal === undefined || same(a.principalId, principal)) && (atOrAbove(a.scope, scope) || (!onlyAbove && atOrAbove(scope, a.scope))),
              )
              .map((a) => roleAssignmentBody(a, subscriptionScope));
            return json(200, { value });
          }
          const value = denyAssignments.filter((d) => atOrAbove(d.scope, scope)).map(denyAssignmentBody);
          return json(200, { value });
        }
        const list = /^\/subscriptions\/[^/]+\/resources$/i.exec(path);
        if (list) {
          const filter = call.url.searchParams.get("$filter") ?? "";
          const type = /resourceType\s+eq\s+'([^']+)'/i.exec(filter)?.[1];
          const name = /name\s+eq\s+'([^']+)'/i.exec(filter)?.[1];
          const value = [...resources.values()]
            .filter((r) => (type === undefined || same(typeOf(r.id), type)) && (name === undefined || same(r.id.split("/").pop()!, name)))
            .filter((r) => allows(`${typeOf(r.id)}/read`, r.id))
            .map((r) => ({
              id: r.id,
              name: r.id.split("/").pop(),
              type: typeOf(r.id),
              location: r.location ?? env.region,
              ...(r.tags ? { tags: r.tags } : {}),
            }));
          return json(200, { value });
        }
        const resource = /^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+\/providers\/[^/]+\/[^/]+\/[^/]+$/i.exec(path);
        if (resource) {
          const type = typeOf(path);
          if (!allows(`${type}/read`, path)) return denied(`${type}/read`, path);
          const found = resources.get(path.toLowerCase());
          if (!found) {
            const rg = /\/resourcegroups\/([^/]+)\//i.exec(path)![1];
            return error(
              404,
              "ResourceNotFound",
              `The Resource '${type}/${path.split("/").pop()}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
            );
          }
          return json(200, resourceBody(found, env.region));
        }
        const match = /^\/subscriptions\/([^/]+)\/resourcegroups(?:\/([^/]+))?$/i.exec(path);
        if (!match) {
          return error(
            400,
            "InvalidResourceType",
            `The resource type could not be found for the request '${call.method} ${call.url.pathname}' (the emulator serves resource groups, the resources table and authorization reads).`,
          );
        }
        const readGroups = (scope: string) => allows(READ_RESOURCE_GROUPS, scope);
        if (match[2]) {
          const name = decodeURIComponent(match[2]);
          const scope = `${subscriptionScope}/resourceGroups/${name}`;
          if (!readGroups(scope)) return denied(READ_RESOURCE_GROUPS, scope);
          const group = groups.find((g) => g.name.toLowerCase() === name.toLowerCase());
          if (!group) return error(404, "ResourceGroupNotFound", `Resource group '${name}' could not be found.`);
          return json(200, group);
        }
        // A list shows what the caller may read: all groups with a role at the subscription, else the groups it has a
        // role on; with none at all, the list itself is refused.
        const visible = readGroups(subscriptionScope) ? groups : groups.filter((g) => readGroups(g.id));
        if (visible.length === 0 && !readGroups(subscriptionScope)) return denied(READ_RESOURCE_GROUPS, subscriptionScope);
        return json(200, { value: visible });
      },
    },
    { ...options, subscriptionId },
  );
  return Object.assign(server, {
    putResource(resource: EmulatedArmResource) {
      resources.set(resource.id.toLowerCase(), resource);
    },
    removeResource(id: string) {
      return resources.delete(id.toLowerCase());
    },
    denyAssignments,
  });
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const trim = (scope: string) => scope.trim().replace(/\/+$/, "").toLowerCase();
/** Whether `scope` is `target` or contains it. */
const atOrAbove = (scope: string, target: string) => {
  const s = trim(scope);
  const t = trim(target);
  return s === t || s === "" || t.startsWith(`${s}/`);
};
const typeOf = (id: string) => {
  const m = /\/providers\/([^/]+)\/([^/]+)\/[^/]+$/i.exec(id);
  return m ? `${m[1]}/${m[2]}` : "";
};
const roleByName = (role: string) => Object.entries(BUILT_IN_ROLES).find(([name]) => same(name, role) || same(roleIdOf(name), role))?.[1];
/** The role's GUID: the real one for a built-in role, else one derived from its name. */
const roleIdOf = (role: string): string => {
  const known = Object.entries(BUILT_IN_ROLE_IDS).find(([name]) => same(name, role))?.[1];
  if (known) return known;
  if (/^[0-9a-f-]{36}$/i.test(role)) return role.toLowerCase();
  const h = createHash("sha256").update(role.toLowerCase()).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

function roleDefinitionById(id: string, subscriptionScope: string): unknown {
  const entry = Object.entries(BUILT_IN_ROLES).find(([name]) => same(roleIdOf(name), id));
  if (!entry) return undefined;
  const [roleName, def] = entry;
  return {
    properties: {
      roleName,
      type: "BuiltInRole",
      description: `${roleName} (the emulator's subset of its permissions)`,
      assignableScopes: ["/"],
      permissions: [{ actions: [...(def.actions ?? [])], notActions: [], dataActions: [...(def.dataActions ?? [])], notDataActions: [] }],
      createdOn: "2015-02-02T21:55:09.8806423Z",
      updatedOn: "2024-01-01T00:00:00.0000000Z",
      createdBy: null,
      updatedBy: null,
    },
    id: `${subscriptionScope}/providers/Microsoft.Authorization/roleDefinitions/${roleIdOf(roleName)}`,
    type: "Microsoft.Authorization/roleDefinitions",
    name: roleIdOf(roleName),
  };
}

function roleAssignmentBody(
  a: { principalId: string; role: string; scope: string; createdAt: number; assignmentName: string },
  subscriptionScope: string,
): unknown {
  const scope = a.scope.replace(/\/+$/, "") || "/";
  const created = new Date(a.createdAt).toISOString();
  return {
    properties: {
      roleDefinitionId: `${subscriptionScope}/providers/Microsoft.Authorization/roleDefinitions/${roleIdOf(a.role)}`,
      principalId: a.principalId,
      principalType: "ServicePrincipal",
      scope,
      condition: null,
      conditionVersion: null,
      createdOn: created,
      updatedOn: created,
      createdBy: null,
      updatedBy: null,
      delegatedManagedIdentityResourceId: null,
      description: null,
    },
    id: `${scope === "/" ? "" : scope}/providers/Microsoft.Authorization/roleAssignments/${a.assignmentName}`,
    type: "Microsoft.Authorization/roleAssignments",
    name: a.assignmentName,
  };
}

function denyAssignmentBody(d: EmulatedDenyAssignment): unknown {
  const name = createHash("sha256").update(`${d.scope}|${d.name}`).digest("hex").slice(0, 32);
  const id = `${name.slice(0, 8)}-${name.slice(8, 12)}-${name.slice(12, 16)}-${name.slice(16, 20)}-${name.slice(20, 32)}`;
  return {
    properties: {
      denyAssignmentName: d.name,
      description: "",
      permissions: [{ actions: d.actions ?? [], notActions: d.notActions ?? [], dataActions: d.dataActions ?? [], notDataActions: d.notDataActions ?? [] }],
      scope: d.scope,
      doNotApplyToChildScopes: d.doNotApplyToChildScopes ?? false,
      principals: d.principalIds.map((p) => ({ id: p, type: p === "00000000-0000-0000-0000-000000000000" ? "SystemDefined" : "ServicePrincipal" })),
      excludePrincipals: (d.excludePrincipalIds ?? []).map((p) => ({ id: p, type: "ServicePrincipal" })),
      isSystemProtected: true,
    },
    id: `${d.scope.replace(/\/+$/, "")}/providers/Microsoft.Authorization/denyAssignments/${id}`,
    type: "Microsoft.Authorization/denyAssignments",
    name: id,
  };
}

function resourceBody(r: EmulatedArmResource, region: string): unknown {
  const parts = r.id.split("/");
  return {
    id: r.id,
    name: parts[parts.length - 1],
    type: typeOf(r.id),
    location: r.location ?? region,
    ...(r.tags ? { tags: r.tags } : {}),
    ...(r.identity ? { identity: r.identity } : {}),
    properties: { provisioningState: "Succeeded", ...(r.properties ?? {}) },
  };
}
