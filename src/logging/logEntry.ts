import { hostOf } from "../catalog/resolve.js";
import type { Diagnosis, DiagnosisCheck, DiagnosisIdentity, DiagnosisPlatform, DiagnosisRule, DiagnosisVerification } from "../diagnosis/types.js";
import { redact } from "../util/redact.js";
import type { Recovery } from "../telemetry/recovery.js";

/**
 * One log line: what the `logger` option receives, and what the default logger writes as one JSON object per line.
 * The diagnosis fields are copies of the {@link Diagnosis} it reports, with evidence and next steps redacted.
 */
export interface DiagnosisLogEntry {
  /** ISO 8601 time the line was written (of the recovery, on `[recovered]` lines). */
  time: string;
  /**
   * `error` for a failed `getToken` and a refused request; `warn` for a 401 that is not a missing role, a suspicious
   * scope or token, an identity endpoint being retried, a last-good-token fallback; `info` for `[recovered]` lines.
   */
  level: "error" | "warn" | "info";
  /** Starts with `DiagnosticCredential [H2 RoleMissingOrWrongScope]`; names the status and host. */
  message: string;
  /** The diagnosis's hypothesis; on `[recovered]` lines the one recovered from. */
  hypothesis: Diagnosis["hypothesis"];
  /** The diagnosis's code; on `[recovered]` lines the one recovered from. */
  code: Diagnosis["code"];
  /** The diagnosis's confidence; `high` on `[recovered]` lines. */
  confidence: Diagnosis["confidence"];
  /** Catalog name of the target service, when known. */
  service?: string;
  /** HTTP status of the refused request; on `[recovered]` lines the success status. Absent when there is none. */
  status?: number;
  /** The service's own error code, when it sent one. */
  errorCode?: string;
  /** The identity involved, when known. */
  identity?: DiagnosisIdentity;
  /** Observed facts, one line each, redacted. */
  evidence: string[];
  /** The rule that decided the diagnosis: `{ id: "keyvault.forbidden-by-rbac", source: "catalog:keyvault" }`. */
  rule?: DiagnosisRule;
  /** The diagnosis's checks (kind, expected, actual, verdict), redacted. Absent when it has none. */
  checks?: DiagnosisCheck[];
  /** What to run, in order, redacted. Empty on `[recovered]` lines. */
  nextSteps: string[];
  /** The Container App replica that wrote the line, from CONTAINER_APP_NAME / _REVISION / _REPLICA_NAME. Empty elsewhere. */
  containerApp: {
    /** The app's name (for a Container Apps job, the job's name). */
    name?: string;
    /** The revision name. */
    revision?: string;
    /** The replica name. */
    replica?: string;
  };
  /**
   * The hosting platform that wrote the line (`name`: the OpenTelemetry `cloud.platform` value or `unknown`) and its
   * instance names (site and instance, pod and namespace, app/revision/replica, job execution). Absent when not read.
   */
  platform?: DiagnosisPlatform;
  /** How many times this diagnosis happened since it was last written (repeats are folded). */
  count: number;
  /**
   * Where the diagnosis came from: "getToken", "token-check", "scope-check", "identity-endpoint", "last-good-token",
   * "response" (the pipeline policy), "observed" (zero-config observation), "diagnose"; "recovery" on `[recovered]` lines;
   * "verification" on the follow-up line of a verification (option `verify`).
   */
  source?: string;
  /** The target host of a downstream failure. */
  host?: string;
  /** Swallowed internal faults so far: present only when not zero. */
  internalFaults?: number;
  /** The trace the line belongs to (W3C trace id), when an OpenTelemetry SDK is recording: joins the line with its span. */
  traceId?: string;
  /** The active span's id (W3C), set together with `traceId`. */
  spanId?: string;
  /** Only on `[recovered]` lines (level info, source "recovery"): the episode that ended. */
  recovery?: RecoveryLogFields;
  /** Only on `source: "verification"` lines: what Resource Manager said (see {@link DiagnosisVerification}). */
  verification?: DiagnosisVerification;
}

/** The `recovery` object of a `[recovered]` line. */
export interface RecoveryLogFields {
  /** "dependency" (a service answers 2xx again after H2) or "identity-endpoint" (tokens again after H5/H1). */
  kind: "dependency" | "identity-endpoint";
  /** The hypothesis recovered from (also the line's `hypothesis`). */
  hypothesis: Diagnosis["hypothesis"];
  /** The code recovered from (also the line's `code`). */
  code: Diagnosis["code"];
  /** ISO time of the episode's first failure. */
  firstFailureAt: string;
  /** ISO time of the episode's last failure. */
  lastFailureAt: string;
  /** ISO time of the first success after it. */
  recoveredAt: string;
  /** recoveredAt − firstFailureAt, in milliseconds. */
  afterMs: number;
  /** The same in minutes, one decimal: what the message says. */
  afterMinutes: number;
  /** Failures reported during the episode. */
  failures: number;
}

/** Where and how a diagnosis is reported: the fields of its log line that the diagnosis itself does not hold. */
export interface LogContext {
  /** The line's level. */
  level: DiagnosisLogEntry["level"];
  /** What found the diagnosis: the line's `source`. */
  source: string;
  /** URL of the refused request: gives the line's `host` and the host in its message. */
  url?: string;
  /** Name of the wrapped credential, named in the message of a `getToken` failure. Default "ManagedIdentityCredential". */
  credentialName?: string;
  /** Name of the error `getToken` threw, named in the message when there is no HTTP status. */
  errorName?: string;
  /** The Container App replica: the line's `containerApp`. */
  containerApp: DiagnosisLogEntry["containerApp"];
  /** The platform, when the diagnosis does not carry it: the line's `platform`. */
  platform?: DiagnosisPlatform;
  /** Trace id for the line; taken from the active span when absent. */
  traceId?: string;
  /** Span id for the line, with `traceId`. */
  spanId?: string;
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/**
 * The message: `DiagnosticCredential [H2 RoleMissingOrWrongScope] 403 Forbidden from myvault.vault.azure.net: <summary>`.
 * Carries the words log searches look for: the status and its reason phrase, the host, the credential and error names.
 */
export function formatLogMessage(diagnosis: Diagnosis, context: Pick<LogContext, "url" | "credentialName" | "errorName">): string {
  const tag = `DiagnosticCredential [${diagnosis.hypothesis === "not-identity" || diagnosis.hypothesis === "unknown" ? diagnosis.hypothesis : diagnosis.hypothesis} ${diagnosis.code}]`;
  const parts: string[] = [tag];
  const host = context.url !== undefined ? hostOf(context.url) : undefined;
  if (diagnosis.status !== undefined) {
    const reason = STATUS_TEXT[diagnosis.status];
    parts.push(`${diagnosis.status}${reason ? ` ${reason}` : ""}${host ? ` from ${host}` : ""}${diagnosis.errorCode ? ` (${diagnosis.errorCode})` : ""}:`);
  } else if (context.errorName !== undefined) {
    parts.push(`${context.credentialName ?? "ManagedIdentityCredential"} ${context.errorName}:`);
  } else if (host !== undefined) {
    parts.push(`${host}:`);
  }
  parts.push(diagnosis.summary);
  return redact(parts.join(" "));
}

export function toLogEntry(diagnosis: Diagnosis, context: LogContext, count: number, internalFaults: number): DiagnosisLogEntry {
  const entry: DiagnosisLogEntry = {
    time: new Date().toISOString(),
    level: context.level,
    message: formatLogMessage(diagnosis, context),
    hypothesis: diagnosis.hypothesis,
    code: diagnosis.code,
    confidence: diagnosis.confidence,
    evidence: diagnosis.evidence.map(redact),
    nextSteps: diagnosis.nextSteps.map(redact),
    containerApp: context.containerApp,
    count,
    source: context.source,
  };
  if (diagnosis.service !== undefined) entry.service = diagnosis.service;
  if (diagnosis.status !== undefined) entry.status = diagnosis.status;
  if (diagnosis.errorCode !== undefined) entry.errorCode = diagnosis.errorCode;
  if (diagnosis.identity !== undefined) entry.identity = diagnosis.identity;
  const platform = diagnosis.platform ?? context.platform;
  if (platform !== undefined) entry.platform = platform;
  if (diagnosis.rule !== undefined) entry.rule = { id: redact(diagnosis.rule.id), source: redact(diagnosis.rule.source) };
  if (Array.isArray(diagnosis.checks) && diagnosis.checks.length > 0) entry.checks = diagnosis.checks.map(redactCheck);
  if (diagnosis.verification !== undefined) entry.verification = { ...diagnosis.verification, summary: redact(diagnosis.verification.summary) };
  const host = context.url !== undefined ? hostOf(context.url) : undefined;
  if (host !== undefined) entry.host = host;
  if (internalFaults > 0) entry.internalFaults = internalFaults;
  if (context.traceId !== undefined && context.spanId !== undefined) {
    entry.traceId = context.traceId;
    entry.spanId = context.spanId;
  }
  return entry;
}

/** A check as the log line carries it: values redacted like the evidence (a Diagnosis may be built by hand). */
function redactCheck(check: DiagnosisCheck): DiagnosisCheck {
  return {
    kind: check.kind,
    ...(check.expected !== undefined ? { expected: redact(check.expected) } : {}),
    ...(check.actual !== undefined ? { actual: redact(check.actual) } : {}),
    verdict: check.verdict,
    ...(check.confirmedBy !== undefined ? { confirmedBy: check.confirmedBy } : {}),
  };
}

/** Minutes with one decimal: 0.4, 3, 12.5. */
export function minutesOf(ms: number): number {
  return Math.round(Math.max(0, ms) / 6_000) / 10;
}

/**
 * The message of a recovery line:
 * `DiagnosticCredential [recovered] H2 RoleMissingOrWrongScope: keyvault orders-kv.vault.azure.net answers 200 again
 * for identity 3333…; first failure 2025-06-01T10:00:00.000Z, 14 failures: recovered after 3.2 min`.
 */
export function formatRecoveryMessage(recovery: Recovery, credentialName = "ManagedIdentityCredential"): string {
  const who = recovery.identity?.objectId ?? recovery.identity?.clientId;
  const what =
    recovery.kind === "dependency"
      ? `${recovery.service ? `${recovery.service} ` : ""}${recovery.host ?? "the dependency"} answers ${recovery.status ?? "2xx"} again${who ? ` for identity ${who}` : ""}`
      : `${credentialName} returns tokens again`;
  const failures = `${recovery.failures} failure${recovery.failures === 1 ? "" : "s"}`;
  const after = minutesOf(recovery.recoveredAt - recovery.firstFailureAt);
  return redact(
    `DiagnosticCredential [recovered] ${recovery.hypothesis} ${recovery.code}: ${what}; first failure ${new Date(recovery.firstFailureAt).toISOString()}, ${failures}: recovered after ${after} min`,
  );
}

/** The `[recovered]` line: level info, source "recovery", the recovered-from hypothesis and code, and `recovery`. */
export function toRecoveryLogEntry(
  recovery: Recovery,
  context: Pick<LogContext, "containerApp" | "platform" | "credentialName" | "traceId" | "spanId">,
  internalFaults: number,
): DiagnosisLogEntry {
  const afterMs = Math.max(0, recovery.recoveredAt - recovery.firstFailureAt);
  const firstFailureAt = new Date(recovery.firstFailureAt).toISOString();
  const evidence =
    recovery.kind === "dependency"
      ? [
          `first ${recovery.hypothesis} failure from ${recovery.host ?? "the dependency"} at ${firstFailureAt}, last at ${new Date(recovery.lastFailureAt).toISOString()}`,
          `${recovery.status ?? "2xx"} from ${recovery.host ?? "the dependency"} at ${new Date(recovery.recoveredAt).toISOString()} with the same identity`,
          "consistent with a role assignment that took this long to propagate",
        ]
      : [
          `first ${recovery.hypothesis} getToken failure at ${firstFailureAt}, last at ${new Date(recovery.lastFailureAt).toISOString()}`,
          `token issued at ${new Date(recovery.recoveredAt).toISOString()}`,
        ];
  const entry: DiagnosisLogEntry = {
    time: new Date(recovery.recoveredAt).toISOString(),
    level: "info",
    message: formatRecoveryMessage(recovery, context.credentialName),
    hypothesis: recovery.hypothesis,
    code: recovery.code,
    confidence: "high",
    evidence: evidence.map(redact),
    nextSteps: [],
    containerApp: context.containerApp,
    count: 1,
    source: "recovery",
    recovery: {
      kind: recovery.kind,
      hypothesis: recovery.hypothesis,
      code: recovery.code,
      firstFailureAt,
      lastFailureAt: new Date(recovery.lastFailureAt).toISOString(),
      recoveredAt: new Date(recovery.recoveredAt).toISOString(),
      afterMs,
      afterMinutes: minutesOf(afterMs),
      failures: recovery.failures,
    },
  };
  if (recovery.service !== undefined) entry.service = recovery.service;
  if (recovery.status !== undefined) entry.status = recovery.status;
  if (recovery.identity !== undefined) entry.identity = recovery.identity;
  if (recovery.host !== undefined) entry.host = recovery.host;
  if (context.platform !== undefined) entry.platform = context.platform;
  if (internalFaults > 0) entry.internalFaults = internalFaults;
  if (context.traceId !== undefined && context.spanId !== undefined) {
    entry.traceId = context.traceId;
    entry.spanId = context.spanId;
  }
  return entry;
}
