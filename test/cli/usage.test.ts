/**
 * The bin's command line: help, version, usage errors (exit 2 with a one-line hint on stderr, nothing on stdout),
 * and the argument rules (scope pairing) as a unit.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { pairScopes, parseCommand, USAGE, USAGE_HINT } from "../../src/doctor/args.js";
import { REPO_ROOT } from "../helpers/childScenario.js";
import { runDoctor, VAULT_SCOPE } from "./helpers.js";

const version = (JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;

describe.concurrent("usage errors exit 2 with a one-line hint (the built bin)", () => {
  const cases: Array<[string, string[], RegExp]> = [
    ["an unknown flag", ["doctor", "--bogus"], /unknown option '--bogus'/],
    ["an unknown subcommand", ["diagnose"], /unknown subcommand 'diagnose'/],
    ["a --timeout that is not a number", ["doctor", "--json", "--timeout", "soon"], /--timeout must be a whole number of milliseconds/],
    ["a --url that is not a URL", ["doctor", "--url", "myvault/secrets/x"], /--url 'myvault\/secrets\/x' is not a URL/],
  ];
  for (const [title, args, message] of cases) {
    it(title, async () => {
      const r = await runDoctor(args, {});
      expect(r.exitCode).toBe(2);
      expect(r.stdout).toBe(""); // also with --json: exit 2 says it all
      const lines = r.stderr.trimEnd().split("\n");
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^diagnostic-credential: /);
      expect(lines[0]).toMatch(message);
      expect(lines[1]).toBe(USAGE_HINT);
      expect(lines[1]).toMatch(/^usage: diagnostic-credential doctor \[--scope S\]\.\.\. \[--url URL\]\.\.\. .*\(--help for more\)$/);
    });
  }
});

describe("usage errors (parser)", () => {
  const cases: Array<[string, string[], RegExp]> = [
    ["no subcommand", [], /missing the subcommand: doctor/],
    ["a --timeout of 0", ["doctor", "--timeout", "0"], /--timeout must be a whole number/],
    ["a negative --timeout", ["doctor", "--timeout", "-5"], /timeout/],
    ["a huge --timeout", ["doctor", "--timeout", "99999999"], /--timeout must be a whole number/],
    ["a plain-http --url", ["doctor", "--url", "http://myvault.vault.azure.net/secrets/x"], /is not https/],
    ["a --scope without value", ["doctor", "--scope"], /^--scope needs a value$/],
    ["a --scope with spaces", ["doctor", "--scope", "a b"], /repeat --scope for several/],
    ["an empty --client-id", ["doctor", "--client-id", ""], /--client-id needs a value/],
    ["an extra argument", ["doctor", "now"], /unexpected argument 'now'/],
    ["a short flag that does not exist", ["doctor", "-x"], /unknown option '-x'/],
  ];
  for (const [title, args, message] of cases) {
    it(title, () => {
      const command = parseCommand(args);
      expect(command.kind).toBe("usage-error");
      expect((command as { message: string }).message).toMatch(message);
    });
  }

  it("help and version in every spelling", () => {
    for (const args of [["--help"], ["-h"], ["doctor", "--help"], ["help"]]) expect(parseCommand(args)).toEqual({ kind: "help" });
    for (const args of [["--version"], ["-v"], ["version"]]) expect(parseCommand(args)).toEqual({ kind: "version" });
  });
});

describe.concurrent("help and version (the built bin)", () => {
  it("--help prints the usage on stdout, exit 0", async () => {
    const r = await runDoctor(["doctor", "--help"], {});
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`${USAGE}\n`);
    expect(r.stdout).toMatch(/^Usage: diagnostic-credential doctor \[--scope S\]\.\.\. \[--url URL\]\.\.\. \[--client-id ID\] \[--json\] \[--timeout MS\] \[--no-color\]\n/);
    expect(r.stdout).toContain("Exit codes: 0 all good, 1 a problem found, 2 usage error.");
  });

  it("--version prints the package version", async () => {
    const r = await runDoctor(["--version"], {});
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
  });
});

describe("argument rules", () => {
  it("parses every option", () => {
    expect(parseCommand(["doctor", "--scope", VAULT_SCOPE, "--url", "https://a.vault.azure.net/secrets/x", "--client-id", "abc", "--json", "--timeout", "1500", "--no-color"])).toEqual({
      kind: "doctor",
      scopes: [VAULT_SCOPE],
      dependencies: [{ url: "https://a.vault.azure.net/secrets/x", scope: VAULT_SCOPE }],
      clientId: "abc",
      json: true,
      timeoutMs: 1500,
      noColor: true,
    });
  });

  it("gives each --url a scope: the single --scope, pairwise, else the catalog's", () => {
    const kv = "https://a.vault.azure.net/secrets/x";
    const blob = "https://acct.blob.core.windows.net/c/b";
    const custom = "https://api.example.com/x";
    expect(pairScopes([kv, blob], ["https://management.azure.com/.default"])).toEqual([
      { url: kv, scope: "https://management.azure.com/.default" },
      { url: blob, scope: "https://management.azure.com/.default" },
    ]);
    expect(pairScopes([kv, blob], ["s1", "s2"])).toEqual([
      { url: kv, scope: "s1" },
      { url: blob, scope: "s2" },
    ]);
    expect(pairScopes([kv, blob, custom], [])).toEqual([{ url: kv, scope: VAULT_SCOPE }, { url: blob, scope: "https://storage.azure.com/.default" }, { url: custom }]);
    expect(pairScopes([kv, custom, blob], ["s1", "s2"])).toEqual([
      { url: kv, scope: VAULT_SCOPE },
      { url: custom, scope: "s1" },
      { url: blob, scope: "https://storage.azure.com/.default" },
    ]);
  });
});
