/**
 * AKS workload identity's side of the token-time classifier: the facts of a failed Entra exchange (the workload
 * identity variables, the projected token's claims, Entra's answers) as table conditions, and the diagnosis of an
 * entry of the token-failure table whose source is WorkloadIdentity (catalog/workloadIdentityFailures.ts). The
 * table is matched in classify/credentialError.ts, by the shared matcher, like every other entry. Pure.
 */
import type { FederatedCredentialMismatch, TokenFailureCondition, TokenFailureFingerprint, TokenStepKind } from "../catalog/tokenFailureTypes.js";
import { makeDiagnosis } from "../diagnosis/build.js";
import { fillCommand, withCommand, type CommandContext } from "../diagnosis/commands.js";
import { CHECK_KINDS, RULE_SOURCES, ruleOf } from "../diagnosis/findings.js";
import type { Diagnosis, DiagnosisCheck } from "../diagnosis/types.js";
import type { WorkloadIdentityEnvironment } from "../environment/workloadIdentityEnv.js";
import { AKS_OIDC_ISSUER_COMMAND, platformEntry, WORKLOAD_IDENTITY_AUDIENCE } from "../hosting/platforms.js";
import { safeGet } from "../util/headers.js";
import type { PlainShape } from "../util/plainCopy.js";
import { excerpt } from "../util/redact.js";
import { validShellValue } from "../util/shellSafe.js";

/** The projected service-account token, as the credential layer read it: claims only, or why it could not be read. */
export interface FederatedTokenFacts {
  /** AZURE_FEDERATED_TOKEN_FILE. */
  path?: string;
  /** Its `iss`, `sub`, `aud`, `iat`, `exp` (never the token, never its signature). */
  claims?: {
    /** Issuer: the cluster's OIDC issuer URL. */
    iss?: string;
    /** Subject: `system:serviceaccount:<namespace>:<service account>`. */
    sub?: string;
    /** Audience (the first): `api://AzureADTokenExchange`. */
    aud?: string;
    /** Issued at, epoch seconds. */
    iat?: number;
    /** Expires at, epoch seconds. */
    exp?: number;
  };
  /** Why no claims: the file is missing, unreadable, empty, or not a JWT. */
  problem?: "missing" | "unreadable" | "empty" | "not-a-jwt";
  /** The system error code of a failed read (ENOENT, EACCES, EISDIR). */
  errno?: string;
}

/** One request to Entra's token endpoint, seen on node:diagnostics_channel (no body, no assertion, no token). */
export interface EntraExchange {
  /** HTTP method (POST). */
  method: string;
  /** Host and path, no query. */
  url: string;
  /** HTTP status of the answer. */
  status?: number;
  /** A transport code when no answer came. */
  errorCode?: string;
  /** From the request's start to its answer. */
  durationMs?: number;
  /** When the request started, epoch ms. */
  startedAt: number;
}

/** What the workload identity classifier reads besides the error. */
export interface WorkloadIdentityContext {
  /** The workload identity variables. */
  environment?: WorkloadIdentityEnvironment;
  /** The projected token's claims, or why they could not be read. */
  federatedToken?: FederatedTokenFacts;
  /** The Entra token requests of the failed call, oldest first. */
  entraExchanges?: readonly EntraExchange[];
}

const CLAIMS_SHAPE: PlainShape = { iss: "string", sub: "string", aud: "string", iat: "number", exp: "number" };
/** What the classifier reads of a caller's `workloadIdentity` context; everything else in it is ignored. */
export const WORKLOAD_CONTEXT_SHAPE: PlainShape = {
  environment: { clientId: "string", tenantId: "string", tokenFile: "string", authorityHost: "string", onKubernetes: "boolean", podName: "string" },
  federatedToken: { path: "string", claims: CLAIMS_SHAPE, problem: "string", errno: "string" },
  entraExchanges: [{ method: "string", url: "string", status: "number", errorCode: "string", durationMs: "number", startedAt: "number" }],
};

const MAX_EXCHANGES_SHOWN = 3;
/** Entra's limit on an assertion's lifetime (1.01:00:00). */
const MAX_ASSERTION_LIFETIME_S = 25 * 3600;

/** The step kinds this module builds (the table's workload identity steps). */
export type WorkloadStepKind = Extract<
  TokenStepKind,
  | "federated-credential-create"
  | "federated-credential-list"
  | "aks-oidc-issuer"
  | "kubectl-service-account"
  | "kubectl-pod-label"
  | "identity-client-id"
  | "oidc-discovery"
>;

/** What the table's workload identity entries are matched on, beyond the error's codes and words. */
export interface WorkloadSituation {
  context: WorkloadIdentityContext;
  /** AADSTS numbers the error names (in its text, then MSAL's `errorNo` down its causes). */
  aadsts: string[];
  /** The workload identity conditions that hold (TokenFailureCondition). */
  conditions: TokenFailureCondition[];
}

/** An entry of the table about the Entra exchange (its only source is WorkloadIdentity): diagnosed by this module. */
export function isWorkloadIdentityEntry(fingerprint: TokenFailureFingerprint): boolean {
  return fingerprint.sources?.length === 1 && fingerprint.sources[0] === "WorkloadIdentity";
}

/**
 * The workload identity facts of a failure: the token file's problem, the assertion's lifetime, the variables not
 * set, and whether the failure is a workload identity one at all (an AADSTS code, or the exchange named).
 */
export function workloadSituationOf(
  error: unknown,
  text: string,
  errorName: string,
  context: WorkloadIdentityContext | undefined,
  credentialName: string | undefined,
): WorkloadSituation {
  const aadsts = aadstsCodes(error, text);
  const token = context?.federatedToken;
  const conditions: TokenFailureCondition[] = [];
  if (token?.problem === "missing") conditions.push("token-file-missing");
  if (token?.problem === "unreadable") conditions.push("token-file-unreadable");
  if (token?.problem === "empty") conditions.push("token-file-empty");
  if (token?.problem === "not-a-jwt") conditions.push("token-file-not-jwt");
  const lifetime = lifetimeOf(token);
  if (lifetime !== undefined && lifetime > MAX_ASSERTION_LIFETIME_S) conditions.push("token-lifetime-too-long");
  if (
    /WorkloadIdentityCredential: is unavailable[\s\S]{0,200}required/i.test(text) &&
    (credentialName === "WorkloadIdentityCredential" || context?.environment?.onKubernetes === true)
  )
    conditions.push("workload-variables-missing");
  // The token file's problem is only the cause when the failure is a workload identity one.
  if (
    aadsts.length > 0 ||
    /WorkloadIdentityCredential|ClientAssertionCredential|federated|ENOENT|EACCES|EISDIR|AuthenticationRequiredError/i.test(`${errorName} ${text}`)
  )
    conditions.push("workload-failure");
  return { context: context ?? {}, aadsts, conditions };
}

/** The values of a workload identity entry's templates (see TokenFailureFingerprint). */
export interface WorkloadFacts {
  who: string;
  clientId: string;
  tenantId: string;
  iss?: string | undefined;
  sub?: string | undefined;
  aud?: string | undefined;
  file: string;
  lifetime: string;
  aadsts: string;
}

/** The template values: from the environment, the projected token's claims, and what Entra's answer quotes. */
export function workloadFactsOf(situation: WorkloadSituation, text: string, credentialName: string | undefined): WorkloadFacts {
  const env = situation.context.environment;
  const token = situation.context.federatedToken;
  const quoted = quotedAssertion(text);
  const lifetime = lifetimeOf(token);
  return {
    who: credentialName ?? "WorkloadIdentityCredential",
    clientId: env?.clientId ?? quotedClientId(text) ?? "(AZURE_CLIENT_ID not set)",
    tenantId: env?.tenantId ?? "(AZURE_TENANT_ID not set)",
    iss: quoted.iss ?? token?.claims?.iss,
    sub: quoted.sub ?? token?.claims?.sub,
    aud: quoted.aud ?? token?.claims?.aud,
    file: token?.path ?? env?.tokenFile ?? "(AZURE_FEDERATED_TOKEN_FILE not set)",
    lifetime: lifetime !== undefined ? ` (${Math.round(lifetime / 3600)} h)` : "",
    aadsts: situation.aadsts[0] ?? "",
  };
}

/** The facts as `{placeholder}` values (bounded); an unknown one prints as `<name>`. */
export function workloadTemplateValues(facts: WorkloadFacts): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(facts)) if (typeof value === "string") values[key] = excerpt(value, 300);
  return values;
}

/**
 * The diagnosis of a workload identity entry: its evidence (the error, the variables, the projected token's claims,
 * Entra's exchanges, the part that did not match) and its check (the federated credential, or the variables and the
 * token file). `summary` and `nextSteps` come filled from the table.
 */
export function workloadDiagnosis(
  fingerprint: TokenFailureFingerprint,
  situation: WorkloadSituation,
  facts: WorkloadFacts,
  filled: { summary: string; nextSteps: string[]; errorName: string; text: string },
): Diagnosis {
  const env = situation.context.environment;
  const token = situation.context.federatedToken;
  const aadsts = situation.aadsts[0];
  const evidence: string[] = [];
  const first = filled.text.split(/\r?\n/, 1)[0];
  if (first) evidence.push(`error: ${filled.errorName}: ${excerpt(first, 240)}`);
  if (env !== undefined) {
    evidence.push(
      `workload identity: AZURE_CLIENT_ID=${env.clientId ?? "(not set)"}, AZURE_TENANT_ID=${env.tenantId ?? "(not set)"}, AZURE_FEDERATED_TOKEN_FILE=${env.tokenFile ?? "(not set)"}${env.authorityHost ? `, AZURE_AUTHORITY_HOST=${env.authorityHost}` : ""}${env.onKubernetes ? `, pod ${env.podName ?? "?"}` : ""}`,
    );
  }
  if (token?.claims !== undefined) evidence.push(`projected token (claims only): ${describeClaims(token.claims)}`);
  else if (token?.problem !== undefined) evidence.push(`projected token ${token.path ?? ""}: ${token.problem}${token.errno ? ` (${token.errno})` : ""}`);
  for (const exchange of (situation.context.entraExchanges ?? []).slice(-MAX_EXCHANGES_SHOWN))
    evidence.push(`Entra token endpoint: ${describeEntraExchange(exchange, aadsts)}`);
  const mismatch = mismatchLine(fingerprint.mismatch, facts);
  if (mismatch !== undefined) evidence.push(mismatch);

  const checks: DiagnosisCheck[] = [];
  if (fingerprint.mismatch !== undefined) {
    checks.push({
      kind: CHECK_KINDS.federatedCredential,
      expected: `a federated credential with issuer ${facts.iss ?? "?"}, subject ${facts.sub ?? "?"}, audience ${facts.aud ?? WORKLOAD_IDENTITY_AUDIENCE}`,
      actual: `none matches the ${fingerprint.mismatch === "any" ? "assertion" : fingerprint.mismatch} (AADSTS${facts.aadsts})`,
      verdict: "fail",
      confirmedBy: "answer",
    });
  } else if (token?.problem !== undefined || situation.conditions.includes("workload-variables-missing")) {
    checks.push({
      kind: CHECK_KINDS.identityVariables,
      expected: "AZURE_CLIENT_ID, AZURE_TENANT_ID set; AZURE_FEDERATED_TOKEN_FILE a readable projected token",
      actual: situation.conditions.includes("workload-variables-missing") ? "workload identity variables not set" : `${facts.file}: ${token?.problem}`,
      verdict: "fail",
      confirmedBy: "environment",
    });
  }
  const identity = {
    kind: "user-assigned" as const,
    ...(env?.clientId ? { clientId: env.clientId } : {}),
    ...(env?.tenantId ? { tenantId: env.tenantId } : {}),
  };
  return makeDiagnosis(fingerprint.code, {
    rule: ruleOf(RULE_SOURCES.tokenTime, fingerprint.rule ?? fingerprint.id),
    confidence: fingerprint.confidence,
    summary: filled.summary,
    evidence,
    nextSteps: filled.nextSteps,
    identity,
    ...(aadsts !== undefined ? { errorCode: `AADSTS${aadsts}` } : {}),
    ...(checks.length > 0 ? { checks } : {}),
  });
}

function lifetimeOf(token: FederatedTokenFacts | undefined): number | undefined {
  const claims = token?.claims;
  return claims?.iat !== undefined && claims.exp !== undefined ? claims.exp - claims.iat : undefined;
}

/** Namespace and service account of a Kubernetes subject `system:serviceaccount:<ns>:<sa>`. */
function serviceAccountOf(subject: string | undefined): { namespace?: string; name?: string } {
  const match = subject !== undefined ? /^system:serviceaccount:([^:]{1,253}):([^:]{1,253})$/.exec(subject) : null;
  if (match === null) return {};
  const namespace = validShellValue(match[1], "k8sName");
  const name = validShellValue(match[2], "k8sName");
  return { ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) };
}

/** Names the part that differs, when the answer says which. */
function mismatchLine(mismatch: FederatedCredentialMismatch | undefined, facts: WorkloadFacts): string | undefined {
  switch (mismatch) {
    case "issuer":
      return `mismatch: issuer ${facts.iss ?? "?"}: the federated credential's issuer must equal it character for character${
        facts.iss?.endsWith("/")
          ? " (AKS issuer URLs end in '/': a credential created without the trailing slash does not match)"
          : " (it has no trailing '/': AKS issuer URLs have one)"
      }`;
    case "subject": {
      const sa = serviceAccountOf(facts.sub);
      return sa.namespace !== undefined
        ? `mismatch: subject ${facts.sub}: namespace "${sa.namespace}", service account "${sa.name ?? "?"}"; the federated credential must name exactly this pair (case-sensitive)`
        : `mismatch: subject ${facts.sub ?? "?"}: the federated credential must name exactly this subject (case-sensitive)`;
    }
    case "audience":
      return `mismatch: audience ${facts.aud ?? "?"}: ${facts.aud === WORKLOAD_IDENTITY_AUDIENCE ? "the federated credential's audience differs from the standard one" : `the projected token's audience is not ${WORKLOAD_IDENTITY_AUDIENCE}`}`;
    case "any":
      return `mismatch: the assertion (issuer ${facts.iss ?? "?"}, subject ${facts.sub ?? "?"}, audience ${facts.aud ?? "?"}) matches no federated credential; check the issuer's trailing '/', the namespace and the service account`;
    default:
      return undefined;
  }
}

/**
 * One workload identity step, its values validated for their kind (a refused value keeps its placeholder). The
 * federated credential command is the platform table's (hosting/platforms.ts), filled with the token's claims.
 */
export function workloadStep(kind: WorkloadStepKind, facts: WorkloadFacts, env: WorkloadIdentityEnvironment | undefined, ctx: CommandContext): string {
  const clientId = validShellValue(facts.clientId, "guid");
  const sa = serviceAccountOf(facts.sub);
  const ns = `"${sa.namespace ?? "$NAMESPACE"}"`;
  switch (kind) {
    case "aks-oidc-issuer":
      return withCommand(
        `Compare the cluster's OIDC issuer with the assertion's issuer${facts.iss ? ` ${excerpt(facts.iss, 300)}` : ""} (character for character, trailing '/' included)`,
        fillCommand(AKS_OIDC_ISSUER_COMMAND, ctx),
      );
    case "federated-credential-list":
      return withCommand(
        "List the identity's federated credentials (issuer, subject, audience)",
        `az identity federated-credential list --identity-name "$IDENTITY_NAME" --resource-group "$RG" --output table`,
      );
    case "federated-credential-create": {
      const federatedCredential = {
        ...(sa.name && sa.namespace ? { name: `${sa.namespace}-${sa.name}` } : {}),
        ...(facts.iss !== undefined ? { issuer: facts.iss } : {}),
        ...(facts.sub !== undefined ? { subject: facts.sub } : {}),
        audience: facts.aud ?? WORKLOAD_IDENTITY_AUDIENCE,
      };
      return withCommand(
        "Create the federated credential this pod's token matches",
        fillCommand(platformEntry("aks-workload-identity").commands.assignUserIdentity.command, { ...ctx, federatedCredential }),
      );
    }
    case "kubectl-service-account":
      return withCommand(
        `The service account must carry azure.workload.identity/client-id ${clientId ?? "<client id>"}`,
        `kubectl get serviceaccount "${sa.name ?? "$SERVICE_ACCOUNT"}" --namespace ${ns} --output jsonpath='{.metadata.annotations.azure\\.workload\\.identity/client-id}'`,
      );
    case "kubectl-pod-label": {
      const pod = validShellValue(env?.podName, "k8sName");
      return withCommand(
        "The pod must carry the label azure.workload.identity/use=true (the webhook mutates only labelled pods, at creation)",
        `kubectl get pod "${pod ?? "$POD_NAME"}" --namespace ${ns} --output jsonpath='{.metadata.labels.azure\\.workload\\.identity/use}'`,
      );
    }
    case "identity-client-id":
      return withCommand(
        `Find the identity whose client id is ${clientId ?? "AZURE_CLIENT_ID"} and its tenant`,
        `az identity list --query "[?clientId=='${clientId ?? "$CLIENT_ID"}'].{name:name, resourceGroup:resourceGroup, tenantId:tenantId}" --output table`,
      );
    case "oidc-discovery": {
      const issuer = validShellValue(facts.iss, "url");
      const base = issuer === undefined ? "$ISSUER/" : issuer.endsWith("/") ? issuer : `${issuer}/`;
      return withCommand(
        "The issuer's discovery document must be publicly reachable (Entra fetches it and its keys)",
        `curl --silent "${base}.well-known/openid-configuration"`,
      );
    }
  }
}

/** AADSTS numbers: in the text, and MSAL's `errorNo` / "Error(s): 700213" on the cause. */
function aadstsCodes(error: unknown, text: string): string[] {
  const codes: string[] = [];
  const add = (code: string) => codes.includes(code) || codes.push(code);
  for (const match of text.matchAll(/AADSTS(\d{5,7})\b/g)) {
    add(match[1]!);
    if (codes.length >= 5) break;
  }
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current !== null && typeof current === "object"; depth++) {
    const errorNo = safeGet(current, "errorNo");
    if (typeof errorNo === "string" && /^\d{5,7}$/.test(errorNo)) add(errorNo);
    current = safeGet(current, "cause");
  }
  return codes;
}

/** The issuer, subject and audience Entra quotes from the assertion (700211/2/3 and 70021's answers). */
function quotedAssertion(text: string): { iss?: string; sub?: string; aud?: string } {
  const value = (pattern: RegExp) => pattern.exec(text)?.[1];
  const out: { iss?: string; sub?: string; aud?: string } = {};
  const iss = value(/assertion issuer:? '([^'\s]{1,1000})'/i);
  const sub = value(/assertion subject:? '([^'\s]{1,600})'/i);
  const aud = value(/assertion audience:? '([^'\s]{1,1000})'/i);
  if (iss) out.iss = iss;
  if (sub) out.sub = sub;
  if (aud) out.aud = aud;
  return out;
}

function quotedClientId(text: string): string | undefined {
  return /Application with identifier '([0-9a-f-]{36})'/i.exec(text)?.[1];
}

function describeClaims(claims: NonNullable<FederatedTokenFacts["claims"]>): string {
  const time = (s: number | undefined) => (s === undefined ? "?" : new Date(s * 1000).toISOString().replace(".000Z", "Z"));
  return `iss=${claims.iss ?? "?"} sub=${claims.sub ?? "?"} aud=${claims.aud ?? "?"} iat=${time(claims.iat)} exp=${time(claims.exp)}`;
}

/** One line for an Entra exchange: method, URL, outcome (with the AADSTS code the error names), time. */
export function describeEntraExchange(exchange: EntraExchange, aadsts?: string): string {
  const outcome =
    exchange.errorCode !== undefined
      ? excerpt(exchange.errorCode, 40)
      : `HTTP ${Number(exchange.status)}${aadsts && Number(exchange.status) >= 400 ? ` AADSTS${aadsts}` : ""}`;
  return `${excerpt(exchange.method, 10)} ${excerpt(exchange.url, 300)} → ${outcome}${exchange.durationMs !== undefined ? ` in ${Math.round(exchange.durationMs)} ms` : ""}`;
}
