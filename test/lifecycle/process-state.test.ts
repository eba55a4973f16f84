/**
 * Process-wide state and process-wide manners: one registry on a versioned `globalThis` symbol shared by the ESM
 * and the CJS copy of the package loaded side by side (a dual package), and quiet off Azure, where managed identity
 * failing is a chain's expected fall-through. Real credentials, each scenario in a fresh process.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unusedPort } from "diagnostic-credential/testing";
import { runScenario, scenarioJson, SCENARIO_PRELUDE } from "../helpers/childScenario.js";

const VAULT = "https://vault.azure.net/.default";

interface LogLine {
  level: string;
  message: string;
  hypothesis: string;
  source: string;
  count: number;
}

const logLines = (stderr: string): LogLine[] =>
  stderr
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as LogLine);

describe("one process state for the ESM and the CJS entry", () => {
  it("a diagnosis attached by one copy is found by the other; faults are counted once; the state is one object", async () => {
    const result = await runScenario({
      env: {},
      code: `
${SCENARIO_PRELUDE}
import { createRequire } from "node:module";
import * as esm from "diagnostic-credential";
const cjs = createRequire(import.meta.url)("diagnostic-credential");

// A frozen error cannot carry a 'diagnosis' property: only the process-wide registry can hand its diagnosis on.
const failing = {
  async getToken() {
    const error = new Error("ManagedIdentityCredential: Network unreachable. Message: network_error: connect ECONNREFUSED 127.0.0.1:1");
    error.name = "CredentialUnavailableError";
    throw Object.freeze(error);
  },
};
const faultsBefore = esm.getInternalFaultCount();
const credential = new cjs.DiagnosticCredential({ credential: failing, logger: () => { throw new Error("a broken logger"); } });
let caught;
try { await credential.getToken(${JSON.stringify(VAULT)}); } catch (error) { caught = error; }
const state = globalThis[Symbol.for("diagnostic-credential.process-state.v1")];
const faultsAfter = esm.getInternalFaultCount() - faultsBefore;
emit({
  // One copy: the CommonJS entry require()s the ES module build (the registry still serves two bundled copies).
  oneCopy: esm.DiagnosticCredential === cjs.DiagnosticCredential,
  faultsCounted: faultsAfter > 0,
  cjsSees: cjs.getDiagnosis(caught)?.code,
  esmSees: esm.getDiagnosis(caught)?.code,
  sameCountInBoth: cjs.getInternalFaultCount() === esm.getInternalFaultCount(),
  stateIsShared: typeof state === "object" && state.faults.count === esm.getInternalFaultCount(),
});
`,
    });
    const seen = scenarioJson<Record<string, unknown>>(result);
    expect(seen).toEqual({
      oneCopy: true,
      cjsSees: "IdentityEndpointUnreachable",
      esmSees: "IdentityEndpointUnreachable",
      faultsCounted: true,
      sameCountInBoth: true,
      stateIsShared: true,
    });
  });
});

describe("off Azure the library stays quiet; on an Azure host the same failure is an error", () => {
  let refusedPort: number;
  beforeAll(async () => {
    refusedPort = await unusedPort();
  });
  afterAll(() => undefined);

  /** The laptop pattern: managed identity first, then the developer's az login; three token requests. */
  const chainScenario = `
${SCENARIO_PRELUDE}
import { createRequire } from "node:module";
import { AzureCliCredential, ChainedTokenCredential } from "@azure/identity";
import { DiagnosticCredential } from "diagnostic-credential";
const cjs = createRequire(import.meta.url)("diagnostic-credential");
const names = [];
for (const copy of [DiagnosticCredential, DiagnosticCredential, cjs.DiagnosticCredential]) {
  const chain = new ChainedTokenCredential(new copy({ retryOptions: { maxRetries: 0 } }), new AzureCliCredential());
  try { await chain.getToken(${JSON.stringify(VAULT)}); names.push("token"); }
  catch (error) { names.push(error.name + ":" + (error.errors?.[0]?.diagnosis?.code ?? "none")); }
}
emit({ names });
`;

  it("no identity variables and IMDS refused: one info line per process (across both copies), no error or warning", async () => {
    const result = await runScenario({
      // AZURE_POD_IDENTITY_AUTHORITY_HOST points the IMDS fallback at a refused loopback port: never a real link-local address.
      env: { AZURE_POD_IDENTITY_AUTHORITY_HOST: `http://127.0.0.1:${refusedPort}` },
      code: chainScenario,
      timeoutMs: 60_000,
    });
    const { names } = scenarioJson<{ names: string[] }>(result);
    // The chain still fails the same way, and the error still carries its diagnosis.
    expect(names).toEqual(Array(3).fill("AggregateAuthenticationError:IdentityEndpointUnreachable"));
    const lines = logLines(result.stderr);
    expect(lines.map((line) => [line.level, line.hypothesis, line.count])).toEqual([["info", "H5", 1]]);
    expect(lines[0]!.message).toContain("Managed identity is not available here");
  });

  it("on Container Apps (its variables set) the refused endpoint is an error on every process", async () => {
    const result = await runScenario({
      env: {
        IDENTITY_ENDPOINT: `http://127.0.0.1:${refusedPort}/msi/token`,
        IDENTITY_HEADER: "process-state-header",
        CONTAINER_APP_NAME: "ca-orders",
      },
      code: chainScenario,
      timeoutMs: 60_000,
    });
    scenarioJson(result);
    const levels = logLines(result.stderr)
      .filter((line) => line.source === "getToken")
      .map((line) => line.level);
    expect(levels.length).toBeGreaterThan(0);
    expect(levels.every((level) => level === "error")).toBe(true);
  });
});
