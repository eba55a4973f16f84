/**
 * Runs a snippet of ES-module code in a fresh Node process, for scenarios that drive the REAL
 * `ManagedIdentityCredential`: MSAL's token cache and managed-identity source detection are per-process statics,
 * so each scenario with its own endpoint/env must get its own process.
 *
 * Usage:
 * ```ts
 * const r = await runScenario({
 *   env: emulator.env,
 *   code: `
 *     import { ManagedIdentityCredential } from "@azure/identity";
 *     const c = new ManagedIdentityCredential({ retryOptions: { maxRetries: 0 } });
 *     const t = await c.getToken("https://vault.azure.net/.default");
 *     console.log(JSON.stringify({ ok: true, token: t.token }));
 *   `,
 * });
 * r.json; // { ok: true, token: "…" }
 * ```
 * Conventions:
 * - The code runs with `--input-type=module` in the repository root, so bare imports (`@azure/identity`, `jose`,
 *   `diagnostic-credential` after a build via `./dist/index.js`) resolve from `node_modules`; top-level `await` works.
 * - The child's environment is only `PATH`, `HOME` and `options.env`: no `IDENTITY_*`, `MSI_*`, `AZURE_*`,
 *   `NODE_OPTIONS` or vitest variables leak in from the parent.
 * - Print the result as ONE JSON line, last on stdout; it is parsed into `json`. Print errors the same way
 *   (see {@link SCENARIO_PRELUDE} / `describeError` for a helper that serialises an error and its cause chain).
 * - An uncaught error makes the process exit non-zero; `exitCode` is then 1 (or the signal's 128+n); `timedOut`
 *   and `aborted` tell a kill by `timeoutMs` or by `signal` apart.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root (the child's cwd). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface ScenarioOptions {
  /** Environment variables of the child, on top of PATH and HOME (nothing else is inherited). */
  env: Record<string, string | undefined>;
  /** ES-module source run with `node --input-type=module -e`. */
  code: string;
  /** Kill the child after this many ms (SIGKILL). Default 20 000. */
  timeoutMs?: number;
  /** Extra node flags (e.g. `["--enable-source-maps"]`). */
  nodeArgs?: string[];
  /** Working directory. Default the repository root. */
  cwd?: string;
  /** Kill the child (SIGKILL) when this aborts, e.g. once the test has seen what it waited for. */
  signal?: AbortSignal;
}

export interface ScenarioResult {
  stdout: string;
  stderr: string;
  /** Process exit code; 128 + signal number when killed by a signal. */
  exitCode: number;
  /** True when the child was killed because it ran past `timeoutMs`. */
  timedOut: boolean;
  /** True when the child was killed because `options.signal` aborted. */
  aborted: boolean;
  /** Wall-clock duration in ms. */
  durationMs: number;
  /** The last non-empty stdout line parsed as JSON; undefined if there is none or it is not JSON. */
  json?: unknown;
}

/**
 * Code to put at the top of a scenario: defines `describeError(err)` → a JSON-safe object with `name`, `message`,
 * `code`, `statusCode`, `errorCode`, `status` and the `cause` chain (depth 5), and `emit(value)` → prints one JSON line.
 */
export const SCENARIO_PRELUDE = `
const describeError = (err, depth = 0) => {
  if (err === null || typeof err !== "object" || depth > 5) return err === undefined ? undefined : String(err);
  const out = {};
  for (const key of ["name", "message", "code", "statusCode", "errorCode", "errorMessage", "subError", "status", "correlationId"]) {
    if (err[key] !== undefined && err[key] !== "") out[key] = err[key];
  }
  if (err.constructor && err.constructor.name) out.constructorName = err.constructor.name;
  if (err.cause !== undefined) out.cause = describeError(err.cause, depth + 1);
  return out;
};
const emit = (value) => process.stdout.write(JSON.stringify(value) + "\\n");
`;

/** The JSON a scenario emitted, as `T`; throws with the exit code and the end of stderr when it emitted none. */
export function scenarioJson<T>(result: ScenarioResult): T {
  const json = result.json as T | undefined;
  if (json === undefined) throw new Error(`scenario failed (exit ${result.exitCode}${result.timedOut ? ", timed out" : ""}):\n${result.stderr.slice(-3000)}`);
  return json;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGABRT: 6, SIGSEGV: 11 };

/** Spawns the scenario (see the module comment) and resolves when the child exits or is killed. Never rejects for a failing child. */
export async function runScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const env: Record<string, string> = {};
  if (process.env.PATH) env.PATH = process.env.PATH;
  if (process.env.HOME) env.HOME = process.env.HOME;
  for (const [k, v] of Object.entries(options.env)) if (v !== undefined) env[k] = v;

  const started = Date.now();
  return new Promise<ScenarioResult>((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), "--input-type=module", "-e", options.code], {
      cwd: options.cwd ?? REPO_ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      child.kill("SIGKILL");
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      const exitCode = code ?? (signal ? 128 + (SIGNALS[signal] ?? 0) : 1);
      const lines = stdout
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l.length > 0);
      let json: unknown;
      const last = lines.at(-1);
      if (last !== undefined) {
        try {
          json = JSON.parse(last);
        } catch {
          json = undefined;
        }
      }
      resolve({ stdout, stderr, exitCode, timedOut, aborted, durationMs: Date.now() - started, json });
    });
  });
}
