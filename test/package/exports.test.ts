/** The published shape: one exports map, ESM + CJS + types, the bin, and a main entry that never loads the emulators. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runScenario } from "../helpers/childScenario.js";
import { LIBRARY_VERSION } from "../../src/util/version.js";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));

describe("package", () => {
  it("declares the contract of API.md", () => {
    expect(pkg.name).toBe("diagnostic-credential");
    expect(pkg.engines.node).toBe(">=22.12");
    expect(Object.keys(pkg.peerDependencies).sort()).toEqual(["@azure/core-auth", "@azure/core-rest-pipeline", "@azure/identity", "@opentelemetry/api"]);
    expect(Object.keys(pkg.dependencies)).toEqual(["jose"]);
    expect(pkg.bin["diagnostic-credential"]).toBe("./dist/cli.js");
    expect(Object.keys(pkg.exports)).toEqual([".", "./testing", "./package.json"]);
    expect(LIBRARY_VERSION).toBe(pkg.version);
  });

  it("loads as ESM and as CommonJS, with the same public names", async () => {
    const result = await runScenario({
      env: {},
      code: `
        import { createRequire } from "node:module";
        const esm = await import("diagnostic-credential");
        const cjs = createRequire(process.cwd() + "/")("diagnostic-credential");
        const testingCjs = createRequire(process.cwd() + "/")("diagnostic-credential/testing");
        console.log(JSON.stringify({ esm: Object.keys(esm).sort(), cjs: Object.keys(cjs).sort(), testing: typeof testingCjs.startIdentityEndpoint }));
      `,
    });
    const json = result.json as { esm: string[]; cjs: string[]; testing: string };
    expect(json.esm).toContain("DiagnosticCredential");
    expect(json.cjs).toEqual(json.esm);
    expect(json.testing).toBe("function");
  });

  it("the main entry never loads the testing entry or jose", async () => {
    const result = await runScenario({
      env: {},
      code: `
        import { createRequire } from "node:module";
        const require = createRequire(process.cwd() + "/");
        require("diagnostic-credential");
        const loaded = Object.keys(require.cache).filter((p) => /[\\\\/]dist[\\\\/]testing\\.|[\\\\/]jose[\\\\/]/.test(p));
        console.log(JSON.stringify({ loaded }));
      `,
    });
    expect((result.json as { loaded: string[] }).loaded).toEqual([]);
  });

  it("ships type declarations for both module systems", () => {
    for (const file of ["dist/index.d.ts", "dist/testing.d.ts"]) {
      const text = readFileSync(new URL(`../../${file}`, import.meta.url), "utf8");
      expect(text.length).toBeGreaterThan(100);
    }
    // The CommonJS entries are the ES module build loaded with require(): their declarations re-export the ES ones
    // (TypeScript module nodenext/node20 resolves that; the consumer test type-checks a CommonJS consumer).
    for (const entry of ["index", "testing"]) {
      expect(readFileSync(new URL(`../../dist/${entry}.d.cts`, import.meta.url), "utf8")).toBe(`export * from "./${entry}.js";\n`);
    }
    expect(readFileSync(new URL("../../dist/index.d.ts", import.meta.url), "utf8")).toMatch(
      /export declare class DiagnosticCredential implements TokenCredential/,
    );
  });
});
