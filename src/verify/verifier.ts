/**
 * Verification: after a failure has been diagnosed (H1 or H2), read what Azure Resource Manager says with the app's
 * own identity and turn the diagnosis from an inference into a confirmed (or refuted) fact. Runs off the hot path,
 * bounded in time and calls, cached; never throws, never changes the diagnosis it is given (it returns a copy).
 */
import type { TokenCredential } from "@azure/core-auth";
import { createDefaultHttpClient, type HttpClient } from "@azure/core-rest-pipeline";
import { hostOf, planeOf, type ServiceCatalog } from "../catalog/resolve.js";
import { CHECK_KINDS } from "../diagnosis/findings.js";
import type { Diagnosis, DiagnosisCheck, DiagnosisVerification, VerificationOutcome } from "../diagnosis/types.js";
import type { HostEnvironment } from "../environment/hostEnvironment.js";
import { decodeTokenClaims, identityKindOf, type TokenClaims } from "../jwt/claims.js";
import { sharedSlot } from "../util/processState.js";
import { redact } from "../util/redact.js";
import { recordInternalFault } from "../util/safe.js";
import { validShellValue } from "../util/shellSafe.js";
import { ArmSession, describeAnswer, type ArmAnswer } from "./armReader.js";
import { resourceManagerFor } from "./endpoint.js";
import { planeOfOperation, resourceTypeOf, scopeParts, topLevelResource, type PermissionEntry } from "./permissions.js";
import type { ResolvedVerifyOptions } from "./types.js";
import {
  accessVerdict,
  identityVerdict,
  readAttachedIdentities,
  type AccessFacts,
  type AssignmentFact,
  type DenyFact,
  type RequestedIdentity,
  type Verdict,
} from "./verdict.js";

const AUTHORIZATION_API = "2022-04-01";

/** api-version of each resource type verification reads (each a stable version listed in azure-rest-api-specs). */
const API_VERSIONS: Readonly<Record<string, string>> = {
  "microsoft.app/containerapps": "2024-03-01",
  "microsoft.app/jobs": "2024-03-01",
  "microsoft.web/sites": "2023-12-01",
  "microsoft.compute/virtualmachines": "2024-07-01",
  "microsoft.compute/virtualmachinescalesets": "2024-07-01",
  "microsoft.containerservice/managedclusters": "2024-09-01",
  "microsoft.keyvault/vaults": "2023-07-01",
};
const RESOURCES_API = "2021-04-01";

/** What a verifier needs of the credential that owns it. */
export interface VerifierHost {
  /** The wrapped credential: the app's own identity. */
  credential: TokenCredential;
  /** For H1 (the identity asked for has no token): the host's system-assigned identity, made on first use. */
  systemAssigned?: () => TokenCredential | undefined;
  /** The identity the credential was configured for (empty: system-assigned). */
  configured: RequestedIdentity;
  environment: HostEnvironment;
  catalog: ServiceCatalog;
}

/** What the call site knows beside the diagnosis: the URL of the refused request. */
export interface VerifyRequest {
  url?: string;
}

interface CachedVerdict {
  expires: number;
  verdict: Promise<{ verdict: Verdict; endpoint: string; calls: number }>;
}

/** Verdicts by identity, target and operation, shared by every credential in the process; bounded. */
const cache = sharedSlot("verify.cache.v1", () => new Map<string, CachedVerdict>());
const MAX_CACHED = 200;

/** Pending and finished verifications, by the diagnosis object they verify (for `verifyDiagnosis`). */
export const verifications = sharedSlot("verify.byDiagnosis.v1", () => new WeakMap<object, Promise<Diagnosis>>());

/** Whether verification has anything to say about this diagnosis. */
export function isVerifiable(diagnosis: Diagnosis): boolean {
  return diagnosis.code === "IdentityNotAssigned" || diagnosis.code === "RoleMissingOrWrongScope";
}

export class Verifier {
  private readonly http: HttpClient;

  constructor(
    private readonly options: ResolvedVerifyOptions,
    private readonly host: VerifierHost,
  ) {
    this.http = options.httpClient ?? createDefaultHttpClient();
  }

  /**
   * The verified copy of `diagnosis` (never rejects; the diagnosis given is not changed). A verification of the same
   * diagnosis object already under way or done is shared.
   */
  verify(diagnosis: Diagnosis, request: VerifyRequest = {}): Promise<Diagnosis> {
    const known = verifications.get(diagnosis);
    if (known !== undefined) return known;
    const result = this.verifyNow(diagnosis, request);
    verifications.set(diagnosis, result);
    return result;
  }

  /**
   * Verification of a diagnosis just reported, started on the next turn of the event loop (after the caller got its
   * error): registered at once, so `verifyDiagnosis(error)` finds it right after the throw. `done` gets the verdict.
   */
  schedule(diagnosis: Diagnosis, request: VerifyRequest, done: (verified: Diagnosis) => void): void {
    if (verifications.has(diagnosis)) return;
    const result = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.verifyNow(diagnosis, request));
    verifications.set(diagnosis, result);
    result.then(done).catch(recordInternalFault);
  }

  private verifyNow(diagnosis: Diagnosis, request: VerifyRequest): Promise<Diagnosis> {
    const started = Date.now();
    return this.verdictFor(diagnosis, request)
      .catch((fault: unknown) => {
        recordInternalFault(fault);
        return { verdict: unavailable("Not verified: an internal fault of the verification (counted in internalFaults)"), endpoint: "", calls: 0 };
      })
      .then(({ verdict, endpoint, calls }) => merge(diagnosis, verdict, { endpoint, calls, durationMs: Date.now() - started }));
  }

  private verdictFor(diagnosis: Diagnosis, request: VerifyRequest): Promise<{ verdict: Verdict; endpoint: string; calls: number }> {
    if (!isVerifiable(diagnosis)) {
      return Promise.resolve({
        verdict: { outcome: "not-applicable", summary: "Nothing to verify for this hypothesis", checks: [], evidence: [], nextSteps: [] },
        endpoint: "",
        calls: 0,
      });
    }
    const arm = resourceManagerFor([request.url, diagnosis.token?.issuer, diagnosis.token?.audience], this.options.resourceManagerEndpoint);
    const key = cacheKey(diagnosis, this.host.configured, arm.endpoint);
    const now = Date.now();
    const cached = cache.get(key);
    if (cached !== undefined && cached.expires > now) return cached.verdict.then((v) => ({ ...v, calls: 0 }));
    const verdict = this.run(diagnosis, request, arm);
    cache.delete(key);
    cache.set(key, { expires: now + this.options.cacheTtlMs, verdict });
    if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value as string);
    // A verdict that says nothing (unreachable, no token) is not worth keeping.
    verdict.then((v) => {
      if (v.verdict.outcome === "unavailable" && cache.get(key)?.verdict === verdict) cache.delete(key);
    }, recordInternalFault);
    return verdict;
  }

  private async run(
    diagnosis: Diagnosis,
    request: VerifyRequest,
    arm: { endpoint: string; scope: string },
  ): Promise<{ verdict: Verdict; endpoint: string; calls: number }> {
    const deadline = Date.now() + this.options.timeoutMs;
    const h1 = diagnosis.code === "IdentityNotAssigned";
    // H1: the identity asked for just failed to get a token (and would again, after its retries): the host's
    // system-assigned identity reads instead, when the credential has one to fall back to.
    const fallback = h1 ? this.host.systemAssigned?.() : undefined;
    const candidates = this.options.credential ? [this.options.credential] : [fallback ?? this.host.credential];
    const token = await firstToken(candidates, arm.scope, deadline);
    if (typeof token !== "string") {
      const verdict = unavailable(`Not verified: no token for Resource Manager (${token.reason})`);
      verdict.checks.push({ kind: CHECK_KINDS.verification, expected: `a token for ${arm.scope}`, actual: token.reason, verdict: "unknown" });
      return { verdict, endpoint: arm.endpoint, calls: 0 };
    }
    const claims = decodeTokenClaims(token) ?? {};
    const session = new ArmSession(arm.endpoint, token, this.http, deadline, this.options.maxCallsPerDiagnosis, this.options.maxCallsPerMinute);
    const verdict = h1 ? await this.verifyAttachment(session, claims) : await this.verifyAccess(session, claims, diagnosis, request);
    return { verdict, endpoint: arm.endpoint, calls: session.calls };
  }

  /** H1: read the app resource's `identity` block. */
  private async verifyAttachment(session: ArmSession, claims: TokenClaims): Promise<Verdict> {
    const app = appResourceOf(claims, this.host.environment);
    if (app === undefined) return unavailable("Not verified: the app's resource id is not known (no xms_az_rid/xms_mirid claim, no platform variables)");
    const type = resourceTypeOf(app)?.toLowerCase() ?? "";
    const apiVersion = API_VERSIONS[type];
    if (apiVersion === undefined) return unavailable(`Not verified: ${resourceTypeOf(app) ?? app} is not a host type verification reads`);
    const answer = await session.get(`${app}?api-version=${apiVersion}`);
    if (answer.status === 200) return identityVerdict(this.host.configured, readAttachedIdentities(answer.body, app));
    return refusedOrFailed([{ answer, permission: `${resourceTypeOf(app)}/read`, scope: app, read: `GET ${app}` }], claims);
  }

  /** H2: what grants (or does not grant) the operation at the target's scope. */
  private async verifyAccess(session: ArmSession, claims: TokenClaims, diagnosis: Diagnosis, request: VerifyRequest): Promise<Verdict> {
    const principalId = diagnosis.identity?.objectId ?? claims.oid;
    if (principalId === undefined) return unavailable("Not verified: the principal (object id) is not known");
    const service = diagnosis.service !== undefined ? this.host.catalog.byName(diagnosis.service) : undefined;
    const action = namedIn(diagnosis.evidence, "operation named by the service: ")?.split(", ")[0];
    const named = namedIn(diagnosis.evidence, "resource named by the service: ");
    let target = named !== undefined ? topLevelResource(named) : undefined;
    const attempts: Attempt[] = [];
    if (target === undefined) {
      const found = await findResource(session, service?.resourceProvider, request.url, claims);
      if (found.attempt) attempts.push(found.attempt);
      target = found.id;
    }
    if (target === undefined) {
      if (attempts.some((a) => a.answer.status !== 200)) return refusedOrFailed(attempts, claims);
      return unavailable("Not verified: the target's resource id is not known (the service did not name it and no resource of its type and name was found)");
    }
    const plane = planeOfOperation(action ?? "", service !== undefined ? planeOf(service) : undefined);
    const facts: AccessFacts = { target, plane, principalId, now: Date.now(), propagationMinutes: service?.propagationMinutes ?? 10 };
    if (action !== undefined) facts.action = action;
    const failed: Attempt[] = [];
    const read = async (path: string, permission: string, scope: string): Promise<ArmAnswer | undefined> => {
      const answer = await session.get(path);
      if (answer.status === 200) return answer;
      failed.push({ answer, permission, scope, read: `GET ${path.split("?")[0]}` });
      return undefined;
    };

    if (resourceTypeOf(target)?.toLowerCase() === "microsoft.keyvault/vaults") {
      const vault = await read(`${target}?api-version=${API_VERSIONS["microsoft.keyvault/vaults"]}`, "Microsoft.KeyVault/vaults/read", target);
      const rbac = (vault?.body as { properties?: { enableRbacAuthorization?: unknown } } | undefined)?.properties?.enableRbacAuthorization;
      facts.vaultName = target.split("/").pop()!;
      if (vault !== undefined) facts.rbacAuthorization = rbac === true;
      if (facts.rbacAuthorization === false) return accessVerdict(facts);
      if (vault === undefined && unreachable(failed)) return refusedOrFailed(failed, claims);
    }
    // The caller's own permissions speak for the principal only when the caller is the principal.
    if (claims.oid !== undefined && claims.oid.toLowerCase() === principalId.toLowerCase()) {
      const answer = await read(
        `${target}/providers/Microsoft.Authorization/permissions?api-version=${AUTHORIZATION_API}`,
        "Microsoft.Authorization/permissions/read",
        target,
      );
      if (answer !== undefined) facts.permissions = listOf(answer.body) as PermissionEntry[];
      else if (unreachable(failed)) return refusedOrFailed(failed, claims);
    }
    const subscription = scopeParts(target).subscriptionId;
    const filter = `$filter=${encodeURIComponent(`principalId eq '${principalId}'`)}`;
    let assignments =
      subscription !== undefined
        ? await read(
            `/subscriptions/${subscription}/providers/Microsoft.Authorization/roleAssignments?api-version=${AUTHORIZATION_API}&${filter}`,
            "Microsoft.Authorization/roleAssignments/read",
            `/subscriptions/${subscription}`,
          )
        : undefined;
    // Without a role on the subscription: the assignments at, above and below the target itself (siblings unseen).
    if (assignments === undefined && !unreachable(failed)) {
      assignments = await read(
        `${target}/providers/Microsoft.Authorization/roleAssignments?api-version=${AUTHORIZATION_API}&${filter}`,
        "Microsoft.Authorization/roleAssignments/read",
        target,
      );
    }
    if (assignments !== undefined) facts.assignments = await this.withRoles(assignmentFacts(assignments.body, principalId), read);
    if (facts.action !== undefined && (facts.permissions !== undefined || facts.assignments !== undefined)) {
      const denies = await read(
        `${target}/providers/Microsoft.Authorization/denyAssignments?api-version=${AUTHORIZATION_API}&$filter=atScope()`,
        "Microsoft.Authorization/denyAssignments/read",
        target,
      );
      if (denies !== undefined) facts.denies = denyFacts(denies.body);
    }
    if (facts.permissions === undefined && facts.assignments === undefined) return refusedOrFailed(failed, claims);
    const verdict = accessVerdict(facts);
    for (const f of failed) verdict.checks.push(failedCheck(f));
    return verdict;
  }

  /** Reads the role definitions of the assignments (distinct, at most 4; the rest stay unnamed). */
  private async withRoles(
    assignments: AssignmentFact[],
    read: (path: string, permission: string, scope: string) => Promise<ArmAnswer | undefined>,
  ): Promise<AssignmentFact[]> {
    const ids = [...new Set(assignments.map((a) => a.roleDefinitionId.toLowerCase()))].slice(0, 4);
    const definitions = new Map<string, { roleName?: string; permissions?: PermissionEntry[] }>();
    for (const id of ids) {
      const answer = await read(`${id}?api-version=${AUTHORIZATION_API}`, "Microsoft.Authorization/roleDefinitions/read", id);
      const properties = (answer?.body as { properties?: { roleName?: unknown; permissions?: unknown } } | undefined)?.properties;
      if (properties !== undefined) {
        definitions.set(id, {
          ...(typeof properties.roleName === "string" ? { roleName: properties.roleName } : {}),
          ...(Array.isArray(properties.permissions) ? { permissions: properties.permissions as PermissionEntry[] } : {}),
        });
      }
    }
    return assignments.map((a) => ({ ...a, ...(definitions.get(a.roleDefinitionId.toLowerCase()) ?? {}) }));
  }
}

interface Attempt {
  answer: ArmAnswer;
  permission: string;
  scope: string;
  read: string;
}

/** The first candidate's token for `scope` within the deadline, or why there is none. */
async function firstToken(candidates: readonly TokenCredential[], scope: string, deadline: number): Promise<string | { reason: string }> {
  let reason = "no credential";
  for (const credential of candidates) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return { reason: "TIMEOUT" };
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const token = await Promise.race([
        Promise.resolve(credential.getToken(scope, { abortSignal: controller.signal })),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            controller.abort();
            reject(Object.assign(new Error("timeout"), { name: "TIMEOUT" }));
          }, remaining);
          timer.unref?.();
        }),
      ]);
      if (token !== null && typeof token?.token === "string") return token.token;
      reason = "the credential returned no token";
    } catch (error) {
      const name = (error as { name?: unknown } | undefined)?.name;
      reason = typeof name === "string" && /^[A-Za-z_]{1,60}$/.test(name) ? name : "Error";
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }
  return { reason };
}

/** The app's resource id: the host in the token (xms_az_rid, or xms_mirid of a system-assigned identity), else the platform's variables. */
function appResourceOf(claims: TokenClaims, environment: HostEnvironment): string | undefined {
  if (claims.xms_az_rid) return topLevelResource(claims.xms_az_rid) ?? claims.xms_az_rid;
  if (claims.xms_mirid && identityKindOf(claims) === "system-assigned") return topLevelResource(claims.xms_mirid) ?? claims.xms_mirid;
  const { subscriptionId, resourceGroup } = scopeParts(claims.xms_mirid ?? "");
  if (subscriptionId === undefined || resourceGroup === undefined) return undefined;
  const name = environment.containerApp.name;
  if (name && environment.hostKind === "container-apps")
    return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.App/containerApps/${name}`;
  if (environment.appServiceName)
    return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Web/sites/${environment.appServiceName}`;
  return undefined;
}

/** The target by its type and name (the first DNS label of the host) in the identity's subscription. */
async function findResource(
  session: ArmSession,
  resourceType: string | undefined,
  url: string | undefined,
  claims: TokenClaims,
): Promise<{ id?: string; attempt?: Attempt }> {
  const host = url !== undefined ? hostOf(url) : undefined;
  const name = host?.split(".")[0];
  const subscription = scopeParts(claims.xms_az_rid ?? claims.xms_mirid ?? "").subscriptionId;
  if (resourceType === undefined || name === undefined || subscription === undefined || validShellValue(name, "resourceName") === undefined) return {};
  const filter = encodeURIComponent(`resourceType eq '${resourceType}' and name eq '${name}'`);
  const path = `/subscriptions/${subscription}/resources?api-version=${RESOURCES_API}&$filter=${filter}`;
  const answer = await session.get(path);
  const attempt: Attempt = {
    answer,
    permission: `${resourceType}/read`,
    scope: `/subscriptions/${subscription}`,
    read: `GET /subscriptions/${subscription}/resources`,
  };
  if (answer.status !== 200) return { attempt };
  const id = (listOf(answer.body)[0] as { id?: unknown } | undefined)?.id;
  return typeof id === "string" ? { id, attempt } : { attempt };
}

const listOf = (body: unknown): unknown[] => {
  const value = (body as { value?: unknown } | undefined)?.value;
  return Array.isArray(value) ? value : [];
};

function assignmentFacts(body: unknown, principalId: string): AssignmentFact[] {
  const out: AssignmentFact[] = [];
  for (const item of listOf(body)) {
    const p = (item as { properties?: Record<string, unknown> } | undefined)?.properties;
    if (p === undefined || typeof p.scope !== "string" || typeof p.roleDefinitionId !== "string") continue;
    if (typeof p.principalId === "string" && p.principalId.toLowerCase() !== principalId.toLowerCase()) continue;
    const created = typeof p.createdOn === "string" ? Date.parse(p.createdOn) : NaN;
    out.push({ scope: p.scope, roleDefinitionId: p.roleDefinitionId, ...(Number.isFinite(created) ? { createdOn: created } : {}) });
  }
  return out.slice(0, 50);
}

function denyFacts(body: unknown): DenyFact[] {
  const ids = (list: unknown): string[] =>
    Array.isArray(list) ? list.map((p) => (p as { id?: unknown })?.id).filter((id): id is string => typeof id === "string") : [];
  const out: DenyFact[] = [];
  for (const item of listOf(body)) {
    const p = (item as { properties?: Record<string, unknown>; name?: unknown } | undefined)?.properties;
    if (p === undefined || typeof p.scope !== "string") continue;
    out.push({
      name: typeof p.denyAssignmentName === "string" ? p.denyAssignmentName : String((item as { name?: unknown }).name ?? "deny assignment"),
      scope: p.scope,
      permissions: Array.isArray(p.permissions) ? (p.permissions as PermissionEntry[]) : [],
      principals: ids(p.principals),
      excludePrincipals: ids(p.excludePrincipals),
      doNotApplyToChildScopes: p.doNotApplyToChildScopes === true,
    });
  }
  return out;
}

function namedIn(evidence: readonly string[], prefix: string): string | undefined {
  const line = evidence.find((l) => l.startsWith(prefix));
  return line?.slice(prefix.length).trim() || undefined;
}

/** Whether the reads failed at the transport (no point in more of them). */
function unreachable(failed: readonly Attempt[]): boolean {
  return failed.some((f) => f.answer.status === 0);
}

function failedCheck(f: Attempt): DiagnosisCheck {
  return { kind: CHECK_KINDS.verification, expected: f.read, actual: describeAnswer(f.answer), verdict: "unknown" };
}

function unavailable(summary: string): Verdict {
  return { outcome: "unavailable", summary, checks: [], evidence: [], nextSteps: [] };
}

/** ARM refused the reads (name what would allow them) or did not answer (say so). */
function refusedOrFailed(failed: readonly Attempt[], claims: TokenClaims): Verdict {
  const checks = failed.map(failedCheck);
  const refused = failed.filter((f) => f.answer.status === 403 || f.answer.status === 401);
  if (refused.length === 0) {
    const first = failed[0];
    const what = first ? describeAnswer(first.answer) : "no answer";
    return { outcome: "unavailable", summary: `Not verified: Resource Manager did not answer (${what})`, checks, evidence: [], nextSteps: [] };
  }
  const needs = refused.map((f) => ({ permission: f.permission, scope: f.scope }));
  const scope = refused[0]!.scope;
  const principal = validShellValue(claims.oid, "guid") ?? "<principal-id>";
  const safeScope = validShellValue(scope, "resourceId") ?? "<scope>";
  return {
    outcome: "not-permitted",
    summary: `Not verified: Resource Manager refused the reads (${describeAnswer(refused[0]!.answer)}): the identity needs ${[...new Set(needs.map((n) => n.permission))].join(", ")} on ${scope}`,
    checks,
    evidence: needs.map((n) => `verification needs ${n.permission} on ${n.scope}`),
    nextSteps: [
      `To let verification read (Reader is the least-privilege built-in role with every read it makes): az role assignment create --assignee-object-id "${principal}" --assignee-principal-type ServicePrincipal --role "Reader" --scope "${safeScope}"`,
    ],
    needs,
  };
}

function cacheKey(diagnosis: Diagnosis, configured: RequestedIdentity, endpoint: string): string {
  const evidence = (prefix: string) => namedIn(diagnosis.evidence, prefix) ?? "";
  return diagnosis.code === "IdentityNotAssigned"
    ? `H1|${endpoint}|${configured.clientId ?? ""}|${configured.objectId ?? ""}|${configured.resourceId ?? ""}`
    : `H2|${endpoint}|${diagnosis.identity?.objectId ?? ""}|${diagnosis.service ?? ""}|${evidence("resource named by the service: ")}|${evidence("operation named by the service: ")}`;
}

/** Outcomes that settle the question: the diagnosis's summary becomes the verdict and its confidence high. */
const SETTLED: ReadonlySet<VerificationOutcome> = new Set(["confirmed", "propagating", "sibling-scope", "denied", "access-policies", "refuted"]);

/** A copy of `diagnosis` with the verdict: checks, evidence, next steps and `verification` added. */
export function merge(diagnosis: Diagnosis, verdict: Verdict, meta: { endpoint: string; calls: number; durationMs: number }): Diagnosis {
  const summary = redact(verdict.summary);
  const verification: DiagnosisVerification = {
    outcome: verdict.outcome,
    summary,
    ...(verdict.needs !== undefined ? { needs: verdict.needs } : {}),
    ...(meta.endpoint ? { endpoint: meta.endpoint } : {}),
    calls: meta.calls,
    durationMs: meta.durationMs,
    verifiedAt: new Date().toISOString(),
  };
  const settled = SETTLED.has(verdict.outcome);
  const copy: Diagnosis = {
    ...diagnosis,
    summary: settled && verdict.outcome !== "refuted" ? summary : diagnosis.summary,
    confidence: settled && verdict.outcome !== "refuted" ? "high" : diagnosis.confidence,
    evidence: [...diagnosis.evidence, ...verdict.evidence.map(redact), `verification: ${summary}`],
    nextSteps: [...new Set([...verdict.nextSteps.map(redact), ...diagnosis.nextSteps])],
    verification,
  };
  const checks = [...(diagnosis.checks ?? []), ...verdict.checks.map((c) => ({ ...c, ...(c.actual ? { actual: redact(c.actual) } : {}) }))];
  if (checks.length > 0) copy.checks = checks;
  return copy;
}
