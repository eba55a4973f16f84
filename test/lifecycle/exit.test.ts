/**
 * Production lifecycle, as a job, a CLI or a test runner sees it: a failed getToken lets the process exit at once,
 * folded log counts are written before it exits, and nothing of ours holds it open. Each scenario is a fresh Node
 * process (the real ManagedIdentityCredential; MSAL's state is per process) importing the built package by name.
 * `PEER_SET` names the installed peer versions (scripts/peer-matrix.mjs runs this file against the oldest ones too).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startIdentityEndpoint, unusedPort, type IdentityEndpointEmulator } from "diagnostic-credential/testing";
import { runScenario, scenarioJson, SCENARIO_PRELUDE } from "../helpers/childScenario.js";

const VAULT = "https://vault.azure.net/.default";
/** The target: the process is its own again within this long after the caught error. */
const EXIT_BUDGET_MS = 1_000;

interface ExitTiming {
  caught: string;
  /** From the scenario's own look at the active handles (50 ms after the caught error) to the process's `exit` event. */
  drainMs: number;
  /** `process.getActiveResourcesInfo()` 50 ms after the caught error (stdout and stderr are pipes: PipeWrap). */
  resources: string[];
}

/**
 * Runs `calls` failing getToken calls, records when the last error was caught, and reports (from the `exit` event)
 * how long the process lived on after it. Nothing in the scenario ends the process by force.
 */
function exitScenario(construct: string, calls = 1): string {
  return `
${SCENARIO_PRELUDE}
import { DiagnosticCredential } from "diagnostic-credential";
const credential = ${construct};
let caughtAt = 0;
let caught = "none";
for (let i = 0; i < ${calls}; i++) {
  try { await credential.getToken(${JSON.stringify(VAULT)}); caught = "token"; }
  catch (error) { caught = error.name; caughtAt = performance.now(); }
}
// What still holds the event loop a moment after the caught error (nothing of ours may: no socket, no timer).
await new Promise((resolve) => setTimeout(resolve, 50));
const resources = process.getActiveResourcesInfo();
const lookedAt = performance.now();
process.on("exit", () => emit({ caught, drainMs: Math.round(performance.now() - lookedAt), resources }));
`;
}

describe(`a failed getToken lets the process exit (peer set: ${process.env.PEER_SET ?? "lockfile"})`, () => {
  let hanging: IdentityEndpointEmulator;
  let failing: IdentityEndpointEmulator;
  let refusedPort: number;

  beforeAll(async () => {
    [hanging, failing, refusedPort] = await Promise.all([
      startIdentityEndpoint({ fault: { kind: "hang" } }),
      startIdentityEndpoint({ fault: { kind: "status", status: 503 } }),
      unusedPort(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([hanging?.close(), failing?.close()]);
  });

  const cases: Array<{ name: string; env: () => Record<string, string>; construct: string; caught: string }> = [
    {
      name: "Container Apps shape, the endpoint refuses (H5, default options)",
      env: () => ({ IDENTITY_ENDPOINT: `http://127.0.0.1:${refusedPort}/msi/token`, IDENTITY_HEADER: "lifecycle-header-value" }),
      construct: "new DiagnosticCredential({ logger: false })",
      caught: "CredentialUnavailableError",
    },
    {
      // What ts-http-runtime 0.3.6 (core-rest-pipeline 1.24, what npm installs on Node 20) does with request.timeout:
      // its timer is cleared only on success. Reproduced with the lockfile's versions, so this runs in every set.
      name: "an HttpClient that clears request.timeout's timer only on success (ts-http-runtime 0.3.6)",
      env: () => ({ IDENTITY_ENDPOINT: `http://127.0.0.1:${refusedPort}/msi/token`, IDENTITY_HEADER: "lifecycle-header-value" }),
      construct: `new DiagnosticCredential({
        logger: false,
        httpClient: ((inner) => ({
          async sendRequest(request) {
            const timer = request.timeout > 0 ? setTimeout(() => {}, request.timeout) : undefined;
            const response = await inner.sendRequest(request);
            clearTimeout(timer);
            return response;
          },
        }))((await import("@azure/core-rest-pipeline")).createDefaultHttpClient()),
      })`,
      caught: "CredentialUnavailableError",
    },
    {
      name: "IMDS shape, nothing listens (off Azure)",
      env: () => ({ AZURE_POD_IDENTITY_AUTHORITY_HOST: `http://127.0.0.1:${refusedPort}` }),
      construct: "new DiagnosticCredential({ logger: false })",
      caught: "CredentialUnavailableError",
    },
    {
      name: "the endpoint answers 503 on every attempt",
      env: () => ({ ...failing.env }),
      construct: "new DiagnosticCredential({ logger: false })",
      caught: "CredentialUnavailableError",
    },
    {
      name: "the endpoint accepts and never answers: the deadline ends the call and its request",
      env: () => ({ ...hanging.env }),
      construct: "new DiagnosticCredential({ logger: false, tokenTimeoutMs: 1500 })",
      caught: "CredentialUnavailableError",
    },
  ];

  for (const testCase of cases) {
    it(`${testCase.name}: exits within ${EXIT_BUDGET_MS} ms of the caught error`, async () => {
      const result = await runScenario({ env: testCase.env(), code: exitScenario(testCase.construct), timeoutMs: 60_000 });
      const timing = scenarioJson<ExitTiming>(result);
      expect(timing.caught).toBe(testCase.caught);
      expect(result.exitCode).toBe(0);
      // Printed so the closing note and CI logs carry the figure per peer set.
      console.log(`[${process.env.PEER_SET ?? "lockfile"}] ${testCase.name}: exit ${timing.drainMs} ms after the caught error (+50 ms the scenario waits)`);
      expect(timing.drainMs).toBeLessThanOrEqual(EXIT_BUDGET_MS);
      expect(timing.resources.filter((resource) => resource !== "TTYWrap" && resource !== "PipeWrap")).toEqual([]);
    });
  }
});

describe("folded log counts survive the exit", () => {
  let refusedPort: number;
  beforeAll(async () => {
    refusedPort = await unusedPort();
  });

  /** Five identical failures, then the process ends as `ending` says; the log lines' counts are summed. */
  async function foldedCounts(ending: string): Promise<{ lines: Array<{ level: string; count: number; source: string }>; total: number }> {
    const result = await runScenario({
      env: { IDENTITY_ENDPOINT: `http://127.0.0.1:${refusedPort}/msi/token`, IDENTITY_HEADER: "lifecycle-header-value", CONTAINER_APP_NAME: "ca-jobs" },
      code: `
${SCENARIO_PRELUDE}
import { DiagnosticCredential } from "diagnostic-credential";
const credential = new DiagnosticCredential({ retryOptions: { maxRetries: 0 } });
for (let i = 0; i < 5; i++) { try { await credential.getToken(${JSON.stringify(VAULT)}); } catch {} }
${ending}
`,
      timeoutMs: 60_000,
    });
    const lines = result.stderr
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { level: string; count: number; source: string })
      .filter((line) => line.source === "getToken");
    return { lines, total: lines.reduce((sum, line) => sum + line.count, 0) };
  }

  it("a natural exit writes the repeats: counts add up to the five failures", async () => {
    const { lines, total } = await foldedCounts("");
    expect(total).toBe(5);
    expect(lines.map((line) => line.count)).toEqual([1, 4]);
    expect(lines.every((line) => line.level === "error")).toBe(true);
  });

  it("process.exit() writes them too (synchronously, on the exit event)", async () => {
    const { total } = await foldedCounts("process.exit(0);");
    expect(total).toBe(5);
  });

  it("flushLogs() writes them at once, for apps that end otherwise (a SIGTERM handler)", async () => {
    const { total } = await foldedCounts(`
credential.flushLogs();
process.kill(process.pid, "SIGKILL");`);
    expect(total).toBe(5);
  });
});
