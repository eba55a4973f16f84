/**
 * The package as users get it: `npm pack` of this checkout, installed into a fresh project with the public peers
 * from the registry (whatever npm resolves for the declared ranges, as a user's install does). There: the tarball's
 * file list and weight, ESM import and CJS require, the bin, the doctor against the emulators exactly as the README
 * shows it, TypeScript strict consumers, and the README's adoption snippet as written.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unusedPort } from "diagnostic-credential/testing";
import { REPO_ROOT } from "../helpers/childScenario.js";

const run = promisify(execFile);
/** Node 22 (the repository's `node` devDependency): the package needs Node >= 22, whatever runs npm. */
const NODE = process.execPath;
const TSC = path.join(REPO_ROOT, "node_modules", ".bin", "tsc");
/** The weight budget of the packed tarball (issue: a package users can install). */
const MAX_PACKED_BYTES = 400 * 1024;

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: Array<{ path: string; size: number }>;
}

let dir: string;
let packed: PackResult;

/**
 * Runs a command in the consumer project; resolves with its output and exit code (never rejects on exit code). The
 * environment is PATH (Node 22 first), HOME and `env`; `inherit` passes this process's whole environment on (npm's
 * install needs the machine's registry and certificate settings).
 */
async function inConsumer(
  command: string,
  args: string[],
  env: Record<string, string> = {},
  inherit = false,
): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(command, args, {
      cwd: dir,
      env: { ...(inherit ? process.env : {}), PATH: `${path.dirname(NODE)}${path.delimiter}${process.env.PATH}`, HOME: process.env.HOME ?? dir, ...env },
      maxBuffer: 16 * 1024 * 1024,
      timeout: 120_000,
    });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; code?: number };
    return { stdout: failed.stdout ?? "", stderr: failed.stderr ?? "", code: typeof failed.code === "number" ? failed.code : 1 };
  }
}

/** The README's fenced code block of `language` that contains `marker`. */
function readmeBlock(marker: string, language: string): string {
  const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README has no "${marker}"`);
  const open = readme.lastIndexOf(`\`\`\`${language}\n`, at);
  const close = readme.indexOf("\n```", at);
  return readme.slice(open + language.length + 4, close + 1);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "dc-consumer-"));
  // The build is `npm test`'s own (pretest): pack it as it is, without running prepack again beside other tests.
  const pack = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
  packed = (JSON.parse(pack.stdout) as PackResult[])[0]!;
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true, type: "module" }, null, 2));
  const install = await inConsumer(
    "npm",
    [
      "install",
      "--no-audit",
      "--no-fund",
      "--loglevel=error",
      `./${packed.filename}`,
      "@azure/identity",
      "@azure/core-auth",
      "@azure/core-rest-pipeline",
      "@opentelemetry/api",
      "@types/node@22",
    ],
    {},
    true,
  );
  if (install.code !== 0) throw new Error(`npm install in the consumer failed:\n${install.stderr}`);
}, 240_000);

afterAll(() => {
  if (dir !== undefined && process.env.KEEP_CONSUMER === undefined) rmSync(dir, { recursive: true, force: true });
});

describe("the packed tarball", () => {
  it(`weighs at most ${MAX_PACKED_BYTES / 1024} kB packed and holds only the build, the README, the licence and the docs`, () => {
    console.log(
      `tarball ${packed.filename}: ${(packed.size / 1024).toFixed(1)} kB packed, ${(packed.unpackedSize / 1024).toFixed(1)} kB unpacked, ${packed.files.length} files`,
    );
    console.log(packed.files.map((file) => `  ${file.path} ${file.size}`).join("\n"));
    expect(packed.size).toBeLessThanOrEqual(MAX_PACKED_BYTES);
    const allowed = /^(package\.json|README\.md|LICENSE|docs\/(platforms\/)?[a-z-]+\.md|dist\/[A-Za-z0-9_-]+\.(js|cjs|json|d\.ts|d\.cts))$/;
    expect(packed.files.map((file) => file.path).filter((file) => !allowed.test(file))).toEqual([]);
    const names = new Set(packed.files.map((file) => file.path));
    for (const required of [
      "dist/index.js",
      "dist/index.cjs",
      "dist/index.d.ts",
      "dist/index.d.cts",
      "dist/testing.js",
      "dist/testing.cjs",
      "dist/testing.d.ts",
      "dist/testing.d.cts",
      "dist/cli.js",
      "dist/builtin-roles.json",
      "README.md",
      "docs/testing.md",
    ]) {
      expect(names.has(required), required).toBe(true);
    }
  });
});

describe("installed into a fresh project", () => {
  it("imports as ESM and requires as CommonJS, both entries; the main entry never loads jose or the emulators", async () => {
    writeFileSync(
      path.join(dir, "load.mjs"),
      `import { createRequire } from "node:module";
const esm = await import("diagnostic-credential");
const esmTesting = await import("diagnostic-credential/testing");
const require = createRequire(import.meta.url);
const before = Object.keys(require.cache).length;
const cjs = require("diagnostic-credential");
const cjsLoaded = Object.keys(require.cache).slice(before);
const cjsTesting = require("diagnostic-credential/testing");
console.log(JSON.stringify({
  esm: typeof esm.DiagnosticCredential, cjs: typeof cjs.DiagnosticCredential,
  esmTesting: typeof esmTesting.startIdentityEndpoint, cjsTesting: typeof cjsTesting.startIdentityEndpoint,
  sameNames: Object.keys(esm).sort().join() === Object.keys(cjs).sort().join(),
  mainLoadedJoseOrTesting: cjsLoaded.filter((file) => /[\\\\/]jose[\\\\/]|[\\\\/]dist[\\\\/]testing\\./.test(file)),
}));
`,
    );
    const result = await inConsumer(NODE, ["load.mjs"]);
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toEqual({
      esm: "function",
      cjs: "function",
      esmTesting: "function",
      cjsTesting: "function",
      sameNames: true,
      mainLoadedJoseOrTesting: [],
    });
  });

  it("the bin: `npx diagnostic-credential --help`, and a usage error in JSON mode", async () => {
    const help = await inConsumer("npx", ["--no-install", "diagnostic-credential", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("diagnostic-credential doctor");
    const usage = await inConsumer("npx", ["--no-install", "diagnostic-credential", "doctor", "--json", "--no-such-flag"]);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stdout)).toMatchObject({ exitCode: 2, ok: false, error: { kind: "usage" } });
  });

  it("the doctor against the emulators, as the README shows it (its emulators.mjs and its command)", async () => {
    const port = await unusedPort();
    writeFileSync(path.join(dir, "emulators.mjs"), readmeBlock("// emulators.mjs", "js").replaceAll("8443", String(port)));
    const emulators = spawn(NODE, ["emulators.mjs"], { cwd: dir, stdio: "ignore", env: { PATH: process.env.PATH ?? "", HOME: dir } });
    try {
      const envFile = path.join(dir, "emulator-env.sh");
      for (let waited = 0; !existsSync(envFile) && waited < 30_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
      const command = readmeBlock(". ./emulator-env.sh", "sh").replaceAll("8443", String(port)).trim().split("\n");
      expect(command[0]).toBe(". ./emulator-env.sh");
      const doctor = command[1]!.replace(/^npx diagnostic-credential /, "npx --no-install diagnostic-credential ");
      // The README's lines as a user types them (sh, sourcing the env file), plus --json to read the outcome.
      const result = await inConsumer("sh", ["-c", `${command[0]} && ${doctor} --json`], {
        AZURE_POD_IDENTITY_AUTHORITY_HOST: `http://127.0.0.1:${await unusedPort()}`,
      });
      expect(result.code).toBe(1);
      const report = JSON.parse(result.stdout) as { diagnoses: Array<{ hypothesis: string; confidence: string; service: string; nextSteps: string[] }> };
      expect(report.diagnoses).toEqual([expect.objectContaining({ hypothesis: "H2", confidence: "high", service: "keyvault" })]);
      expect(report.diagnoses[0]!.nextSteps.some((step) => /: az role assignment create .*--role "Key Vault Secrets User"/.test(step))).toBe(true);
    } finally {
      emulators.kill();
    }
  });

  /** A consumer file using the public API the way the README does, type-checked as strictly as a user can. */
  const consumerSource = `${readmeBlock("// after", "ts").replace(/^[\s\S]*?\/\/ after\n/, "")}
import { ChainedTokenCredential, AzureCliCredential } from "@azure/identity";
import { classifyResponse, diagnosticPolicy, getDiagnosis, runSmokeTest, type Diagnosis } from "diagnostic-credential";
import { startIdentityEndpoint, type IdentityEndpointEmulator } from "diagnostic-credential/testing";

const chain = new ChainedTokenCredential(credential, new AzureCliCredential());
const policy = diagnosticPolicy(credential);
const diagnosis: Diagnosis | undefined = classifyResponse({ url: "https://x.vault.azure.net/secrets/a", status: 403, body: "{}" });
const hypothesis: Diagnosis["hypothesis"] | undefined = getDiagnosis(new Error("x"))?.hypothesis ?? diagnosis?.hypothesis;
const started: Promise<IdentityEndpointEmulator> = startIdentityEndpoint({});
export const used = [chain, policy, hypothesis, started, runSmokeTest];
`;

  const strictOptions = {
    strict: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: false,
    noEmit: true,
    types: ["node"],
    target: "ES2022",
    lib: ["ES2023", "DOM"],
  };
  const configs: Record<string, object> = {
    "nodenext (ESM)": { ...strictOptions, module: "NodeNext", moduleResolution: "NodeNext" },
    bundler: { ...strictOptions, module: "ESNext", moduleResolution: "Bundler" },
  };
  for (const [name, compilerOptions] of Object.entries(configs)) {
    it(`TypeScript strict consumer, moduleResolution ${name}, exactOptionalPropertyTypes, skipLibCheck false`, async () => {
      const file = `consumer-${name.replace(/\W+/g, "-")}`;
      writeFileSync(path.join(dir, `${file}.mts`), consumerSource);
      writeFileSync(path.join(dir, `${file}.tsconfig.json`), JSON.stringify({ compilerOptions, files: [`${file}.mts`] }, null, 2));
      const result = await inConsumer(TSC, ["-p", `${file}.tsconfig.json`]);
      expect(`${result.stdout}${result.stderr}`).toBe("");
      expect(result.code).toBe(0);
    });
  }

  it("TypeScript strict consumer, CommonJS (nodenext resolving the .d.cts)", async () => {
    writeFileSync(path.join(dir, "consumer-cjs.cts"), consumerSource.replace("export const used", "export const usedCjs"));
    writeFileSync(
      path.join(dir, "consumer-cjs.tsconfig.json"),
      JSON.stringify({ compilerOptions: { ...strictOptions, module: "NodeNext", moduleResolution: "NodeNext" }, files: ["consumer-cjs.cts"] }, null, 2),
    );
    const result = await inConsumer(TSC, ["-p", "consumer-cjs.tsconfig.json"]);
    expect(`${result.stdout}${result.stderr}`).toBe("");
    expect(result.code).toBe(0);
  });

  it("the README's adoption snippet runs as written", async () => {
    const snippet = readmeBlock("// after", "ts").replace(/^[\s\S]*?\/\/ after\n/, "");
    writeFileSync(
      path.join(dir, "adopt.mjs"),
      `${snippet}\nconsole.log(JSON.stringify({ getToken: typeof credential.getToken, name: credential.constructor.name }));\n`,
    );
    const result = await inConsumer(NODE, ["adopt.mjs"]);
    expect(result.stderr).toBe("");
    expect(JSON.parse(result.stdout)).toEqual({ getToken: "function", name: "DiagnosticCredential" });
  });
});
