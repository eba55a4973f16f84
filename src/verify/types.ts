import type { TokenCredential } from "@azure/core-auth";
import type { HttpClient } from "@azure/core-rest-pipeline";

/**
 * Options of verification against Azure Resource Manager (`verify: true` or `verify: { … }` on DiagnosticCredential;
 * `--verify` on the doctor). Off by default. docs/verification.md says what it reads and what it costs.
 */
export interface VerifyOptions {
  /** Upper bound on one verification (token for Resource Manager and every read), in milliseconds. Default 5,000. */
  timeoutMs?: number;
  /** Resource Manager calls per minute, for the whole process (every credential together). Default 20. */
  maxCallsPerMinute?: number;
  /** Resource Manager calls for one diagnosis. Default 8. */
  maxCallsPerDiagnosis?: number;
  /** How long a verdict is reused for the same identity, scope and operation, in milliseconds. Default 300,000. */
  cacheTtlMs?: number;
  /**
   * The identity that reads Resource Manager. Default: the wrapped credential (the app's own identity); for an
   * identity that is not attached (H1), which can get no token, the host's system-assigned identity.
   */
  credential?: TokenCredential;
  /** The HTTP client of the reads. Default: `createDefaultHttpClient()` of @azure/core-rest-pipeline. */
  httpClient?: HttpClient;
}

/** VerifyOptions with every default filled in. */
export interface ResolvedVerifyOptions {
  timeoutMs: number;
  maxCallsPerMinute: number;
  maxCallsPerDiagnosis: number;
  cacheTtlMs: number;
  credential?: TokenCredential;
  httpClient?: HttpClient;
  resourceManagerEndpoint?: string;
}

const positive = (value: unknown, fallback: number): number => (typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : fallback);

/** The `verify` option resolved: undefined when verification is off (the default). */
export function resolveVerifyOptions(verify: unknown, resourceManagerEndpoint: string | undefined): ResolvedVerifyOptions | undefined {
  if (verify === undefined || verify === false || verify === null) return undefined;
  const given: VerifyOptions = typeof verify === "object" ? (verify as VerifyOptions) : {};
  return {
    timeoutMs: positive(given.timeoutMs, 5_000),
    maxCallsPerMinute: positive(given.maxCallsPerMinute, 20),
    maxCallsPerDiagnosis: positive(given.maxCallsPerDiagnosis, 8),
    cacheTtlMs: positive(given.cacheTtlMs, 300_000),
    ...(given.credential ? { credential: given.credential } : {}),
    ...(given.httpClient ? { httpClient: given.httpClient } : {}),
    ...(resourceManagerEndpoint ? { resourceManagerEndpoint } : {}),
  };
}
