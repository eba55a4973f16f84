/**
 * Token-time failures as data: how a failed `getToken` is recognised (status, error code, transport code, text by
 * meaning, identity source, facts of the call) and what it means. The first entry that matches decides: the order
 * below IS the precedence (test/classify/precedence.test.ts). Shape: tokenFailureTypes.ts.
 *
 * The real texts each entry was written from are cited beside their fixtures in test/classify/token-failures.test.ts.
 *
 * Order, in short: AKS workload identity's entries first (workloadIdentityFailures.ts, `sources: ["WorkloadIdentity"]`:
 * Entra's AADSTS answer to the exchange names the cause exactly; the token file's problem); then the scope (H3)
 * explains "multiple scopes" and AADSTS500011 whatever else happened; then what Entra or the endpoint said about the
 * identity (H1, H2, H4); then our own deadline and the environment; then who answered (a proxy, something that is
 * not the endpoint); then the transport; then bare statuses; then the catch-all.
 */
import type { TokenFailureFingerprint } from "./tokenFailureTypes.js";
import { WORKLOAD_IDENTITY_FAILURES } from "./workloadIdentityFailures.js";

/** Before this much process uptime, a refused identity endpoint is "not ready yet" rather than "never reachable". */
export const EARLY_IN_PROCESS_MS = 30_000;

const SHOW: TokenFailureFingerprint["nextSteps"][number] = { kind: "show-identity" };
const ASSIGN: TokenFailureFingerprint["nextSteps"][number] = { kind: "assign-identity" };
const ROLES: TokenFailureFingerprint["nextSteps"][number] = { kind: "list-role-assignments" };
const DOCTOR: TokenFailureFingerprint["nextSteps"][number] = { kind: "doctor" };
const H5_STEPS: TokenFailureFingerprint["nextSteps"] = [
  DOCTOR,
  { kind: "off-azure" },
  { kind: "restart", why: "Restart the app (a fault local to one instance, in its identity endpoint or its network, clears with new instances)" },
  { kind: "replica-list", why: "If other instances get tokens, the fault is local to this one; list them to compare" },
];

/** The ambiguous App Service / Functions / Container Apps answer (two causes: unknown client id, unknown audience). */
const UNEXPECTED_500 = /unexpected error occur+ed while fetching the aad token/i;

export const TOKEN_FAILURES: readonly TokenFailureFingerprint[] = [
  // ── AKS workload identity: the Entra exchange and the projected token file ─────────────────────────────────
  ...WORKLOAD_IDENTITY_FAILURES,

  // ── H3: the scope ──────────────────────────────────────────────────────────────────────────────────────────
  {
    id: "multiple-scopes",
    code: "WrongAudience",
    confidence: "high",
    message: /multiple scopes are not supported/i,
    meaning: "ManagedIdentityCredential takes exactly one scope; it was given several",
    summary: "{who} was asked for several scopes ({scopes}); a managed identity token has exactly one audience",
    check: { kind: "scope", expected: "exactly one scope", actual: "{scopes}", confirmedBy: "answer" },
    nextSteps: [{ text: "Request one scope per token: the target service's `<audience>/.default`" }, { kind: "scope-suggestion" }],
  },
  {
    id: "multiple-scopes.requested",
    rule: "multiple-scopes",
    code: "WrongAudience",
    confidence: "high",
    when: ["several-scopes"],
    meaning: "getToken was called with several scopes",
    summary: "{who} was asked for several scopes ({scopes}); a managed identity token has exactly one audience",
    check: { kind: "scope", expected: "exactly one scope", actual: "{scopes}" },
    nextSteps: [{ text: "Request one scope per token: the target service's `<audience>/.default`" }, { kind: "scope-suggestion" }],
  },
  {
    id: "unknown-resource",
    code: "WrongAudience",
    confidence: "high",
    errorCode: "AADSTS500011",
    meaning: "Entra ID has no service principal for the resource asked for: wrong audience for this tenant or cloud",
    summary: "Entra ID does not know the resource in scope {scope} (AADSTS500011): the audience is wrong for this tenant or cloud",
    check: { kind: "scope", expected: "{suggestion}", actual: "{scope}", confirmedBy: "answer" },
    nextSteps: [{ kind: "scope-suggestion" }, { text: "Check the cloud: China and US Government services have their own audiences" }],
  },
  {
    id: "unknown-resource.text",
    rule: "unknown-resource",
    code: "WrongAudience",
    confidence: "high",
    // The resource is a URI (no spaces): bounded, so the scan stays linear on hostile text.
    message: /resource principal named \S{1,500} was not found/i,
    meaning: "AADSTS500011's words without its code",
    summary: "Entra ID does not know the resource in scope {scope} (AADSTS500011): the audience is wrong for this tenant or cloud",
    check: { kind: "scope", expected: "{suggestion}", actual: "{scope}", confirmedBy: "answer" },
    nextSteps: [{ kind: "scope-suggestion" }, { text: "Check the cloud: China and US Government services have their own audiences" }],
  },
  {
    id: "invalid-scope",
    code: "WrongAudience",
    confidence: "high",
    errorCode: ["invalid_scope", "AADSTS70011"],
    meaning: "Entra ID rejected the scope itself (invalid_scope / AADSTS70011): not a valid `<audience>/.default`",
    summary: "Entra ID rejected the scope {scope} as invalid (invalid_scope / AADSTS70011): a managed identity can only ask for `<audience>/.default`",
    check: { kind: "scope", expected: "{suggestion}", actual: "{scope}", confirmedBy: "answer" },
    nextSteps: [{ kind: "scope-suggestion" }, { text: "A managed identity gets app-only tokens: no delegated scopes such as User.Read or openid" }],
  },

  // ── what Entra ID or the endpoint said about the identity (H1, H2, H4) ───────────────────────────────────
  {
    id: "multiple-user-assigned",
    code: "IdentityNotAssigned",
    confidence: "high",
    message: /multiple user assigned identities exist/i,
    meaning: "the host has several user-assigned identities and the request chose none",
    summary: 'The host has several user-assigned identities and the code chose none ("Multiple user assigned identities exist")',
    check: {
      kind: "identity-assignment",
      expected: "a selected user-assigned identity",
      actual: "several user-assigned identities, none selected",
      confirmedBy: "answer",
    },
    nextSteps: [{ kind: "pass-client-id" }, SHOW, ROLES],
  },
  {
    id: "identity-not-found",
    code: "IdentityNotAssigned",
    confidence: "high",
    message:
      /identity not found|no msi found|unable to load the proper managed identity|no managed identity (was )?found|managed identity is not (enabled|assigned)|requested identity has not been assigned|identity (is )?not assigned to this resource/i,
    meaning: "the identity endpoint knows no such identity on this host",
    summary: "{notFoundSummary}",
    check: { kind: "identity-assignment", expected: "{requested}", actual: "not found by the identity endpoint", confirmedBy: "answer" },
    nextSteps: [SHOW, ASSIGN, { kind: "pass-client-id" }, ROLES],
  },
  {
    id: "scope-rejected",
    code: "WrongAudience",
    confidence: "medium",
    status: 400,
    when: ["scope-finding"],
    meaning: "the identity endpoint answered 400 to a scope already found wrong before the call",
    summary: "The identity endpoint rejected the token request for scope {findingScope}: {scopeExplanation}",
    check: { kind: "scope", expected: "{suggestion}", actual: "{findingScope}", confirmedBy: "answer" },
    nextSteps: [{ kind: "scope-suggestion" }],
  },
  {
    id: "app-role-required",
    code: "RoleMissingOrWrongScope",
    confidence: "high",
    errorCode: "AADSTS501051",
    // "Application '{appId}'({appName}) is not assigned to a role for the application '{resourceId}'({resourceName})."
    message:
      /application '(?<clientAppId>[^'\s]{1,200})' ?(?:\((?<clientAppName>[^()]{0,200})\))? is not assigned to a role for the application '(?<targetAppId>[^'\s]{1,300})' ?(?:\((?<targetAppName>[^()]{0,200})\))?/i,
    meaning: "the target app requires an app role assignment and the identity has none: an authorization failure (H2) raised at token time",
    summary:
      "Entra ID refused the token (AADSTS501051): the identity {clientApp} is not assigned to an app role of the target app {targetApp}, which requires one; this is an authorization failure raised at token time",
    check: { kind: "role", expected: "an app role of {targetApp}", actual: "no app role assigned to {clientApp}", confirmedBy: "answer" },
    nextSteps: [
      { kind: "app-role-assignment" },
      { text: "Or, if the target app should not require assignment, set 'Assignment required' to No on its enterprise application" },
    ],
  },
  {
    id: "app-role-required.code",
    rule: "app-role-required",
    code: "RoleMissingOrWrongScope",
    confidence: "high",
    errorCode: "AADSTS501051",
    meaning: "AADSTS501051 in other words (the app ids not quoted)",
    summary:
      "Entra ID refused the token (AADSTS501051): the identity is not assigned to an app role of the target app of scope {scope}, which requires one; this is an authorization failure raised at token time",
    check: { kind: "role", expected: "an app role of the target app", actual: "no app role assigned", confirmedBy: "answer" },
    nextSteps: [
      { kind: "app-role-assignment" },
      { text: "Or, if the target app should not require assignment, set 'Assignment required' to No on its enterprise application" },
    ],
  },
  {
    id: "arc-identity-not-confirmed",
    code: "StaleTokenOrIdentityMixup",
    confidence: "high",
    sources: ["AzureArc"],
    errorCode: "user_assigned_managed_identity_not_confirmed",
    meaning: "Azure Arc answered with another identity than the user-assigned one asked for: msal fails closed (identity mix-up)",
    summary:
      "Azure Arc did not confirm the user-assigned identity {requested}: the agent answered for another identity (identity mix-up), so the token was refused",
    check: { kind: "identity-assignment", expected: "{requested}", actual: "another identity (not confirmed by the Arc agent)", confirmedBy: "answer" },
    nextSteps: [
      {
        text: 'See which identities the Arc machine has: az connectedmachine show --name "$MACHINE_NAME" --resource-group "$RG" --query identity --output json',
      },
      {
        text: "Arc machines have one system-assigned identity: use it (no clientId in code), or attach the user-assigned identity if your Arc agent version supports it",
      },
    ],
  },
  {
    // msal-node before the Arc user-assigned support (3.x, @azure/identity ≤ 4.10) refuses it before any request.
    id: "arc-user-assigned-unsupported",
    code: "IdentityNotAssigned",
    confidence: "high",
    sources: ["AzureArc"],
    message: /Azure Arc Managed Identities can only be system assigned/i,
    meaning: "the Azure SDK in use supports only the system-assigned identity on Azure Arc, and the code asked for a user-assigned one",
    summary:
      "{who} refused the user-assigned identity {requested} before any request: this version of the Azure SDK (msal-node) supports only the Arc machine's system-assigned identity",
    check: {
      kind: "identity-assignment",
      expected: "{requested}",
      actual: "not available on Azure Arc with this SDK version (system-assigned only)",
      confirmedBy: "answer",
    },
    nextSteps: [
      {
        text: "Use the machine's system-assigned identity (no clientId, resourceId or objectId in code), or upgrade @azure/identity (and msal-node) to a version that supports user-assigned identities on Arc",
      },
      {
        text: 'See which identities the Arc machine has: az connectedmachine show --name "$MACHINE_NAME" --resource-group "$RG" --query identity --output json',
      },
    ],
  },
  {
    id: "unexpected-500.unknown-audience",
    rule: "unknown-audience",
    code: "WrongAudience",
    confidence: "medium",
    status: 500,
    message: UNEXPECTED_500,
    when: ["scope-unknown-audience"],
    meaning: 'the endpoint\'s 500 "unexpected error … AAD Token" for a scope that is no Azure or Entra audience',
    summary:
      'The identity endpoint could not get a token for scope {scope} (500 "unexpected error occured while fetching the AAD Token"): {scope} is not an audience Entra ID issues managed-identity tokens for',
    check: { kind: "scope", expected: "a known audience's `/.default`", actual: "{scope}", confirmedBy: "answer" },
    nextSteps: [
      { kind: "scope-suggestion" },
      { text: "Only Entra ID-protected resources take managed-identity tokens; a third-party API (api.openai.com…) needs its own key" },
    ],
  },
  {
    id: "identity-not-attached",
    code: "IdentityNotAssigned",
    confidence: "high",
    status: 500,
    message: UNEXPECTED_500,
    when: ["identity-selected"],
    meaning: 'the endpoint\'s 500 "unexpected error … AAD Token" for a known audience and a user-assigned identity: that identity is not attached',
    summary:
      'The identity endpoint could not issue a token for {selectorOrRequested} (500 "unexpected error occured while fetching the AAD Token"): that user-assigned identity is not attached to this app',
    check: {
      kind: "identity-assignment",
      expected: "{requested}",
      actual: "HTTP 500 unexpected error fetching the token (not attached)",
      confirmedBy: "answer",
    },
    nextSteps: [
      SHOW,
      ASSIGN,
      { text: "Compare the client id in code with the identity's own: az identity show --ids <identity-resource-id> --query clientId" },
      ROLES,
    ],
  },

  // ── our deadline, the environment ──────────────────────────────────────────────────────────────────────────
  {
    id: "timeout",
    code: "IdentityEndpointUnreachable",
    confidence: "high",
    when: ["timed-out"],
    meaning: "DiagnosticCredential's own deadline ended the call",
    summary: "{who} got no token within {timedOutAfterMs} ms: the identity endpoint {identityEndpoint} {timeoutMeaning}",
    check: { kind: "identity-endpoint", expected: "HTTP 200", actual: "no answer within {timedOutAfterMs} ms", confirmedBy: "answer", onlyIfNone: true },
    nextSteps: H5_STEPS,
  },
  {
    id: "endpoint-malformed",
    code: "IdentityEndpointUnreachable",
    confidence: "high",
    when: ["endpoint-malformed"],
    meaning: "IDENTITY_ENDPOINT is not an http(s) URL",
    summary: "IDENTITY_ENDPOINT is not a valid http(s) URL, so no token request can be made",
    nextSteps: H5_STEPS,
  },
  {
    id: "identity-variables-missing",
    code: "IdentityNotAssigned",
    confidence: "high",
    sources: ["DefaultToImds"],
    when: ["variables-missing"],
    meaning: "the platform sets IDENTITY_ENDPOINT only when an identity is assigned: without it the SDK falls back to IMDS, which the platform does not serve",
    summary: "This is {platform} ({appName}) but IDENTITY_ENDPOINT is not set: the platform sets it only when a managed identity is assigned",
    check: {
      kind: "identity-assignment",
      expected: "{requested}",
      actual: "no identity assigned (IDENTITY_ENDPOINT not set on {platform})",
      confirmedBy: "environment",
    },
    nextSteps: [SHOW, ASSIGN, { text: "Restart or redeploy after assigning: running replicas keep the environment they started with" }, ROLES],
  },

  // ── who answered: a proxy, a firewall, a sidecar ───────────────────────────────────────────────────────────
  {
    id: "proxy-intercepts",
    code: "IdentityEndpointUnreachable",
    confidence: "high",
    when: ["proxy-intercepts", "not-identity-answer"],
    meaning: "the proxy of HTTP(S)_PROXY answered instead of the identity endpoint (NO_PROXY does not exempt it)",
    summary:
      "{endpoint} was not reached: the request went to the proxy {proxy} (NO_PROXY does not list {proxyHost}), and the proxy answered {answer}. The identity endpoint must be called directly",
    check: {
      kind: "identity-endpoint",
      expected: "an answer from the identity endpoint itself",
      actual: "{answer} from the proxy {proxy}",
      confirmedBy: "answer",
    },
    nextSteps: [{ kind: "no-proxy" }, DOCTOR],
  },
  {
    id: "proxy-set.transport",
    rule: "proxy-intercepts",
    code: "IdentityEndpointUnreachable",
    confidence: "medium",
    when: ["proxy-intercepts", "transport-failure"],
    meaning: "the request to the identity endpoint went through a proxy and failed there",
    summary:
      "{endpoint} {transportMeaning} ({transportCode}), and the request went through the proxy {proxy} (NO_PROXY does not list {proxyHost}): the identity endpoint must be called directly",
    nextSteps: [{ kind: "no-proxy" }, DOCTOR],
  },
  {
    id: "not-identity-answer",
    code: "IdentityEndpointUnreachable",
    confidence: "medium",
    when: ["not-identity-answer"],
    meaning: "something other than the identity endpoint answered (a firewall, a sidecar, a transparent proxy)",
    summary:
      "{endpoint} answered {answer}, which is not an answer of the identity endpoint: a firewall, a sidecar or a transparent proxy sits on the way (IMDS answers with its own JSON)",
    check: {
      kind: "identity-endpoint",
      expected: "an answer from the identity endpoint itself",
      actual: "{answer} (not the identity endpoint's shape)",
      confirmedBy: "answer",
    },
    nextSteps: [
      DOCTOR,
      {
        text: "Let the host reach 169.254.169.254 (IMDS) or IDENTITY_ENDPOINT directly: no egress firewall rule, sidecar or proxy may intercept link-local or localhost traffic",
      },
    ],
  },

  // ── the transport ──────────────────────────────────────────────────────────────────────────────────────────
  {
    id: "endpoint-not-ready",
    code: "IdentityEndpointUnreachable",
    confidence: "medium",
    transportCode: "ECONNREFUSED",
    when: ["early-in-process"],
    meaning: "the identity endpoint refused connections in the first seconds of the process: not ready yet (a start-up race), not never reachable",
    summary:
      "{endpoint} refused the connection (ECONNREFUSED) within the first {earlyWindow} of the process: in the first seconds of a replica the endpoint is often not ready yet (it starts beside the app), which is not the same as never reachable",
    nextSteps: [
      {
        text: "Retry token requests during start-up (the Azure SDK's retries may end before the endpoint is up), or delay the first call until the app is ready",
      },
      {
        kind: "restart",
        why: "An identity added after the revision was created is not visible to it: create a new revision (or restart) so its replicas get the identity variables",
      },
      DOCTOR,
    ],
  },
  {
    id: "transport-error",
    code: "IdentityEndpointUnreachable",
    confidence: "high",
    when: ["transport-failure"],
    meaning: "the request to the identity endpoint failed below HTTP",
    summary: "{endpoint} {transportMeaning} ({transportCode}){neverReachable}",
    nextSteps: H5_STEPS,
  },
  {
    id: "gateway-error",
    code: "IdentityEndpointUnreachable",
    confidence: "medium",
    message: /failed due to a gateway error|bad gateway|gateway time-?out/i,
    meaning: "a proxy or gateway answered for the identity endpoint (502/504): IMDS does not support calls through a proxy or gateway",
    summary: "{endpoint} was answered by a gateway ({errorLine}): calls to the identity endpoint through a proxy or gateway are not supported",
    check: {
      kind: "identity-endpoint",
      expected: "an answer from the identity endpoint itself",
      actual: "a gateway's error",
      confirmedBy: "answer",
      onlyIfNone: true,
    },
    nextSteps: [{ kind: "no-proxy" }, DOCTOR],
  },
  {
    id: "no-response",
    code: "IdentityEndpointUnreachable",
    confidence: "medium",
    message: /no response (was )?(received|from)|did not respond|connect(ion)? timed out|timed out|request timeout|ETIMEDOUT/i,
    meaning: "the identity endpoint did not answer in time (other SDKs' words: no response received, connect timed out)",
    summary: "{endpoint} did not answer: the request timed out or got no response",
    check: { kind: "identity-endpoint", expected: "HTTP 200", actual: "no response", confirmedBy: "answer", onlyIfNone: true },
    nextSteps: H5_STEPS,
  },
  {
    id: "network-error",
    code: "IdentityEndpointUnreachable",
    confidence: "medium",
    message:
      /network[_ ]error|network (is )?unreachable|unreachable (network|host)|socket operation was attempted|connection refused|connection reset|cannot be established|(could not|unable to) connect|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH/i,
    meaning: "a network failure reaching the identity endpoint, as the error words it (MSAL discards the code)",
    summary: "{endpoint} could not be reached (network error)",
    check: { kind: "identity-endpoint", expected: "HTTP 200", actual: "network error", confirmedBy: "answer", onlyIfNone: true },
    nextSteps: H5_STEPS,
  },
  {
    id: "no-endpoint",
    code: "IdentityEndpointUnreachable",
    confidence: "medium",
    message:
      /no managed identity endpoint (was )?found|all managed identity sources are unavailable|managed identity (endpoint|source)s? (is |are )?(not available|unavailable)|no (available )?managed identity (endpoint|source)/i,
    meaning: "no identity endpoint answered at all: not on an Azure host with managed identity (or its endpoint is blocked)",
    summary: "No managed identity endpoint answered ({errorLine}): this host offers no managed identity, or its endpoint is blocked",
    check: { kind: "identity-endpoint", expected: "an identity endpoint that answers", actual: "none found", confirmedBy: "answer", onlyIfNone: true },
    nextSteps: [DOCTOR, { kind: "off-azure" }, SHOW, ASSIGN],
  },

  // ── bare statuses of the identity endpoint ─────────────────────────────────────────────────────────────────
  {
    id: "imds-upgrading",
    code: "IdentityEndpointUnreachable",
    confidence: "high",
    status: 410,
    meaning: "IMDS answers 410 Gone while it is being upgraded; clients should retry for at least 70 s (transient)",
    summary:
      "{endpoint} answered 410 Gone: IMDS is being upgraded, which is transient (clients should retry for at least 70 s); the credential gave up after {attemptCount}",
    nextSteps: [{ text: "Retry the token request for at least 70 s (retryOptions: { maxRetries, maxRetryDelayInMs }); this clears without a change" }, DOCTOR],
  },
  {
    id: "throttled",
    code: "IdentityEndpointUnreachable",
    confidence: "high",
    status: 429,
    meaning: "the identity endpoint throttles: too many token requests at once (a convoy of cold getToken calls without single-flight)",
    summary:
      "{endpoint} is throttling token requests (HTTP 429{attempts}{retryAfterNote}): too many requests at once, typically a convoy of cold getToken calls (each client or credential instance asks separately)",
    nextSteps: [
      { text: "Share one credential instance across clients and let its token cache serve repeated calls; avoid a fresh credential per request" },
      { text: "Wait for the Retry-After time and retry with backoff; spread the start-up of many workers" },
      DOCTOR,
    ],
  },
  {
    id: "endpoint-failing.unexpected-500",
    rule: "endpoint-failing",
    code: "IdentityEndpointUnreachable",
    confidence: "medium",
    status: 500,
    message: UNEXPECTED_500,
    meaning: 'the endpoint\'s 500 "unexpected error … AAD Token" with neither an unknown audience nor a selected identity to blame',
    summary: "{endpoint} is failing: HTTP {status}{attempts}",
    nextSteps: H5_STEPS,
  },
  {
    id: "endpoint-failing",
    code: "IdentityEndpointUnreachable",
    confidence: "high",
    status: [500, 502, 503, 504, 404, 408],
    meaning: "the identity endpoint answers with a server error or is not there yet",
    summary: "{endpoint} {failingWhat}: HTTP {status}{attempts}",
    nextSteps: H5_STEPS,
  },
  {
    id: "endpoint-refused",
    code: "IdentityEndpointUnreachable",
    confidence: "medium",
    status: [401, 403],
    meaning: "the identity endpoint refused the request: a stale IDENTITY_HEADER, or something else answered",
    summary:
      "{endpoint} refused the token request with HTTP {status}: the IDENTITY_HEADER secret may be stale (the platform rotates it) or a proxy intercepts the call",
    nextSteps: H5_STEPS,
  },
  {
    id: "identity-variables-missing.any",
    rule: "identity-variables-missing",
    code: "IdentityNotAssigned",
    confidence: "high",
    when: ["variables-missing"],
    meaning: "the platform's identity variables are absent (see identity-variables-missing)",
    summary: "This is {platform} ({appName}) but IDENTITY_ENDPOINT is not set: the platform sets it only when a managed identity is assigned",
    check: {
      kind: "identity-assignment",
      expected: "{requested}",
      actual: "no identity assigned (IDENTITY_ENDPOINT not set on {platform})",
      confirmedBy: "environment",
    },
    nextSteps: [SHOW, ASSIGN, { text: "Restart or redeploy after assigning: running replicas keep the environment they started with" }, ROLES],
  },

  // ── the catch-all ──────────────────────────────────────────────────────────────────────────────────────────
  {
    id: "unrecognised",
    code: "Unknown",
    confidence: "low",
    when: ["names-managed-identity"],
    meaning: "a managed identity failure without a recognised cause",
    summary: "{who} failed without a recognised cause: {errorLine}",
    nextSteps: [DOCTOR, SHOW],
  },
];
