/**
 * docs/platforms/<key>.md, one page per platform of the table: its head (detection, identity source, instance names)
 * and its "What to run" commands are generated from src/hosting/platforms.ts; "What you see" is written by hand.
 * The test fails when a page's commands differ from the catalog's. `UPDATE_PLATFORM_DOCS=1` rewrites the generated
 * parts (keeping the hand-written one).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PLATFORMS, type PlatformEntry } from "../../src/hosting/platforms.js";
import { commandContextOf, fillCommand, platformStep, type StepName } from "../../src/diagnosis/commands.js";
import { REPO_ROOT } from "../helpers/childScenario.js";

const DIR = path.join(REPO_ROOT, "docs", "platforms");
const SEE = "## What you see, what it means";
const RUN = "## What to run";

function head(entry: PlatformEntry): string {
  const names = entry.instanceNames.map((n) => `${n.label} \`${n.attribute}\` (${n.variables.join(" or ")})`).join(", ");
  return [
    `# ${entry.displayName} (\`${entry.platform}\`)`,
    "",
    `Detected: ${entry.detectedBy}. Identity source: ${entry.sources.join(", ")}.${names ? ` Instance: ${names}.` : ""}`,
  ].join("\n");
}

function commands(entry: PlatformEntry): string {
  const ctx = { ...commandContextOf(undefined), platformKey: entry.key };
  // A step without a sentence of its own prints the usual one, as a next step does.
  const steps = Object.entries(entry.commands).flatMap(([name, step]) => {
    const filled = typeof step === "object" ? platformStep(entry, name as StepName, ctx) : undefined;
    return filled !== undefined ? [`- ${filled.sentence}:\n  \`${filled.command}\``] : [];
  });
  return [RUN, "", ...steps, `- Principal id: \`${fillCommand(entry.commands.principalId, ctx)}\``].join("\n");
}

function page(entry: PlatformEntry, handWritten: string): string {
  return `${head(entry)}\n\n${SEE}\n\n${handWritten.trim()}\n\n${commands(entry)}\n`;
}

describe("docs/platforms: one page per platform, tested against the catalog", () => {
  for (const entry of PLATFORMS) {
    it(`${entry.key}.md`, () => {
      const file = path.join(DIR, `${entry.key}.md`);
      const text = existsSync(file) ? readFileSync(file, "utf8") : "";
      const handWritten = text.includes(SEE) ? text.slice(text.indexOf(SEE) + SEE.length, text.indexOf(RUN)).trim() : "";
      const expected = page(entry, handWritten);
      if (process.env.UPDATE_PLATFORM_DOCS === "1") writeFileSync(file, expected);
      expect(handWritten.length, `${entry.key}.md needs its "${SEE}" section`).toBeGreaterThan(0);
      expect(existsSync(file) ? readFileSync(file, "utf8") : "").toBe(expected);
    });
  }
});
