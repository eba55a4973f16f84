/**
 * The credential the smoke test asks for tokens: the given DiagnosticCredential as is, any other TokenCredential
 * wrapped in one, or the one the app would make (`new DiagnosticCredential(clientId)`), and the identity it means.
 */
import type { TokenCredential } from "@azure/core-auth";
import type { ConfiguredIdentity } from "../classify/credentialError.js";
import { DiagnosticCredential } from "../credential/diagnosticCredential.js";
import { credentialInternalsOf } from "../credential/internals.js";
import type { SmokeTestOptions } from "./types.js";
import { safeCall } from "./util.js";

/** A DiagnosticCredential of any copy of the library (CJS and ESM in one app): it is in the process-wide registry. */
function isDiagnosticCredential(credential: TokenCredential): credential is DiagnosticCredential {
  return credentialInternalsOf(credential) !== undefined;
}

/** The credential to test, the identity it is meant to be (what the token checks compare with) and its name for messages. */
export function makeCredential(
  options: SmokeTestOptions,
  timeoutMs: number,
): { credential: TokenCredential; configured: ConfiguredIdentity; credentialName: string } {
  const clientId = typeof options.clientId === "string" && options.clientId.length > 0 ? options.clientId : undefined;
  const logger = options.logger ?? false;
  const verification = {
    ...(options.verify !== undefined && options.verify !== false ? { verify: options.verify } : {}),
    ...(options.resourceManagerEndpoint !== undefined ? { resourceManagerEndpoint: options.resourceManagerEndpoint } : {}),
  };
  if (options.credential !== undefined && options.credential !== null) {
    if (isDiagnosticCredential(options.credential)) {
      const known = safeCall(() => credentialInternalsOf(options.credential)?.configuredIdentity, undefined);
      const configured: ConfiguredIdentity = { ...(known ?? {}) };
      if (clientId !== undefined && configured.clientId === undefined) configured.clientId = clientId;
      return { credential: options.credential, configured, credentialName: "DiagnosticCredential" };
    }
    const configured: ConfiguredIdentity = clientId !== undefined ? { clientId } : {};
    return {
      credential: new DiagnosticCredential({
        credential: options.credential,
        ...(clientId !== undefined ? { clientId } : {}),
        logger,
        tokenTimeoutMs: timeoutMs,
        services: options.services ?? [],
        ...verification,
      }),
      configured,
      credentialName: options.credential.constructor?.name || "TokenCredential",
    };
  }
  const configured: ConfiguredIdentity = clientId !== undefined ? { clientId } : {};
  return {
    credential: new DiagnosticCredential({
      ...(clientId !== undefined ? { clientId } : {}),
      logger,
      tokenTimeoutMs: timeoutMs,
      services: options.services ?? [],
      // A smoke test wants an answer, not the full back-off (which is 5–20 s for a refused or failing endpoint).
      retryOptions: { maxRetries: 2 },
      ...verification,
    }),
    configured,
    credentialName: "ManagedIdentityCredential",
  };
}
