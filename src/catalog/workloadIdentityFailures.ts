/**
 * AKS workload identity's token-time failures: Entra's AADSTS answers to the client-assertion exchange and the token
 * file's problems. Entries of the token-failure table (shape: tokenFailureTypes.ts), all with
 * `sources: ["WorkloadIdentity"]`; TOKEN_FAILURES (tokenFailures.ts) puts them first, so they decide before the
 * identity-endpoint entries (test/classify/precedence.test.ts). The texts each entry was written from are cited
 * beside their fixtures in test/workload/fixtures.test.ts. Adding an answer = an entry + its test.
 */
import type { TokenFailureFingerprint, TokenStep } from "./tokenFailureTypes.js";

const WI: ["WorkloadIdentity"] = ["WorkloadIdentity"];
const MATCH_STEPS: TokenStep[] = [
  { kind: "aks-oidc-issuer" },
  { kind: "federated-credential-list" },
  { kind: "federated-credential-create" },
  { kind: "kubectl-service-account" },
];
const WHICH_IDENTITY: TokenStep[] = [{ kind: "identity-client-id" }, { kind: "kubectl-service-account" }, { kind: "federated-credential-list" }];
const TOKEN_FILE_STEPS: TokenStep[] = [{ kind: "kubectl-pod-label" }, { kind: "kubectl-service-account" }];
const RECREATE_POD: TokenStep = {
  text: "The webhook mounts the token only into pods labelled azure.workload.identity/use=true, created after the label was set: recreate the pod",
};
const TOKEN_FILE_MISSING = "{who}: the projected service-account token {file} does not exist, so there is no assertion to exchange";
const TOKEN_FILE_EMPTY = "{who}: the projected service-account token {file} is empty";
const NO_MATCH_SUMMARY = "No federated credential of {clientId} matches the assertion (issuer {iss}, subject {sub}, audience {aud}) (AADSTS{aadsts})";
const NOT_FOUND_SUMMARY = "Entra ID knows no application {clientId} in tenant {tenantId} (AADSTS700016): the pod uses the wrong client id or tenant";
const OIDC_SUMMARY =
  "Entra ID could not reach the cluster's OIDC issuer {iss} (AADSTS{aadsts}): the issuer's discovery document is not publicly reachable; the pod's own network is not the cause";
const OIDC_STEPS: TokenStep[] = [
  { kind: "aks-oidc-issuer" },
  { kind: "oidc-discovery" },
  { text: 'If the issuer does not answer, reconcile the cluster: az resource update --ids "$AKS_RESOURCE_ID"' },
];

export const WORKLOAD_IDENTITY_FAILURES: readonly TokenFailureFingerprint[] = [
  // ── The token file (before any exchange): the pod was not set up for workload identity ────────────────────
  {
    id: "workload-identity.token-file-missing",
    code: "IdentityNotAssigned",
    confidence: "high",
    sources: WI,
    when: ["token-file-missing", "workload-failure"],
    meaning: "AZURE_FEDERATED_TOKEN_FILE names a file that does not exist: the projected token volume is not mounted",
    summary: TOKEN_FILE_MISSING,
    nextSteps: [RECREATE_POD, ...TOKEN_FILE_STEPS],
  },
  {
    id: "workload-identity.token-file-missing.text",
    rule: "workload-identity.token-file-missing",
    code: "IdentityNotAssigned",
    confidence: "high",
    sources: WI,
    message: /ENOENT[^\n]{0,200}(azure-identity-token|serviceaccount|federated|token)/i,
    meaning: "The error says the token file does not exist",
    summary: TOKEN_FILE_MISSING,
    nextSteps: [RECREATE_POD, ...TOKEN_FILE_STEPS],
  },
  {
    id: "workload-identity.token-file-unreadable",
    code: "IdentityNotAssigned",
    confidence: "high",
    sources: WI,
    when: ["token-file-unreadable", "workload-failure"],
    meaning: "The token file exists but this process cannot read it (permissions, a directory)",
    summary: "{who}: the projected service-account token {file} cannot be read by this process",
    nextSteps: [{ text: "Check the volume's mode and the container's user (securityContext.runAsUser / fsGroup)" }, ...TOKEN_FILE_STEPS],
  },
  {
    id: "workload-identity.token-file-empty",
    code: "IdentityNotAssigned",
    confidence: "high",
    sources: WI,
    message: /No content on the file/i,
    meaning: "The token file is empty (WorkloadIdentityCredential's words)",
    summary: TOKEN_FILE_EMPTY,
    nextSteps: TOKEN_FILE_STEPS,
  },
  {
    id: "workload-identity.token-file-empty.read",
    rule: "workload-identity.token-file-empty",
    code: "IdentityNotAssigned",
    confidence: "high",
    sources: WI,
    when: ["token-file-empty", "workload-failure"],
    meaning: "The token file, as read for the diagnosis, is empty",
    summary: TOKEN_FILE_EMPTY,
    nextSteps: TOKEN_FILE_STEPS,
  },
  {
    id: "workload-identity.token-file-not-jwt",
    code: "IdentityNotAssigned",
    confidence: "high",
    sources: WI,
    when: ["token-file-not-jwt", "workload-failure"],
    meaning: "The token file holds something that is not a JWT: AZURE_FEDERATED_TOKEN_FILE points at the wrong file",
    summary: "{who}: {file} is not a JWT, so it is no projected service-account token",
    nextSteps: [
      { text: "Point AZURE_FEDERATED_TOKEN_FILE at the projected token (the webhook sets /var/run/secrets/azure/tokens/azure-identity-token)" },
      ...TOKEN_FILE_STEPS,
    ],
  },
  {
    id: "workload-identity.variables-not-injected",
    code: "IdentityNotAssigned",
    confidence: "high",
    sources: WI,
    when: ["workload-variables-missing"],
    meaning: "AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_FEDERATED_TOKEN_FILE are not set: the workload identity webhook did not mutate the pod",
    summary: "{who}: the workload identity variables are not set in this pod: the webhook did not mutate it",
    nextSteps: [
      { kind: "kubectl-pod-label" },
      { kind: "kubectl-service-account" },
      {
        text: 'Label the pod template azure.workload.identity/use: "true", annotate its service account azure.workload.identity/client-id, then recreate the pods',
      },
    ],
  },
  // ── Entra's answer to the exchange ─────────────────────────────────────────────────────────────────────────
  {
    id: "workload-identity.issuer-mismatch",
    code: "IdentityNotAssigned",
    confidence: "high",
    sources: WI,
    errorCode: "AADSTS700211",
    mismatch: "issuer",
    meaning: "No federated credential of the identity has the assertion's issuer (the cluster's OIDC issuer URL)",
    summary: "No federated credential of {clientId} trusts the cluster's OIDC issuer {iss} (AADSTS700211)",
    nextSteps: MATCH_STEPS,
  },
  {
    id: "workload-identity.subject-mismatch",
    code: "IdentityNotAssigned",
    confidence: "high",
    sources: WI,
    errorCode: "AADSTS700213",
    mismatch: "subject",
    meaning: "A federated credential has the issuer, none the subject: namespace or service account differ (case-sensitive)",
    summary: "No federated credential of {clientId} names the subject {sub} (AADSTS700213)",
    nextSteps: MATCH_STEPS,
  },
  {
    id: "workload-identity.audience-mismatch",
    code: "IdentityNotAssigned",
    confidence: "high",
    sources: WI,
    errorCode: "AADSTS700212",
    mismatch: "audience",
    meaning: "The federated credential's audience differs from the assertion's (api://AzureADTokenExchange by default)",
    summary: "No federated credential of {clientId} accepts the audience {aud} (AADSTS700212)",
    nextSteps: MATCH_STEPS,
  },
  {
    id: "workload-identity.no-matching-federated-credential",
    code: "IdentityNotAssigned",
    confidence: "high",
    sources: WI,
    errorCode: "AADSTS70021",
    mismatch: "any",
    meaning: "No federated credential of the identity matches the assertion's issuer, subject and audience",
    summary: NO_MATCH_SUMMARY,
    nextSteps: MATCH_STEPS,
  },
  {
    id: "workload-identity.no-matching-federated-credential.text",
    rule: "workload-identity.no-matching-federated-credential",
    code: "IdentityNotAssigned",
    confidence: "high",
    sources: WI,
    message: /No matching federated identity record found/i,
    mismatch: "any",
    meaning: "AADSTS70021's words without its code",
    summary: NO_MATCH_SUMMARY,
    nextSteps: MATCH_STEPS,
  },
  {
    id: "workload-identity.application-not-found",
    code: "StaleTokenOrIdentityMixup",
    confidence: "high",
    sources: WI,
    errorCode: "AADSTS700016",
    meaning: "The client id is no identity of this tenant: the wrong client id (or a resource id) or the wrong tenant",
    summary: NOT_FOUND_SUMMARY,
    nextSteps: WHICH_IDENTITY,
  },
  {
    id: "workload-identity.application-not-found.text",
    rule: "workload-identity.application-not-found",
    code: "StaleTokenOrIdentityMixup",
    confidence: "high",
    sources: WI,
    message: /Application with identifier .{0,300} was not found in the directory/i,
    meaning: "AADSTS700016's words without its code",
    summary: NOT_FOUND_SUMMARY,
    nextSteps: WHICH_IDENTITY,
  },
  {
    id: "workload-identity.wrong-tenant",
    code: "StaleTokenOrIdentityMixup",
    confidence: "high",
    sources: WI,
    errorCode: ["AADSTS50020", "AADSTS90002"],
    meaning: "The exchange went to a tenant the identity does not belong to",
    summary: "The exchange for {clientId} went to tenant {tenantId}, which does not hold it (AADSTS{aadsts}): wrong AZURE_TENANT_ID or client id",
    nextSteps: WHICH_IDENTITY,
  },
  {
    id: "workload-identity.assertion-expired",
    code: "StaleTokenOrIdentityMixup",
    confidence: "high",
    sources: WI,
    errorCode: "AADSTS700024",
    meaning: "The projected token presented is outside its validity: a token read once and kept past its expiry, or a skewed clock",
    summary: "Entra ID refused the projected service-account token as outside its valid time range (AADSTS700024)",
    nextSteps: [
      {
        text: "Read AZURE_FEDERATED_TOKEN_FILE again on every exchange (kubelet rotates it; @azure/identity rereads it every 5 minutes): do not copy its value at start-up",
      },
      { text: "Check the node's clock (NTP)" },
    ],
  },
  {
    id: "workload-identity.assertion-lifetime-too-long",
    code: "StaleTokenOrIdentityMixup",
    confidence: "high",
    sources: WI,
    errorCode: "AADSTS70023",
    meaning: "The assertion lives longer than Entra accepts (25 h): the default service-account token is used instead of the projected one",
    summary:
      "Entra ID refused the assertion: its lifetime{lifetime} is longer than 1.01:00:00 (AADSTS70023); this is not the projected workload identity token",
    nextSteps: [
      {
        text: "Use the token the webhook projects (/var/run/secrets/azure/tokens/azure-identity-token, audience api://AzureADTokenExchange, 1 h), not /var/run/secrets/kubernetes.io/serviceaccount/token",
      },
      { kind: "kubectl-pod-label" },
    ],
  },
  {
    id: "workload-identity.oidc-issuer-unreachable",
    code: "IdentityEndpointUnreachable",
    confidence: "high",
    sources: WI,
    errorCode: ["AADSTS90061", "AADSTS50166", "AADSTS501661"],
    meaning: "Entra ID could not fetch the cluster's OIDC discovery document or keys: the issuer, not the pod's network",
    summary: OIDC_SUMMARY,
    nextSteps: OIDC_STEPS,
  },
  {
    id: "workload-identity.oidc-issuer-unreachable.text",
    rule: "workload-identity.oidc-issuer-unreachable",
    code: "IdentityEndpointUnreachable",
    confidence: "high",
    sources: WI,
    message: /Request to External OIDC endpoint failed/i,
    meaning: "AADSTS90061's words without its code",
    summary: OIDC_SUMMARY,
    nextSteps: OIDC_STEPS,
  },
  {
    id: "workload-identity.signing-key-unknown",
    code: "IdentityEndpointUnreachable",
    confidence: "medium",
    sources: WI,
    errorCode: "AADSTS7000272",
    meaning: "The key that signed the projected token is not in the issuer's published keys (rotated keys, a self-managed issuer not updated)",
    summary: "Entra ID cannot find the key that signed the projected token in the metadata of {iss} (AADSTS7000272)",
    nextSteps: [{ kind: "oidc-discovery" }, { kind: "aks-oidc-issuer" }],
  },
];
