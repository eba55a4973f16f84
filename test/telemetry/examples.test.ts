/**
 * The wiring examples, run as a user runs them (the BUILT package, `node examples/…`), each in its own process:
 * otel-console prints the spans, the metrics and the log lines; otel-azure-monitor without a connection string
 * explains what is missing and exits 2 before loading anything (no network in tests).
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/childScenario.js";

function runExample(file: string, env: Record<string, string> = {}, timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, "examples", file)], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe.concurrent("examples", () => {
  it("otel-azure-monitor.mjs without APPLICATIONINSIGHTS_CONNECTION_STRING: a clear message, exit code 2, nothing else", async () => {
    const r = await runExample("otel-azure-monitor.mjs");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^otel-azure-monitor: APPLICATIONINSIGHTS_CONNECTION_STRING is not set\./);
    expect(r.stderr).toMatch(/examples\/otel-console\.mjs/);
    expect(r.stdout).toBe("");
  });

  it("otel-console.mjs: spans (UNSET, ERROR, recovered), the three metrics with units, the H1 and [recovered] lines, no token", async () => {
    const r = await runExample("otel-console.mjs");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/1\. token for Key Vault/);
    expect(r.stdout).toMatch(/3\. CredentialUnavailableError: H1 IdentityNotAssigned/);
    expect(r.stdout.match(/name: 'DiagnosticCredential\.getToken'/g)).toHaveLength(4);
    expect(r.stdout).toMatch(/'error\.type': 'IdentityNotAssigned'/);
    expect(r.stdout).toMatch(/name: 'diagnostic_credential\.recovered'/);
    expect(r.stdout).toMatch(/'azure\.container_app\.revision': 'ca-orders--r7x2k9q'/);
    for (const [metric, unit] of [
      ["diagnostic_credential.get_token.duration", "s"],
      ["diagnostic_credential.diagnoses", "{diagnosis}"],
      ["diagnostic_credential.recovery.duration", "s"],
    ]) {
      expect(r.stdout).toMatch(new RegExp(`name: '${metric.replace(/\./g, "\\.")}',[\\s\\S]{0,200}unit: '${unit.replace(/[{}]/g, "\\$&")}'`));
    }
    const lines = r.stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { message: string; level: string; containerApp: unknown });
    expect(lines.map((l) => l.message.slice(0, 52))).toEqual([
      "DiagnosticCredential [H1 IdentityNotAssigned] Manage",
      "DiagnosticCredential [recovered] H1 IdentityNotAssig",
    ]);
    expect(lines[1]!.level).toBe("info");
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/eyJ[A-Za-z0-9_-]{20,}/);
  });
});
