// The `diagnostic-credential` bin: `diagnostic-credential doctor [--scope S]... [--url URL]... [--service NAME=URL]...
// [--client-id ID] [--verify] [--arm-endpoint URL] [--json] [--format text|markdown|json] [--output FILE] [--timeout MS] [--no-color]`.
// Exit 0 all good, 1 a problem found, 2 usage error (or the --output file could not be written).
import { writeFileSync } from "node:fs";
import { parseCommand, USAGE, USAGE_HINT } from "./doctor/args.js";
import { formatMarkdownReport } from "./doctor/markdown.js";
import { progressLine } from "./doctor/progress.js";
import { exitCodeOf, formatReport } from "./doctor/report.js";
import { fetchWithResolveMap, parseResolveMap, RESOLVE_ENV } from "./doctor/resolveFetch.js";
import { runSmokeTest, type SmokeTestOptions } from "./doctor/smokeTest.js";
import { redact } from "./util/redact.js";
import { markProcessAgeIrrelevant } from "./util/uptime.js";
import { LIBRARY_VERSION } from "./util/version.js";

interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: Record<string, string | undefined>;
}

/** Runs the command line; resolves with the exit code. Writes the output itself. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  // The doctor runs beside the app, in a process of its own: "refused in the first seconds of the process" would
  // describe the doctor, not the replica.
  markProcessAgeIrrelevant();
  const command = parseCommand(argv);
  switch (command.kind) {
    case "help":
      io.stdout.write(`${USAGE}\n`);
      return 0;
    case "version":
      io.stdout.write(`${LIBRARY_VERSION}\n`);
      return 0;
    case "usage-error":
      return usageError(io, command.message, command.json);
    case "doctor":
      break;
  }

  const resolveMap = parseResolveMap(io.env[RESOLVE_ENV]);
  if (typeof resolveMap === "string") return usageError(io, resolveMap, command.json);

  const color = command.format === "text" && command.output === undefined && !command.noColor && wantsColor(io);
  // Progress only for the terminal report read on a terminal: a JSON or Markdown document, or output that goes to a
  // pipe, gets nothing but the report.
  const progress =
    command.format === "text" && io.stderr.isTTY === true && (io.stdout.isTTY === true || command.output !== undefined)
      ? progressLine(io.stderr, color && io.env.NO_COLOR === undefined)
      : undefined;
  const options: SmokeTestOptions = {
    scopes: command.scopes,
    dependencies: command.dependencies,
    ...(command.services.length > 0 ? { services: command.services } : {}),
    logger: false,
    ...(command.clientId !== undefined ? { clientId: command.clientId } : {}),
    ...(command.timeoutMs !== undefined ? { timeoutMs: command.timeoutMs } : {}),
    ...(command.verify === true ? { verify: true } : {}),
    ...(command.resourceManagerEndpoint !== undefined ? { resourceManagerEndpoint: command.resourceManagerEndpoint } : {}),
    ...(resolveMap !== undefined ? { fetch: fetchWithResolveMap(resolveMap) } : {}),
    ...(progress !== undefined ? { onProgress: progress.update } : {}),
  };
  const report = await runSmokeTest(options);
  progress?.clear();
  const exitCode = exitCodeOf(report);
  const text =
    command.format === "json"
      ? `${redact(JSON.stringify({ version: LIBRARY_VERSION, exitCode, ...report }, null, 2))}\n`
      : command.format === "markdown"
        ? formatMarkdownReport(report, { version: LIBRARY_VERSION, exitCode })
        : formatReport(report, { color, version: LIBRARY_VERSION });
  if (command.output === undefined) {
    io.stdout.write(text);
    return exitCode;
  }
  try {
    writeFileSync(command.output, text);
    return exitCode;
  } catch (error) {
    // The run's findings are not lost: they go to stdout, the reason the file was not written to stderr.
    io.stdout.write(text);
    const reason = (error as { code?: unknown } | null)?.code ?? (error instanceof Error ? error.message : String(error));
    io.stderr.write(`${redact(`diagnostic-credential: could not write --output ${command.output}: ${String(reason)}`)}\n`);
    return 2;
  }
}

/**
 * Exit code 2. With `--json` the answer is still one JSON document on stdout (a script parsing it gets the reason);
 * otherwise the message and the one-line usage on stderr.
 */
function usageError(io: Io, message: string, json: boolean): 2 {
  if (json) {
    const document = { version: LIBRARY_VERSION, exitCode: 2, ok: false, error: { kind: "usage", message }, usage: USAGE_HINT };
    io.stdout.write(`${redact(JSON.stringify(document, null, 2))}\n`);
  } else {
    io.stderr.write(`${redact(`diagnostic-credential: ${message}`)}\n${USAGE_HINT}\n`);
  }
  return 2;
}

function wantsColor(io: Io): boolean {
  if (io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== "") return false;
  const force = io.env.FORCE_COLOR;
  if (force !== undefined && force !== "" && force !== "0" && force !== "false") return true;
  return io.stdout.isTTY === true && io.env.TERM !== "dumb";
}

// The bin: run and exit once the output is written (an identity endpoint that never answers may hold a socket open).
runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
  (code) => exitAfterFlush(code),
  (error: unknown) => {
    process.stderr.write(`diagnostic-credential: internal error: ${redact(error instanceof Error ? `${error.name}: ${error.message}` : String(error))}\n`);
    exitAfterFlush(1);
  },
);

function exitAfterFlush(code: number): void {
  process.exitCode = code;
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}
