import type { TokenCredential } from "@azure/core-auth";
import { getDiagnosis } from "../diagnosis/attach.js";
import type { Diagnosis } from "../diagnosis/types.js";
import { recordInternalFault } from "../util/safe.js";
import { verifications } from "../verify/verifier.js";
import { credentialInternalsOf } from "./internals.js";

/** Options of {@link verifyDiagnosis}. */
export interface VerifyDiagnosisOptions {
  /**
   * A DiagnosticCredential to verify with when no verification is under way for the diagnosis (its `verify` option
   * off, or a diagnosis of `diagnose()`): the verification then runs now, with that credential's identity.
   */
  credential?: TokenCredential;
  /** The URL of the refused request, when `failure` does not carry it (it decides the cloud and finds the resource). */
  url?: string;
}

/**
 * The verified copy of a failure's diagnosis: the one a credential with `verify` on started when it reported the
 * failure, or (with `options.credential`) one started now. `failure`: an error thrown by `getToken` or by a client
 * whose pipeline has `diagnosticPolicy`, or a Diagnosis. Resolves to undefined when there is no diagnosis or nothing
 * verifies it; never rejects. The diagnosis attached to the error is not changed: the copy carries `verification`,
 * the added `checks` (`confirmedBy: "arm"`), evidence and next steps.
 */
export function verifyDiagnosis(failure: unknown, options: VerifyDiagnosisOptions = {}): Promise<Diagnosis | undefined> {
  try {
    const diagnosis = isDiagnosis(failure) ? failure : getDiagnosis(failure);
    if (diagnosis === undefined) return Promise.resolve(undefined);
    const pending = verifications.get(diagnosis);
    if (pending !== undefined) return pending;
    const internals = credentialInternalsOf(options.credential);
    if (internals === undefined) return Promise.resolve(undefined);
    return internals.verify(diagnosis, options.url).catch((fault: unknown) => {
      recordInternalFault(fault);
      return undefined;
    });
  } catch (fault) {
    recordInternalFault(fault);
    return Promise.resolve(undefined);
  }
}

function isDiagnosis(value: unknown): value is Diagnosis {
  if (value === null || typeof value !== "object" || value instanceof Error) return false;
  const v = value as Partial<Diagnosis>;
  return typeof v.code === "string" && typeof v.hypothesis === "string" && Array.isArray(v.evidence);
}
