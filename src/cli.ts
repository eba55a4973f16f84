// The `diagnostic-credential` bin: `diagnostic-credential doctor [--scope S]... [--url URL]... [--service NAME=URL]...
// [--client-id ID] [--json] [--timeout MS] [--no-color]`. Exit 0 all good, 1 a problem found, 2 usage error.
import { parseCommand, USAGE, USAGE_HINT } from "./doctor/args.js";
import { exitCodeOf, formatReport } from "./doctor/report.js";
import { fetchWithResolveMap, parseResolveMap, RESOLVE_ENV } from "./doctor/resolveFetch.js";
import { runSmokeTest, type SmokeTestOptions, type SmokeTestProgress } from "./doctor/smokeTest.js";
import { redact } from "./util/redact.js";
import { LIBRARY_VERSION } from "./util/version.js";

interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: Record<string, string | undefined>;
}

/** Runs the command line; resolves with the exit code. Writes the output itself. */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
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

  const color = !command.json && !command.noColor && wantsColor(io);
  const progress = io.stderr.isTTY === true ? progressLine(io.stderr, color) : undefined;
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
  if (command.json) {
    io.stdout.write(`${redact(JSON.stringify({ version: LIBRARY_VERSION, exitCode, ...report }, null, 2))}\n`);
  } else {
    io.stdout.write(formatReport(report, { color, version: LIBRARY_VERSION }));
  }
  return exitCode;
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

const STEP_TEXT: Record<SmokeTestProgress["step"], string> = {
  environment: "reading the environment",
  "identity-endpoint": "probing the identity endpoint",
  token: "requesting a token for",
  dependency: "calling",
};

function progressLine(stream: NodeJS.WriteStream, color: boolean): { update: (p: SmokeTestProgress) => void; clear: () => void } {
  const frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
  let frame = 0;
  let text = "";
  let shown = false;
  const draw = () => {
    const columns = typeof stream.columns === "number" && stream.columns > 0 ? stream.columns : 80;
    const width = Math.max(20, columns - 1);
    const line = `${frames[frame++ % frames.length]} ${text}`.slice(0, width);
    stream.write(`\r\u001b[2K${color ? `\u001b[2m${line}\u001b[22m` : line}`);
    shown = true;
  };
  const timer = setInterval(draw, 100);
  timer.unref();
  return {
    update(p) {
      text = redact(`${STEP_TEXT[p.step]}${p.target ? ` ${p.target}` : ""} …`);
      draw();
    },
    clear() {
      clearInterval(timer);
      if (shown) stream.write("\r\u001b[2K");
    },
  };
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
