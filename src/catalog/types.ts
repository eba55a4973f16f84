import type { DiagnosisCode } from "../diagnosis/types.js";

/** How a service grants data-plane access to a managed identity: decides which fix command a H2 diagnosis prints. */
export type AccessModel =
  | "azure-rbac" // az role assignment create
  | "cosmos-sql-rbac" // az cosmosdb sql role assignment create
  | "graph-app-role" // app-role assignment on the Graph service principal
  | "database-user" // CREATE USER … FROM EXTERNAL PROVIDER
  | "managedhsm-local-rbac" // az keyvault role assignment create --hsm-name
  | "redis-access-policy"; // az redis access-policy-assignment create

/** Where a failure was observed: an HTTP answer, an AMQP link/CBS error, a database or cache login error. */
export type FailureProtocol = "http" | "amqp" | "sql" | "redis";

/**
 * One recognisable failure answer of a service. Matching is by evidence: every field that is set must match.
 * Messages are regular expressions over a normalised body (whitespace folded); write them with the `i` flag and
 * without `g`/`y` (the classifier drops those flags anyway) because real bodies vary in wording, line endings,
 * casing and format.
 */
export interface ErrorFingerprint {
  /** Stable id, used in tests and evidence: "keyvault.forbidden-by-rbac". */
  id: string;
  /** The diagnosis this answer means; its hypothesis follows from the code. */
  code: DiagnosisCode;
  /** The diagnosis's confidence when this fingerprint decides. A `services` entry without it gets `medium`. */
  confidence: "high" | "medium" | "low";
  /** The answer's status, or one of several; absent: any status. */
  status?: number | number[];
  /** The service's error code (JSON `code`/`innererror.code`, XML `<Code>`, `x-ms-error-code`, …), compared case-insensitively. */
  errorCode?: string | string[];
  /** Cosmos DB `x-ms-substatus`. */
  substatus?: string | string[];
  /**
   * Matched against the folded text: the service's messages, the challenge's `error_description` and the body.
   * Named groups (`(?<permission>\w+)`) become placeholders of `nextSteps`.
   */
  message?: RegExp;
  /** WWW-Authenticate `error` parameter. */
  challengeError?: string;
  /** Where this answer is seen; default `["http"]`. */
  protocols?: FailureProtocol[];
  /** One line explaining what this answer means. */
  meaning: string;
  /**
   * Extra next steps, first in the list; each is one string, a sentence with its command ("Add an access policy for
   * the identity: az keyvault set-policy …"). Placeholders: `{name}` (first DNS label of the host: vault, account,
   * namespace…), `{host}`, `{principalId}`, `{clientId}`, `{identityName}`, `{scope}`, `{role}`, `{rg}`, `{app}`,
   * `{tenantId}`, the host's commands `{showIdentityCommand}`, `{outboundIpsCommand}`, `{principalIdAssignment}` (the platform's, or each candidate's), and the named groups of `message`. Unknown placeholders print as `<name>`.
   */
  nextSteps?: string[];
  /** For a H2 fingerprint whose fix is not a role (Key Vault access policies, Cosmos control-plane operations). */
  skipRoleAdvice?: boolean;
  /**
   * A catch-all: the service refused the token without saying why ("InvalidAuthenticationToken" with any text).
   * Fallbacks are tried after every specific fingerprint, the generic ones included, so a specific meaning in the
   * message (invalid issuer, audience, expiry…) wins over them. Order: the service's specific fingerprints, the
   * generic specific ones, the service's fallbacks, the generic fallbacks.
   */
  fallback?: boolean;
  /**
   * This answer is the normal reply of a `challengeFirst` service to a request sent without a token on purpose
   * (Key Vault's first call): not a failure when no token was sent.
   */
  normalChallenge?: boolean;
}

/** Conditions under which a role is the least-privilege answer; every condition that is set must hold. */
export interface RoleCondition {
  /** Matched against the action/permission named by the service ("Microsoft.KeyVault/vaults/secrets/getSecret/action", "Send", "pull"). */
  action?: RegExp;
  /** HTTP methods, upper case. */
  methods?: string[];
  /** Matched against the request path. */
  path?: RegExp;
  /** Matched against the request host. */
  host?: RegExp;
}

/** A role and what it allows: the least-privilege data role per operation. */
export interface RoleAdvice {
  /** Operation family: "read", "write", "send", "receive", "metadata", … */
  operation: string;
  /** The role's name, as `az role assignment create --role` takes it: "Key Vault Secrets User". */
  role: string;
  /** Role definition id when the service needs it (Cosmos DB built-in data roles). */
  roleDefinitionId?: string;
  /** When this role is the right one; a role without conditions only serves as the default (the first role). */
  when?: RoleCondition;
}

/**
 * How to name the exact scope of a role assignment. Tried in order; the first that yields a value wins.
 * - `resource`: `pattern` applied to resource ids/scopes quoted by the service (Key Vault `Resource: '…'`, ARM `over scope '…'`).
 * - `path`: `pattern` applied to the request path (ARM URLs are resource ids; Monitor paths carry the DCR id).
 * - `text`: `pattern` applied to the service's message text.
 * - `host`: no pattern; `template` filled with `{name}` (first DNS label) and `{host}`.
 * `template` may use `{0}` (the whole match) and named groups.
 */
export interface ScopeHint {
  /** What `pattern` is applied to (see above). */
  from: "resource" | "path" | "text" | "host";
  /** Required except for `from: "host"`; a hint without it is ignored. */
  pattern?: RegExp;
  /** The scope as the grant command takes it (a resource id, a Cosmos DB path, or a shell command printing one), with placeholders. */
  template: string;
  /** How summaries name the scope when it is not a literal resource id: "vault {name}", "data collection rule {dcr}". */
  label?: string;
  /**
   * A broader scope named as the alternative to this (least-privilege) one, e.g. the whole Cosmos DB account `/`
   * when the service named a container. Same placeholders as `template`; not shown when it equals the scope.
   */
  alternative?: {
    /** The broader scope, with the same placeholders as `template`. */
    template: string;
    /** How summaries name it: "the whole account {name}". */
    label: string;
  };
}

/**
 * What the doctor's smoke test (`runSmokeTest`, `diagnostic-credential doctor`) adds to its call of a service so
 * that a plain authenticated request is one the service accepts: the version it requires and the form it takes the
 * token in. Nothing the caller set is replaced. Only the smoke test reads it; the credential never changes requests.
 */
export interface ServiceProbeRule {
  /** Query parameters added when the URL lacks them: `{ "api-version": "7.5" }`. The report notes each one. */
  query?: Record<string, string>;
  /** Request headers added when the request lacks them: `{ "x-ms-version": "2024-08-04" }`. The report notes each one. */
  headers?: Record<string, string>;
  /** A header carrying the request time (RFC 1123), added when missing: `x-ms-date`. Not noted (it changes every call). */
  dateHeader?: string;
  /**
   * `query`, `headers` and `dateHeader` apply only to request paths matching this (Resource Manager: one
   * api-version fits the subscription and resource-group reads, not every resource type). Absent: every path.
   */
  path?: RegExp;
  /**
   * How the token is sent: the `Authorization` value with `{token}` where the token goes, URL-encoded as a whole
   * when `urlEncode` is true (Cosmos DB: `type=aad&ver=1.0&sig={token}`). Default `Bearer {token}`.
   */
  authorization?: {
    /** The header value, with `{token}` for the token. */
    template: string;
    /** URL-encode the filled-in value (`encodeURIComponent`). Default false. */
    urlEncode?: boolean;
  };
}

/** A fact a service's error text may quote: who called, on what, doing what. */
export type QuotedFactKind =
  "callerObjectId" | "callerAppId" | "callerIssuer" | "callerMirid" | "resource" | "action" | "noAssignment" | "resourceTenantId" | "entityUrl";

/**
 * How a service's error text quotes one fact. The first capture group is the value (the whole match for
 * `entityUrl`, its presence for `noAssignment`). `needs` is a lower-case literal every match contains: the pattern
 * only runs on texts that hold it. `resource` and `action` collect every match, in catalog order; the other kinds
 * take the first.
 */
export interface QuotedFact {
  /** Which fact the pattern reads. */
  fact: QuotedFactKind;
  /** The pattern (write it with `i`; `g` is added or removed as the kind needs). */
  pattern: RegExp;
  /** A lower-case literal every match contains. */
  needs: string;
}

/**
 * One request form of a service and the Azure RBAC action it needs: a row of the operation → action table, read
 * when the answer names no action (`actionOfRequest`, `actionOfClaim`). Every condition that is set must hold.
 */
export interface OperationAction {
  /** HTTP methods, upper case; absent: any method. */
  methods?: string[];
  /** Matched against the request path (without the query). */
  path?: RegExp;
  /** Matched against the query string (without `?`): Storage's `comp=list`, `restype=container`. */
  query?: RegExp;
  /** Matched against the host: the Storage services share one entry. */
  host?: RegExp;
  /** The AMQP claim a messaging answer names ("Send", "Listen", "Manage"), compared case-insensitively. */
  claim?: string;
  /** The action the service checks: "Microsoft.KeyVault/vaults/secrets/getSecret/action". */
  action: string;
  /** A control-plane action (a role's `Actions`), not a `DataAction`. Default false. */
  control?: boolean;
  /**
   * The same operation's action when the resource runs in its other authorization mode (a Container Registry in
   * "RBAC Registry + ABAC Repository Permissions" mode checks repository data actions instead of `pull/read`).
   */
  alternative?: {
    /** The action in that mode. */
    action: string;
    /** A control-plane action. Default false. */
    control?: boolean;
    /** The mode's name: "RBAC Registry + ABAC Repository Permissions". */
    mode: string;
  };
}

/** Everything the library knows about one Azure service. One entry per service; adding a service is adding one entry. */
export interface ServiceDefinition {
  /** Catalog name: "keyvault", "storage", "servicebus", … */
  name: string;
  /** The service's name for humans: "Azure Key Vault". */
  displayName: string;
  /** Host suffixes, lower case, with the leading dot: ".vault.azure.net". Sovereign clouds included. */
  hostSuffixes: string[];
  /** Exact hosts (host or host:port), lower case: "graph.microsoft.com", emulators, custom domains. */
  hosts: string[];
  /** Token audiences this service accepts, without trailing slash, lower case. */
  audiences: string[];
  /** Audiences that are account-specific, e.g. `https://<account>.blob.core.windows.net`. */
  audiencePatterns: RegExp[];
  /** The scope the Azure SDK requests in the public cloud. */
  scope: string;
  /** Per-cloud scope by host suffix, when it differs from `scope`: { ".vault.azure.cn": "https://vault.azure.cn/.default" }. */
  scopeByHostSuffix: Record<string, string>;
  /** A host-specific scope, when the SDK requests one per account: "https://{hostname}/.default" (Cosmos DB). */
  scopeTemplate?: string;
  /** How data access is granted: decides the grant command among the next steps of a H2 diagnosis. */
  accessModel: AccessModel;
  /** Least-privilege data roles; the first is the default when nothing tells the operation apart. */
  roles: RoleAdvice[];
  /** Control-plane roles people assign by mistake: they give no data access. */
  controlPlaneRoles: string[];
  /**
   * What the service's roles govern: `"data"` (default: the data in the resource; a control-plane role gives no
   * access) or `"control"` (the resources themselves: Resource Manager). Decides the grant wording and whether the
   * "control-plane roles give no data access" warning applies.
   */
  plane?: "data" | "control";
  /** Documented propagation delay of a role assignment, for humans: "up to 30 minutes". */
  propagation: string;
  /** The same delay in minutes, for recovery tracking and "still propagating" reasoning. */
  propagationMinutes: number;
  /** The service answers 401 (not 403) when the caller lacks permission: Service Bus, Event Hubs, OpenAI, ACR, Event Grid. */
  unauthorizedMeansForbidden: boolean;
  /** Error answers this service is known to give, most specific first (the first that matches wins). */
  fingerprints: ErrorFingerprint[];
  /** The first request of this service's SDK is sent without a token on purpose (Key Vault): one 401 is normal. */
  challengeFirst?: boolean;
  /** Where the docs for this service's data-plane roles live. */
  docs?: string;
  /** The ARM resource provider, e.g. "Microsoft.KeyVault": recognises the service in portal URLs and resource ids. */
  resourceProvider?: string;
  /** How to name the exact scope of a role assignment (see ScopeHint). */
  scopeHints?: ScopeHint[];
  /**
   * Request paths typical of this service, to tell apart services that share host suffixes
   * (Service Bus and Event Hubs both live on `*.servicebus.windows.net`).
   */
  pathHints?: RegExp[];
  /** SDK error names that belong to this service ("ServiceBusError"). */
  errorNames?: string[];
  /** How this service's error texts quote the caller, the resource and the action (see QuotedFact). */
  quotes?: QuotedFact[];
  /** Response headers whose values are evidence for this service, all of them (Key Vault's `x-ms-keyvault-network-info`). */
  evidenceHeaders?: string[];
  /**
   * This service is the control plane that owns every resource id (Resource Manager): a scope written as a resource
   * id or a portal URL is explained with this service's scope.
   */
  ownsResourceIds?: boolean;
  /**
   * Replaces the access model's grant command (database users, cache access policies…). Same placeholders as
   * fingerprint steps. Each entry is one next step: a sentence with its command ("…, connect and run: CREATE USER …").
   */
  grantTemplates?: string[];
  /** What the doctor's smoke test adds to its request to this service (api-version, x-ms-version, token form). */
  probe?: ServiceProbeRule;
  /** The operation → action table: which action each request form needs, first match wins (see OperationAction). */
  operations?: OperationAction[];
}

/**
 * What the `services` option accepts. A known `name` with `hosts` adds hosts to that service (emulators, private
 * DNS, custom domains); a new `name` with `audiences` or `scope` defines a new service.
 */
export interface ServiceDefinitionInput {
  /** Catalog name: a built-in one ("keyvault", "storage", …; see SERVICE_CATALOG) to extend it, or a new one. */
  name: string;
  /** New service only: its name for humans. Default: `name`. */
  displayName?: string;
  /** Exact hosts (host or host:port) of the service; for a known service, added to its own. */
  hosts?: string[];
  /** Host suffixes with the leading dot (".example.net"); for a known service, added to its own. */
  hostSuffixes?: string[];
  /** Token audiences the service accepts; for a known service, added to its own. A new service needs this or `scope`. */
  audiences?: string[];
  /** New service only: the scope to request. Default: the first audience + "/.default". */
  scope?: string;
  /** Least-privilege data roles, the first the default; for a known service, they replace its own. */
  roles?: RoleAdvice[];
  /** New service only: control-plane roles that give no data access. Default: none. */
  controlPlaneRoles?: string[];
  /** What the service's roles govern (see ServiceDefinition.plane); for a known service, replaces its own. */
  plane?: "data" | "control";
  /** New service only: role propagation delay, for humans. Default "up to ~10 minutes". */
  propagation?: string;
  /** New service only: the same delay in minutes. Default 10. */
  propagationMinutes?: number;
  /** New service only: the service answers 401 (not 403) for a missing permission. Default false. */
  unauthorizedMeansForbidden?: boolean;
  /** Error answers of the service; for a known service, tried before its own. */
  fingerprints?: ErrorFingerprint[];
  /** New service only: how access is granted. Default "azure-rbac". */
  accessModel?: AccessModel;
  /** New service only: its SDK's first request goes without a token on purpose, so one 401 is normal. Default false. */
  challengeFirst?: boolean;
  /** New service only: how to name the exact scope of a role assignment. */
  scopeHints?: ScopeHint[];
  /**
   * What the doctor's smoke test adds to its request to the service (see ServiceProbeRule); for a known service,
   * each field given replaces that field of its own rule.
   */
  probe?: ServiceProbeRule;
  /** How the service's error texts quote caller, resource and action (see QuotedFact); for a known service, tried before its own. */
  quotes?: QuotedFact[];
  /** Response headers whose values are evidence; for a known service, added to its own. */
  evidenceHeaders?: string[];
}
