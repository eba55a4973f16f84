// diagnostic-credential: the public API. Explicit named exports only; internals stay internal.

// The credential
export { DiagnosticCredential } from "./credential/diagnosticCredential.js";
export type { DiagnosticCredentialOptions } from "./credential/options.js";
export type { IdentityExchange } from "./diagnosis/identityExchange.js";

// Verification against Azure Resource Manager (option `verify`, docs/verification.md)
export { verifyDiagnosis } from "./credential/verification.js";
export type { VerifyDiagnosisOptions } from "./credential/verification.js";
export type { VerifyOptions } from "./verify/types.js";

// Downstream diagnosis: pipeline policy, HttpClient wrapper, lookup
export { diagnosticPolicy, diagnosticHttpClient } from "./pipeline/diagnosticPolicy.js";
export type { DiagnosticHttpClient, LegacyWebResourceLike, LegacyResponseLike, LegacyHttpHeadersLike } from "./pipeline/legacyHttp.js";
export { getDiagnosis } from "./diagnosis/attach.js";

// Pure classification
export { classifyCredentialError } from "./classify/credentialError.js";
export type { CredentialErrorContext, ConfiguredIdentity, ScopeFinding } from "./classify/credentialError.js";
export { classifyResponse } from "./classify/response.js";
export type { ClassifyContext } from "./classify/response.js";

// The Diagnosis shape and its codes
export type {
  Diagnosis,
  DiagnosisCode,
  DiagnosisIdentity,
  DiagnosisToken,
  DiagnosisRule,
  DiagnosisCheck,
  CheckVerdict,
  CheckConfirmation,
  Hypothesis,
  IdentityKind,
  ResponseLike,
  DiagnosisVerification,
  VerificationOutcome,
} from "./diagnosis/types.js";
export { CHECK_KINDS, RULE_SOURCES } from "./diagnosis/findings.js";
export type { CheckKind } from "./diagnosis/findings.js";
export { DIAGNOSIS_CODES, CredentialUnavailableErrorName, AuthenticationRequiredErrorName } from "./diagnosis/codes.js";

// The service catalog
export type { ServiceDefinition, ServiceDefinitionInput, ErrorFingerprint, RoleAdvice, AccessModel, QuotedFact, QuotedFactKind } from "./catalog/types.js";
export { scopeForUrl } from "./catalog/resolve.js";
export { SERVICE_CATALOG } from "./catalog/services.js";

// Tokens, logs, telemetry names, self-monitoring
export { decodeTokenClaims } from "./jwt/claims.js";
export type { TokenClaims } from "./jwt/claims.js";
export type { DiagnosisLogEntry } from "./logging/logEntry.js";
export {
  METRIC_DIAGNOSES,
  METRIC_GET_TOKEN_DURATION,
  METRIC_RECOVERY_DURATION,
  SPAN_GET_TOKEN,
  EVENT_DIAGNOSIS,
  EVENT_RECOVERED,
  SPAN_VERIFY,
  EVENT_VERIFIED,
  ERROR_TYPES as TELEMETRY_ERROR_TYPES,
  ATTR as TELEMETRY_ATTRIBUTES,
} from "./telemetry/telemetry.js";
export { getInternalFaultCount } from "./util/safe.js";

// Smoke test (what `diagnostic-credential doctor` runs): environment, identity endpoint, tokens, dependencies
export { runSmokeTest, DEFAULT_SMOKE_TEST_SCOPE, DEFAULT_SMOKE_TEST_TIMEOUT_MS } from "./doctor/smokeTest.js";
export type {
  SmokeTestOptions,
  SmokeTestDependency,
  SmokeTestProgress,
  SmokeTestReport,
  SmokeTestEnvironment,
  SmokeTestContainerApp,
  SmokeTestIdentityEndpoint,
  SmokeTestToken,
  SmokeTestTokenClaims,
  SmokeTestDependencyResult,
} from "./doctor/smokeTest.js";

// Types that public signatures reference
export type { HostEnvironment, IdentitySource, ContainerAppContext } from "./environment/hostEnvironment.js";
export type { RecoveryLogFields, LogContext } from "./logging/logEntry.js";
export type { FailureProtocol, OperationAction, RoleCondition, ScopeHint, ServiceProbeRule } from "./catalog/types.js";
