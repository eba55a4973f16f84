/** The README's "run" command: the example prints one diagnosis per fault, as a user would see it. */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/childScenario.js";

function runExample(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["examples/diagnose-faults.mjs"], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("examples/diagnose-faults.mjs", () => {
  it("shows the right hypothesis for every fault and nothing for the healthy case", async () => {
    const { code, stdout, stderr } = await runExample();
    expect(code, stderr).toBe(0);
    const sections = Object.fromEntries(
      stdout
        .split("\n== ")
        .slice(1)
        .map((block) => [block.split("\n")[0]!.trim(), block]),
    );
    expect(sections["healthy system-assigned identity"]).toMatch(/no diagnosis: nothing wrong/);
    for (const [title, hypothesis] of Object.entries(sections)
      .filter(([t]) => /^H\d/.test(t))
      .map(([t, b]) => [t, b] as const)) {
      expect(hypothesis, title).toMatch(new RegExp(`^   ${title.slice(0, 2)} \\w+ \\((high|medium)\\)`, "m"));
    }
    expect(
      Object.keys(sections)
        .filter((t) => /^H\d/.test(t))
        .map((t) => t.slice(0, 2))
        .sort()
        .join(""),
    ).toMatch(/H1.*H2.*H3.*H4.*H5/);
    // The hypothesis and code are printed once per diagnosis: a logged warning's message does not repeat its tag.
    expect(stdout).not.toMatch(/DiagnosticCredential \[/);
    expect(sections["H3 token for another audience"]).toMatch(
      /^ {3}H3 WrongAudience \(high\): Token for scope https:\/\/vault\.azure\.net\/\.default has audience .+ \(logged, level warn\)$/m,
    );
  }, 90_000);
});
