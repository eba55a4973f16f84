/**
 * The docs' runnable code blocks, run as a user runs them: each block marked `<!-- snippet: NAME -->` in docs/*.md is
 * an ES module that imports the BUILT package by name (`diagnostic-credential`, `diagnostic-credential/testing`) and
 * is run in a fresh Node process (the identity scenarios need their own process, as the docs say). The last line
 * it prints must be the JSON of the block marked `<!-- output: NAME -->` (```json, or ```text on a page whose json
 * blocks are something else): same keys, same values; in an expected
 * string, `…` stands for any text (ids, times). So the docs cannot drift from what the package does.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { unusedPort } from "../../src/testing.js";
import { REPO_ROOT, runScenario } from "../helpers/childScenario.js";

interface Snippet {
  file: string;
  name: string;
  code: string;
  expected?: unknown;
}

const DOCS = path.join(REPO_ROOT, "docs");

/** Every snippet of every docs page, with its expected output. */
function extractSnippets(file: string, text: string): Snippet[] {
  const lines = text.split("\n");
  const snippets = new Map<string, Snippet>();
  const outputs = new Map<string, unknown>();
  for (let i = 0; i < lines.length; i++) {
    const marker = /^<!--\s*(snippet|output):\s*([\w-]+)\s*-->\s*$/.exec(lines[i]!);
    if (!marker) continue;
    const [, kind, name] = marker as unknown as [string, "snippet" | "output", string];
    const fence = lines[i + 1] ?? "";
    // An output is JSON; its fence may say `text` where a page's json blocks mean something else (observability.md: log lines).
    const languages = kind === "snippet" ? ["js"] : ["json", "text"];
    if (!languages.some((language) => fence.trim() === "```" + language)) {
      throw new Error(`${file}:${i + 2}: the ${kind} "${name}" must be followed at once by a \`\`\`${languages.join(" or ```")} block`);
    }
    const end = lines.findIndex((line, j) => j > i + 1 && line.trim() === "```");
    if (end < 0) throw new Error(`${file}:${i + 2}: unclosed block of "${name}"`);
    const body = lines.slice(i + 2, end).join("\n");
    if (kind === "snippet") {
      if (snippets.has(name)) throw new Error(`${file}: two snippets named "${name}"`);
      snippets.set(name, { file, name, code: body });
    } else {
      if (outputs.has(name)) throw new Error(`${file}: two outputs named "${name}"`);
      outputs.set(name, JSON.parse(body));
    }
    i = end;
  }
  for (const name of outputs.keys()) if (!snippets.has(name)) throw new Error(`${file}: output "${name}" has no snippet`);
  return [...snippets.values()].map((snippet) => ({ ...snippet, expected: outputs.get(snippet.name) }));
}

/** Where `actual` differs from `expected` (empty when it matches); `…` in an expected string matches any text. */
function mismatches(actual: unknown, expected: unknown, at = "$"): string[] {
  if (typeof expected === "string") {
    if (typeof actual !== "string") return [`${at}: expected a string, got ${JSON.stringify(actual)}`];
    const pattern = new RegExp(
      `^${expected
        .split("…")
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join("[\\s\\S]*")}$`,
    );
    return pattern.test(actual) ? [] : [`${at}: ${JSON.stringify(actual)} does not match ${JSON.stringify(expected)}`];
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${at}: expected an array, got ${JSON.stringify(actual)}`];
    if (actual.length !== expected.length) return [`${at}: ${actual.length} items instead of ${expected.length}: ${JSON.stringify(actual)}`];
    return expected.flatMap((item, index) => mismatches(actual[index], item, `${at}[${index}]`));
  }
  if (expected !== null && typeof expected === "object") {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) return [`${at}: expected an object, got ${JSON.stringify(actual)}`];
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
    return [...keys].flatMap((key) =>
      !(key in expected)
        ? [`${at}.${key}: printed but not in the docs (${JSON.stringify((actual as Record<string, unknown>)[key])})`]
        : mismatches((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key], `${at}.${key}`),
    );
  }
  return Object.is(actual, expected) ? [] : [`${at}: ${JSON.stringify(actual)} instead of ${JSON.stringify(expected)}`];
}

const pages = readdirSync(DOCS).filter((name) => name.endsWith(".md"));
const snippets = pages.flatMap((page) => extractSnippets(`docs/${page}`, readFileSync(path.join(DOCS, page), "utf8")));

describe("the docs' snippet extraction", () => {
  it("finds the runnable blocks of docs/testing.md, each with its output", () => {
    const testing = snippets.filter((snippet) => snippet.file === "docs/testing.md");
    expect(testing.map((snippet) => snippet.name)).toEqual(
      expect.arrayContaining([
        "identity-endpoint",
        "one-process-per-scenario",
        "key-vault",
        "blob-storage",
        "service-bus",
        "cosmos-db",
        "graph",
        "resource-manager",
      ]),
    );
    for (const snippet of snippets) expect(snippet.expected, `${snippet.file} ${snippet.name}`).toBeDefined();
  });

  it("matches `…` as any text, and nothing printed beyond what the docs show", () => {
    expect(mismatches({ a: "id 1234 ok", b: [1] }, { a: "id … ok", b: [1] })).toEqual([]);
    expect(mismatches({ a: "id 1234 no" }, { a: "id … ok" })).toHaveLength(1);
    expect(mismatches({ a: 1, extra: true }, { a: 1 })).toHaveLength(1);
    expect(mismatches([1, 2], [1])).toHaveLength(1);
  });

  it("links of README.md and docs/*.md reach shipped pages and existing headings", () => {
    const slug = (heading: string) =>
      heading
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, "")
        .replace(/ /g, "-");
    const headings = (file: string) =>
      new Set(
        readFileSync(file, "utf8")
          .split("\n")
          .filter((line) => /^#{1,6} /.test(line))
          .map((line) => slug(line.replace(/^#+ /, ""))),
      );
    const broken: string[] = [];
    for (const page of ["README.md", ...pages.map((name) => `docs/${name}`)]) {
      const text = readFileSync(path.join(REPO_ROOT, page), "utf8").replace(/```[\s\S]*?```/g, "");
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue;
        const [file, anchor] = target!.split("#") as [string, string | undefined];
        const resolved = file ? path.join(path.dirname(page), file) : page;
        if (!/^(README\.md|docs\/[\w-]+\.md)$/.test(resolved)) broken.push(`${page}: ${target} is not in the package`);
        else if (anchor !== undefined && !headings(path.join(REPO_ROOT, resolved)).has(anchor)) broken.push(`${page}: ${target} has no such heading`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("blocks in the docs' pages import the package by name, never the repository's files", () => {
    for (const snippet of snippets) {
      expect(snippet.code, `${snippet.file} ${snippet.name}`).not.toMatch(/from ["'](\.{1,2}\/|\/)|(dist|src|examples|test)\//);
    }
  });
});

describe.concurrent("docs snippets, each run in its own process against the built package", () => {
  for (const snippet of snippets) {
    it(`${snippet.file}: ${snippet.name}`, async () => {
      // A credential that misses the emulator's variables must fail at once on loopback, never reach IMDS.
      const refused = `http://127.0.0.1:${await unusedPort()}`;
      const result = await runScenario({ env: { AZURE_POD_IDENTITY_AUTHORITY_HOST: refused }, code: snippet.code, timeoutMs: 60_000 });
      expect(result.exitCode, `exit ${result.exitCode}${result.timedOut ? " (timed out)" : ""}\n${result.stderr.slice(-3000)}`).toBe(0);
      expect(`${result.stdout}${result.stderr}`).not.toMatch(/eyJ[\w-]{10,}\.[\w-]{10,}\./);
      expect(result.json, `last line of stdout is not JSON:\n${result.stdout.slice(-2000)}`).toBeDefined();
      expect(mismatches(result.json, snippet.expected), JSON.stringify(result.json, null, 2)).toEqual([]);
    });
  }
});
