import type { Diagnosis } from "../diagnosis/types.js";
import type { HostEnvironment } from "../environment/hostEnvironment.js";
import type { IdentityExchange } from "./identityExchange.js";

/**
 * Transport codes that mean nothing answered at the network level: no HTTP status came back. An answer with a
 * status (even 403 from a proxy) is something on the path, not "off Azure".
 */
const NO_ANSWER_CODES = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "TIMEOUT",
  "EHOSTDOWN",
  "EADDRNOTAVAIL",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * Off Azure, where a managed-identity failure is expected (a laptop running `ChainedTokenCredential(new
 * DiagnosticCredential(), new AzureCliCredential())`): no platform's identity variables are set, so the SDK fell back
 * to IMDS, and IMDS did not answer at the network level. On any Azure host one of the two fails (the platforms inject
 * their variables; a VM's IMDS answers), so there the same failure stays an error.
 */
export function isOffAzureHost(environment: HostEnvironment): boolean {
  return (
    environment.source === "DefaultToImds" &&
    environment.identityEndpoint === undefined &&
    environment.msiEndpoint === undefined &&
    !environment.workloadIdentity &&
    environment.hostKind === "unknown" &&
    environment.appServiceName === undefined
  );
}

/** True when every identity-endpoint request of the call ended without an HTTP answer (there was at least one). */
export function noAnswerAtNetworkLevel(exchanges: readonly IdentityExchange[]): boolean {
  return (
    exchanges.length > 0 &&
    exchanges.every((exchange) => exchange.status === undefined && exchange.errorCode !== undefined && NO_ANSWER_CODES.has(exchange.errorCode))
  );
}

/**
 * What MSAL and Node put in an error's message when no HTTP answer came: MSAL's `network_error`, or a transport code.
 * Only read when the call's requests were not recorded (MSAL keeps the first credential's HTTP client per process).
 */
const NO_ANSWER_TEXT = /\bnetwork_error\b|\b(?:ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EHOSTDOWN)\b/;

function errorSaysNoAnswer(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === "object"; depth++) {
    const message = (current as { message?: unknown }).message;
    if (typeof message === "string" && NO_ANSWER_TEXT.test(message.slice(0, 4_096))) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** A failed getToken that is the expected fall-through of managed identity off Azure. */
export function isExpectedOffAzure(
  environment: HostEnvironment,
  diagnosis: Diagnosis | undefined,
  exchanges: readonly IdentityExchange[],
  error: unknown,
): boolean {
  if (diagnosis?.code !== "IdentityEndpointUnreachable" || !isOffAzureHost(environment)) return false;
  return exchanges.length > 0 ? noAnswerAtNetworkLevel(exchanges) : diagnosis.status === undefined && errorSaysNoAnswer(error);
}

/** The one info-level line of a process off Azure: what it means, and that a chain moves on. */
export function offAzureNotice(diagnosis: Diagnosis): Diagnosis {
  return {
    ...diagnosis,
    summary:
      "Managed identity is not available here: no identity variables of any Azure platform are set and IMDS did not answer at the network level (off Azure, e.g. a developer machine); a credential chain moves on to its next credential. Logged once per process",
    evidence: [...diagnosis.evidence, "off Azure: later failures of this kind in this process are not logged (they still carry their diagnosis on the error)"],
  };
}
