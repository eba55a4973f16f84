/**
 * The shape of a token-time failure fingerprint: how a failed `getToken` is recognised and what it means. The table
 * itself is `TOKEN_FAILURES` (tokenFailures.ts); `classifyCredentialError` runs it through the same matcher as the
 * services' fingerprints (classify/fingerprintMatch.ts). Adding an error text = adding an entry + its test.
 */
import type { IdentitySourceId } from "../hosting/identitySources.js";
import type { DiagnosisCode } from "../diagnosis/types.js";

/** The identity sources a fingerprint applies to (hosting/identitySources.ts): MSAL's, plus AKS workload identity (token exchange). */
export type TokenIdentitySource = IdentitySourceId;

/**
 * Facts about the call, beyond the error's words, that a fingerprint may require (every one listed must hold).
 * The classifier computes each from the context (exchanges, environment, scopes, configured identity, uptime);
 * classification stays pure.
 */
export type TokenFailureCondition =
  /** `getToken` got more than one scope. */
  | "several-scopes"
  /** A problem with the scope was found before the call (context.scopeFinding). */
  | "scope-finding"
  /** The scope (or the resource sent) is a known Azure or Entra audience (the service catalog's audiences). */
  | "scope-known-audience"
  /** A scope is known and it is no known audience (and no custom app's: not a GUID, not `api://…`). */
  | "scope-unknown-audience"
  /** The app selected a user-assigned identity (client, resource or object id configured or sent). */
  | "identity-selected"
  /** DiagnosticCredential's own `tokenTimeoutMs` ended the call. */
  | "timed-out"
  /** IDENTITY_ENDPOINT is set but not an http(s) URL. */
  | "endpoint-malformed"
  /** The platform sets the identity variables when an identity is assigned, and they are absent. */
  | "variables-missing"
  /** The process had been running less than `EARLY_IN_PROCESS_MS` when the call failed (context.processUptimeMs). */
  | "early-in-process"
  /** The process had been running at least `EARLY_IN_PROCESS_MS` (or its uptime is unknown). */
  | "not-early-in-process"
  /** HTTP_PROXY/HTTPS_PROXY is set and NO_PROXY does not exempt the identity endpoint's host. */
  | "proxy-intercepts"
  /** The answer does not have the identity endpoint's shape (an HTML page, 407, a bare 403): something else answered. */
  | "not-identity-answer"
  /** The request failed below HTTP (a transport code other than our own abort). */
  | "transport-failure"
  /** The error or its name speaks of a managed identity credential (its catch-all). */
  | "names-managed-identity"
  // ── AKS workload identity (context.workloadIdentity: the token file as the credential layer read it) ──────
  /** The failure is a workload identity one: Entra named an AADSTS code, or the error speaks of the exchange or the token file. */
  | "workload-failure"
  /** The projected token file does not exist (ENOENT). */
  | "token-file-missing"
  /** It exists but cannot be read (EACCES, EISDIR, …). */
  | "token-file-unreadable"
  /** It was read and is empty. */
  | "token-file-empty"
  /** It was read and is not a JWT. */
  | "token-file-not-jwt"
  /** The projected token lives longer than Entra accepts (25 h): the default service-account token, not the projected one. */
  | "token-lifetime-too-long"
  /** WorkloadIdentityCredential's "is unavailable … required": its variables are not set (the webhook did not mutate the pod). */
  | "workload-variables-missing";

/** Next steps the classifier builds for the detected platform (src/diagnosis/commands.ts). */
export type TokenStepKind =
  /** See the app's identities (platform's `identity show`). */
  | "show-identity"
  /** Assign the identity the code asks for (platform's `identity assign`). */
  | "assign-identity"
  /** Select the user-assigned identity in code. */
  | "pass-client-id"
  /** List the identity's role assignments. */
  | "list-role-assignments"
  /** Restart (new replicas); `why` replaces the sentence. */
  | "restart"
  /** List the replicas to compare. */
  | "replica-list"
  /** Run the doctor where the app runs. */
  | "doctor"
  /** Off Azure, there is no IMDS (only on an unknown host that falls back to IMDS). */
  | "off-azure"
  /** The scope to request instead (context.scopeFinding's suggestion, or the documented form). */
  | "scope-suggestion"
  /** Add the identity endpoint's host to NO_PROXY (the proxy variables named). */
  | "no-proxy"
  /** Assign the target app's app role to the identity (AADSTS501051). */
  | "app-role-assignment"
  // ── AKS workload identity: filled from the projected token's claims (classify/workloadIdentity.ts) ─────────
  /** The platform table's federated-credential command (hosting/platforms.ts, AKS workload identity), with the claims. */
  | "federated-credential-create"
  /** List the identity's federated credentials. */
  | "federated-credential-list"
  /** The cluster's OIDC issuer URL (`az aks show`). */
  | "aks-oidc-issuer"
  /** The service account's client-id annotation (`kubectl`). */
  | "kubectl-service-account"
  /** The pod's `azure.workload.identity/use` label (`kubectl`). */
  | "kubectl-pod-label"
  /** Find the identity of AZURE_CLIENT_ID and its tenant. */
  | "identity-client-id"
  /** The issuer's OIDC discovery document (`curl`). */
  | "oidc-discovery";

/** One next step: a named kind (a command for the platform), or a sentence template. */
export type TokenStep = { kind: TokenStepKind; why?: string } | { text: string };

/**
 * The check the deciding fingerprint adds after the shared ones (identity variables, identity endpoint). Templates
 * as in `summary`. `onlyIfNone`: added only when the shared checks hold no check of this kind.
 */
export interface TokenFailureCheck {
  kind: "identity-assignment" | "scope" | "identity-endpoint" | "identity-variables" | "role";
  expected?: string;
  actual: string;
  confirmedBy?: "answer" | "environment";
  onlyIfNone?: boolean;
}

/** The part of a federated credential that did not match the assertion, when Entra's answer says which. */
export type FederatedCredentialMismatch = "issuer" | "subject" | "audience" | "any";

/**
 * One recognisable token-time failure. Matching: every field that is set must match (status, error code, transport
 * code, message, sources, conditions); the first entry of the table that matches decides (data order is the
 * precedence, tested in test/classify/precedence.test.ts).
 *
 * Templates (`summary`, `check`, step `text`/`why`) take `{placeholders}` the classifier fills: `{who}` (credential
 * name), `{scope}`, `{scopes}`, `{selector}` ("clientId …" or "the system-assigned identity"), `{requested}`,
 * `{endpoint}` ("The identity endpoint host/path"), `{status}`, `{attempts}` (" on N attempts" or ""),
 * `{transportCode}`, `{transportMeaning}`, `{attemptCount}` ("6 attempts"), `{retryAfter}`,
 * `{earlyWindow}` ("30 s"), `{proxy}` (the variable and its value, redacted), `{proxyHost}`, `{noProxy}`,
 * `{timedOutAfterMs}`, `{suggestion}`, `{scopeExplanation}`, `{platform}`, `{appName}`, `{errorLine}`, and the
 * named groups of `message`. An unknown placeholder prints as `<name>`. A summary stays the same for repeats of one
 * failure (logs fold repeats by it): what changes per call (the uptime, how long it retried) goes to the evidence.
 *
 * Entries whose only source is `WorkloadIdentity` are failures of the Entra exchange, not of an identity endpoint:
 * their evidence and checks describe the exchange (the workload identity variables, the projected token's claims,
 * Entra's answers), and their templates take `{who}` (default WorkloadIdentityCredential), `{clientId}`, `{tenantId}`,
 * `{iss}`, `{sub}`, `{aud}`, `{file}`, `{lifetime}` and `{aadsts}` (the AADSTS number) instead.
 */
export interface TokenFailureFingerprint {
  /** Stable id: the rule is `token-time.<rule ?? id>`. */
  id: string;
  /** The rule's name when several entries are one rule (the same meaning seen in the text or in the context). */
  rule?: string;
  /** The diagnosis this failure means; its hypothesis follows from the code. */
  code: DiagnosisCode;
  confidence: "high" | "medium" | "low";
  /** Identity sources this failure is seen on; absent: all. Unknown source (no environment given): all. */
  sources?: TokenIdentitySource[];
  /** HTTP status of the identity endpoint's (or Entra's) answer, or one of several. */
  status?: number | number[];
  /** Error codes, case-insensitive: the error's `code`/`errorCode`, OAuth codes (`invalid_scope`) and `AADSTS…` codes in the text. */
  errorCode?: string | string[];
  /** Transport codes of the failed request (ECONNREFUSED, ETIMEDOUT, …). */
  transportCode?: string | string[];
  /** Matched against the folded text (messages of the error and its causes, the answers' bodies); by meaning, `i` flag. */
  message?: RegExp;
  /** Facts about the call that must hold (see TokenFailureCondition). */
  when?: TokenFailureCondition[];
  /** Workload identity: the part of the federated credential that did not match (named in the evidence, checked). */
  mismatch?: FederatedCredentialMismatch;
  /** One line explaining what this failure means (docs, tests). */
  meaning: string;
  /** The diagnosis's summary (template). */
  summary: string;
  /** The check this fingerprint adds. */
  check?: TokenFailureCheck;
  /** The next steps, in order; the platform's commands come from the named kinds. */
  nextSteps: TokenStep[];
}
