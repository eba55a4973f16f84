/**
 * Command-line parsing of `diagnostic-credential`. Pure: argv in, a command or a usage error out.
 */
import { parseArgs } from "node:util";
import { catalogFor } from "../catalog/resolve.js";
import type { SmokeTestDependency } from "./smokeTest.js";

export const USAGE = `Usage: diagnostic-credential doctor [--scope S]... [--url URL]... [--client-id ID] [--json] [--timeout MS] [--no-color]

Checks managed identity from inside the container: the environment the Azure SDK sees, the identity
endpoint, a token per scope (claims only, never the token) and an authenticated call per URL, with a
diagnosis (H1-H5) for every failure.

Options:
  --scope S        request a token for this scope (repeatable). Default, with no --scope and no --url:
                   https://management.azure.com/.default
  --url URL        call this https URL with a token (repeatable, GET). Its token's scope: the one --scope
                   if a single one is given, the --scope at the same position if one is given per --url,
                   else the scope the service catalog knows for the host
  --client-id ID   test this user-assigned identity (default: the system-assigned identity)
  --json           print one JSON document (the report, with "version" and "exitCode")
  --timeout MS     time limit of each step in milliseconds (default 10000)
  --no-color       no colours (also: NO_COLOR, or output that is not a terminal)
  -h, --help       this help
  -v, --version    the version

Exit codes: 0 all good, 1 a problem found, 2 usage error.

Example (Azure Container Apps):
  az containerapp exec --name "$APP_NAME" --resource-group "$RG" --command \\
    "npx diagnostic-credential doctor --scope https://vault.azure.net/.default --url https://<vault>.vault.azure.net/secrets/x"`;

/** The one-line hint printed with a usage error. */
export const USAGE_HINT = "usage: diagnostic-credential doctor [--scope S]... [--url URL]... [--client-id ID] [--json] [--timeout MS] [--no-color] (--help for more)";

export type Command =
  | { kind: "help" }
  | { kind: "version" }
  | {
      kind: "doctor";
      scopes: string[];
      dependencies: SmokeTestDependency[];
      clientId?: string;
      json: boolean;
      timeoutMs?: number;
      noColor: boolean;
    }
  | { kind: "usage-error"; message: string };

const MAX_TIMEOUT_MS = 10 * 60_000;

/** Parses `process.argv.slice(2)`. Never throws. */
export function parseCommand(argv: readonly string[]): Command {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    return { kind: "usage-error", message: parseErrorMessage(error) };
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: "help" };
  if (values.version === true) return { kind: "version" };
  const [subcommand, ...rest] = positionals;
  if (subcommand === undefined) return { kind: "usage-error", message: "missing the subcommand: doctor" };
  if (subcommand === "help") return { kind: "help" };
  if (subcommand === "version") return { kind: "version" };
  if (subcommand !== "doctor") return { kind: "usage-error", message: `unknown subcommand '${subcommand}'` };
  if (rest.length > 0) return { kind: "usage-error", message: `unexpected argument '${rest[0]}'` };

  const scopes = (values.scope ?? []).map((s) => s.trim());
  const empty = scopes.find((s) => s.length === 0);
  if (empty !== undefined) return { kind: "usage-error", message: "--scope needs a value" };
  for (const scope of scopes) {
    if (/\s/.test(scope)) return { kind: "usage-error", message: `--scope takes one scope, got '${scope}' (repeat --scope for several)` };
  }
  const urls = values.url ?? [];
  for (const url of urls) {
    let parsedUrl: URL;
    try {
      parsedUrl = new URL(url);
    } catch {
      return { kind: "usage-error", message: `--url '${url}' is not a URL` };
    }
    if (parsedUrl.protocol !== "https:") {
      return { kind: "usage-error", message: `--url '${url}' is not https (a bearer token is only sent over TLS)` };
    }
  }
  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    const text = values.timeout.trim();
    if (!/^\d+$/.test(text) || Number(text) <= 0 || Number(text) > MAX_TIMEOUT_MS) {
      return { kind: "usage-error", message: `--timeout must be a whole number of milliseconds between 1 and ${MAX_TIMEOUT_MS}, got '${values.timeout}'` };
    }
    timeoutMs = Number(text);
  }
  const clientId = values["client-id"]?.trim();
  if (values["client-id"] !== undefined && (clientId === undefined || clientId.length === 0)) return { kind: "usage-error", message: "--client-id needs a value" };

  const command: Extract<Command, { kind: "doctor" }> = {
    kind: "doctor",
    scopes,
    dependencies: pairScopes(urls, scopes),
    json: values.json === true,
    noColor: values["no-color"] === true,
  };
  if (clientId !== undefined) command.clientId = clientId;
  if (timeoutMs !== undefined) command.timeoutMs = timeoutMs;
  return command;
}

/**
 * The scope each URL is called with: the single --scope for every URL; one --scope per --url in order; otherwise the
 * catalog's scope for the host, or the first --scope for a host the catalog does not know.
 */
export function pairScopes(urls: readonly string[], scopes: readonly string[]): SmokeTestDependency[] {
  return urls.map((url, index) => {
    if (scopes.length === 1) return { url, scope: scopes[0]! };
    if (scopes.length > 1 && scopes.length === urls.length) return { url, scope: scopes[index]! };
    const known = safeScopeForUrl(url);
    if (known !== undefined) return { url, scope: known };
    return scopes[0] !== undefined ? { url, scope: scopes[0] } : { url };
  });
}

function safeScopeForUrl(url: string): string | undefined {
  try {
    return catalogFor().scopeForUrl(url);
  } catch {
    return undefined;
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      scope: { type: "string", multiple: true },
      url: { type: "string", multiple: true },
      "client-id": { type: "string" },
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
