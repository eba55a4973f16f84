import { hostOf } from "../catalog/resolve.js";
import type { Diagnosis, DiagnosisIdentity } from "../diagnosis/types.js";
import { redact } from "../diagnosis/redact.js";

/** One log line, as API.md fixes it. Written as one JSON object per line. */
export interface DiagnosisLogEntry {
  time: string;
  level: "error" | "warn" | "info";
  /** Starts with `DiagnosticCredential [H2 RoleMissingOrWrongScope]`; names the status and host. */
  message: string;
  hypothesis: Diagnosis["hypothesis"];
  code: Diagnosis["code"];
  confidence: Diagnosis["confidence"];
  service?: string;
  status?: number;
  errorCode?: string;
  identity?: DiagnosisIdentity;
  evidence: string[];
  nextSteps: string[];
  containerApp: { name?: string; revision?: string; replica?: string };
  /** How many times this diagnosis happened since it was last written (repeats are folded). */
  count: number;
  /** Where the diagnosis came from: "getToken", "token-check", "identity-endpoint", "response", "diagnose". */
  source?: string;
  /** The target host of a downstream failure. */
  host?: string;
  /** Swallowed internal faults so far: present only when not zero. */
  internalFaults?: number;
}

export interface LogContext {
  level: DiagnosisLogEntry["level"];
  source: string;
  url?: string;
  credentialName?: string;
  errorName?: string;
  containerApp: DiagnosisLogEntry["containerApp"];
}

const STATUS_TEXT: Record<number, string> = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable" };

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
  const host = context.url !== undefined ? hostOf(context.url) : undefined;
  if (host !== undefined) entry.host = host;
  if (internalFaults > 0) entry.internalFaults = internalFaults;
  return entry;
}
