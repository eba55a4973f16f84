/**
 * The real IMDS address, without AZURE_POD_IDENTITY_AUTHORITY_HOST: each scenario runs in a network namespace of
 * its own making (`unshare -rn`: a user namespace, so no privilege is needed where the kernel allows it) where
 * 169.254.169.254 is an alias of the namespace's own loopback. The namespace has no other interface, so nothing can
 * reach a real link-local (or any other) address. Where unshare or ip is not usable the tests skip, saying why.
 */
import { spawn, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, SCENARIO_PRELUDE } from "../helpers/childScenario.js";

/** Why a namespace with 169.254.169.254 on its loopback cannot be made here; undefined when it can. */
function netnsUnavailable(): string | undefined {
  const probe = spawnSync("unshare", ["-rn", "sh", "-c", "ip link set lo up && ip addr add 169.254.169.254/32 dev lo && ip -o addr show"], {
    encoding: "utf8",
    timeout: 5000,
  });
  if (probe.error !== undefined) return `unshare could not run: ${probe.error.message}`;
  if (probe.status !== 0) return `unshare -rn failed (exit ${probe.status}): ${probe.stderr.trim().slice(0, 200)}`;
  // Only the namespace's own loopback may exist: then 169.254.169.254 cannot leave it.
  const interfaces = new Set(
    probe.stdout
      .split("\n")
      .filter(Boolean)
      .map((line) => line.split(/\s+/)[1]),
  );
  if ([...interfaces].some((name) => name !== "lo")) return `the new namespace has other interfaces (${[...interfaces].join(", ")})`;
  return undefined;
}

const unavailable = netnsUnavailable();
if (unavailable !== undefined) console.warn(`[imds-netns] skipped: ${unavailable}`);

/** Runs ES-module `code` in a fresh namespace where 169.254.169.254 is a loopback alias; returns its last JSON line. */
function inNamespace(code: string, timeoutMs = 25_000): Promise<{ json: Record<string, any> | undefined; stderr: string; exitCode: number | null }> {
  const script = 'ip link set lo up && ip addr add 169.254.169.254/32 dev lo && exec "$0" --input-type=module -e "$1"';
  return new Promise((resolve) => {
    const env: Record<string, string> = {};
    if (process.env.PATH) env.PATH = process.env.PATH;
    if (process.env.HOME) env.HOME = process.env.HOME;
    const child = spawn("unshare", ["-rn", "sh", "-c", script, process.execPath, `${SCENARIO_PRELUDE}\n${code}`], { cwd: REPO_ROOT, env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (exitCode) => {
      clearTimeout(timer);
      const last = stdout.trim().split("\n").at(-1);
      let json: Record<string, any> | undefined;
      try {
        json = last ? JSON.parse(last) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ json, stderr, exitCode });
    });
  });
}

/** The emulator on 169.254.169.254:80 in the IMDS shape, then the real credential through DiagnosticCredential. */
const scenario = (emulatorOptions: string, body: string) => `
import { DiagnosticCredential, getDiagnosis, runSmokeTest } from "./dist/index.js";
import { startIdentityEndpoint } from "./dist/testing.js";
const imds = await startIdentityEndpoint({ shape: "imds", host: "169.254.169.254", port: 80, ...${emulatorOptions} });
try {
  ${body}
} finally {
  await imds.close();
}
`;

describe.skipIf(unavailable !== undefined)("IMDS at 169.254.169.254 in a network namespace of the test's own", () => {
  it.concurrent(
    "a VM with a system-assigned identity: the real ManagedIdentityCredential gets its token from 169.254.169.254; the doctor's probe sees IMDS's own 400",
    async () => {
      const r = await inNamespace(
        scenario(
          "{}",
          `const credential = new DiagnosticCredential({ retryOptions: { maxRetries: 0 } });
         const token = await credential.getToken("https://vault.azure.net/.default");
         const report = await runSmokeTest({ credential, scopes: ["https://vault.azure.net/.default"], timeoutMs: 5000 });
         emit({ ok: typeof token.token === "string", requests: imds.requests.map((q) => ({ path: q.path, metadata: q.metadataHeader })), probe: report.identityEndpoint });`,
        ),
      );
      expect(r.json, r.stderr.slice(-2000)).toBeDefined();
      expect(r.json!.ok).toBe(true);
      // Older @azure/identity (4.10) pings IMDS without the Metadata header before the token request: the token
      // request itself is the one that carries it.
      expect(r.json!.requests).toContainEqual({ path: "/metadata/identity/oauth2/token", metadata: true });
      expect(r.json!.probe).toMatchObject({
        url: "http://169.254.169.254/metadata/identity/oauth2/token",
        reachable: true,
        status: 400,
        answeredBy: "identity-endpoint",
      });
    },
  );

  it.concurrent("no identity on the VM: IMDS's 'Identity not found' → H1", async () => {
    const r = await inNamespace(
      scenario(
        "{ systemAssigned: false }",
        `const credential = new DiagnosticCredential({ retryOptions: { maxRetries: 0 } });
         try { await credential.getToken("https://vault.azure.net/.default"); emit({ ok: true }); }
         catch (e) { emit({ ok: false, diagnosis: getDiagnosis(e) }); }`,
      ),
    );
    expect(r.json, r.stderr.slice(-2000)).toMatchObject({ ok: false, diagnosis: { hypothesis: "H1", rule: { id: "token-time.identity-not-found" } } });
  });

  it.concurrent("IMDS upgrading (410): the real credential retries, the diagnosis says transient and how long it retried", async () => {
    const r = await inNamespace(
      scenario(
        '{ fault: { kind: "status", status: 410 } }',
        `const credential = new DiagnosticCredential({ retryOptions: { maxRetries: 1, retryDelayInMs: 50, maxRetryDelayInMs: 100 } });
         try { await credential.getToken("https://vault.azure.net/.default"); emit({ ok: true }); }
         catch (e) { emit({ ok: false, diagnosis: getDiagnosis(e), requests: imds.requests.length }); }`,
      ),
    );
    expect(r.json, r.stderr.slice(-2000)).toMatchObject({ ok: false, diagnosis: { hypothesis: "H5", rule: { id: "token-time.imds-upgrading" } } });
    expect(r.json!.diagnosis.summary).toMatch(/IMDS is being upgraded, which is transient .*gave up after \d+ attempts/);
    expect(r.json!.diagnosis.evidence).toContainEqual(expect.stringMatching(/^the credential retried for [\d.]+ m?s over \d+ attempts$/));
  });

  it.concurrent("IMDS throttling (429 with Retry-After) at 169.254.169.254 → H5 throttled with the Retry-After and the convoy", async () => {
    const r = await inNamespace(
      scenario(
        '{ fault: { kind: "status", status: 429, headers: { "Retry-After": "3" } } }',
        `const credential = new DiagnosticCredential({ retryOptions: { maxRetries: 0 } });
         try { await credential.getToken("https://vault.azure.net/.default"); emit({ ok: true }); }
         catch (e) { emit({ ok: false, diagnosis: getDiagnosis(e) }); }`,
      ),
    );
    expect(r.json, r.stderr.slice(-2000)).toMatchObject({ ok: false, diagnosis: { hypothesis: "H5", rule: { id: "token-time.throttled" } } });
    expect(r.json!.diagnosis.summary).toMatch(
      /^The identity endpoint 169\.254\.169\.254\/metadata\/identity\/oauth2\/token\/? is throttling token requests \(HTTP 429( on \d+ attempts)?, Retry-After 3 s\): .*convoy/,
    );
    expect(r.json!.diagnosis.checks).toContainEqual(expect.objectContaining({ kind: "identity-endpoint", verdict: "fail", actual: "HTTP 429" }));
  });
});
