import type { DiagnosisCode } from "../diagnosis/types.js";

/** How a service grants data-plane access to a managed identity: decides which fix command a H2 diagnosis prints. */
export type AccessModel =
  | "azure-rbac" // az role assignment create
  | "cosmos-sql-rbac" // az cosmosdb sql role assignment create
  | "graph-app-role" // app-role assignment on the Graph service principal
  | "database-user"; // CREATE USER … FROM EXTERNAL PROVIDER

/**
 * One recognisable failure answer of a service. Matching is by evidence: every field that is set must match.
 * Messages are regular expressions over a normalised body (whitespace folded, case-insensitive) because real
 * bodies vary in wording, line endings and format.
 */
export interface ErrorFingerprint {
  /** Stable id, used in tests and evidence: "keyvault.forbidden-by-rbac". */
  id: string;
  code: DiagnosisCode;
  confidence: "high" | "medium" | "low";
  status?: number | number[];
  /** The service's error code (JSON `code`/`innererror.code`, XML `<Code>`, `x-ms-error-code`, …), compared case-insensitively. */
  errorCode?: string | string[];
  /** Cosmos DB `x-ms-substatus`. */
  substatus?: string | string[];
  message?: RegExp;
  /** WWW-Authenticate `error` parameter. */
  challengeError?: string;
  /** One line explaining what this answer means. */
  meaning: string;
}

/** A role and what it allows: the least-privilege data role per operation. */
export interface RoleAdvice {
  /** Operation family: "read", "write", "send", "receive", "metadata", … */
  operation: string;
  role: string;
  /** Role definition id when the service needs it (Cosmos DB built-in data roles). */
  roleDefinitionId?: string;
}

/** Everything the library knows about one Azure service. One entry per service; adding a service is adding one entry. */
export interface ServiceDefinition {
  /** Catalog name: "keyvault", "storage", "servicebus", … */
  name: string;
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
  accessModel: AccessModel;
  /** Least-privilege data roles, most common operation first. */
  roles: RoleAdvice[];
  /** Control-plane roles people assign by mistake: they give no data access. */
  controlPlaneRoles: string[];
  /** Documented propagation delay of a role assignment, for humans: "up to 30 minutes". */
  propagation: string;
  /** The same delay in minutes, for recovery tracking and "still propagating" reasoning. */
  propagationMinutes: number;
  /** The service answers 401 (not 403) when the caller lacks permission: Service Bus, Event Hubs, OpenAI, ACR, Event Grid. */
  unauthorizedMeansForbidden: boolean;
  /** Error answers this service is known to give. */
  fingerprints: ErrorFingerprint[];
  /** The first request of this service's SDK is sent without a token on purpose (Key Vault): one 401 is normal. */
  challengeFirst?: boolean;
  /** Where the docs for this service's data-plane roles live. */
  docs?: string;
}

/**
 * What the `services` option accepts. A known `name` with `hosts` adds hosts to that service (emulators, private
 * DNS, custom domains); a new `name` with `audiences` or `scope` defines a new service.
 */
export interface ServiceDefinitionInput {
  name: string;
  displayName?: string;
  hosts?: string[];
  hostSuffixes?: string[];
  audiences?: string[];
  scope?: string;
  roles?: RoleAdvice[];
  controlPlaneRoles?: string[];
  propagation?: string;
  propagationMinutes?: number;
  unauthorizedMeansForbidden?: boolean;
  fingerprints?: ErrorFingerprint[];
  accessModel?: AccessModel;
}
