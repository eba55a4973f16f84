/**
 * The doctor's progress line: on a terminal (stderr a TTY) each step as it runs and how long it has waited against
 * its limit, rewritten in place by an unref'd timer that stops when the step ends; with --json, --format markdown or
 * output that is not a terminal, nothing but the report. The line itself against an injected TTY stream (fake
 * timers); the whole bin under a real pseudo-terminal (`script`, from util-linux) when the machine has it.
 */
import { spawn, spawnSync } from "node:child_process";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PROGRESS_INTERVAL_MS, progressLine } from "../../src/doctor/progress.js";
import { startIdentityEndpoint } from "../../src/testing.js";
import { CLI } from "./helpers.js";

function fakeTty() {
  const writes: string[] = [];
  return { writes, stream: { isTTY: true, columns: 100, write: (chunk: string) => (writes.push(chunk), true) } as unknown as NodeJS.WritableStream };
}

afterEach(() => vi.useRealTimers());

describe("progressLine (an injected TTY stream)", () => {
  it("shows the step and its wait against its limit every 250 ms; the timer stops when the step ends", () => {
    vi.useFakeTimers();
    let now = 0;
    const { writes, stream } = fakeTty();
    const line = progressLine(stream, false, () => now);
    line.update({ step: "token", phase: "start", target: "https://vault.azure.net/.default", limitMs: 10_000 });
    expect(writes.at(-1)).toBe("\r\u001b[2Krequesting a token for https://vault.azure.net/.default … 0.0 s of 10 s limit");
    expect(line.ticking).toBe(true);
    now = 2_600;
    vi.advanceTimersByTime(PROGRESS_INTERVAL_MS);
    expect(writes.at(-1)).toBe("\r\u001b[2Krequesting a token for https://vault.azure.net/.default … 2.6 s of 10 s limit");
    line.update({ step: "dependency", phase: "start", target: "https://kv/secrets/a", limitMs: 1_500 });
    line.update({ step: "dependency", phase: "start", target: "https://kv/secrets/b", limitMs: 1_500 });
    expect(writes.at(-1)).toContain("… 2.6 s of 10 s limit (+2 more)");
    line.update({ step: "token", phase: "end", target: "https://vault.azure.net/.default", limitMs: 10_000, durationMs: 2_600 });
    now = 3_000;
    vi.advanceTimersByTime(PROGRESS_INTERVAL_MS);
    expect(writes.at(-1)).toBe("\r\u001b[2Kcalling https://kv/secrets/a … 0.4 s of 1.5 s limit (+1 more)");
    line.update({ step: "dependency", phase: "end", target: "https://kv/secrets/a" });
    line.update({ step: "dependency", phase: "end", target: "https://kv/secrets/b" });
    expect(line.ticking).toBe(false);
    const count = writes.length;
    vi.advanceTimersByTime(PROGRESS_INTERVAL_MS * 4);
    expect(writes).toHaveLength(count); // nothing redrawn once no step runs
    line.clear();
    expect(writes.at(-1)).toBe("\r\u001b[2K");
  });

  it("the timer is unref'd (never keeps the process alive) and a long target is cut to the terminal's width", () => {
    const { writes, stream } = fakeTty();
    const line = progressLine(Object.assign(stream, { columns: 40 }), true);
    const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timeouts();
    line.update({ step: "dependency", phase: "start", target: `https://example.com/${"x".repeat(100)}`, limitMs: 10_000 });
    expect(line.ticking).toBe(true);
    expect(timeouts()).toBe(before);
    expect(writes.at(-1)).toMatch(/^\r\u001b\[2K\u001b\[2mcalling https:\/\/example\.com\/x+…\u001b\[22m$/);
    expect(writes.at(-1)!.replace(/\u001b\[\d*[mK]|\r/g, "").length).toBeLessThanOrEqual(39);
    line.clear();
  });
});

const hasScript = spawnSync("script", ["--version"], { encoding: "utf8" }).status === 0;

/** Runs the built bin under a pseudo-terminal (`script`): stdout and stderr are the terminal; returns what it showed. */
function underTerminal(args: string[], env: Record<string, string>): Promise<string> {
  const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  return new Promise((resolve, reject) => {
    // A wide terminal, so the progress line is not cut to 80 columns.
    const child = spawn("script", ["-qefc", `stty cols 200 rows 40; ${command}`, "/dev/null"], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", TERM: "xterm", ...env },
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.on("error", reject);
    child.on("close", () => resolve(out));
  });
}

describe.runIf(hasScript).concurrent("the bin under a pseudo-terminal (script)", () => {
  it("text report on a terminal: the step and its wait against the limit while the identity endpoint hangs; then the report", async () => {
    const identity = await startIdentityEndpoint({ containerApp: { name: "ca-orders" }, fault: { kind: "hang" } });
    try {
      const shown = await underTerminal(["doctor", "--timeout", "1500", "--no-color"], identity.env);
      expect(shown).toMatch(/\r\u001b\[2Kprobing the identity endpoint http:\/\/127\.0\.0\.1:\d+\/msi\/token … 0\.\d s of 1\.5 s limit/);
      expect(shown).toMatch(/\r\u001b\[2Krequesting a token for https:\/\/management\.azure\.com\/\.default … 1\.\d s of 1\.5 s limit/);
      expect(shown).toContain("Identity endpoint unreachable or not answering. Exit code 1.");
      expect(shown).not.toContain(identity.identityHeader);
    } finally {
      await identity.close();
    }
  });

  it("--json and --format markdown on a terminal: nothing but the report", async () => {
    const identity = await startIdentityEndpoint({ containerApp: { name: "ca-orders" }, fault: { kind: "hang" } });
    try {
      const [json, markdown] = await Promise.all([
        underTerminal(["doctor", "--timeout", "1000", "--json"], identity.env),
        underTerminal(["doctor", "--timeout", "1000", "--format", "markdown"], identity.env),
      ]);
      for (const shown of [json, markdown]) {
        expect(shown).not.toContain("\u001b[2K");
        expect(shown).not.toContain("s limit");
      }
      expect(JSON.parse(json.replace(/\r\n/g, "\n"))).toMatchObject({ exitCode: 1 });
      expect(markdown.replace(/\r\n/g, "\n")).toMatch(/^# Managed identity incident: H5 /);
    } finally {
      await identity.close();
    }
  });
});
