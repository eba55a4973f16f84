/**
 * The public API is documented: every declaration a user can reach through either entry point carries a TSDoc
 * comment, and no `any` leaks into it. Reads the rolled-up declarations that ship (dist/index.d.ts,
 * dist/testing.d.ts; `npm test` builds them first) and the API reports in review/.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { anyTypes, undocumented, type Finding } from "../helpers/apiDocs.js";

const root = new URL("../../", import.meta.url);
const ENTRIES = [
  { entry: "diagnostic-credential", dts: "dist/index.d.ts", report: "review/diagnostic-credential.api.md" },
  { entry: "diagnostic-credential/testing", dts: "dist/testing.d.ts", report: "review/diagnostic-credential-testing.api.md" },
];

const format = (findings: Finding[], file: string) => findings.map((f) => `${file}:${f.line} ${f.path}`);

describe("public API documentation", () => {
  it.each(ENTRIES)("every declaration of $entry has a doc comment", ({ dts }) => {
    const text = readFileSync(new URL(dts, root), "utf8");
    expect(format(undocumented(text, dts), dts)).toEqual([]);
  });

  it.each(ENTRIES)("$entry has no `any` in its types", ({ dts }) => {
    const text = readFileSync(new URL(dts, root), "utf8");
    expect(format(anyTypes(text, dts), dts)).toEqual([]);
  });

  it.each(ENTRIES)("the API report of $entry has no undocumented item and no `any`", ({ report }) => {
    const lines = readFileSync(new URL(report, root), "utf8").split("\n");
    const flagged = lines.flatMap((line, index) => (/\(undocumented\)|\bany\b/.test(line) ? [`${report}:${index + 1} ${line.trim()}`] : []));
    expect(flagged).toEqual([]);
  });

  it("the check itself finds a missing comment, a missing field comment and an `any`", () => {
    const sample = [
      "/** Documented. */",
      "export declare interface A {",
      "    /** Documented. */",
      "    ok: string;",
      "    missing: number;",
      "    /** Documented; its inline field is not. */",
      "    nested: { inner?: string };",
      "    /** @internal */",
      "    tagOnly: boolean;",
      "    /** Documented but loose. */",
      "    loose: Promise<any>;",
      "}",
      "export declare function undocumentedFunction(): void;",
      "/** Documented. */",
      "export declare class C {",
      "    private secret;",
      "    constructor();",
      "}",
    ].join("\n");
    expect(undocumented(sample, "sample.d.ts").map((f) => f.path)).toEqual([
      "A.missing",
      "A.nested.inner",
      "A.tagOnly",
      "undocumentedFunction",
      "C.constructor",
    ]);
    expect(anyTypes(sample, "sample.d.ts").map((f) => f.path)).toEqual(["A: Promise<any>"]);
  });
});
