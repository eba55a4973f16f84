/**
 * The generator of docs/platforms/<key>.md (test/docs/platforms.test.ts checks the pages against it;
 * `UPDATE_PLATFORM_DOCS=1` rewrites them). Everything on a page comes from the tables:
 * - the head from src/hosting/platforms.ts;
 * - "What you see, what it means": the token-time rules (src/catalog/tokenFailures.ts and
 *   workloadIdentityFailures.ts) that apply to the platform's identity sources, each with an example of what the user
 *   sees ({@link PAGE_ROWS}, the only hand-written part), its hypothesis and meaning from the catalog;
 * - "What to run": the step helpers of src/diagnosis/commands.ts, for a context whose platform is the page's, so a
 *   page says what a diagnosis on that platform says.
 * Not shipped: the pages are (keep them short: the packed tarball's budget is 400 kB).
 */
import type { CredentialErrorContext } from "../../src/classify/credentialError.js";
import * as catalog from "../../src/catalog/tokenFailures.js";
import * as workload from "../../src/catalog/workloadIdentityFailures.js";
import { DIAGNOSIS_CODES } from "../../src/diagnosis/codes.js";
import type { DiagnosisCode } from "../../src/diagnosis/types.js";
import { readHostEnvironment } from "../../src/environment/hostEnvironment.js";
import type { IdentityExchange } from "../../src/diagnosis/identityExchange.js";
import {
  assignIdentityCommand,
  assignIdentityStep,
  doctorInContainerCommand,
  doctorInContainerStep,
  hostCommandValues,
  listInstancesStep,
  replicaListCommand,
  restartRevisionCommand,
  restartRevisionStep,
  showIdentityCommand,
  showIdentityStep,
  type CommandContext,
} from "../../src/diagnosis/commands.js";
import { PLATFORMS, type PlatformEntry, type PlatformKey } from "../../src/hosting/platforms.js";

// ── The catalog, through small accessors (the workload-identity entries are moving into TOKEN_FAILURES: read both
// tables, one entry per id, so the pages survive that move) ──────────────────────────────────────────────────────

/** What a page needs of a token-failure entry. */
export interface CatalogEntry {
  id: string;
  /** The rule, without `token-time.`: `rule ?? id`, with a variant (`….text`, `….read`) folded into its base rule. */
  rule: string;
  code: DiagnosisCode;
  meaning: string;
  sources?: readonly string[];
  when?: readonly string[];
}

type RawEntry = { id: string; rule?: string; code: DiagnosisCode; meaning: string; sources?: readonly string[]; when?: readonly string[] };

export function catalogEntries(): CatalogEntry[] {
  const raw = [...(catalog.TOKEN_FAILURES as readonly RawEntry[]), ...(workload.WORKLOAD_IDENTITY_FAILURES as readonly RawEntry[])];
  const byId = new Map<string, RawEntry>();
  for (const entry of raw) if (!byId.has(entry.id)) byId.set(entry.id, entry);
  const ids = new Set(byId.keys());
  return [...byId.values()].map((entry) => ({
    id: entry.id,
    rule: baseRule(entry.rule ?? entry.id, ids),
    code: entry.code,
    meaning: entry.meaning,
    ...(entry.sources !== undefined ? { sources: entry.sources } : {}),
    ...(entry.when !== undefined ? { when: entry.when } : {}),
  }));
}

/** `workload-identity.token-file-missing.text` → `workload-identity.token-file-missing` when that is an entry too. */
export function baseRule(rule: string, ids: ReadonlySet<string>): string {
  const cut = rule.lastIndexOf(".");
  return cut > 0 && ids.has(rule.slice(0, cut)) ? rule.slice(0, cut) : rule;
}

/** The rule ids of the tables (`token-time.…` without the prefix), each with its entries. */
export function catalogRules(): Map<string, CatalogEntry[]> {
  const rules = new Map<string, CatalogEntry[]>();
  for (const entry of catalogEntries()) rules.set(entry.rule, [...(rules.get(entry.rule) ?? []), entry]);
  return rules;
}

/**
 * Whether an entry can decide on this platform: its sources name one of the platform's (absent: every source), or it
 * needs the platform's identity variables to be missing and the platform injects them (the source is then IMDS,
 * the SDK's fallback).
 */
export function entryApplies(entry: CatalogEntry, platform: PlatformEntry): boolean {
  if (entry.when?.includes("variables-missing") && !entry.sources?.includes("WorkloadIdentity")) return platform.injectsIdentityVariables;
  return entry.sources === undefined || entry.sources.some((source) => (platform.sources as readonly string[]).includes(source));
}

/** The entry whose meaning a page prints for a rule: the rule's own entry, else its first. */
function ruleEntry(entries: readonly CatalogEntry[], rule: string): CatalogEntry {
  return entries.find((entry) => entry.id === rule) ?? entries[0]!;
}

// ── What the user sees: the hand-written examples, one row per rule and group of platforms ───────────────────────

/** Which platforms a row is on. */
export type RowPlatforms =
  /** Every platform (Entra's answers reach workload identity too). */
  | "all"
  /** Every platform with an identity endpoint (not workload identity, which talks to Entra). */
  | "endpoint"
  /** App Service, Functions, Container Apps (apps and jobs): IDENTITY_ENDPOINT on localhost. */
  | "app-service-endpoint"
  /** IMDS at 169.254.169.254: VM, VMSS, AKS without workload identity. */
  | "imds"
  | readonly PlatformKey[];

export interface PageRow {
  /** The rule it leads to, without `token-time.`. */
  rule: string;
  on: RowPlatforms;
  /** The error text as @azure/identity (or the service through it) prints it: shown in code, and classified by the test. */
  text: string;
  /** When it happens, in words (after the text). */
  note?: string;
  /** The HTTP status the error carries. */
  status?: number;
  /**
   * The other facts of the call a diagnosis has (exchanges, uptime, configured identity, workload context; an
   * `environment` other than the platform's, read from its variables `vars`).
   */
  context?: (vars: Readonly<Record<string, string>>) => CredentialErrorContext;
}

const T0 = 1_760_000_000_000;
const APP_SERVICE_URL = "http://localhost:42356/msi/token?api-version=2019-08-01&resource=https://vault.azure.net";
const IMDS_URL = "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net";
const exchange = (url: string, over: Partial<IdentityExchange>): IdentityExchange => ({ method: "GET", url, durationMs: 3, startedAt: T0, ...over });
const UNEXPECTED_500 = "An unexpected error occured while fetching the AAD Token.";
const TOKEN_FILE = "/var/run/secrets/azure/tokens/azure-identity-token";
const WORKLOAD_ENV = {
  clientId: "0b5f0c5e-8b3c-4a7e-9f3e-2d1c5b6a7e8f",
  tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47",
  tokenFile: TOKEN_FILE,
  onKubernetes: true,
};
const tokenFile = (problem: "missing" | "unreadable" | "not-a-jwt", errno?: string): CredentialErrorContext => ({
  workloadIdentity: { environment: WORKLOAD_ENV, federatedToken: { path: TOKEN_FILE, problem, ...(errno !== undefined ? { errno } : {}) } },
});

/** In page order. Short texts: the pages ship in the tarball. */
export const PAGE_ROWS: readonly PageRow[] = [
  // The identity endpoint of App Service, Functions and Container Apps
  {
    rule: "identity-variables-missing",
    on: "app-service-endpoint",
    text: "ManagedIdentityCredential: Network unreachable.",
    note: "and `IDENTITY_ENDPOINT` is not set",
    context: ({ IDENTITY_ENDPOINT, IDENTITY_HEADER, ...vars }) => ({ environment: readHostEnvironment(vars) }),
  },
  {
    rule: "endpoint-not-ready",
    on: "app-service-endpoint",
    text: "connect ECONNREFUSED 127.0.0.1:42356",
    note: "in the first seconds of a replica",
    context: () => ({ exchanges: [exchange(APP_SERVICE_URL, { errorCode: "ECONNREFUSED" })], processUptimeMs: 2_000 }),
  },
  {
    rule: "identity-not-attached",
    on: "app-service-endpoint",
    text: UNEXPECTED_500,
    note: "(HTTP 500) with a client id in code",
    status: 500,
    context: () => ({
      scopes: "https://vault.azure.net/.default",
      configuredIdentity: { clientId: "22222222-2222-4222-8222-222222222222" },
      exchanges: [exchange(APP_SERVICE_URL, { status: 500, bodyExcerpt: UNEXPECTED_500 })],
    }),
  },
  {
    rule: "unknown-audience",
    on: "app-service-endpoint",
    text: UNEXPECTED_500,
    note: "(HTTP 500) for the scope `https://api.openai.com/.default`",
    status: 500,
    context: () => ({ scopes: "https://api.openai.com/.default", exchanges: [exchange(APP_SERVICE_URL, { status: 500, bodyExcerpt: UNEXPECTED_500 })] }),
  },
  { rule: "identity-not-found", on: "app-service-endpoint", text: "Unable to load the proper Managed Identity.", status: 400 },
  // IMDS
  { rule: "identity-not-found", on: "imds", text: "Identity not found", status: 400 },
  {
    rule: "multiple-user-assigned",
    on: "imds",
    text: "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request",
    status: 400,
  },
  {
    rule: "imds-upgrading",
    on: "imds",
    text: "ManagedIdentityCredential: Authentication failed.",
    note: "after HTTP 410 answers (IMDS being upgraded)",
    context: () => ({ exchanges: [exchange(IMDS_URL, { status: 410 })] }),
  },
  { rule: "no-endpoint", on: "imds", text: "No Managed Identity endpoint found." },
  {
    rule: "not-identity-answer",
    on: "imds",
    text: "ManagedIdentityCredential: Authentication failed.",
    note: "after an HTML page or a bare 403 (not IMDS's JSON)",
    context: () => ({ exchanges: [exchange(IMDS_URL, { status: 403, bodyExcerpt: "<html><body>Access denied</body></html>" })] }),
  },
  {
    rule: "endpoint-failing",
    on: ["aks"],
    text: "ManagedIdentityCredential: Authentication failed.",
    note: "after HTTP 404 from pod identity's NMI (no AzureIdentityBinding for the pod)",
    context: () => ({ exchanges: [exchange(IMDS_URL, { status: 404, bodyExcerpt: "no azure identity found for request clientID" })] }),
  },
  // Azure Arc
  { rule: "arc-identity-not-confirmed", on: ["arc"], text: "user_assigned_managed_identity_not_confirmed" },
  {
    rule: "arc-user-assigned-unsupported",
    on: ["arc"],
    text: "unable_to_create_azure_arc: Azure Arc Managed Identities can only be system assigned.",
    note: "(older msal-node)",
  },
  { rule: "transport-error", on: ["arc"], text: "connect ECONNREFUSED 127.0.0.1:40342", note: "(himds not running)" },
  // Every identity endpoint
  {
    rule: "throttled",
    on: "endpoint",
    text: "ManagedIdentityCredential: Authentication failed.",
    note: "after HTTP 429 answers (a convoy of cold getToken calls)",
    context: (vars) => ({ exchanges: [exchange(vars.IDENTITY_ENDPOINT !== undefined ? APP_SERVICE_URL : IMDS_URL, { status: 429, retryAfter: "5" })] }),
  },
  // AKS workload identity: the token file, Entra's answer to the exchange
  {
    rule: "workload-identity.variables-not-injected",
    on: ["aks-workload-identity"],
    text: "WorkloadIdentityCredential: is unavailable. tenantId, clientId, and federatedTokenFilePath are required.",
    context: () => ({ credentialName: "WorkloadIdentityCredential" }),
  },
  { rule: "workload-identity.token-file-missing", on: ["aks-workload-identity"], text: `ENOENT: no such file or directory, open '${TOKEN_FILE}'` },
  {
    rule: "workload-identity.token-file-unreadable",
    on: ["aks-workload-identity"],
    text: `EACCES: permission denied, open '${TOKEN_FILE}'`,
    context: () => tokenFile("unreadable", "EACCES"),
  },
  { rule: "workload-identity.token-file-empty", on: ["aks-workload-identity"], text: `No content on the file ${TOKEN_FILE}.` },
  {
    rule: "workload-identity.token-file-not-jwt",
    on: ["aks-workload-identity"],
    text: "AADSTS50027: JWT token is invalid or malformed.",
    note: "(the file holds no JWT)",
    context: () => tokenFile("not-a-jwt"),
  },
  {
    rule: "workload-identity.no-matching-federated-credential",
    on: ["aks-workload-identity"],
    text: "AADSTS70021: No matching federated identity record found for presented assertion.",
  },
  {
    rule: "workload-identity.issuer-mismatch",
    on: ["aks-workload-identity"],
    text: "AADSTS700211: No matching federated identity record found for presented assertion issuer '…'",
  },
  {
    rule: "workload-identity.audience-mismatch",
    on: ["aks-workload-identity"],
    text: "AADSTS700212: No matching federated identity record found for presented assertion audience '…'",
  },
  {
    rule: "workload-identity.subject-mismatch",
    on: ["aks-workload-identity"],
    text: "AADSTS700213: No matching federated identity record found for presented assertion subject '…'",
  },
  {
    rule: "workload-identity.application-not-found",
    on: ["aks-workload-identity"],
    text: "AADSTS700016: Application with identifier '…' was not found in the directory '…'",
  },
  { rule: "workload-identity.wrong-tenant", on: ["aks-workload-identity"], text: "AADSTS90002: Tenant '…' not found." },
  { rule: "workload-identity.assertion-expired", on: ["aks-workload-identity"], text: "AADSTS700024: Client assertion is not within its valid time range." },
  {
    rule: "workload-identity.assertion-lifetime-too-long",
    on: ["aks-workload-identity"],
    text: "AADSTS70023: External OIDC Provider token must have a lifetime of less than or equal to 1.01:00:00",
  },
  { rule: "workload-identity.oidc-issuer-unreachable", on: ["aks-workload-identity"], text: "AADSTS90061: Request to External OIDC endpoint failed." },
  {
    rule: "workload-identity.signing-key-unknown",
    on: ["aks-workload-identity"],
    text: "AADSTS7000272: The certificate with identifier … used to sign the federated credential could not be found",
  },
  // Entra ID's answers, on every platform
  { rule: "app-role-required", on: "all", text: "AADSTS501051: Application '…'(…) is not assigned to a role for the application '…'(…)." },
  { rule: "invalid-scope", on: "all", text: "AADSTS70011: The provided value for the input parameter 'scope' is not valid." },
  { rule: "unknown-resource", on: "all", text: "AADSTS500011: The resource principal named https://vault.azure.nett was not found" },
];

/** Whether a row is on this platform's page. */
export function rowOn(row: PageRow, platform: PlatformEntry): boolean {
  const on = row.on;
  if (on === "all") return true;
  if (on === "endpoint") return !platform.sources.includes("WorkloadIdentity");
  if (on === "app-service-endpoint") return platform.injectsIdentityVariables;
  if (on === "imds") return platform.sources.includes("DefaultToImds");
  return on.includes(platform.key);
}

/** The environment a diagnosis on this platform sees (for the test that classifies each row's text). */
export const PLATFORM_ENVIRONMENTS: Readonly<Record<PlatformKey, Record<string, string>>> = {
  "container-apps-job": { IDENTITY_ENDPOINT: "http://localhost:42356/msi/token", IDENTITY_HEADER: "h", CONTAINER_APP_JOB_NAME: "job-a" },
  "container-apps": {
    IDENTITY_ENDPOINT: "http://localhost:42356/msi/token",
    IDENTITY_HEADER: "h",
    CONTAINER_APP_NAME: "ca-a",
    CONTAINER_APP_REVISION: "ca-a--1",
  },
  functions: { IDENTITY_ENDPOINT: "http://localhost:42356/msi/token", IDENTITY_HEADER: "h", WEBSITE_SITE_NAME: "func-a", FUNCTIONS_WORKER_RUNTIME: "node" },
  "app-service": { IDENTITY_ENDPOINT: "http://localhost:42356/msi/token", IDENTITY_HEADER: "h", WEBSITE_SITE_NAME: "web-a" },
  "aks-workload-identity": {
    KUBERNETES_SERVICE_HOST: "10.0.0.1",
    AZURE_FEDERATED_TOKEN_FILE: TOKEN_FILE,
    AZURE_TENANT_ID: WORKLOAD_ENV.tenantId,
    AZURE_CLIENT_ID: WORKLOAD_ENV.clientId,
  },
  aks: { KUBERNETES_SERVICE_HOST: "10.0.0.1", POD_NAMESPACE: "orders" },
  arc: { IDENTITY_ENDPOINT: "http://localhost:40342/metadata/identity/oauth2/token", IMDS_ENDPOINT: "http://localhost:40342" },
  vm: { DIAGNOSTIC_CREDENTIAL_PLATFORM: "vm" },
  vmss: { DIAGNOSTIC_CREDENTIAL_PLATFORM: "vmss" },
};

// ── The page ─────────────────────────────────────────────────────────────────────────────────────────────────

export const SEE = "## What you see, what it means";
export const RUN = "## What to run";

function head(entry: PlatformEntry): string {
  const names = entry.instanceNames.map((n) => `${n.label} \`${n.attribute}\` (${n.variables.join(" or ")})`).join(", ");
  return [
    `# ${entry.displayName} (\`${entry.platform}\`)`,
    "",
    `Detected: ${entry.detectedBy}. Identity source: ${entry.sources.join(", ")}.${names ? ` Instance: ${names}.` : ""}`,
  ].join("\n");
}

/** The rows of a platform's table, as printed: what you see, hypothesis, meaning (the catalog's), rule. */
export function tableRows(entry: PlatformEntry): Array<{ row: PageRow; cells: [string, string, string, string] }> {
  const rules = catalogRules();
  return PAGE_ROWS.filter((row) => rowOn(row, entry)).map((row) => {
    const entries = rules.get(row.rule);
    if (entries === undefined) throw new Error(`docs/platforms: no token-time rule ${row.rule} in the tables`);
    const { code, meaning } = ruleEntry(entries, row.rule);
    const see = `\`${row.text}\`${row.note !== undefined ? ` ${row.note}` : ""}`;
    return { row, cells: [see, String(DIAGNOSIS_CODES[code].hypothesis), meaning, `\`token-time.${row.rule}\``] };
  });
}

function table(entry: PlatformEntry): string {
  const lines = tableRows(entry).map(({ cells }) => `| ${cells.join(" | ")} |`);
  return [
    SEE,
    "",
    "| What you see | H | What it means | Rule |",
    "|---|---|---|---|",
    ...lines,
    "",
    "Rules every platform shares: [observability.md](../observability.md#rules-and-checks).",
  ].join("\n");
}

/** A step as a diagnosis prints it (`sentence: command`), split to show the command as code. */
function stepLine(step: string | undefined, command: string): string | undefined {
  if (step === undefined || command === "") return undefined;
  if (!step.endsWith(`: ${command}`)) throw new Error(`docs/platforms: the step does not end with its command: ${step}`);
  return `- ${step.slice(0, step.length - command.length - 2)}:\n  \`${command}\``;
}

/** The context of a diagnosis on this platform, with nothing else known (the commands keep their placeholders). */
export function pageContext(entry: PlatformEntry, extra: Partial<CommandContext> = {}): CommandContext {
  return { platformKey: entry.key, ...extra };
}

export function commandLines(entry: PlatformEntry): string[] {
  const ctx = pageContext(entry);
  // A user-assigned identity the diagnosis knows only by its resource id: the placeholder the reader fills.
  const userAssigned = pageContext(entry, { resourceId: "$IDENTITY_RESOURCE_ID" });
  return [
    stepLine(showIdentityStep(ctx), showIdentityCommand(ctx)),
    stepLine(assignIdentityStep(ctx), assignIdentityCommand(ctx)),
    stepLine(assignIdentityStep(userAssigned), assignIdentityCommand(userAssigned)),
    stepLine(restartRevisionStep(ctx), restartRevisionCommand(ctx)),
    stepLine(doctorInContainerStep(ctx), doctorInContainerCommand(ctx)),
    stepLine(listInstancesStep(ctx), replicaListCommand(ctx)),
    `- The identity's principal id: \`${hostCommandValues(ctx).principalIdAssignment}\``,
  ].filter((line): line is string => line !== undefined);
}

export function platformPage(entry: PlatformEntry): string {
  return `${head(entry)}\n\n${table(entry)}\n\n${RUN}\n\n${commandLines(entry).join("\n")}\n`;
}

export { PLATFORMS };
