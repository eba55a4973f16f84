import { WORKLOAD_IDENTITY_FAILURES, type WorkloadFailureFingerprint, type WorkloadStep } from "../catalog/workloadIdentityFailures.js";
import { makeDiagnosis } from "../diagnosis/build.js";
import { withCommand } from "../diagnosis/commands.js";
import { CHECK_KINDS, RULE_SOURCES, ruleOf } from "../diagnosis/findings.js";
import type { Diagnosis, DiagnosisCheck } from "../diagnosis/types.js";
import type { WorkloadIdentityEnvironment } from "../environment/workloadIdentityEnv.js";
import { safeGet } from "../util/headers.js";
import { plainCopy, type PlainShape } from "../util/plainCopy.js";
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
const CONTEXT_SHAPE: PlainShape = {
  environment: { clientId: "string", tenantId: "string", tokenFile: "string", authorityHost: "string", onKubernetes: "boolean", podName: "string" },
  federatedToken: { path: "string", claims: CLAIMS_SHAPE, problem: "string", errno: "string" },
  entraExchanges: [{ method: "string", url: "string", status: "number", errorCode: "string", durationMs: "number", startedAt: "number" }],
};

const MAX_MESSAGE_READ = 4000;
const MAX_EXCHANGES_SHOWN = 3;
/** Entra's limit on an assertion's lifetime (1.01:00:00). */
const MAX_ASSERTION_LIFETIME_S = 25 * 3600;
const DEFAULT_AUDIENCE = "api://AzureADTokenExchange";

/**
 * Classifies a failed AKS workload identity exchange (WorkloadIdentityCredential, or ManagedIdentityCredential's
 * token-exchange path) from the error, the projected token's claims and the Entra exchanges seen. Undefined when
 * the failure is not a workload identity one. Pure; never throws (the caller guards it).
 */
export function classifyWorkloadIdentityError(error: unknown, rawContext: unknown, credentialName?: string): Diagnosis | undefined {
  const context = (plainCopy(rawContext, CONTEXT_SHAPE) ?? {}) as WorkloadIdentityContext;
  const text = errorText(error);
  const codes = aadstsCodes(error, text);
  const env = context.environment;
  const token = context.federatedToken;
  const conditions = new Set<string>();
  if (token?.problem === "missing") conditions.add("token-file-missing");
  if (token?.problem === "unreadable") conditions.add("token-file-unreadable");
  if (token?.problem === "empty") conditions.add("token-file-empty");
  if (token?.problem === "not-a-jwt") conditions.add("token-file-not-jwt");
  const lifetime = token?.claims?.iat !== undefined && token.claims.exp !== undefined ? token.claims.exp - token.claims.iat : undefined;
  if (lifetime !== undefined && lifetime > MAX_ASSERTION_LIFETIME_S) conditions.add("token-lifetime-too-long");
  if (/WorkloadIdentityCredential: is unavailable[\s\S]{0,200}required/i.test(text) && (credentialName === "WorkloadIdentityCredential" || env?.onKubernetes))
    conditions.add("variables-missing");

  // The token file's problem is only the cause when the failure is a workload identity one.
  const workloadFailure =
    codes.length > 0 ||
    /WorkloadIdentityCredential|ClientAssertionCredential|federated|ENOENT|EACCES|EISDIR|AuthenticationRequiredError/i.test(`${safeName(error)} ${text}`);
  const fingerprint = WORKLOAD_IDENTITY_FAILURES.find((entry) => matches(entry, text, codes, conditions, workloadFailure));
  if (fingerprint === undefined) return undefined;

  const quoted = quotedAssertion(text);
  const facts = {
    who: credentialName ?? "WorkloadIdentityCredential",
    clientId: env?.clientId ?? quotedClientId(text) ?? "(AZURE_CLIENT_ID not set)",
    tenantId: env?.tenantId ?? "(AZURE_TENANT_ID not set)",
    iss: quoted.iss ?? token?.claims?.iss,
    sub: quoted.sub ?? token?.claims?.sub,
    aud: quoted.aud ?? token?.claims?.aud,
    file: token?.path ?? env?.tokenFile ?? "(AZURE_FEDERATED_TOKEN_FILE not set)",
    lifetime: lifetime !== undefined ? ` (${Math.round(lifetime / 3600)} h)` : "",
    aadsts: codes[0] ?? "",
  };
  const evidence: string[] = [];
  const first = text.split(/\r?\n/, 1)[0];
  if (first) evidence.push(`error: ${safeName(error) ?? "Error"}: ${excerpt(first, 240)}`);
  if (env !== undefined) {
    evidence.push(
      `workload identity: AZURE_CLIENT_ID=${env.clientId ?? "(not set)"}, AZURE_TENANT_ID=${env.tenantId ?? "(not set)"}, AZURE_FEDERATED_TOKEN_FILE=${env.tokenFile ?? "(not set)"}${env.authorityHost ? `, AZURE_AUTHORITY_HOST=${env.authorityHost}` : ""}${env.onKubernetes ? `, pod ${env.podName ?? "?"}` : ""}`,
    );
  }
  if (token?.claims !== undefined) evidence.push(`projected token (claims only): ${describeClaims(token.claims)}`);
  else if (token?.problem !== undefined) evidence.push(`projected token ${token.path ?? ""}: ${token.problem}${token.errno ? ` (${token.errno})` : ""}`);
  for (const exchange of (context.entraExchanges ?? []).slice(-MAX_EXCHANGES_SHOWN))
    evidence.push(`Entra token endpoint: ${describeEntraExchange(exchange, codes[0])}`);
  const mismatch = mismatchLine(fingerprint, facts);
  if (mismatch !== undefined) evidence.push(mismatch);

  const checks: DiagnosisCheck[] = [];
  if (fingerprint.mismatch !== undefined) {
    checks.push({
      kind: CHECK_KINDS.federatedCredential,
      expected: `a federated credential with issuer ${facts.iss ?? "?"}, subject ${facts.sub ?? "?"}, audience ${facts.aud ?? DEFAULT_AUDIENCE}`,
      actual: `none matches the ${fingerprint.mismatch === "any" ? "assertion" : fingerprint.mismatch} (AADSTS${facts.aadsts})`,
      verdict: "fail",
      confirmedBy: "answer",
    });
  } else if (token?.problem !== undefined || conditions.has("variables-missing")) {
    checks.push({
      kind: CHECK_KINDS.identityVariables,
      expected: "AZURE_CLIENT_ID, AZURE_TENANT_ID set; AZURE_FEDERATED_TOKEN_FILE a readable projected token",
      actual: conditions.has("variables-missing") ? "workload identity variables not set" : `${facts.file}: ${token?.problem}`,
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
    rule: ruleOf(RULE_SOURCES.tokenTime, fingerprint.id),
    confidence: fingerprint.confidence,
    summary: fill(fingerprint.summary, facts),
    evidence,
    nextSteps: fingerprint.nextSteps.map((step) => stepText(step, facts, env)),
    identity,
    ...(codes[0] !== undefined ? { errorCode: `AADSTS${codes[0]}` } : {}),
    ...(checks.length > 0 ? { checks } : {}),
  });
}

function matches(entry: WorkloadFailureFingerprint, text: string, codes: string[], conditions: Set<string>, workloadFailure: boolean): boolean {
  if (entry.errorCode !== undefined || entry.message !== undefined) {
    const byCode = entry.errorCode?.some((code) => codes.includes(code.replace(/^AADSTS/i, ""))) ?? false;
    const byText = entry.message?.test(text) ?? false;
    if (!byCode && !byText) return false;
  }
  if (entry.when !== undefined) {
    if (!entry.when.every((c) => conditions.has(c))) return false;
    if (!workloadFailure && !entry.when.includes("variables-missing")) return false;
  }
  return true;
}

type Facts = {
  who: string;
  clientId: string;
  tenantId: string;
  iss?: string | undefined;
  sub?: string | undefined;
  aud?: string | undefined;
  file: string;
  lifetime: string;
  aadsts: string;
};

function fill(template: string, facts: Facts): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = (facts as Record<string, string | undefined>)[name];
    return value === undefined ? `<${name}>` : excerpt(value, 300);
  });
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
function mismatchLine(entry: WorkloadFailureFingerprint, facts: Facts): string | undefined {
  switch (entry.mismatch) {
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
      return `mismatch: audience ${facts.aud ?? "?"}: ${facts.aud === DEFAULT_AUDIENCE ? "the federated credential's audience differs from the standard one" : `the projected token's audience is not ${DEFAULT_AUDIENCE}`}`;
    case "any":
      return `mismatch: the assertion (issuer ${facts.iss ?? "?"}, subject ${facts.sub ?? "?"}, audience ${facts.aud ?? "?"}) matches no federated credential; check the issuer's trailing '/', the namespace and the service account`;
    default:
      return undefined;
  }
}

/** One next step, its values validated for their kind (a refused value keeps its placeholder). */
function stepText(step: WorkloadStep, facts: Facts, env: WorkloadIdentityEnvironment | undefined): string {
  if ("text" in step) return fill(step.text, facts);
  const clientId = validShellValue(facts.clientId, "guid");
  const sa = serviceAccountOf(facts.sub);
  const ns = `"${sa.namespace ?? "$NAMESPACE"}"`;
  switch (step.kind) {
    case "aks-oidc-issuer":
      return withCommand(
        `Compare the cluster's OIDC issuer with the assertion's issuer${facts.iss ? ` ${excerpt(facts.iss, 300)}` : ""} (character for character, trailing '/' included)`,
        `az aks show --name "$CLUSTER_NAME" --resource-group "$RG" --query oidcIssuerProfile.issuerUrl --output tsv`,
      );
    case "federated-credential-list":
      return withCommand(
        "List the identity's federated credentials (issuer, subject, audience)",
        `az identity federated-credential list --identity-name "$IDENTITY_NAME" --resource-group "$RG" --output table`,
      );
    case "federated-credential-create": {
      const issuer = validShellValue(facts.iss, "uri");
      const subject = validShellValue(facts.sub, "subject");
      const audience = validShellValue(facts.aud ?? DEFAULT_AUDIENCE, "uri") ?? DEFAULT_AUDIENCE;
      const name = validShellValue(sa.name && sa.namespace ? `${sa.namespace}-${sa.name}` : undefined, "resourceName");
      return withCommand(
        "Create the federated credential this pod's token matches",
        `az identity federated-credential create --name "${name ?? "$CREDENTIAL_NAME"}" --identity-name "$IDENTITY_NAME" --resource-group "$RG" --issuer "${issuer ?? "$ISSUER"}" --subject "${subject ?? "system:serviceaccount:$NAMESPACE:$SERVICE_ACCOUNT"}" --audience "${audience}"`,
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

/** The messages of the error and its causes (bounded), one per line. */
function errorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current !== null && current !== undefined; depth++) {
    if (typeof current === "string") {
      parts.push(current.slice(0, MAX_MESSAGE_READ));
      break;
    }
    for (const key of ["message", "errorMessage"]) {
      const value = safeGet(current, key);
      if (typeof value === "string") parts.push(value.slice(0, MAX_MESSAGE_READ));
    }
    current = safeGet(current, "cause");
  }
  return parts.join("\n");
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

function safeName(error: unknown): string | undefined {
  const name = safeGet(error, "name");
  return typeof name === "string" ? excerpt(name, 120) : undefined;
}
