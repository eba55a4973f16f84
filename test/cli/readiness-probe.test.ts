/**
 * examples/readiness-probe.mjs, run as documented at its top (`--emulators`, `--emulators=forbidden`) against the
 * BUILT package: /healthz 200, /readyz 200 or 503 with the report, concurrent probes share one cached run.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../helpers/childScenario.js";

async function startExample(mode: string): Promise<{ url: string; child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, "examples", "readiness-probe.mjs"), mode], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", PORT: "0", CACHE_MS: "60000" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (output += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the example did not start:\n${output}`)), 20_000);
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      output += d;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.on("exit", (code) => reject(new Error(`the example exited (${code}):\n${output}`)));
  });
  return { url, child, output: () => output };
}

describe.concurrent("examples/readiness-probe.mjs", () => {
  for (const [mode, status, hypothesis] of [
    ["--emulators", 200, undefined],
    ["--emulators=forbidden", 503, "H2"],
  ] as const) {
    it(`${mode}: /healthz 200, /readyz ${status}`, async () => {
      const example = await startExample(mode);
      try {
        const health = await fetch(`${example.url}/healthz`);
        expect(health.status).toBe(200);
        expect(await health.text()).toBe("ok\n");
        const [a, b] = await Promise.all([fetch(`${example.url}/readyz`), fetch(`${example.url}/readyz`)]);
        expect([a.status, b.status]).toEqual([status, status]);
        const [reportA, reportB] = (await Promise.all([a.json(), b.json()])) as Array<{
          ok: boolean;
          startedAt: string;
          dependencies: Array<{ url: string; status: number; diagnosis?: { hypothesis: string } }>;
        }>;
        expect(reportA!.ok).toBe(status === 200);
        expect(reportB!.startedAt).toBe(reportA!.startedAt); // one run for both probes
        expect(reportA!.dependencies[0]).toMatchObject({ url: "https://orders-kv.vault.azure.net/secrets/db-password", status: status === 200 ? 200 : 403 });
        expect(reportA!.dependencies[0]!.diagnosis?.hypothesis).toBe(hypothesis);
        const again = (await (await fetch(`${example.url}/readyz`)).json()) as { startedAt: string };
        expect(again.startedAt).toBe(reportA!.startedAt); // cached
      } finally {
        example.child.kill("SIGTERM");
      }
    });
  }
});
