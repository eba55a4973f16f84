/**
 * `doctor --format markdown` on one scenario per hypothesis and a healthy one: the BUILT bin, a real
 * ManagedIdentityCredential in its own process against the emulators (scripts/incident-samples.mjs runs them). Each
 * report goes through Mermaid's parser (the path it highlights) and through `marked` (the evidence and hypotheses
 * tables, the verdicts); it prints no token or IDENTITY_HEADER; and, normalised, it is the checked-in sample of
 * docs/incident-reports/, so the docs cannot drift from the code. Also `--output FILE` and the flag errors.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { marked, type Tokens } from "marked";
import { describe, expect, it } from "vitest";
import { runSample, SAMPLES, SAMPLES_DIR, sampleFile, type SampleRun } from "../../scripts/incident-samples.mjs";
import { classesOf, highlightedPath, mermaidBlock, parseFlowchart } from "../helpers/mermaid.js";
import { startIdentityEndpoint } from "../../src/testing.js";
import { runScenario, scenarioJson } from "../helpers/childScenario.js";
import { runDoctor } from "./helpers.js";

interface Expected {
  exitCode: number;
  path: string[];
  supported?: string;
  /** Evidence rows and the verdict expected in each. */
  rows: Record<string, string>;
  /** Verdict of each hypothesis H1–H5. */
  verdicts: string[];
}

const EXPECTED: Record<string, Expected> = {
  healthy: {
    exitCode: 0,
    path: ["A", "B", "D", "F", "H", "J", "L", "N"],
    rows: { "Role assignments (role and scope advice)": "✓ pass", "Audience and scope": "✓ pass", "Identity endpoint exchanges": "✓ pass" },
    verdicts: ["ruled out", "ruled out", "ruled out", "ruled out", "ruled out"],
  },
  "h1-identity-not-assigned": {
    exitCode: 1,
    path: ["A", "B", "C"],
    supported: "H1",
    rows: { "Identity asked for and token identity": "✗ fail", "Audience and scope": "not checked" },
    verdicts: ["supported (high confidence)", "not checked", "not checked", "not checked", "ruled out"],
  },
  "h2-role-missing": {
    exitCode: 1,
    path: ["A", "B", "D", "F", "G"],
    supported: "H2",
    rows: { "Role assignments (role and scope advice)": "✗ fail", "Target-service answer": "✗ fail", "Audience and scope": "✓ pass" },
    verdicts: ["ruled out", "supported (high confidence)", "ruled out", "ruled out", "ruled out"],
  },
  "h3-wrong-audience": {
    exitCode: 1,
    path: ["A", "B", "D", "F", "H", "I"],
    supported: "H3",
    rows: { "Audience and scope": "✗ fail", "Target-service answer": "✗ fail" },
    verdicts: ["ruled out", "not checked", "supported (high confidence)", "ruled out", "ruled out"],
  },
  "h4-expired-token": {
    exitCode: 1,
    path: ["A", "B", "D", "F", "H", "J", "K"],
    supported: "H4",
    rows: { "Token lifetime, tenant and cache": "✗ fail", "Audience and scope": "✓ pass" },
    verdicts: ["ruled out", "not checked", "ruled out", "supported (high confidence)", "ruled out"],
  },
  "h5-endpoint-refused": {
    exitCode: 1,
    path: ["A", "B", "D", "F", "H", "J", "L", "M"],
    supported: "H5",
    rows: { "Identity endpoint exchanges": "✗ fail", "Audience and scope": "not checked", "Principal ID": "not checked" },
    verdicts: ["ruled out", "not checked", "not checked", "not checked", "supported (high confidence)"],
  },
};

function cellText(cell: Tokens.TableCell): string {
  return marked.Parser.parseInline(cell.tokens)
    .replace(/<[^>]+>/g, "")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

function tableRows(markdown: string, first: string): Map<string, string[]> {
  const table = marked.lexer(markdown).find((t): t is Tokens.Table => t.type === "table" && t.header[0]!.text === first);
  if (table === undefined) throw new Error(`no table "${first}"`);
  for (const row of table.rows) expect(row).toHaveLength(table.header.length);
  return new Map(table.rows.map((row) => [cellText(row[0]!), row.map(cellText)]));
}

function expectNoSecrets(run: SampleRun, text: string): void {
  for (const secret of run.secrets) {
    expect(text.includes(secret)).toBe(false);
    for (const part of secret.split(".").filter((p) => p.length > 20)) expect(text.includes(part.slice(0, 30))).toBe(false);
  }
  expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
}

describe.concurrent("doctor --format markdown, one scenario per hypothesis", () => {
  for (const sample of SAMPLES) {
    const expected = EXPECTED[sample.name]!;
    it(`${sample.title}: flow, evidence rows, verdicts, no secret, and the checked-in sample`, async () => {
      const run = await runSample(sample);
      expect(run.exitCode, run.stderr).toBe(expected.exitCode);
      expect(run.stderr).toBe(""); // not a terminal: nothing but the report
      expectNoSecrets(run, run.stdout);

      const chart = await parseFlowchart(mermaidBlock(run.stdout));
      expect(highlightedPath(chart)).toEqual(expected.path);
      const classes = classesOf(chart);
      if (expected.supported !== undefined) expect(classes.fail).toHaveLength(1);
      else expect(classes.fail).toBeUndefined();

      const evidence = tableRows(run.stdout, "Evidence");
      for (const [row, verdict] of Object.entries(expected.rows)) expect(evidence.get(row)?.[2], row).toBe(verdict);
      const hypotheses = [...tableRows(run.stdout, "Hypothesis").values()];
      expect(hypotheses.map((row) => row[0]!.slice(0, 2))).toEqual(["H1", "H2", "H3", "H4", "H5"]);
      expect(hypotheses.map((row) => row[1])).toEqual(expected.verdicts);
      const steps = tableRows(run.stdout, "Step");
      expect(steps.get("identity endpoint probe")?.[2]).toBe(sample.name.startsWith("h5") ? "✗ failed" : "✓ passed");

      // The docs' sample is this run, normalised.
      expect(run.normalized).not.toMatch(/127\.0\.0\.1:\d/);
      expect(sampleFile(sample, run.normalized)).toBe(readFileSync(path.join(SAMPLES_DIR, `${sample.name}.md`), "utf8"));
    });
  }
});

describe.concurrent("doctor --output and --format errors", () => {
  it("--output FILE: the report goes to the file, nothing to stdout or stderr", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "doctor-output-"));
    try {
      const file = path.join(dir, "incident.md");
      const run = await runSample(
        SAMPLES.find((s) => s.name === "h2-role-missing")!,
        ["--output", file],
      );
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toBe("");
      expect(run.stderr).toBe("");
      const written = readFileSync(file, "utf8");
      expect(written).toMatch(/^# Managed identity incident: H2 RBAC role missing or wrong scope\n/);
      expectNoSecrets(run, written);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("usage errors: an unknown format, --json with --format markdown, --output without a name", async () => {
    const unknown = await runDoctor(["doctor", "--format", "html"], {});
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("--format must be one of text, markdown, json, got 'html'");
    const both = await runDoctor(["doctor", "--json", "--format", "markdown"], {});
    expect(both.exitCode).toBe(2);
    expect(JSON.parse(both.stdout)).toMatchObject({ exitCode: 2, error: { message: "--json and --format markdown ask for two formats; give one" } });
    const empty = await runDoctor(["doctor", "--output="], {});
    expect(empty.exitCode).toBe(2);
    expect(empty.stderr).toContain("--output needs a file name");
  });
});

describe("renderIncidentReport in the app's own process", () => {
  it("H1 from a real ManagedIdentityCredential (through DiagnosticCredential): the report of the error's diagnosis, with this replica's environment", async () => {
    const identity = await startIdentityEndpoint({ containerApp: { name: "ca-orders", revision: "ca-orders--rev7" }, systemAssigned: false });
    try {
      const result = await runScenario({
        env: identity.env,
        code: `
          import { DiagnosticCredential, renderIncidentReport } from "./dist/index.js";
          const credential = new DiagnosticCredential({ logger: false, retryOptions: { maxRetries: 0 } });
          try {
            await credential.getToken("https://vault.azure.net/.default");
            console.log(JSON.stringify({ ok: true }));
          } catch (error) {
            console.log(JSON.stringify({ markdown: renderIncidentReport(error.diagnosis) }));
          }
        `,
      });
      const { markdown } = scenarioJson<{ markdown: string }>(result);
      expect(markdown).toMatch(/^# Managed identity incident: H1 Managed identity not assigned to the app\n/);
      expect(markdown).not.toContain(identity.identityHeader);
      expect(highlightedPath(await parseFlowchart(mermaidBlock(markdown)))).toEqual(["A", "B", "C"]);
      const evidence = tableRows(markdown, "Evidence");
      expect(evidence.get("Identity source and platform")![1]).toContain("app ca-orders, revision ca-orders--rev7");
      expect(evidence.get("Identity source and platform")![4]).toBe(
        'az containerapp show --name "ca-orders" --resource-group "$RG" --query identity --output json',
      );
      expect(tableRows(markdown, "Hypothesis").get("H1 Identity not assigned")![1]).toBe("supported (high confidence)");
      expect(markdown).toContain('az containerapp identity assign --name "ca-orders" --resource-group "$RG" --system-assigned');
    } finally {
      await identity.close();
    }
  });
});
