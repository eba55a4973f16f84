import type { DiagnosisCode, Diagnosis } from "./types.js";

/** Each code with its hypothesis and title: the one table the rest of the library reads. */
export const DIAGNOSIS_CODES: Readonly<Record<DiagnosisCode, { hypothesis: Diagnosis["hypothesis"]; title: string }>> = {
  IdentityNotAssigned: { hypothesis: "H1", title: "Managed identity not assigned to the app" },
  RoleMissingOrWrongScope: { hypothesis: "H2", title: "RBAC role missing or wrong scope" },
  WrongAudience: { hypothesis: "H3", title: "Token audience or scope wrong for the target" },
  StaleTokenOrIdentityMixup: { hypothesis: "H4", title: "Stale or expired token, or the wrong identity's token" },
  IdentityEndpointUnreachable: { hypothesis: "H5", title: "Identity endpoint unreachable or not answering" },
  NotAnIdentityProblem: { hypothesis: "not-identity", title: "Not an identity problem" },
  Unknown: { hypothesis: "unknown", title: "Unclassified authentication failure" },
};

/** Error names of the wrapped credentials that chains (ChainedTokenCredential, DefaultAzureCredential) move past. */
export const CredentialUnavailableErrorName = "CredentialUnavailableError";
/** The other such name: `@azure/identity` throws it when a credential needs an interactive sign-in. */
export const AuthenticationRequiredErrorName = "AuthenticationRequiredError";
