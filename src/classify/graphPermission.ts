/**
 * Microsoft Graph's 403 (Authorization_RequestDenied, "Insufficient privileges…"): the endpoint and method name the
 * least-privileged application permission (catalog/graphPermissions.ts, generated from msgraph-metadata), and the fix
 * assigns that app role to the managed identity's service principal. Every value in the command is validated.
 */
import { GRAPH_APP_ROLE_IDS, GRAPH_PERMISSIONS } from "../catalog/graphPermissions.js";
import { validShellValue } from "../util/shellSafe.js";

/** Microsoft Graph's application id: the same in every tenant. */
export const GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000";

export interface GraphPermission {
  /** The application permission (app role value): "User.Invite.All". */
  permission: string;
  /** Its app role id, when the table knows it. */
  appRoleId?: string;
  /** The table's path template that matched: "/invitations". */
  template: string;
  /** The method, upper case. */
  method: string;
}

interface CompiledTemplate {
  template: string;
  pattern: RegExp;
  /** Literal segments count: a more literal template wins ("/users/delta" over "/users/{id}"). */
  literal: number;
  methods: Record<string, string>;
}

let compiled: CompiledTemplate[] | undefined;

function templates(): CompiledTemplate[] {
  return (compiled ??= Object.entries(GRAPH_PERMISSIONS).map(([template, pairs]) => {
    const segments = template.split("/").filter((segment) => segment.length > 0);
    const source = segments.map((segment) => (segment === "{id}" ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))).join("/");
    const methods: Record<string, string> = {};
    for (const pair of pairs.split(";")) {
      const [method, permission] = pair.split("=");
      if (method !== undefined && permission !== undefined) methods[method] = permission;
    }
    return { template, pattern: new RegExp(`^/${source}$`), literal: segments.filter((s) => s !== "{id}").length, methods };
  }));
}

/** The request path as the table keys it: no API version, no `/$ref`, lower case, no trailing slash. */
export function graphPathOf(path: string): string {
  let normalized = path.split(/[?#]/)[0] ?? "";
  try {
    normalized = decodeURIComponent(normalized);
  } catch {
    // keep it encoded
  }
  return normalized
    .toLowerCase()
    .replace(/^\/(v1\.0|beta)(?=\/)/, "")
    .replace(/\/\$ref$/, "")
    .replace(/\/+$/, "");
}

/** The least-privileged application permission for a Graph request, or undefined when the table has no entry. */
export function graphPermissionFor(method: string | undefined, path: string | undefined): GraphPermission | undefined {
  if (typeof method !== "string" || typeof path !== "string") return undefined;
  const verb = method.toUpperCase();
  const target = graphPathOf(path);
  let best: CompiledTemplate | undefined;
  for (const candidate of templates()) {
    if (candidate.methods[verb] === undefined || !candidate.pattern.test(target)) continue;
    if (best === undefined || candidate.literal > best.literal) best = candidate;
  }
  if (best === undefined) return undefined;
  const permission = best.methods[verb] as string;
  const appRoleId = GRAPH_APP_ROLE_IDS[permission];
  return {
    permission,
    ...(appRoleId !== undefined ? { appRoleId } : {}),
    template: best.template,
    method: verb,
  };
}

/**
 * The grant step: assign the app role to the identity's service principal (az rest to appRoleAssignments). The Graph
 * service principal's object id differs per tenant, so the command looks it up; the app role id is filled in when
 * known. Values that fail validation stay shell variables or placeholders.
 */
export function graphGrantStep(found: GraphPermission, input: { host?: string; principalId?: string }): string {
  const host = validShellValue(input.host, "host") ?? "graph.microsoft.com";
  const principal = validShellValue(input.principalId, "guid") ?? "$PRINCIPAL_ID";
  const permission = /^[A-Za-z]+(\.[A-Za-z]+)+$/.test(found.permission) ? found.permission : "<permission>";
  const roleId = validShellValue(found.appRoleId, "guid");
  const roleLookup =
    roleId !== undefined
      ? `APP_ROLE_ID="${roleId}"`
      : `APP_ROLE_ID="$(az ad sp show --id ${GRAPH_APP_ID} --query "appRoles[?value=='${permission}'].id" --output tsv)"`;
  return (
    `Grant the Microsoft Graph application permission "${permission}" to principal ${principal} (${found.method} ${found.template} needs it; an app-role assignment on the Graph service principal, Azure RBAC roles do not apply to Graph): ` +
    `GRAPH_SP_ID="$(az ad sp show --id ${GRAPH_APP_ID} --query id --output tsv)" && ${roleLookup} && ` +
    `az rest --method POST --uri "https://${host}/v1.0/servicePrincipals/${principal}/appRoleAssignments" --body "{\\"principalId\\":\\"${principal}\\",\\"resourceId\\":\\"$GRAPH_SP_ID\\",\\"appRoleId\\":\\"$APP_ROLE_ID\\"}"`
  );
}

/** One line saying why this permission: the least privileged the Graph metadata names for this call. */
export function graphWhyLine(found: GraphPermission): string {
  return `Why "${found.permission}": the least-privileged application permission Microsoft Graph accepts for ${found.method} ${found.template} (Graph permissions metadata).`;
}
