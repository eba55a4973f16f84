/**
 * Command-line parsing of `diagnostic-credential`. Pure: argv in, a command or a usage error out.
 */
import { parseArgs } from "node:util";
import { catalogFor, hostOf } from "../catalog/resolve.js";
import type { ServiceDefinitionInput } from "../catalog/types.js";
import { checkResourceManagerEndpoint } from "../verify/endpoint.js";
import type { SmokeTestDependency } from "./smokeTest.js";

export const USAGE = `Usage: diagnostic-credential doctor [--scope S]... [--url URL]... [--service NAME=URL]... [--client-id ID] [--verify] [--arm-endpoint URL] [--json] [--timeout MS] [--no-color]

Checks managed identity from inside the container: the environment the Azure SDK sees, the identity
endpoint, a token per scope (claims only, never the token) and an authenticated call per URL, with a
diagnosis (H1-H5) for every failure.

Options:
  --scope S        request a token for this scope (repeatable). Default, with no --scope and no --url:
                   https://management.azure.com/.default
  --url URL        call this https URL with a token (repeatable, GET). Its token's scope: the one --scope
                   if a single one is given, the --scope at the same position if one is given per --url,
                   else the scope the service catalog knows for the host
  --service NAME=URL
                   treat the host of this https URL as the catalog service NAME (repeatable): an emulator, a
                   private endpoint or a custom domain gets that service's scope, request headers (Key Vault's
                   api-version, Storage's x-ms-version) and audience check. NAME: a catalog service
                   (keyvault, storage, servicebus, cosmos, graph, arm, ...; a wrong one lists them all)
  --client-id ID   test this user-assigned identity (default: the system-assigned identity)
  --verify         verify each H1/H2 finding against Azure Resource Manager with the identity's own token
                   (is the identity attached to the app; which role assignment, deny assignment or access
                   policy decides): a "Verified" section. Needs Reader on what it reads (docs/verification.md)
  --arm-endpoint URL
                   the Resource Manager to ask (https; default: the cloud of the failure). Implies --verify
  --json           print one JSON document (the report, with "version" and "exitCode"; a usage error too)
  --timeout MS     time limit of each step in milliseconds (default 10000)
  --no-color       no colours (also: NO_COLOR, or output that is not a terminal)
  -h, --help       this help
  -v, --version    the version

Exit codes: 0 all good, 1 a problem found, 2 usage error.

Example (Azure Container Apps):
  az containerapp exec --name "$APP_NAME" --resource-group "$RG" --command \\
    "npx diagnostic-credential doctor --scope https://vault.azure.net/.default --url https://<vault>.vault.azure.net/secrets/x"`;

/** The one-line hint printed with a usage error. */
export const USAGE_HINT =
  "usage: diagnostic-credential doctor [--scope S]... [--url URL]... [--service NAME=URL]... [--client-id ID] [--verify] [--arm-endpoint URL] [--json] [--timeout MS] [--no-color] (--help for more)";

export type Command =
  | { kind: "help" }
  | { kind: "version" }
  | {
      kind: "doctor";
      scopes: string[];
      dependencies: SmokeTestDependency[];
      /** `--service NAME=URL`, one entry per NAME with every host given for it (the `services` option of runSmokeTest). */
      services: ServiceDefinitionInput[];
      clientId?: string;
      /** `--verify` (or `--arm-endpoint`): verify H1/H2 findings against Resource Manager. */
      verify?: boolean;
      /** `--arm-endpoint URL`. */
      resourceManagerEndpoint?: string;
      json: boolean;
      timeoutMs?: number;
      noColor: boolean;
    }
  | {
      kind: "usage-error";
      message: string;
      /** `--json` was on the command line: the error is answered as a JSON document too. */
      json: boolean;
    };

const MAX_TIMEOUT_MS = 10 * 60_000;

/** Parses `process.argv.slice(2)`. Never throws. */
export function parseCommand(argv: readonly string[]): Command {
  const json = wantsJson(argv);
  const usageError = (message: string): Command => ({ kind: "usage-error", message, json });
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    return usageError(parseErrorMessage(error));
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: "help" };
  if (values.version === true) return { kind: "version" };
  const [subcommand, ...rest] = positionals;
  if (subcommand === undefined) return usageError("missing the subcommand: doctor");
  if (subcommand === "help") return { kind: "help" };
  if (subcommand === "version") return { kind: "version" };
  if (subcommand !== "doctor") return usageError(`unknown subcommand '${subcommand}'`);
  if (rest.length > 0) return usageError(`unexpected argument '${rest[0]}'`);

  const scopes = (values.scope ?? []).map((s) => s.trim());
  const empty = scopes.find((s) => s.length === 0);
  if (empty !== undefined) return usageError("--scope needs a value");
  for (const scope of scopes) {
    if (/\s/.test(scope)) return usageError(`--scope takes one scope, got '${scope}' (repeat --scope for several)`);
  }
  const urls = values.url ?? [];
  for (const url of urls) {
    let parsedUrl: URL;
    try {
      parsedUrl = new URL(url);
    } catch {
      return usageError(`--url '${url}' is not a URL`);
    }
    if (parsedUrl.protocol !== "https:") {
      return usageError(`--url '${url}' is not https (a bearer token is only sent over TLS)`);
    }
  }
  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    const text = values.timeout.trim();
    if (!/^\d+$/.test(text) || Number(text) <= 0 || Number(text) > MAX_TIMEOUT_MS) {
      return usageError(`--timeout must be a whole number of milliseconds between 1 and ${MAX_TIMEOUT_MS}, got '${values.timeout}'`);
    }
    timeoutMs = Number(text);
  }
  const clientId = values["client-id"]?.trim();
  if (values["client-id"] !== undefined && (clientId === undefined || clientId.length === 0)) return usageError("--client-id needs a value");

  const services = parseServices(values.service ?? []);
  if (typeof services === "string") return usageError(services);
  let armEndpoint: string | undefined;
  if (values["arm-endpoint"] !== undefined) {
    try {
      armEndpoint = checkResourceManagerEndpoint(values["arm-endpoint"].trim());
    } catch {
      return usageError(`--arm-endpoint '${values["arm-endpoint"]}' is not an https URL without credentials or query`);
    }
  }

  const command: Extract<Command, { kind: "doctor" }> = {
    kind: "doctor",
    scopes,
    dependencies: pairScopes(urls, scopes, services),
    services,
    json: values.json === true,
    noColor: values["no-color"] === true,
  };
  if (clientId !== undefined) command.clientId = clientId;
  if (timeoutMs !== undefined) command.timeoutMs = timeoutMs;
  if (values.verify === true || armEndpoint !== undefined) command.verify = true;
  if (armEndpoint !== undefined) command.resourceManagerEndpoint = armEndpoint;
  return command;
}

/**
 * The scope each URL is called with: the single --scope for every URL; one --scope per --url in order; otherwise the
 * catalog's scope for the host, or the first --scope for a host the catalog does not know.
 */
export function pairScopes(urls: readonly string[], scopes: readonly string[], services: readonly ServiceDefinitionInput[] = []): SmokeTestDependency[] {
  return urls.map((url, index) => {
    if (scopes.length === 1) return { url, scope: scopes[0]! };
    if (scopes.length > 1 && scopes.length === urls.length) return { url, scope: scopes[index]! };
    const known = safeScopeForUrl(url, services);
    if (known !== undefined) return { url, scope: known };
    return scopes[0] !== undefined ? { url, scope: scopes[0] } : { url };
  });
}

function safeScopeForUrl(url: string, services: readonly ServiceDefinitionInput[]): string | undefined {
  try {
    return catalogFor(services).scopeForUrl(url);
  } catch {
    return undefined;
  }
}

/**
 * `--service NAME=URL` values → the catalog's `services` option: each NAME must be a catalog service and each URL an
 * https URL; its host (with the port, when not 443) is added to that service's hosts. An error message otherwise.
 */
export function parseServices(values: readonly string[]): ServiceDefinitionInput[] | string {
  const known = catalogFor().services.map((service) => service.name);
  const hostsByName = new Map<string, string[]>();
  for (const value of values) {
    const separator = value.indexOf("=");
    const name = (separator > 0 ? value.slice(0, separator) : "").trim().toLowerCase();
    const url = separator > 0 ? value.slice(separator + 1).trim() : "";
    if (name.length === 0 || url.length === 0) return `--service takes NAME=URL (e.g. keyvault=https://127.0.0.1:8443), got '${value}'`;
    if (!known.includes(name)) return `--service: unknown service '${name}' (one of: ${known.join(", ")})`;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return `--service ${name}: '${url}' is not a URL`;
    }
    if (parsed.protocol !== "https:") return `--service ${name}: '${url}' is not https (a bearer token is only sent over TLS)`;
    if (parsed.username !== "" || parsed.password !== "") return `--service ${name}: '${url}' carries credentials; give the service's URL only`;
    const host = hostOf(parsed);
    if (host === undefined) return `--service ${name}: '${url}' has no host`;
    const hosts = hostsByName.get(name) ?? [];
    if (!hosts.includes(host)) hosts.push(host);
    hostsByName.set(name, hosts);
  }
  return [...hostsByName].map(([name, hosts]) => ({ name, hosts }));
}

/** Whether `--json` is among the options (before a `--`), read without the parser: a usage error answers in JSON too. */
function wantsJson(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === "--") return false;
    if (arg === "--json") return true;
  }
  return false;
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      scope: { type: "string", multiple: true },
      url: { type: "string", multiple: true },
      service: { type: "string", multiple: true },
      "client-id": { type: "string" },
      verify: { type: "boolean" },
      "arm-endpoint": { type: "string" },
      json: { type: "boolean" },
      timeout: { type: "string" },
      "no-color": { type: "boolean" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "v" },
    },
  });
}

function parseErrorMessage(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const option = /Unknown option '([^']+)'/.exec(message)?.[1];
    return option !== undefined ? `unknown option '${option}'` : "unknown option";
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const raw = /Option '([^']+)'/.exec(message)?.[1];
    const option = raw?.replace(/^-\w, /, "").replace(/ <value>$/, "");
    if (option === undefined) return message.split("\n")[0]!;
    return /ambiguous/.test(message) ? `${option} needs a value (write ${option}=<value> for one that starts with '-')` : `${option} needs a value`;
  }
  return message.split("\n")[0] ?? "invalid arguments";
}
