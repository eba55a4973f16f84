import type { IdentityExchange } from "../diagnosis/identityExchange.js";
import { makeDiagnosis } from "../diagnosis/build.js";
import {
  assignIdentityStep,
  commandContextOf,
  doctorInContainerStep,
  listRoleAssignmentsStep,
  passClientIdInCode,
  listInstancesStep,
  platformsOf,
  withCommand,
  restartRevisionStep,
  showIdentityStep,
} from "../diagnosis/commands.js";
import { excerpt, redact } from "../util/redact.js";
import type { Diagnosis, DiagnosisCheck, DiagnosisIdentity } from "../diagnosis/types.js";
import { CHECK_KINDS, RULE_SOURCES, ruleOf } from "../diagnosis/findings.js";
import { EARLY_IN_PROCESS_MS, TOKEN_FAILURES } from "../catalog/tokenFailures.js";
import type { TokenFailureCondition, TokenFailureFingerprint, TokenIdentitySource, TokenStep } from "../catalog/tokenFailureTypes.js";
import { findServiceForScope, scopeToResource } from "../catalog/resolve.js";
import { GUID_PATTERN } from "../catalog/services.js";
import { proxyBypassed, proxyHostOf } from "../environment/proxy.js";
import { matchFingerprintFields, type MatchEvidence } from "./fingerprintMatch.js";
import { addHostFacts } from "../diagnosis/hostFacts.js";
import { HOST_ENVIRONMENT_SHAPE, platformEvidence, type HostEnvironment } from "../environment/hostEnvironment.js";
import { safeGet } from "../util/headers.js";
import { plainCopy, type PlainShape } from "../util/plainCopy.js";
import { recordInternalFault } from "../util/safe.js";
import { refusedValuesEvidence, validShellValue } from "../util/shellSafe.js";
import { classifyAggregateError } from "./chain.js";
import {
  isWorkloadIdentityEntry,
  WORKLOAD_CONTEXT_SHAPE,
  workloadDiagnosis,
  workloadFactsOf,
  workloadSituationOf,
  workloadStep,
  workloadTemplateValues,
  type WorkloadFacts,
  type WorkloadIdentityContext,
  type WorkloadSituation,
} from "./workloadIdentity.js";

/** The identity the app asked for: what the credential was constructed with. */
export interface ConfiguredIdentity {
  /** Client id of the user-assigned identity asked for. */
  clientId?: string;
  /** ARM resource id of the user-assigned identity asked for. */
  resourceId?: string;
  /** Object (principal) id of the user-assigned identity asked for. */
  objectId?: string;
}

/** A problem with the requested scope found before any request (H3). */
export interface ScopeFinding {
  /** The scope as requested. */
  scope: string;
  /** What is wrong with it, one line for humans. */
  explanation: string;
  /** The scope to request instead, when there is one to suggest. */
  suggestion?: string;
  /** Catalog name of the service the scope was probably meant for. */
  service?: string;
  /** What kind of mistake: `multiple-scopes`, `typo`, `other-cloud`, `resource-url`, `portal-url`, `missing-default`, `doubled-default`, `not-a-url`. */
  reason?: string;
}

/** What `classifyCredentialError` may use besides the error itself. All optional. */
export interface CredentialErrorContext {
  /** Identity-endpoint exchanges made for the failed call, oldest first. */
  exchanges?: readonly IdentityExchange[];
  /** The host's identity environment (as in a smoke-test report): named in the evidence and used to fill `az` commands. */
  environment?: HostEnvironment;
  /** The identity the credential was told to use. Absent: the system-assigned identity. */
  configuredIdentity?: ConfiguredIdentity;
  /** The scopes passed to `getToken`: the first becomes the diagnosis's `token.scope`; more than one is H3. */
  scopes?: string | readonly string[];
  /** A problem already found with the requested scope: explains a 400 from the identity endpoint as H3. */
  scopeFinding?: ScopeFinding;
  /** Set when DiagnosticCredential's own `tokenTimeoutMs` ended the call. */
  timedOutAfterMs?: number;
  /** Name of the wrapped credential, for the summary ("ManagedIdentityCredential"). */
  credentialName?: string;
  /**
   * How long the process had been running when the call failed (ms; DiagnosticCredential passes
   * `process.uptime()`): a refused endpoint in the first seconds is "not ready yet", later "never reachable".
   */
  processUptimeMs?: number;
  /** AKS workload identity: its variables, the projected token's claims, the Entra exchanges seen. */
  workloadIdentity?: WorkloadIdentityContext;
}

/** Most exchanges of one call that classification reads (the credential keeps 32). */
const MAX_EXCHANGES_READ = 32;
/** Characters read of each message or body excerpt, whether an error, its cause, or a plain string. */
const MAX_MESSAGE_READ = 4000;

/** Node's words for a connection closed after the request without any answer (a FIN, not a reset). */
const CLOSED_WITHOUT_ANSWER = /socket hang up/i;

/** What a transport code means; ECONNRESET told apart from a connection closed without an answer. */
function transportMeaning(transport: string, last: IdentityExchange | undefined): string {
  if (transport === "ECONNRESET" && CLOSED_WITHOUT_ANSWER.test(String(last?.errorMessage ?? "")))
    return "closed the connection without answering (no response)";
  return TRANSPORT_MEANINGS[transport] ?? `failed with ${transport}`;
}

const TRANSPORT_MEANINGS: Record<string, string> = {
  ECONNREFUSED: "refused the connection (nothing listens there)",
  ECONNRESET: "reset the connection",
  ETIMEDOUT: "did not accept the connection in time",
  EHOSTUNREACH: "is on an unreachable host",
  ENETUNREACH: "is on an unreachable network",
  ENOTFOUND: "has a host name that does not resolve (DNS)",
  EAI_AGAIN: "has a host name that could not be resolved (DNS, temporary)",
  EPIPE: "closed the connection while the request was sent",
  TIMEOUT: "accepted the connection but did not answer in time",
  ERR_INVALID_URL: "is not a valid URL",
  ERR_INVALID_PROTOCOL: "uses a protocol the HTTP client does not support",
};

/**
 * Classifies a failure of `getToken` (ManagedIdentityCredential or any wrapped credential) into H1/H3/H4/H5.
 * Pure: no I/O, no globals; never throws (a failure inside returns undefined).
 */
export function classifyCredentialError(error: unknown, context: CredentialErrorContext = {}): Diagnosis | undefined {
  try {
    const read = readContext(context);
    // A chain is diagnosed from its errors[], each through this function (classify/chain.ts); one error by the table.
    const diagnosis = classifyAggregateError(error, context, classifyCredentialError) ?? classify(error, read);
    return diagnosis === undefined ? undefined : cleanCallerText(addHostFacts(diagnosis, read.environment, read.configuredIdentity ?? {}));
  } catch (fault) {
    // A bug of ours (inputs are read through guarded readers): counted, never thrown.
    recordInternalFault(fault);
    return undefined;
  }
}

/** Longest line of a diagnosis (after redaction): a caller's value quoted whole may be up to 64 KB. */
const MAX_LINE = 2000;

/**
 * The context is the caller's (scopes, environment, names, exchanges): whatever of it the diagnosis quotes is
 * redacted, then bounded, as the library's own text is. The identity stays as configured (it is no secret).
 */
function cleanCallerText(diagnosis: Diagnosis): Diagnosis {
  const line = (text: string) => {
    const out = redact(text);
    return out.length > MAX_LINE ? `${out.slice(0, MAX_LINE - 1)}…` : out;
  };
  const cleaned: Diagnosis = {
    ...diagnosis,
    summary: line(diagnosis.summary),
    evidence: diagnosis.evidence.map(line),
    nextSteps: diagnosis.nextSteps.map(line),
  };
  if (diagnosis.token?.scope !== undefined) cleaned.token = { ...diagnosis.token, scope: line(diagnosis.token.scope) };
  if (diagnosis.checks !== undefined) {
    cleaned.checks = diagnosis.checks.map((check) => ({
      ...check,
      ...(check.expected !== undefined ? { expected: line(check.expected) } : {}),
      ...(check.actual !== undefined ? { actual: line(check.actual) } : {}),
    }));
  }
  return cleaned;
}

const IDENTITY_SHAPE: PlainShape = { clientId: "string", resourceId: "string", objectId: "string" };
/** What classification reads of a caller's context; everything else in it is ignored. */
const CONTEXT_SHAPE: PlainShape = {
  exchanges: [
    {
      method: "string",
      url: "string",
      resource: "string",
      requestedIdentity: IDENTITY_SHAPE,
      status: "number",
      bodyExcerpt: "string",
      errorCode: "string",
      errorMessage: "string",
      durationMs: "number",
      startedAt: "number",
      retryAfter: "string",
    },
  ],
  environment: HOST_ENVIRONMENT_SHAPE,
  configuredIdentity: IDENTITY_SHAPE,
  scopeFinding: { scope: "string", explanation: "string", suggestion: "string", service: "string", reason: "string" },
  timedOutAfterMs: "number",
  credentialName: "string",
  processUptimeMs: "number",
  workloadIdentity: WORKLOAD_CONTEXT_SHAPE,
};

/**
 * The caller's context as plain, well-typed values (the function is public: any object may come in, with throwing
 * getters, wrong types or megabytes of text); `scopes` is a string or a list of strings.
 */
function readContext(context: unknown): CredentialErrorContext {
  const copied = (plainCopy(context, CONTEXT_SHAPE) ?? {}) as CredentialErrorContext & { environment?: Partial<HostEnvironment> };
  if (copied.environment !== undefined) {
    // An environment without its required fields is no environment (readHostEnvironment always sets them).
    const env = copied.environment;
    if (typeof env.source !== "string" || typeof env.sourceReason !== "string" || env.containerApp === undefined || typeof env.hostKind !== "string")
      delete copied.environment;
  }
  const proxy = copied.environment?.proxy;
  if (proxy !== undefined && (typeof proxy.variable !== "string" || typeof proxy.url !== "string" || !Array.isArray(proxy.noProxy)))
    delete copied.environment!.proxy;
  const scopes = safeGet(context, "scopes");
  if (typeof scopes === "string") copied.scopes = scopes;
  else {
    const list = plainCopy({ scopes }, { scopes: ["string"] })?.scopes as string[] | undefined;
    if (list !== undefined) copied.scopes = list;
  }
  return copied;
}

interface Facts {
  text: string;
  errorName: string;
  /** Error codes: the error's `code`/`errorCode` down its causes, OAuth codes and AADSTS codes named in the text. */
  errorCodes: string[];
  statuses: number[];
  exchanges: readonly IdentityExchange[];
  lastFailure?: IdentityExchange;
  transportCode?: string;
  configured: ConfiguredIdentity;
  sentIdentity: boolean;
  env?: HostEnvironment;
  evidence: string[];
  /** The checks every diagnosis of this failure carries: the identity endpoint's answer, the identity variables. */
  checks: DiagnosisCheck[];
}

/** What the table's entries are matched on: the facts, the context, and what follows from them. */
interface Situation {
  facts: Facts;
  context: CredentialErrorContext;
  scope?: string;
  /** The status that decides: the last failed exchange's, else one the error carries or names. */
  status?: number;
  conditions: ReadonlySet<TokenFailureCondition>;
  sources: ReadonlySet<TokenIdentitySource> | undefined;
  /** The identity endpoint's host the request was meant for (for NO_PROXY). */
  endpointHost?: string;
  /** AKS workload identity's facts (the token file, the variables, Entra's AADSTS codes). */
  workload: WorkloadSituation;
}

type Commands = ReturnType<typeof commandContextOf>;

function classify(error: unknown, context: CredentialErrorContext): Diagnosis | undefined {
  const facts = gatherFacts(error, context);
  const ctx = commandContextOf(facts.env, {
    ...(facts.configured.clientId !== undefined ? { clientId: facts.configured.clientId } : {}),
    ...(facts.configured.resourceId !== undefined ? { resourceId: facts.configured.resourceId } : {}),
  });
  const refusedLine = refusedValuesEvidence(ctx.refused ?? []);
  if (refusedLine !== undefined) facts.evidence.push(refusedLine);
  const exchangeResource = context.exchanges?.find((e) => e.resource !== undefined)?.resource;
  const scope = firstScope(context.scopes) ?? (exchangeResource !== undefined ? `${exchangeResource}/.default` : undefined);
  const situation = situationOf(error, facts, context, scope);
  const evidence: MatchEvidence = {
    protocol: "http",
    ...(situation.status !== undefined ? { status: situation.status } : {}),
    // MSAL's `errorNo` (down the causes) is an AADSTS code the text may not name.
    codes: [...facts.errorCodes, ...situation.workload.aadsts.map((code) => `AADSTS${code}`)],
    ...(facts.transportCode !== undefined ? { transportCode: facts.transportCode } : {}),
    text: facts.text,
  };
  // The table's order is the precedence: the first entry whose sources, conditions and fields all hold decides.
  for (const fingerprint of TOKEN_FAILURES) {
    if (!appliesHere(fingerprint, situation)) continue;
    const matched = matchFingerprintFields(fingerprint, evidence);
    if (matched === undefined) continue;
    return isWorkloadIdentityEntry(fingerprint) ? exchangeDiagnosisOf(fingerprint, situation, ctx) : diagnosisOf(fingerprint, matched.groups, situation, ctx);
  }
  return undefined;
}

/** The entry's sources and conditions hold here (the shared matcher checks its other fields). */
function appliesHere(fingerprint: TokenFailureFingerprint, situation: Situation): boolean {
  const sources = situation.sources;
  if (fingerprint.sources !== undefined && sources !== undefined && !fingerprint.sources.some((s) => sources.has(s))) return false;
  return (fingerprint.when ?? []).every((condition) => situation.conditions.has(condition));
}

function situationOf(error: unknown, facts: Facts, context: CredentialErrorContext, scope: string | undefined): Situation {
  const conditions = new Set<TokenFailureCondition>();
  const env = facts.env;
  if (Array.isArray(context.scopes) && context.scopes.length > 1) conditions.add("several-scopes");
  if (context.scopeFinding !== undefined) conditions.add("scope-finding");
  const audience = scope !== undefined ? judgeAudience(scope) : undefined;
  if (audience === "known") conditions.add("scope-known-audience");
  if (audience === "unknown") conditions.add("scope-unknown-audience");
  if (facts.sentIdentity) conditions.add("identity-selected");
  if (context.timedOutAfterMs !== undefined) conditions.add("timed-out");
  if (env?.identityEndpointMalformed) conditions.add("endpoint-malformed");
  if (noIdentityVariablesOnPlatform(env)) conditions.add("variables-missing");
  const uptime = context.processUptimeMs;
  conditions.add(uptime !== undefined && uptime >= 0 && uptime < EARLY_IN_PROCESS_MS ? "early-in-process" : "not-early-in-process");
  const endpointHost = endpointHostOf(facts);
  if (env?.proxy !== undefined && endpointHost !== undefined && !proxyBypassed(env.proxy, endpointHost)) conditions.add("proxy-intercepts");
  if (facts.lastFailure !== undefined && isForeignAnswer(facts.lastFailure)) conditions.add("not-identity-answer");
  if (facts.transportCode !== undefined && facts.transportCode !== "ABORTED") conditions.add("transport-failure");
  if (/CredentialUnavailable|ManagedIdentityCredential|managed identity/i.test(`${facts.errorName} ${facts.text}`)) conditions.add("names-managed-identity");
  const workload = workloadSituationOf(error, facts.text, facts.errorName, context.workloadIdentity, context.credentialName);
  for (const condition of workload.conditions) conditions.add(condition);
  let sources: Set<TokenIdentitySource> | undefined;
  if (env !== undefined) {
    sources = new Set<TokenIdentitySource>([env.source]);
    // Workload identity is @azure/identity's own source: configured here, or the failure is an Entra exchange's.
    if (env.workloadIdentity || conditions.has("workload-failure") || context.workloadIdentity?.environment?.tokenFile !== undefined)
      sources.add("WorkloadIdentity");
  }
  const status = facts.lastFailure?.status ?? facts.statuses[0];
  const situation: Situation = { facts, context, conditions, sources, workload };
  if (scope !== undefined) situation.scope = scope;
  if (status !== undefined) situation.status = status;
  if (endpointHost !== undefined) situation.endpointHost = endpointHost;
  return situation;
}

/**
 * Known: an audience the service catalog knows (Azure's and Entra's first-party resources). Unknown: an http(s)
 * resource it does not know. A GUID or `api://…` is a custom app's: not judged.
 */
function judgeAudience(scope: string): "known" | "unknown" | undefined {
  const resource = scopeToResource(scope.replace(/\/\/\.default$/, "/.default"));
  if (findServiceForScope(resource) !== undefined) return "known";
  if (GUID_PATTERN.test(resource) || /^api:\/\//i.test(resource)) return undefined;
  return /^https?:\/\/[^\s/]+/i.test(resource) ? "unknown" : undefined;
}

/**
 * An answer that did not come from the identity endpoint: a proxy's 407, an HTML page, or a 403/502/504 whose body
 * is not JSON (IMDS and the platform endpoints answer errors with JSON). Docker Desktop's own 403 text is told apart.
 */
function isForeignAnswer(exchange: IdentityExchange): boolean {
  const status = exchange.status;
  if (status === undefined) return false;
  if (status === 407) return true;
  const body = typeof exchange.bodyExcerpt === "string" ? exchange.bodyExcerpt.trimStart() : "";
  if (/^<(!doctype|html|head|body|h1)\b/i.test(body)) return true;
  return (status === 403 || status === 502 || status === 504) && body.length > 0 && !/^[{["]/.test(body) && !/unreachable network/i.test(body);
}

/** The host the identity request was meant for: the exchange's URL, else the environment's endpoint, else IMDS. */
function endpointHostOf(facts: Facts): string | undefined {
  const env = facts.env;
  const url = facts.lastFailure?.url ?? facts.exchanges[facts.exchanges.length - 1]?.url ?? env?.identityEndpoint ?? env?.msiEndpoint ?? env?.imdsHostOverride;
  if (url !== undefined) return proxyHostOf(url);
  return env?.source === "DefaultToImds" ? "169.254.169.254" : undefined;
}

function diagnosisOf(fingerprint: TokenFailureFingerprint, groups: Record<string, string>, situation: Situation, ctx: Commands): Diagnosis {
  const { facts } = situation;
  const values = placeholdersOf(situation, groups, ctx);
  const fill = (template: string) => fillPlaceholders(template, values);
  let checks = facts.checks;
  const spec = fingerprint.check;
  if (spec !== undefined && !(spec.onlyIfNone === true && checks.some((c) => c.kind === spec.kind))) {
    const expected = spec.expected !== undefined ? fill(spec.expected) : "";
    checks = [
      ...checks,
      {
        kind: spec.kind,
        ...(expected !== "" ? { expected } : {}),
        actual: fill(spec.actual),
        verdict: "fail",
        ...(spec.confirmedBy !== undefined ? { confirmedBy: spec.confirmedBy } : {}),
      },
    ];
  }
  const evidence = [...facts.evidence];
  if (situation.context.processUptimeMs !== undefined) evidence.push(`process uptime at the failure: ${values.uptime}`);
  if (situation.status !== undefined && facts.exchanges.some((e) => e.status === situation.status))
    evidence.push(`the credential retried ${retriedFor(facts, situation.status)}`);
  const proxy = facts.env?.proxy;
  if (proxy !== undefined) {
    evidence.push(`proxy: ${proxy.variable}=${proxy.url}; NO_PROXY ${proxy.noProxy.length > 0 ? `= ${proxy.noProxy.join(",")}` : "is not set"}`);
  }
  return makeDiagnosis(fingerprint.code, {
    evidence,
    identity: configuredIdentityOf(facts.configured),
    checks,
    ...(situation.scope !== undefined ? { token: { scope: situation.scope } } : {}),
    rule: tokenTimeRule(fingerprint.rule ?? fingerprint.id),
    confidence: fingerprint.confidence,
    // Redacted before whitespace is folded: a secret split by line breaks is still recognised (util/redact.ts).
    summary: redact(fill(fingerprint.summary)).replace(/\s+/g, " ").trim(),
    nextSteps: fingerprint.nextSteps.flatMap((step) => stepOf(step, situation, ctx, values)),
  });
}

/**
 * A workload identity entry (its only source is WorkloadIdentity): a failure of the Entra exchange, whose evidence
 * and checks describe the exchange (classify/workloadIdentity.ts); its templates take the exchange's values.
 */
function exchangeDiagnosisOf(fingerprint: TokenFailureFingerprint, situation: Situation, ctx: Commands): Diagnosis {
  const { facts, context } = situation;
  const workload = workloadFactsOf(situation.workload, facts.text, context.credentialName);
  const values = workloadTemplateValues(workload);
  return workloadDiagnosis(fingerprint, situation.workload, workload, {
    summary: fillPlaceholders(fingerprint.summary, values),
    nextSteps: fingerprint.nextSteps.flatMap((step) => stepOf(step, situation, ctx, values, workload)),
    errorName: facts.errorName,
    text: facts.text,
  });
}

/** One step of the table as text: a named kind becomes the platform's command (diagnosis/commands.ts). */
function stepOf(step: TokenStep, situation: Situation, ctx: Commands, values: Record<string, string>, workload?: WorkloadFacts): string[] {
  if ("text" in step) return [fillPlaceholders(step.text, values)];
  const { facts, context } = situation;
  const why = step.why !== undefined ? fillPlaceholders(step.why, values) : undefined;
  switch (step.kind) {
    case "show-identity":
      return [showIdentityStep(ctx)];
    case "assign-identity":
      return [assignIdentityStep(ctx)];
    case "pass-client-id":
      return describeSelector(facts.configured) !== undefined ? [] : [passClientIdInCode(undefined)];
    case "list-role-assignments":
      return [listRoleAssignmentsStep(undefined)];
    case "restart":
      return [why !== undefined ? restartRevisionStep(ctx, why) : restartRevisionStep(ctx)];
    case "replica-list":
      return [listInstancesStep(ctx, why)].filter((step): step is string => step !== undefined);
    case "doctor":
      return [doctorInContainerStep(ctx, situation.scope)];
    case "off-azure":
      return facts.env?.hostKind === "unknown" && facts.env.source === "DefaultToImds"
        ? [
            "Outside Azure there is no IMDS: use DefaultAzureCredential (developer sign-in) locally, or set IDENTITY_ENDPOINT/IDENTITY_HEADER for a local emulator",
          ]
        : [];
    case "scope-suggestion":
      return context.scopeFinding?.suggestion
        ? [`Request ${context.scopeFinding.suggestion} instead`]
        : ["Request the target service's documented audience with `/.default`, e.g. https://vault.azure.net/.default"];
    case "no-proxy":
      return [noProxyStep(situation)];
    case "app-role-assignment":
      return [appRoleStep(values)];
    case "federated-credential-create":
    case "federated-credential-list":
    case "aks-oidc-issuer":
    case "kubectl-service-account":
    case "kubectl-pod-label":
    case "identity-client-id":
    case "oidc-discovery":
      return [
        workloadStep(
          step.kind,
          workload ?? workloadFactsOf(situation.workload, facts.text, context.credentialName),
          context.workloadIdentity?.environment,
          ctx,
        ),
      ];
  }
}

/** Add the identity endpoint's host to NO_PROXY (the variable the SDK reads), keeping what is there. */
function noProxyStep(situation: Situation): string {
  const host = situation.endpointHost ?? "169.254.169.254";
  const wanted = [...(situation.facts.env?.proxy?.noProxy ?? []), host, "169.254.169.254"];
  // Only plain host names, IPs and `.suffix` entries reach the command (validated: they sit inside double quotes).
  const list = [...new Set(wanted.filter((entry) => /^\.?[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/.test(entry) || /^[0-9a-f:]{2,39}$/i.test(entry)))].join(",");
  return withCommand(
    "Exempt the identity endpoint from the proxy in the app's environment (the Azure SDK matches NO_PROXY entries exactly: no wildcards, localhost is not implied)",
    `export NO_PROXY="${list}"`,
  );
}

/** AADSTS501051: assign one of the target app's app roles to the identity (Graph appRoleAssignments). */
function appRoleStep(values: Record<string, string>): string {
  const target = appIdentifier(values.targetAppId) ?? "$TARGET_APP_ID";
  const client = validShellValue(values.clientAppId, "guid") ?? "$CLIENT_ID";
  return withCommand(
    `List the app roles of the target app ${target === "$TARGET_APP_ID" ? "(TARGET_APP_ID: the application id Entra named)" : target}, pick one (APP_ROLE) and assign it to the identity`,
    `az ad sp show --id "${target}" --query "appRoles[].{value:value,id:id,allowed:allowedMemberTypes}" --output table && ` +
      `PRINCIPAL_ID="$(az ad sp show --id "${client}" --query id --output tsv)" && ` +
      `TARGET_SP_ID="$(az ad sp show --id "${target}" --query id --output tsv)" && ` +
      `APP_ROLE_ID="$(az ad sp show --id "${target}" --query "appRoles[?value=='$APP_ROLE'].id" --output tsv)" && ` +
      `az rest --method POST --uri "https://graph.microsoft.com/v1.0/servicePrincipals/$PRINCIPAL_ID/appRoleAssignments" --body "{\\"principalId\\":\\"$PRINCIPAL_ID\\",\\"resourceId\\":\\"$TARGET_SP_ID\\",\\"appRoleId\\":\\"$APP_ROLE_ID\\"}"`,
  );
}

/** An app id (GUID) or identifier URI (`https://…`, `api://…`) safe inside double quotes; undefined otherwise. */
function appIdentifier(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const apiUri = /^api:\/\/(.+)$/i.exec(value);
  if (apiUri !== null) return validShellValue(apiUri[1], "word") !== undefined ? value : undefined;
  return validShellValue(value, "guid") ?? validShellValue(value, "url");
}

/** `{name}` → its value; an unknown name prints as `<name>`. */
function fillPlaceholders(template: string, values: Record<string, string>): string {
  return template.replace(/\{([A-Za-z][A-Za-z0-9]*)\}/g, (_all, name: string) => (Object.hasOwn(values, name) ? values[name]! : `<${name}>`));
}

/** Every placeholder of the table's templates (see TokenFailureFingerprint), from the situation and the message's groups. */
function placeholdersOf(situation: Situation, groups: Record<string, string>, ctx: Commands): Record<string, string> {
  const { facts, context } = situation;
  const env = facts.env;
  const selector = describeSelector(facts.configured);
  const status = situation.status;
  const storm = status !== undefined ? facts.exchanges.filter((e) => e.status === status).length : 0;
  const transport = facts.transportCode;
  const uptime = context.processUptimeMs !== undefined ? formatDuration(context.processUptimeMs) : "an unknown time";
  const retryAfter = retryAfterOf(facts);
  const proxy = env?.proxy;
  const last = facts.lastFailure;
  const values: Record<string, string> = {
    who: context.credentialName ?? "ManagedIdentityCredential",
    scope: situation.scope ?? "(unknown)",
    scopes: describeScopes(context.scopes),
    selector: selector ?? "the system-assigned identity",
    selectorOrRequested: selector ?? "the requested identity",
    requested: selector ?? "system-assigned identity",
    endpoint: theEndpoint(facts),
    identityEndpoint: excerpt(env?.identityEndpoint, 300),
    status: status !== undefined ? String(status) : "?",
    attempts: storm > 1 ? ` on ${storm} attempts` : "",
    transportCode: transport ?? "",
    transportMeaning: transport !== undefined ? transportMeaning(transport, last) : "failed",
    timeoutMeaning: transport !== undefined ? (TRANSPORT_MEANINGS[transport] ?? transport) : "accepted the request but never answered",
    timedOutAfterMs: String(context.timedOutAfterMs ?? "?"),
    attemptCount: `${Math.max(1, storm)} attempt${storm > 1 ? "s" : ""}`,
    earlyWindow: formatDuration(EARLY_IN_PROCESS_MS),
    retryAfter: retryAfter ?? "not given",
    retryAfterNote: retryAfter !== undefined ? `, Retry-After ${retryAfter}` : "",
    uptime,
    neverReachable:
      transport === "ECONNREFUSED" && context.processUptimeMs !== undefined
        ? `, past the first ${formatDuration(EARLY_IN_PROCESS_MS)} of the process: not a start-up race, the endpoint is not reachable from this process`
        : "",
    failingWhat: status === 404 ? "is not ready (IMDS answers 404 while it starts)" : "is failing",
    proxy: proxy !== undefined ? `${proxy.variable}=${proxy.url}` : "",
    proxyHost: situation.endpointHost ?? "the identity endpoint's host",
    answer: last?.status !== undefined ? `HTTP ${last.status}${last.bodyExcerpt ? ` "${excerpt(last.bodyExcerpt, 120)}"` : ""}` : "",
    suggestion: context.scopeFinding?.suggestion ?? "",
    scopeExplanation: context.scopeFinding?.explanation ?? "",
    findingScope: context.scopeFinding?.scope ?? situation.scope ?? "(unknown)",
    platform: platformName(ctx),
    appName: env?.containerApp.name ?? env?.appServiceName ?? env?.instance?.app ?? "app",
    errorLine: excerpt(firstLine(facts.text), 160),
    notFoundSummary: selector
      ? `The identity endpoint does not know the user-assigned identity ${selector}: it is not attached to this app`
      : "The identity endpoint says this app has no managed identity",
  };
  for (const [key, value] of Object.entries(groups)) values[key] = excerpt(value, 200);
  values.clientApp = values.clientAppId ? `${values.clientAppName ? `${values.clientAppName} ` : ""}(${values.clientAppId})` : "the identity";
  values.targetApp = values.targetAppId
    ? `${values.targetAppName ? `${values.targetAppName} ` : ""}(${values.targetAppId})`
    : `the target app of scope ${values.scope}`;
  return values;
}

/** The detected platform's name for humans, or "the platform" when it is not one (diagnosis/commands.ts platformsOf). */
function platformName(ctx: Commands): string {
  const platforms = platformsOf(ctx);
  return platforms.length === 1 ? platforms[0]!.displayName : "the platform";
}

/** How long the credential kept asking, from the recorded exchanges: "for 71 s over 6 attempts". */
function retriedFor(facts: Facts, status: number | undefined): string {
  const same = facts.exchanges.filter((e) => status === undefined || e.status === status);
  if (same.length === 0) return "for an unknown time (no identity-endpoint exchanges recorded)";
  const first = same[0]!;
  const last = same[same.length - 1]!;
  const spanMs = Math.max(0, Number(last.startedAt) + Number(last.durationMs) - Number(first.startedAt));
  return `for ${formatDuration(spanMs)} over ${same.length} attempt${same.length === 1 ? "" : "s"}`;
}

/** The Retry-After an exchange recorded, or one the error's text names (MSAL embeds the response headers in its text). */
function retryAfterOf(facts: Facts): string | undefined {
  for (let i = facts.exchanges.length - 1; i >= 0; i--) {
    const value = facts.exchanges[i]!.retryAfter;
    if (typeof value === "string" && value.length > 0) return describeRetryAfter(value);
  }
  const named = /retry-after"?\s*[:=]\s*"?([0-9]{1,6}|[A-Za-z]{3}, [0-9A-Za-z :]{1,40} GMT)/i.exec(facts.text.slice(0, MAX_MESSAGE_READ * 2));
  return named?.[1] !== undefined ? describeRetryAfter(named[1]) : undefined;
}

function describeRetryAfter(value: string): string {
  const trimmed = excerpt(value.trim(), 40);
  return /^[0-9]+$/.test(trimmed) ? `${trimmed} s` : trimmed;
}

function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "an unknown time";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1).replace(/\.0$/, "")} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** A rule of this classifier: `token-time.<name>`. */
const tokenTimeRule = (name: string) => ruleOf(RULE_SOURCES.tokenTime, name);

function gatherFacts(error: unknown, context: CredentialErrorContext): Facts {
  const messages: string[] = [];
  const errorCodes: string[] = [];
  const statuses: number[] = [];
  let errorName = "Error";
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current !== null && current !== undefined; depth++) {
    if (typeof current === "string") {
      messages.push(current.slice(0, MAX_MESSAGE_READ));
      break;
    }
    if (typeof current !== "object") break;
    const record = current as Record<string, unknown>;
    const read = (key: string): unknown => {
      try {
        return record[key];
      } catch {
        return undefined;
      }
    };
    const name = read("name");
    // The name is the caller's too (quoted in the evidence): bounded and redacted like a message.
    if (depth === 0 && typeof name === "string") errorName = excerpt(name, 120) || errorName;
    for (const key of ["message", "errorMessage"]) {
      const value = read(key);
      if (typeof value === "string") messages.push(value.slice(0, MAX_MESSAGE_READ));
    }
    for (const key of ["code", "errorCode"]) {
      const value = read(key);
      if (typeof value === "string") errorCodes.push(value);
    }
    for (const key of ["status", "statusCode"]) {
      const value = read(key);
      if (typeof value === "number") statuses.push(value);
    }
    current = read("cause");
  }
  const exchanges = context.exchanges ?? [];
  const failures = exchanges.filter((e) => e.errorCode !== undefined || (e.status !== undefined && e.status >= 400));
  const lastFailure = failures[failures.length - 1];
  const transportCode = lastFailure?.errorCode ?? errorCodes.find((c) => Object.hasOwn(TRANSPORT_MEANINGS, c));
  const configured = context.configuredIdentity ?? {};
  const sentIdentity = Boolean(configured.clientId || configured.resourceId || configured.objectId || lastFailure?.requestedIdentity);
  // Caller-supplied exchanges (the function is public) are bounded and redacted like the library's own.
  const text = [
    ...messages,
    ...exchanges.slice(-MAX_EXCHANGES_READ).map((e) => (typeof e.bodyExcerpt === "string" ? e.bodyExcerpt.slice(0, MAX_MESSAGE_READ) : "")),
  ].join("\n");

  // Other SDKs' and versions' texts name what this one carries as fields: read them by meaning.
  const named = namedInText(text);
  errorCodes.push(...named.codes);
  statuses.push(...named.statuses);
  const effectiveTransport = transportCode ?? (lastFailure === undefined ? named.transportCode : undefined);

  const evidence: string[] = [];
  if (messages[0] !== undefined) evidence.push(`error: ${errorName}: ${excerpt(firstLine(messages[0]), 240)}`);
  const env = context.environment;
  if (env !== undefined) {
    evidence.push(`identity source: ${env.source} (${env.sourceReason})`);
    if (env.identityEndpoint !== undefined)
      evidence.push(
        `IDENTITY_ENDPOINT=${env.identityEndpoint}${env.identityEndpointMalformed ? " (malformed)" : ""}; IDENTITY_HEADER ${env.identityHeaderSet ? "is set" : "is not set"}`,
      );
    if (env.imdsHostOverride !== undefined) evidence.push(`AZURE_POD_IDENTITY_AUTHORITY_HOST=${env.imdsHostOverride}`);
    if (env.containerApp.name !== undefined)
      evidence.push(`Container App ${env.containerApp.name}, revision ${env.containerApp.revision ?? "?"}, replica ${env.containerApp.replica ?? "?"}`);
    else if (typeof env.platformReason === "string") evidence.push(platformEvidence({ ...env, instance: env.instance ?? {} }));
    if (env.azureClientId !== undefined && !configured.clientId && !configured.resourceId && !configured.objectId) {
      evidence.push(`AZURE_CLIENT_ID=${env.azureClientId} is set, but a standalone ManagedIdentityCredential ignores it`);
    }
  }
  const selector = describeSelector(configured);
  evidence.push(`identity requested: ${selector ?? "system-assigned (no clientId/resourceId/objectId)"}`);
  const attempts = exchanges.length;
  if (attempts > 0) {
    const shown = failures.length > 0 ? failures[failures.length - 1] : exchanges[exchanges.length - 1];
    evidence.push(`identity endpoint: ${attempts} attempt${attempts === 1 ? "" : "s"}, last: ${describeExchange(shown!)}`);
  }
  if (context.scopeFinding !== undefined) evidence.push(`scope ${context.scopeFinding.scope}: ${context.scopeFinding.explanation}`);
  const checks = sharedChecks(env, exchanges, lastFailure, effectiveTransport);
  const facts: Facts = { text, errorName, errorCodes, statuses, exchanges, configured, sentIdentity, evidence, checks };
  if (lastFailure !== undefined) facts.lastFailure = lastFailure;
  if (effectiveTransport !== undefined) facts.transportCode = effectiveTransport;
  if (env !== undefined) facts.env = env;
  return facts;
}

/**
 * The checks of every token-time diagnosis: the identity variables (when the platform sets them or they are set)
 * and the identity endpoint's answer to the last failed request (or the transport code, or the last answer).
 */
function sharedChecks(
  env: HostEnvironment | undefined,
  exchanges: readonly IdentityExchange[],
  lastFailure: IdentityExchange | undefined,
  transportCode: string | undefined,
): DiagnosisCheck[] {
  const checks: DiagnosisCheck[] = [];
  if (env !== undefined && (env.identityEndpoint !== undefined || env.expectsIdentityVariables)) {
    // The Arc agent takes no IDENTITY_HEADER: it challenges with a key file instead (IMDS_ENDPOINT selects it).
    const arc = env.source === "AzureArc";
    const expected = arc
      ? "IDENTITY_ENDPOINT (an http(s) URL) and IMDS_ENDPOINT set (the Arc agent)"
      : "IDENTITY_ENDPOINT (an http(s) URL) and IDENTITY_HEADER set";
    const actual =
      env.identityEndpoint === undefined
        ? "IDENTITY_ENDPOINT not set"
        : env.identityEndpointMalformed
          ? `IDENTITY_ENDPOINT=${env.identityEndpoint} (malformed)`
          : arc
            ? `IDENTITY_ENDPOINT=${env.identityEndpoint}; IMDS_ENDPOINT set`
            : env.identityHeaderSet
              ? `IDENTITY_ENDPOINT=${env.identityEndpoint}; IDENTITY_HEADER set`
              : `IDENTITY_ENDPOINT=${env.identityEndpoint}; IDENTITY_HEADER not set`;
    const ok = env.identityEndpoint !== undefined && !env.identityEndpointMalformed && (arc || env.identityHeaderSet);
    // Workload identity or the MSI variables stand in for the App Service pair: then their absence is no fault.
    const standIn = env.identityEndpoint === undefined && (env.msiEndpoint !== undefined || env.workloadIdentity);
    checks.push({ kind: CHECK_KINDS.identityVariables, expected, actual, verdict: ok ? "pass" : standIn ? "unknown" : "fail", confirmedBy: "environment" });
  }
  const outcome = (e: IdentityExchange) => (e.errorCode !== undefined ? String(e.errorCode) : `HTTP ${Number(e.status)}`);
  // A request we aborted ourselves (deadline, caller) says nothing about the endpoint: the deciding rule tells.
  const aborted = (e: IdentityExchange | undefined) => e?.errorCode === "ABORTED";
  const last = exchanges[exchanges.length - 1];
  if (lastFailure !== undefined && !aborted(lastFailure)) {
    checks.push({ kind: CHECK_KINDS.identityEndpoint, expected: "HTTP 200", actual: outcome(lastFailure), verdict: "fail", confirmedBy: "answer" });
  } else if (transportCode !== undefined && transportCode !== "ABORTED") {
    checks.push({ kind: CHECK_KINDS.identityEndpoint, expected: "HTTP 200", actual: transportCode, verdict: "fail", confirmedBy: "answer" });
  } else if (last !== undefined && !aborted(last)) {
    checks.push({
      kind: CHECK_KINDS.identityEndpoint,
      expected: "HTTP 200",
      actual: outcome(last),
      verdict: last.status !== undefined && last.status < 400 ? "pass" : "unknown",
      confirmedBy: "answer",
    });
  }
  return checks;
}

/** One line for an exchange: method, URL, outcome, time. */
export function describeExchange(exchange: IdentityExchange): string {
  const outcome =
    exchange.errorCode !== undefined
      ? `${excerpt(String(exchange.errorCode), 40)}${exchange.errorMessage ? ` (${excerpt(String(exchange.errorMessage), 200)})` : ""}`
      : `HTTP ${Number(exchange.status)}${exchange.bodyExcerpt ? ` ${excerpt(String(exchange.bodyExcerpt), 400)}` : ""}`;
  return `${excerpt(String(exchange.method), 10)} ${excerpt(String(exchange.url), 300)} → ${outcome} in ${Number(exchange.durationMs)} ms`;
}

/** "The identity endpoint 127.0.0.1:42356/msi/token", or without a name when none is known. */
function theEndpoint(facts: Facts): string {
  const name = endpointName(facts);
  return name ? `The identity endpoint ${name}` : "The identity endpoint";
}

function endpointName(facts: Facts): string {
  const url = facts.lastFailure?.url ?? facts.env?.identityEndpoint;
  if (url === undefined) return facts.env?.source === "DefaultToImds" ? "(IMDS, 169.254.169.254)" : "";
  try {
    const parsed = new URL(url);
    return `${parsed.host}${parsed.pathname}`;
  } catch {
    return url;
  }
}

function noIdentityVariablesOnPlatform(env: HostEnvironment | undefined): boolean {
  return env !== undefined && env.expectsIdentityVariables && env.identityEndpoint === undefined && env.msiEndpoint === undefined && !env.workloadIdentity;
}

function describeSelector(configured: ConfiguredIdentity): string | undefined {
  if (configured.clientId) return `clientId ${configured.clientId}`;
  if (configured.resourceId) return `resourceId ${configured.resourceId}`;
  if (configured.objectId) return `objectId ${configured.objectId}`;
  return undefined;
}

function configuredIdentityOf(configured: ConfiguredIdentity): DiagnosisIdentity {
  const identity: DiagnosisIdentity = { kind: configured.clientId || configured.resourceId || configured.objectId ? "user-assigned" : "system-assigned" };
  if (configured.clientId) identity.clientId = configured.clientId;
  if (configured.objectId) identity.objectId = configured.objectId;
  if (configured.resourceId) identity.resourceId = configured.resourceId;
  return identity;
}

function firstScope(scopes: string | readonly string[] | undefined): string | undefined {
  if (typeof scopes === "string") return scopes;
  if (Array.isArray(scopes) && typeof scopes[0] === "string") return scopes[0];
  return undefined;
}

function describeScopes(scopes: string | readonly string[] | undefined): string {
  if (scopes === undefined) return "?";
  return (typeof scopes === "string" ? [scopes] : scopes).slice(0, 5).map(String).join(", ");
}

/** Most codes or statuses read from a text: a hostile text repeats them. */
const MAX_NAMED = 16;

/**
 * What a text names that another SDK would carry as a field: AADSTS codes, OAuth/MSAL codes (`invalid_scope`,
 * `user_assigned_managed_identity_not_confirmed`), HTTP statuses ("(status code 404)", "Status code: 400",
 * "HTTP 429") and Node transport codes ("connect ECONNREFUSED 127.0.0.1:42356"). Linear in the text.
 */
function namedInText(text: string): { codes: string[]; statuses: number[]; transportCode?: string } {
  const codes: string[] = [];
  const collect = (pattern: RegExp, into: (match: RegExpExecArray) => void) => {
    let count = 0;
    for (let match = pattern.exec(text); match !== null && count < MAX_NAMED; match = pattern.exec(text), count++) into(match);
  };
  collect(/AADSTS\d{4,7}/g, (m) => codes.push(m[0].toUpperCase()));
  collect(/\b[a-z]{2,20}(?:_[a-z]{1,20}){1,6}\b/g, (m) => codes.push(m[0]));
  const statuses: number[] = [];
  collect(/\b(?:status(?:[ _]?code)?|http)\b[\s:=(]{0,3}([1-5][0-9]{2})\b/gi, (m) => statuses.push(Number(m[1])));
  let transportCode: string | undefined;
  collect(/\b(E[A-Z]{3,12}|ERR_[A-Z_]{3,30})\b/g, (m) => {
    if (transportCode === undefined && Object.hasOwn(TRANSPORT_MEANINGS, m[1]!)) transportCode = m[1];
  });
  return { codes: [...new Set(codes)], statuses, ...(transportCode !== undefined ? { transportCode } : {}) };
}

function firstLine(text: string): string {
  const line = text.split(/\r?\n/, 1)[0] ?? "";
  return line;
}
