/**
 * The verdicts of verification, pure: facts read from Azure Resource Manager in, a verdict (outcome, one-line
 * summary, structured checks, evidence, next steps) out. No I/O: the reads are in verifier.ts.
 */
import { CHECK_KINDS } from "../diagnosis/findings.js";
import type { DiagnosisCheck, VerificationOutcome } from "../diagnosis/types.js";
import { validShellValue } from "../util/shellSafe.js";
import { appliesTo, permissionsAllow, scopeRelation, type OperationPlane, type PermissionEntry } from "./permissions.js";

/** What a verification concluded, before it is merged into a copy of the diagnosis. */
export interface Verdict {
  outcome: VerificationOutcome;
  summary: string;
  checks: DiagnosisCheck[];
  evidence: string[];
  nextSteps: string[];
  needs?: Array<{ permission: string; scope: string }>;
}

// ---- H1: the app's identity block ------------------------------------------------------------------------------

/** The identities ARM shows attached to an app resource. */
export interface AttachedIdentities {
  /** The app's resource id. */
  resourceId: string;
  /** Present when system-assigned is on. */
  systemAssigned?: { principalId?: string };
  /** The user-assigned identities attached (for AKS: the kubelet identity too). */
  userAssigned: Array<{ resourceId: string; clientId?: string; principalId?: string }>;
}

const str = (value: unknown): string | undefined => (typeof value === "string" && value.length > 0 ? value : undefined);
const obj = (value: unknown): Record<string, unknown> | undefined =>
  value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;

/**
 * Reads the `identity` block of an app resource as ARM returns it (Container Apps, App Service/Functions, VM, VMSS:
 * `{ type: "SystemAssigned, UserAssigned", principalId, userAssignedIdentities: { <id>: { principalId, clientId } } }`;
 * AKS adds `properties.identityProfile.kubeletidentity`, the identity its pods get from IMDS).
 */
export function readAttachedIdentities(resource: unknown, resourceId: string): AttachedIdentities {
  const root = obj(resource) ?? {};
  const identity = obj(root.identity) ?? {};
  const type = (str(identity.type) ?? "None").toLowerCase();
  const result: AttachedIdentities = { resourceId: str(root.id) ?? resourceId, userAssigned: [] };
  if (type.includes("systemassigned")) {
    const principalId = str(identity.principalId);
    result.systemAssigned = principalId !== undefined ? { principalId } : {};
  }
  const users = obj(identity.userAssignedIdentities) ?? {};
  for (const [id, value] of Object.entries(users)) {
    const entry = obj(value) ?? {};
    const clientId = str(entry.clientId);
    const principalId = str(entry.principalId);
    result.userAssigned.push({ resourceId: id, ...(clientId ? { clientId } : {}), ...(principalId ? { principalId } : {}) });
  }
  const kubelet = obj(obj(obj(root.properties)?.identityProfile)?.kubeletidentity);
  const kubeletId = str(kubelet?.resourceId);
  if (kubelet !== undefined && kubeletId !== undefined) {
    const clientId = str(kubelet.clientId);
    const principalId = str(kubelet.objectId);
    result.userAssigned.push({ resourceId: kubeletId, ...(clientId ? { clientId } : {}), ...(principalId ? { principalId } : {}) });
  }
  return result;
}

/** The identity the code asked for: a user-assigned one by client, object or resource id, else the system-assigned one. */
export interface RequestedIdentity {
  clientId?: string;
  objectId?: string;
  resourceId?: string;
}

const sameId = (a: string | undefined, b: string | undefined): boolean => a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();

/** How a requested identity is named in a sentence: "clientId 1234…", "the system-assigned identity". */
export function describeRequested(requested: RequestedIdentity): string {
  if (requested.clientId) return `clientId ${requested.clientId}`;
  if (requested.objectId) return `objectId ${requested.objectId}`;
  if (requested.resourceId) return `resourceId ${requested.resourceId}`;
  return "the system-assigned identity";
}

/** "system-assigned, uami-orders (clientId …)": what is attached, named as a person reads it. */
export function describeAttached(attached: AttachedIdentities): string {
  const names = [
    ...(attached.systemAssigned ? ["system-assigned"] : []),
    ...attached.userAssigned.map((u) => `${u.resourceId.split("/").pop() ?? u.resourceId}${u.clientId ? ` (clientId ${u.clientId})` : ""}`),
  ];
  return names.length > 0 ? names.join(", ") : "none";
}

/** H1: is the identity asked for among those ARM shows attached to the app? */
export function identityVerdict(requested: RequestedIdentity, attached: AttachedIdentities): Verdict {
  const wanted = describeRequested(requested);
  const named = requested.clientId !== undefined || requested.objectId !== undefined || requested.resourceId !== undefined;
  const found = named
    ? attached.userAssigned.some(
        (u) => sameId(u.clientId, requested.clientId) || sameId(u.principalId, requested.objectId) || sameId(u.resourceId, requested.resourceId),
      ) || sameId(attached.systemAssigned?.principalId, requested.objectId)
    : attached.systemAssigned !== undefined;
  const list = describeAttached(attached);
  const app = attached.resourceId;
  const check: DiagnosisCheck = {
    kind: CHECK_KINDS.identityAssignment,
    expected: named ? wanted : "system-assigned",
    actual: `attached to ${app}: ${list}`,
    verdict: found ? "pass" : "fail",
    confirmedBy: "arm",
  };
  const evidence = [
    `verified with Resource Manager: ${app} has ${attached.systemAssigned ? "system-assigned on" : "system-assigned off"}; user-assigned attached: ${
      attached.userAssigned.length > 0 ? attached.userAssigned.map((u) => u.resourceId).join(", ") : "none"
    }`,
  ];
  if (found) {
    return {
      outcome: "refuted",
      summary: `Resource Manager shows the identity asked for (${wanted}) attached to ${app}: the identity endpoint has not caught up (a new revision or restart picks it up)`,
      checks: [check],
      evidence,
      nextSteps: [],
    };
  }
  const steps: string[] = [];
  const rg = /\/resourcegroups\/([^/]+)\//i.exec(app)?.[1];
  const name = app.split("/").pop();
  const isContainerApp = /\/providers\/microsoft\.app\/containerapps\//i.test(app);
  const safeName = validShellValue(name, "resourceName");
  const safeRg = validShellValue(rg, "resourceGroup");
  if (isContainerApp && safeName && safeRg) {
    steps.push(
      named
        ? `Attach the user-assigned identity to the app: az containerapp identity assign --name "${safeName}" --resource-group "${safeRg}" --user-assigned "<identity resource id>"`
        : `Turn on the system-assigned identity: az containerapp identity assign --name "${safeName}" --resource-group "${safeRg}" --system-assigned`,
    );
  }
  return {
    outcome: "confirmed",
    summary: `Confirmed: the identity asked for (${wanted}) is not attached to ${name ?? app}; attached: ${list}`,
    checks: [check],
    evidence,
    nextSteps: steps,
  };
}

// ---- H2: access at the target's scope --------------------------------------------------------------------------

/** A role assignment of the principal, with its role's permissions when the definition was read. */
export interface AssignmentFact {
  scope: string;
  roleDefinitionId: string;
  roleName?: string;
  permissions?: PermissionEntry[];
  /** Epoch ms of `createdOn`. */
  createdOn?: number;
}

/** A deny assignment as ARM returns it, reduced to what decides whether it blocks. */
export interface DenyFact {
  name: string;
  scope: string;
  permissions: PermissionEntry[];
  principals: string[];
  excludePrincipals: string[];
  doNotApplyToChildScopes: boolean;
}

/** Everyone, in a deny assignment's principals. */
const EVERYONE = "00000000-0000-0000-0000-000000000000";

/** What was read about access to the target; `undefined` means not read (refused, unreachable or not asked). */
export interface AccessFacts {
  /** The top-level resource id the failure was about. */
  target: string;
  /** The operation the service refused, when it named one. */
  action?: string;
  plane: OperationPlane;
  principalId: string;
  now: number;
  /** The service's documented propagation delay, in minutes. */
  propagationMinutes: number;
  /** What `Microsoft.Authorization/permissions` answered at the target, for the caller (only when the caller is the principal). */
  permissions?: PermissionEntry[];
  /** The principal's role assignments (at, above, below the target, or across the subscription). */
  assignments?: AssignmentFact[];
  /** Deny assignments at or above the target. */
  denies?: DenyFact[];
  /** Key Vault's `properties.enableRbacAuthorization`. */
  rbacAuthorization?: boolean;
  /** The vault's name, for the access-policy commands. */
  vaultName?: string;
}

const minutes = (ms: number): number => Math.max(0, Math.round(ms / 60_000));

function roleLabel(a: AssignmentFact): string {
  return a.roleName ? `'${a.roleName}'` : `role ${a.roleDefinitionId.split("/").pop()}`;
}

function grantsAction(a: AssignmentFact, action: string | undefined, plane: OperationPlane): boolean | undefined {
  if (action === undefined || a.permissions === undefined) return undefined;
  return permissionsAllow(a.permissions, action, plane);
}

function denyBlocks(deny: DenyFact, facts: AccessFacts): boolean {
  if (facts.action === undefined) return false;
  const relation = scopeRelation(deny.scope, facts.target);
  if (relation !== "at" && relation !== "above") return false;
  if (relation === "above" && deny.doNotApplyToChildScopes) return false;
  const meant = deny.principals.some((p) => sameId(p, facts.principalId) || p === EVERYONE);
  if (!meant || deny.excludePrincipals.some((p) => sameId(p, facts.principalId))) return false;
  return permissionsAllow(deny.permissions, facts.action, facts.plane);
}

/** H2: why the principal lacks the operation at the target, as far as what was read tells. */
export function accessVerdict(facts: AccessFacts): Verdict {
  const { target, action, plane } = facts;
  const what = action ?? "the operation";
  const evidence: string[] = [];
  const checks: DiagnosisCheck[] = [];

  if (facts.rbacAuthorization === false) {
    const vault = validShellValue(facts.vaultName, "resourceName") ?? "<vault>";
    const principal = validShellValue(facts.principalId, "guid") ?? "<principal-id>";
    checks.push({
      kind: CHECK_KINDS.accessModel,
      expected: "Azure RBAC",
      actual: "access policies (enableRbacAuthorization: false)",
      verdict: "fail",
      confirmedBy: "arm",
    });
    return {
      outcome: "access-policies",
      summary: `Confirmed: the vault uses access policies, not RBAC (enableRbacAuthorization: false): role assignments do not apply to it`,
      checks,
      evidence: [`verified with Resource Manager: ${target} has enableRbacAuthorization: false (access policies)`],
      nextSteps: [
        `Give the identity an access policy: az keyvault set-policy --name "${vault}" --object-id "${principal}" --secret-permissions get list`,
        `Or move the vault to Azure RBAC (every existing access policy stops applying): az keyvault update --name "${vault}" --enable-rbac-authorization true`,
      ],
    };
  }
  if (facts.rbacAuthorization === true) {
    checks.push({
      kind: CHECK_KINDS.accessModel,
      expected: "Azure RBAC",
      actual: "Azure RBAC (enableRbacAuthorization: true)",
      verdict: "pass",
      confirmedBy: "arm",
    });
  }

  const deny = facts.denies?.find((d) => denyBlocks(d, facts));
  if (deny !== undefined) {
    checks.push({
      kind: CHECK_KINDS.denyAssignment,
      expected: `no deny assignment for ${what}`,
      actual: `'${deny.name}' at ${deny.scope}`,
      verdict: "fail",
      confirmedBy: "arm",
    });
    return {
      outcome: "denied",
      summary: `Confirmed: a deny assignment blocks it: '${deny.name}' at ${deny.scope} denies ${what} (a role assignment cannot override it)`,
      checks,
      evidence: [`verified with Resource Manager: deny assignment '${deny.name}' at ${deny.scope} applies to the principal and denies ${what}`],
      nextSteps: [
        `A deny assignment comes from what created it (a managed application, a deployment stack, Azure Blueprints): change it there; list it: az rest --method get --url "${target}/providers/Microsoft.Authorization/denyAssignments?api-version=2022-04-01"`,
      ],
    };
  }
  if (facts.denies !== undefined) {
    checks.push({ kind: CHECK_KINDS.denyAssignment, expected: `no deny assignment for ${what}`, actual: "none applies", verdict: "pass", confirmedBy: "arm" });
  }

  const assignments = facts.assignments ?? [];
  const applying = assignments.filter((a) => appliesTo(a.scope, target));
  const granting = applying.filter((a) => grantsAction(a, action, plane) === true);
  const permitted = facts.permissions !== undefined && action !== undefined ? permissionsAllow(facts.permissions, action, plane) : undefined;
  if (facts.permissions !== undefined && action !== undefined) {
    evidence.push(`verified with Resource Manager: the identity's permissions at ${target} ${permitted ? "include" : "do not include"} ${action}`);
  }
  for (const a of assignments.slice(0, 5)) {
    const age = a.createdOn !== undefined ? `, created ${minutes(facts.now - a.createdOn)} min ago` : "";
    evidence.push(`role assignment: ${roleLabel(a)} at ${a.scope} (${scopeRelation(a.scope, target)} the resource${age})`);
  }
  if (facts.assignments !== undefined && assignments.length === 0) evidence.push("role assignments of the principal: none");

  if (permitted === true || granting.length > 0) {
    const recent = granting
      .filter((a) => a.createdOn !== undefined && facts.now - a.createdOn < facts.propagationMinutes * 60_000)
      .sort((x, y) => (y.createdOn ?? 0) - (x.createdOn ?? 0))[0];
    if (recent !== undefined) {
      const age = minutes(facts.now - recent.createdOn!);
      const left = Math.max(1, Math.ceil(facts.propagationMinutes - (facts.now - recent.createdOn!) / 60_000));
      checks.push({
        kind: CHECK_KINDS.role,
        expected: `${what} at ${target}`,
        actual: `${roleLabel(recent)} at ${recent.scope}, created ${age} min ago`,
        verdict: "unknown",
        confirmedBy: "arm",
      });
      return {
        outcome: "propagating",
        summary: `Verified: granted by ${roleLabel(recent)} assigned ${age} min ago at ${recent.scope}: still propagating, expect it within ~${left} min`,
        checks,
        evidence,
        nextSteps: [`Wait ~${left} min and retry: the assignment is in place and the service has not applied it yet (up to ${facts.propagationMinutes} min)`],
      };
    }
    const by = granting[0];
    checks.push({
      kind: CHECK_KINDS.role,
      expected: `${what} at ${target}`,
      actual: by ? `${roleLabel(by)} at ${by.scope}` : "granted (permissions list)",
      verdict: "pass",
      confirmedBy: "arm",
    });
    return {
      outcome: "refuted",
      summary: `Resource Manager shows ${what} granted at ${target}${by ? ` by ${roleLabel(by)} at ${by.scope}` : ""}: the refusal has another cause (a condition on the assignment, a token issued before the grant, another identity)`,
      checks,
      evidence,
      nextSteps: ["Get a fresh token (restart the replica) and retry; compare the caller the service names with the identity granted"],
    };
  }

  if (facts.permissions === undefined && facts.assignments === undefined) {
    return { outcome: "unavailable", summary: "Not verified: neither the permissions nor the role assignments could be read", checks, evidence, nextSteps: [] };
  }

  const elsewhere = assignments.filter((a) => !appliesTo(a.scope, target) && grantsAction(a, action, plane) !== false);
  const sibling = elsewhere.find((a) => grantsAction(a, action, plane) === true) ?? (action === undefined ? elsewhere[0] : undefined);
  if (sibling !== undefined) {
    checks.push({
      kind: CHECK_KINDS.role,
      expected: `${what} at ${target} or above`,
      actual: `${roleLabel(sibling)} at ${sibling.scope} (${scopeRelation(sibling.scope, target)})`,
      verdict: "fail",
      confirmedBy: "arm",
    });
    return {
      outcome: "sibling-scope",
      summary: `Confirmed: granted at a sibling scope: ${roleLabel(sibling)} is assigned at ${sibling.scope}, which does not contain ${target}`,
      checks,
      evidence,
      nextSteps: [`Assign the role at ${target} (or a scope containing it): the assignment at ${sibling.scope} does not reach it`],
    };
  }
  // Without the action named, an assignment that applies may or may not grant it.
  if (action === undefined && applying.length > 0) {
    checks.push({
      kind: CHECK_KINDS.role,
      expected: `a role for the operation at ${target}`,
      actual: applying.map((a) => `${roleLabel(a)} at ${a.scope}`).join(", "),
      verdict: "unknown",
      confirmedBy: "arm",
    });
    return {
      outcome: "refuted",
      summary: `Resource Manager shows ${applying.map((a) => roleLabel(a)).join(", ")} at or above ${target}; the service did not name the operation, so whether it covers it is not known`,
      checks,
      evidence,
      nextSteps: [],
    };
  }
  checks.push({ kind: CHECK_KINDS.role, expected: `${what} at ${target} or above`, actual: "no assignment grants it", verdict: "fail", confirmedBy: "arm" });
  return {
    outcome: "confirmed",
    summary: `Confirmed: no assignment grants ${what} at any scope above the resource: confirmed missing`,
    checks,
    evidence,
    nextSteps: [],
  };
}
