import type { Span } from "@opentelemetry/api";
import type { ConfiguredIdentity } from "../classify/credentialError.js";
import type { Diagnosis, ResponseLike } from "../diagnosis/types.js";
import type { LogContext } from "../logging/logEntry.js";
import { sharedSlot } from "../util/processState.js";

/**
 * What the pipeline policy, zero-config observation and the doctor need of a DiagnosticCredential. They reach it
 * through this registry, not through members of the public class, so the class's public surface is exactly its API
 * and the layers above it depend on this small interface only.
 */
export interface CredentialInternals {
  /** Logs a diagnosis and records it on telemetry and recovery tracking. `span`: our getToken span (token-time). */
  report(diagnosis: Diagnosis, context: ReportContext, span?: Span): void;
  /**
   * A 2xx answer: one field read while no dependency has an open H2 failure; otherwise it may end that episode with a
   * `[recovered]` line. `authorization`: the request's headers (`get`) or token.
   */
  noteSuccess(url: string, authorization?: unknown, status?: number): void;
  /**
   * Classifies a downstream answer seen by the policy ("response") or zero-config observation ("observed"), logs and
   * records it (unless `report` is false). The same answer seen by both is reported once.
   */
  diagnoseResponse(response: ResponseLike, token: string | undefined, source: "response" | "observed", report?: boolean): Diagnosis | undefined;
  /** Zero-config observation of a 401/403 to a request that carried a token this credential issued. */
  observeResponse(input: { url: string; status: number; headers: Record<string, string>; method?: string; token: string }): void;
  /** The identity the credential was configured for (empty: system-assigned). */
  readonly configuredIdentity: ConfiguredIdentity;
  /**
   * Verifies a diagnosis against Resource Manager now (even with the `verify` option off: an explicit ask), or joins
   * the verification already scheduled for it. Resolves to the verified copy; never rejects.
   */
  verify(diagnosis: Diagnosis, url?: string): Promise<Diagnosis>;
}

/** A log context without the fields the credential fills in itself. */
export type ReportContext = Omit<LogContext, "containerApp"> & { containerApp?: LogContext["containerApp"] };

/** Public credential object → its internals; shared by every copy of the library in the process. */
const registry = sharedSlot("credentialInternals.v1", () => new WeakMap<object, CredentialInternals>());

export function registerCredentialInternals(credential: object, internals: CredentialInternals): void {
  registry.set(credential, internals);
}

/** The internals of a DiagnosticCredential (of any copy of the library); undefined for any other value. */
export function credentialInternalsOf(credential: unknown): CredentialInternals | undefined {
  if (credential === null || (typeof credential !== "object" && typeof credential !== "function")) return undefined;
  return registry.get(credential as object);
}
