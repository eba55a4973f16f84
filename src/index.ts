// diagnostic-credential: the public API. Explicit named exports only; internals stay internal.
export type { Diagnosis, DiagnosisCode, DiagnosisIdentity, DiagnosisToken, Hypothesis, IdentityKind, ResponseLike } from "./diagnosis/types.js";
export { DIAGNOSIS_CODES, CredentialUnavailableErrorName, AuthenticationRequiredErrorName } from "./diagnosis/codes.js";
export type { ServiceDefinition, ServiceDefinitionInput, ErrorFingerprint, RoleAdvice, AccessModel } from "./catalog/types.js";
export { scopeForUrl } from "./catalog/resolve.js";
export { decodeTokenClaims } from "./jwt/claims.js";
export type { TokenClaims } from "./jwt/claims.js";
