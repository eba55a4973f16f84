/**
 * Runs DiagnosticCredential (the BUILT package, imported by its name as a user would) in a fresh process against
 * the identity emulator, and returns every getToken outcome and every log entry. One process per scenario:
 * MSAL's cache and source detection are per-process statics.
 */
import { runScenario, SCENARIO_PRELUDE, type ScenarioResult } from "./childScenario.js";
import type { Diagnosis, DiagnosisLogEntry } from "../../src/index.js";

export interface CredentialCall {
  ok: boolean;
  token?: string;
  expiresOnTimestamp?: number;
  refreshAfterTimestamp?: number;
  tokenType?: string;
  error?: { name: string; message: string; cause?: unknown; constructorName?: string };
  diagnosis?: Diagnosis;
  getDiagnosis?: Diagnosis;
  ms: number;
}

export interface CredentialScenarioResult {
  calls: CredentialCall[];
  logs: DiagnosisLogEntry[];
  /** Raw ManagedIdentityCredential results, when `compareRaw` was set. */
  raw?: CredentialCall[];
  /** With an in-child emulator: its requests, identities and identity header (to prove it never leaks). */
  requests?: Array<{ path: string; status?: number }>;
  identities?: {
    systemAssigned?: { clientId: string; objectId: string; resourceId: string };
    userAssigned: Array<{ clientId: string; objectId: string; resourceId: string; name: string }>;
  };
  identityHeader?: string;
  process: ScenarioResult;
}

export interface CredentialScenarioOptions {
  /** Environment of the child (besides PATH and HOME). With `emulator`, the emulator's env is added in the child. */
  env?: Record<string, string | undefined>;
  /** First constructor argument: a client id string or an options object (JSON-serialisable). */
  constructorArg?: string | Record<string, unknown>;
  /** Scopes of each getToken call, in order. */
  calls: Array<string | string[]>;
  /** Also run a raw ManagedIdentityCredential with the same argument after the wrapper (same process, same cache). */
  compareRaw?: boolean;
  /** Use the default stderr logger instead of capturing entries. */
  defaultLogger?: boolean;
  /** Code run between calls, indexed by call number (before that call). */
  before?: Record<number, string>;
  timeoutMs?: number;
  /**
   * Start the identity emulator inside the child (options of startIdentityEndpoint, JSON) and use its env; `before`
   * code can then reach it as `emulator` (e.g. `emulator.setFault({ kind: "wrong-tenant" })`).
   */
  emulator?: Record<string, unknown>;
  /** JS expression for the first constructor argument, evaluated in the child after the emulator started. */
  constructorExpression?: string;
}

export async function runCredentialScenario(options: CredentialScenarioOptions): Promise<CredentialScenarioResult> {
  const arg = options.constructorArg;
  const ctorArgs = typeof arg === "string" ? `${JSON.stringify(arg)}, { ...extra }` : `{ ...${JSON.stringify(arg ?? {})}, ...extra }`;
  const rawArgs = typeof arg === "string" ? JSON.stringify(arg) : JSON.stringify(arg ?? {});
  const ctor = options.constructorExpression ? `{ ...(${options.constructorExpression}), ...extra }` : ctorArgs;
  const code = `
${SCENARIO_PRELUDE}
import { DiagnosticCredential, getDiagnosis } from "diagnostic-credential";
import { ManagedIdentityCredential } from "@azure/identity";
import { startIdentityEndpoint } from "diagnostic-credential/testing";
const emulatorOptions = ${JSON.stringify(options.emulator ?? null)};
const emulator = emulatorOptions ? await startIdentityEndpoint(emulatorOptions) : undefined;
if (emulator) Object.assign(process.env, emulator.env);
globalThis.emulator = emulator;
const logs = [];
const extra = ${options.defaultLogger ? "{}" : "{ logger: (entry) => logs.push(entry) }"};
const run = async (credential, scopes) => {
  const started = Date.now();
  try {
    const t = await credential.getToken(scopes);
    return { ok: true, token: t.token, expiresOnTimestamp: t.expiresOnTimestamp, refreshAfterTimestamp: t.refreshAfterTimestamp, tokenType: t.tokenType, ms: Date.now() - started };
  } catch (e) {
    return { ok: false, error: describeError(e), diagnosis: e.diagnosis, getDiagnosis: getDiagnosis(e), ms: Date.now() - started };
  }
};
const before = ${JSON.stringify(options.before ?? {})};
const credential = new DiagnosticCredential(${ctor});
const calls = [];
const scopes = ${JSON.stringify(options.calls)};
for (let i = 0; i < scopes.length; i++) {
  if (before[i]) await (0, eval)("(async () => {" + before[i] + "})()");
  calls.push(await run(credential, scopes[i]));
}
let raw;
if (${options.compareRaw ? "true" : "false"}) {
  const rawCredential = new ManagedIdentityCredential(${rawArgs});
  raw = [];
  for (const s of scopes) raw.push(await run(rawCredential, s));
}
credential.flushLogs();
const requests = emulator ? emulator.requests.map((r) => ({ path: r.path, status: r.status })) : undefined;
const identities = emulator ? emulator.identities : undefined;
const identityHeader = emulator ? emulator.identityHeader : undefined;
emit({ calls, logs, raw, requests, identities, identityHeader });
process.exit(0);
`;
  const result = await runScenario({ env: options.env ?? {}, code, timeoutMs: options.timeoutMs ?? 40_000 });
  const json = result.json as Omit<CredentialScenarioResult, "process"> | undefined;
  if (json === undefined || !Array.isArray(json.calls)) {
    throw new Error(
      `scenario produced no result (exit ${result.exitCode}${result.timedOut ? ", timed out" : ""}):\n${result.stderr.slice(-3000)}\n${result.stdout.slice(-2000)}`,
    );
  }
  return { ...json, process: result };
}
