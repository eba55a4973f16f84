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
  restartRevisionStep,
  showIdentityStep,
} from "../diagnosis/commands.js";
import { excerpt, redact } from "../util/redact.js";
import type { Diagnosis, DiagnosisCheck, DiagnosisIdentity } from "../diagnosis/types.js";
import { CHECK_KINDS, RULE_SOURCES, ruleOf } from "../diagnosis/findings.js";
import { addHostFacts } from "../diagnosis/hostFacts.js";
import { platformEvidence, type HostEnvironment } from "../environment/hostEnvironment.js";
import { safeGet } from "../util/headers.js";
import { plainCopy, type PlainShape } from "../util/plainCopy.js";
import { recordInternalFault } from "../util/safe.js";
import { refusedValuesEvidence } from "../util/shellSafe.js";
import { classifyAggregateError } from "./chain.js";
import { classifyWorkloadIdentityError, type WorkloadIdentityContext } from "./workloadIdentity.js";

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
  /** AKS workload identity: its variables, the projected token's claims, the Entra exchanges seen. */
  workloadIdentity?: WorkloadIdentityContext;
}

/** Most exchanges of one call that classification reads (the credential keeps 32). */
const MAX_EXCHANGES_READ = 32;
/** Characters read of each message or body excerpt, whether an error, its cause, or a plain string. */
const MAX_MESSAGE_READ = 4000;

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
    // Chains (from errors[]) and workload identity (Entra's answers) first: classify/chain.ts, classify/workloadIdentity.ts.
    const name = safeGet(context, "credentialName");
    const diagnosis =
      classifyAggregateError(error, context, classifyCredentialError) ??
      classifyWorkloadIdentityError(error, safeGet(context, "workloadIdentity"), typeof name === "string" ? name : undefined) ??
      classify(error, read);
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
    },
  ],
  environment: {
    source: "string",
    sourceReason: "string",
    identityEndpoint: "string",
    identityEndpointMalformed: "boolean",
    identityHeaderSet: "boolean",
    msiEndpoint: "string",
    msiSecretSet: "boolean",
    imdsHostOverride: "string",
    containerApp: { name: "string", revision: "string", replica: "string", hostname: "string", jobName: "string", jobExecution: "string" },
    appServiceName: "string",
    workloadIdentity: "boolean",
    azureClientId: "string",
    expectsIdentityVariables: "boolean",
    hostKind: "string",
    platform: "string",
    platformKey: "string",
    platformReason: "string",
    platformCandidates: ["string"],
    instance: { app: "string", revision: "string", replica: "string", jobExecution: "string", instance: "string", pod: "string", namespace: "string" },
    functionsIdentitySettings: [{ connection: "string", credential: "string", clientId: "string", managedIdentityResourceId: "string" }],
  },
  configuredIdentity: IDENTITY_SHAPE,
  scopeFinding: { scope: "string", explanation: "string", suggestion: "string", service: "string", reason: "string" },
  timedOutAfterMs: "number",
  credentialName: "string",
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

function classify(error: unknown, context: CredentialErrorContext): Diagnosis | undefined {
  const facts = gatherFacts(error, context);
  const ctx = commandContextOf(facts.env, {
    ...(facts.configured.clientId !== undefined ? { clientId: facts.configured.clientId } : {}),
    ...(facts.configured.resourceId !== undefined ? { resourceId: facts.configured.resourceId } : {}),
  });
  const refusedLine = refusedValuesEvidence(ctx.refused ?? []);
  if (refusedLine !== undefined) facts.evidence.push(refusedLine);
  const identity = configuredIdentityOf(facts.configured);
  const exchangeResource = context.exchanges?.find((e) => e.resource !== undefined)?.resource;
  const scope = firstScope(context.scopes) ?? (exchangeResource !== undefined ? `${exchangeResource}/.default` : undefined);
  const base: BaseFields = { evidence: facts.evidence, identity, checks: facts.checks, ...(scope ? { token: { scope } } : {}) };
  const who = context.credentialName ?? "ManagedIdentityCredential";
  const text = facts.text;

  // H3 before H1/H5: a malformed scope explains "Multiple scopes" and AADSTS500011 whatever else happened.
  if (/multiple scopes are not supported/i.test(text) || (Array.isArray(context.scopes) && context.scopes.length > 1)) {
    const saidSo = /multiple scopes are not supported/i.test(text);
    return makeDiagnosis("WrongAudience", {
      ...withCheck(base, {
        kind: CHECK_KINDS.scope,
        expected: "exactly one scope",
        actual: describeScopes(context.scopes),
        verdict: "fail",
        ...(saidSo ? { confirmedBy: "answer" as const } : {}),
      }),
      rule: tokenTimeRule("multiple-scopes"),
      confidence: "high",
      summary: `${who} was asked for several scopes (${describeScopes(context.scopes)}); a managed identity token has exactly one audience`,
      nextSteps: [
        "Request one scope per token: the target service's `<audience>/.default`",
        ...(context.scopeFinding?.suggestion ? [`Use ${context.scopeFinding.suggestion}`] : []),
      ],
    });
  }
  if (/AADSTS500011/i.test(text) || namesUnknownResourcePrincipal(text)) {
    const suggestion = context.scopeFinding?.suggestion;
    return makeDiagnosis("WrongAudience", {
      ...withCheck(base, {
        kind: CHECK_KINDS.scope,
        ...(suggestion ? { expected: suggestion } : {}),
        actual: scope ?? "(unknown)",
        verdict: "fail",
        confirmedBy: "answer",
      }),
      rule: tokenTimeRule("unknown-resource"),
      confidence: "high",
      summary: `Entra ID does not know the resource in scope ${scope ?? "(unknown)"} (AADSTS500011): the audience is wrong for this tenant or cloud`,
      nextSteps: [
        context.scopeFinding?.suggestion
          ? `Request ${context.scopeFinding.suggestion} instead`
          : "Request the target service's documented audience, e.g. https://vault.azure.net/.default",
        "Check the cloud: China and US Government services have their own audiences",
      ],
    });
  }
  if (context.scopeFinding !== undefined && facts.lastFailure?.status === 400 && !/identity not found|no msi|multiple user assigned/i.test(text)) {
    const finding = context.scopeFinding;
    return makeDiagnosis("WrongAudience", {
      ...withCheck(base, {
        kind: CHECK_KINDS.scope,
        ...(finding.suggestion ? { expected: finding.suggestion } : {}),
        actual: finding.scope,
        verdict: "fail",
        confirmedBy: "answer",
      }),
      rule: tokenTimeRule("scope-rejected"),
      confidence: "medium",
      summary: `The identity endpoint rejected the token request for scope ${context.scopeFinding.scope}: ${context.scopeFinding.explanation}`,
      nextSteps: [context.scopeFinding.suggestion ? `Request ${context.scopeFinding.suggestion}` : "Request the target service's documented `/.default` scope"],
    });
  }

  // H1: the endpoint answered and said there is no such identity.
  const requested = describeSelector(facts.configured) ?? "system-assigned identity";
  if (/multiple user assigned identities exist/i.test(text)) {
    return h1(
      withCheck(base, assignmentCheck("a selected user-assigned identity", "several user-assigned identities, none selected")),
      "multiple-user-assigned",
      "high",
      `The host has several user-assigned identities and the code chose none ("Multiple user assigned identities exist")`,
      [passClientIdInCode(undefined), showIdentityStep(ctx)],
    );
  }
  if (
    /identity not found|no msi found|unable to load the proper managed identity|no managed identity (was )?found|managed identity is not (enabled|assigned)/i.test(
      text,
    )
  ) {
    const selector = describeSelector(facts.configured);
    return h1(
      withCheck(base, assignmentCheck(requested, "not found by the identity endpoint")),
      "identity-not-found",
      "high",
      selector
        ? `The identity endpoint does not know the user-assigned identity ${selector}: it is not attached to this app`
        : "The identity endpoint says this app has no managed identity",
      [showIdentityStep(ctx), assignIdentityStep(ctx), ...(selector ? [] : [passClientIdInCode(undefined)])],
    );
  }
  const unexpected500 =
    facts.lastFailure?.status === 500 && /unexpected error occur+ed while fetching the aad token/i.test(`${facts.lastFailure.bodyExcerpt ?? ""} ${text}`);
  if (unexpected500 && facts.sentIdentity) {
    return h1(
      withCheck(base, assignmentCheck(requested, "HTTP 500 unexpected error fetching the token (not attached)")),
      "identity-not-attached",
      "high",
      `The identity endpoint could not issue a token for ${describeSelector(facts.configured) ?? "the requested identity"} (500 "unexpected error occured while fetching the AAD Token"): that user-assigned identity is not attached to this app`,
      [
        showIdentityStep(ctx),
        assignIdentityStep(ctx),
        "Compare the client id in code with the identity's own: az identity show --ids <identity-resource-id> --query clientId",
      ],
    );
  }

  // H5: our own deadline, a transport failure, or an endpoint that answers with no identity meaning.
  if (context.timedOutAfterMs !== undefined) {
    const answered = base.checks.some((c) => c.kind === CHECK_KINDS.identityEndpoint);
    const timedOut = answered
      ? base
      : withCheck(base, {
          kind: CHECK_KINDS.identityEndpoint,
          expected: "HTTP 200",
          actual: `no answer within ${context.timedOutAfterMs} ms`,
          verdict: "fail",
          confirmedBy: "answer",
        });
    return h5(
      facts,
      ctx,
      timedOut,
      "timeout",
      "high",
      `${who} got no token within ${context.timedOutAfterMs} ms: the identity endpoint ${excerpt(facts.env?.identityEndpoint, 300)} ${facts.transportCode ? (TRANSPORT_MEANINGS[facts.transportCode] ?? facts.transportCode) : "accepted the request but never answered"}`.replace(
        /\s+/g,
        " ",
      ),
    );
  }
  if (facts.env?.identityEndpointMalformed) {
    return h5(facts, ctx, base, "endpoint-malformed", "high", `IDENTITY_ENDPOINT is not a valid http(s) URL, so no token request can be made`);
  }
  // Container Apps / App Service set IDENTITY_ENDPOINT only when an identity is assigned: without it the SDK
  // falls back to IMDS, which these platforms do not serve, so the transport error below is a symptom of H1.
  if (noIdentityVariablesOnPlatform(facts.env) && facts.env?.source === "DefaultToImds") return missingVariables(facts, ctx, base);
  if (facts.transportCode !== undefined && facts.transportCode !== "ABORTED") {
    const meaning = TRANSPORT_MEANINGS[facts.transportCode] ?? `failed with ${facts.transportCode}`;
    return h5(facts, ctx, base, "transport-error", "high", `${theEndpoint(facts)} ${meaning} (${facts.transportCode})`);
  }
  if (/network[_ ]error|network unreachable|unreachable network|socket operation was attempted/i.test(text)) {
    if (noIdentityVariablesOnPlatform(facts.env)) return missingVariables(facts, ctx, base);
    const reported = base.checks.some((c) => c.kind === CHECK_KINDS.identityEndpoint);
    const unreachable = reported
      ? base
      : withCheck(base, { kind: CHECK_KINDS.identityEndpoint, expected: "HTTP 200", actual: "network error", verdict: "fail", confirmedBy: "answer" });
    return h5(facts, ctx, unreachable, "network-error", "medium", `${theEndpoint(facts)} could not be reached (network error)`);
  }
  const status = facts.lastFailure?.status ?? facts.statuses[0];
  if (status !== undefined && (status >= 500 || status === 404 || status === 410 || status === 408 || status === 429)) {
    const storm = facts.exchanges.filter((e) => e.status === status).length;
    const what = status === 410 || status === 404 ? "is not ready (IMDS answers 404/410 while it starts or upgrades)" : "is failing";
    return h5(
      facts,
      ctx,
      base,
      "endpoint-failing",
      unexpected500 ? "medium" : "high",
      `${theEndpoint(facts)} ${what}: HTTP ${status}${storm > 1 ? ` on ${storm} attempts` : ""}`,
    );
  }
  if (status === 401 || status === 403) {
    return h5(
      facts,
      ctx,
      base,
      "endpoint-refused",
      "medium",
      `${theEndpoint(facts)} refused the token request with HTTP ${status}: the IDENTITY_HEADER secret may be stale (the platform rotates it) or a proxy intercepts the call`,
    );
  }
  if (noIdentityVariablesOnPlatform(facts.env)) return missingVariables(facts, ctx, base);
  if (/CredentialUnavailable|ManagedIdentityCredential|managed identity/i.test(`${facts.errorName} ${text}`)) {
    return makeDiagnosis("Unknown", {
      ...base,
      rule: tokenTimeRule("unrecognised"),
      confidence: "low",
      summary: `${who} failed without a recognised cause: ${excerpt(firstLine(text), 160)}`,
      nextSteps: [doctorInContainerStep(ctx, scope), showIdentityStep(ctx)],
    });
  }
  return undefined;
}

function h1(base: BaseFields, rule: string, confidence: Diagnosis["confidence"], summary: string, steps: string[]): Diagnosis {
  return makeDiagnosis("IdentityNotAssigned", {
    ...base,
    rule: tokenTimeRule(rule),
    confidence,
    summary,
    nextSteps: [...steps, listRoleAssignmentsStep(undefined)],
  });
}

/** The identity-assignment check of a H1: the identity requested, what the identity endpoint or the environment said. */
function assignmentCheck(expected: string, actual: string, confirmedBy: DiagnosisCheck["confirmedBy"] = "answer"): DiagnosisCheck {
  return { kind: CHECK_KINDS.identityAssignment, expected, actual, verdict: "fail", ...(confirmedBy !== undefined ? { confirmedBy } : {}) };
}

function h5(
  facts: Facts,
  ctx: ReturnType<typeof commandContextOf>,
  base: BaseFields,
  rule: string,
  confidence: Diagnosis["confidence"],
  summary: string,
): Diagnosis {
  const steps = [doctorInContainerStep(ctx, base.token?.scope)];
  if (facts.env?.hostKind === "unknown" && facts.env.source === "DefaultToImds") {
    steps.push(
      "Outside Azure there is no IMDS: use DefaultAzureCredential (developer sign-in) locally, or set IDENTITY_ENDPOINT/IDENTITY_HEADER for a local emulator",
    );
  }
  steps.push(restartRevisionStep(ctx, "Restart (a fault local to one instance, in its identity endpoint or its network, clears with fresh instances)"));
  const compare = listInstancesStep(ctx, "If other instances get tokens, the fault is local to this one; list them to compare");
  if (compare !== undefined) steps.push(compare);
  return makeDiagnosis("IdentityEndpointUnreachable", { ...base, rule: tokenTimeRule(rule), confidence, summary, nextSteps: steps });
}

function missingVariables(facts: Facts, ctx: ReturnType<typeof commandContextOf>, base: BaseFields): Diagnosis {
  const platforms = platformsOf(ctx);
  const platform = platforms.length === 1 ? platforms[0]!.displayName : "the platform";
  const requested = describeSelector(facts.configured) ?? "system-assigned identity";
  return makeDiagnosis("IdentityNotAssigned", {
    ...withCheck(base, assignmentCheck(requested, `no identity assigned (IDENTITY_ENDPOINT not set on ${platform})`, "environment")),
    rule: tokenTimeRule("identity-variables-missing"),
    confidence: "high",
    summary: `This is ${platform} (${facts.env?.containerApp.name ?? facts.env?.appServiceName ?? facts.env?.instance?.app ?? "app"}) but IDENTITY_ENDPOINT is not set: the platform sets it only when a managed identity is assigned`,
    nextSteps: [showIdentityStep(ctx), assignIdentityStep(ctx), "Restart or redeploy after assigning: running replicas keep the environment they started with"],
  });
}

type BaseFields = { evidence: string[]; identity: DiagnosisIdentity; checks: DiagnosisCheck[]; token?: { scope: string } };

/** A rule of this classifier: `token-time.<name>`. */
const tokenTimeRule = (name: string) => ruleOf(RULE_SOURCES.tokenTime, name);

/** `base` with one more check (the one the deciding rule made) after the shared ones. */
function withCheck(base: BaseFields, check: DiagnosisCheck): BaseFields {
  return { ...base, checks: [...base.checks, check] };
}

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
  const transportCode = lastFailure?.errorCode ?? errorCodes.find((c) => c in TRANSPORT_MEANINGS);
  const configured = context.configuredIdentity ?? {};
  const sentIdentity = Boolean(configured.clientId || configured.resourceId || configured.objectId || lastFailure?.requestedIdentity);
  // Caller-supplied exchanges (the function is public) are bounded and redacted like the library's own.
  const text = [
    ...messages,
    ...exchanges.slice(-MAX_EXCHANGES_READ).map((e) => (typeof e.bodyExcerpt === "string" ? e.bodyExcerpt.slice(0, MAX_MESSAGE_READ) : "")),
  ].join("\n");

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
  const checks = sharedChecks(env, exchanges, lastFailure, transportCode);
  const facts: Facts = { text, errorName, errorCodes, statuses, exchanges, configured, sentIdentity, evidence, checks };
  if (lastFailure !== undefined) facts.lastFailure = lastFailure;
  if (transportCode !== undefined) facts.transportCode = transportCode;
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
    const expected = "IDENTITY_ENDPOINT (an http(s) URL) and IDENTITY_HEADER set";
    const actual =
      env.identityEndpoint === undefined
        ? "IDENTITY_ENDPOINT not set"
        : env.identityEndpointMalformed
          ? `IDENTITY_ENDPOINT=${env.identityEndpoint} (malformed)`
          : env.identityHeaderSet
            ? `IDENTITY_ENDPOINT=${env.identityEndpoint}; IDENTITY_HEADER set`
            : `IDENTITY_ENDPOINT=${env.identityEndpoint}; IDENTITY_HEADER not set`;
    const ok = env.identityEndpoint !== undefined && !env.identityEndpointMalformed && env.identityHeaderSet;
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

/**
 * AADSTS500011's "The resource principal named X was not found", on one line of `text`. In linear time: the regex
 * `/resource principal named .* was not found/` rescans the rest of the line from every "resource principal named".
 */
function namesUnknownResourcePrincipal(text: string): boolean {
  const start = /resource principal named /gi;
  const restOfLine = /[^\n\r\u2028\u2029]*/y;
  for (let match = start.exec(text); match !== null; match = start.exec(text)) {
    restOfLine.lastIndex = start.lastIndex;
    const rest = restOfLine.exec(text)?.[0] ?? "";
    if (/ was not found/i.test(rest)) return true;
    // Later mentions on this line see less of it: go on from the next line.
    start.lastIndex = restOfLine.lastIndex;
  }
  return false;
}

function firstLine(text: string): string {
  const line = text.split(/\r?\n/, 1)[0] ?? "";
  return line;
}
