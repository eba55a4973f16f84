// Build: bundles with tsup (ESM + CJS), emits declarations with tsc, rolls them up with API Extractor and
// checks the public API report. Locally the report is updated; under CI a changed report fails the build.
import { execFileSync } from "node:child_process";
import { copyFileSync, chmodSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const root = path.resolve(import.meta.dirname, "..");
const bin = (name) => path.join(root, "node_modules", ".bin", name);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: "inherit" });

run(bin("tsup"), ["--silent"]);
// CommonJS entries: require() of the ESM build (Node.js >= 22.12), so a process that loads both gets one copy of the
// library and its process-wide state, and the package carries each module once.
for (const entry of ["index", "testing"]) {
  writeFileSync(
    path.join(root, "dist", `${entry}.cjs`),
    `"use strict";\n// The ES module build, loaded with require() (Node.js >= 22.12).\nmodule.exports = require("./${entry}.js");\n`,
  );
}
// The built-in role definitions: data read on the first diagnosed missing role, never bundled into the code.
copyFileSync(path.join(root, "src", "catalog", "builtin-roles.json"), path.join(root, "dist", "builtin-roles.json"));
const cli = path.join(root, "dist", "cli.js");
writeFileSync(cli, `#!/usr/bin/env node\n${readFileSync(cli, "utf8")}`);
chmodSync(cli, 0o755);
rmSync(path.join(root, "build", "types"), { recursive: true, force: true });
run(bin("tsc"), ["-p", "tsconfig.json", "--emitDeclarationOnly"]);

const { Extractor, ExtractorConfig } = require("@microsoft/api-extractor");
const localBuild = !process.env.CI || process.argv.includes("--api-report");
let failed = false;
for (const entry of ["index", "testing"]) {
  const config = ExtractorConfig.loadFileAndPrepare(path.join(root, `api-extractor.${entry}.json`));
  const result = Extractor.invoke(config, {
    localBuild,
    showVerboseMessages: false,
    messageCallback: (message) => {
      // The report itself is the review artefact; missing release tags and TSDoc nits are not build failures.
      if (message.messageId === "ae-missing-release-tag" || message.messageId?.startsWith("tsdoc-")) message.logLevel = "none";
    },
  });
  if (!result.succeeded) {
    failed = true;
    console.error(
      `API Extractor (${entry}): ${result.errorCount} errors, ${result.warningCount} warnings.` +
        (result.apiReportChanged ? " The public API changed: run `npm run api` and commit review/." : ""),
    );
  }
  // The CommonJS entry is the ES module build loaded with require() (Node.js >= 22.12; TypeScript resolves it the
  // same way under module nodenext): its declarations are the ES module's, re-exported, not a second copy.
  writeFileSync(path.join(root, "dist", `${entry}.d.cts`), `export * from "./${entry}.js";\n`);
}
if (failed) process.exit(1);
