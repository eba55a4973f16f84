/**
 * The bin's command line: help, version, usage errors (exit 2 with a one-line hint on stderr, nothing on stdout; with
 * --json one JSON document on stdout instead), and the argument rules (scope pairing, --service) as a unit.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { ServiceDefinitionInput } from "../../src/catalog/types.js";
import { pairScopes, parseCommand, parseServices, USAGE, USAGE_HINT } from "../../src/doctor/args.js";
import { REPO_ROOT } from "../helpers/childScenario.js";
import { runDoctor, VAULT_SCOPE } from "./helpers.js";

const version = (JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;

describe.concurrent("usage errors exit 2 with a one-line hint (the built bin)", () => {
  const cases: Array<[string, string[], RegExp]> = [
    ["an unknown flag", ["doctor", "--bogus"], /unknown option '--bogus'/],
    ["an unknown subcommand", ["diagnose"], /unknown subcommand 'diagnose'/],
    ["a --timeout that is not a number", ["doctor", "--timeout", "soon"], /--timeout must be a whole number of milliseconds/],
    ["a --url that is not a URL", ["doctor", "--url", "myvault/secrets/x"], /--url 'myvault\/secrets\/x' is not a URL/],
    ["an unknown --service name", ["doctor", "--service", "vault=https://127.0.0.1:8443"], /--service: unknown service 'vault' \(one of: keyvault, /],
    ["a plain-http --service URL", ["doctor", "--service", "keyvault=http://127.0.0.1:8443"], /--service keyvault: 'http:\/\/127\.0\.0\.1:8443' is not https/],
  ];
  for (const [title, args, message] of cases) {
    it(title, async () => {
      const r = await runDoctor(args, {});
      expect(r.exitCode).toBe(2);
      expect(r.stdout).toBe("");
      const lines = r.stderr.trimEnd().split("\n");
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^diagnostic-credential: /);
      expect(lines[0]).toMatch(message);
      expect(lines[1]).toBe(USAGE_HINT);
      expect(lines[1]).toMatch(/^usage: diagnostic-credential doctor \[--scope S\]\.\.\. \[--url URL\]\.\.\. .*\(--help for more\)$/);
    });
  }
});

describe.concurrent("usage errors with --json: one JSON document on stdout, exit 2 (the built bin)", () => {
  const cases: Array<[string, string[], RegExp]> = [
    ["an unknown flag", ["doctor", "--json", "--bogus"], /^unknown option '--bogus'$/],
    ["--json after the bad flag", ["doctor", "--bogus", "--json"], /^unknown option '--bogus'$/],
    ["a --timeout that is not a number", ["doctor", "--json", "--timeout", "soon"], /^--timeout must be a whole number of milliseconds/],
    ["an unknown --service name", ["doctor", "--service", "nope=https://127.0.0.1:1", "--json"], /^--service: unknown service 'nope'/],
    ["a --service URL that is not https", ["doctor", "--json", "--service", "keyvault=http://127.0.0.1:1"], /is not https/],
    ["a --service without =", ["doctor", "--json", "--service", "keyvault"], /^--service takes NAME=URL/],
  ];
  for (const [title, args, message] of cases) {
    it(title, async () => {
      const r = await runDoctor(args, {});
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toBe("");
      expect(r.json, `not JSON:\n${r.stdout}`).toBeDefined();
      const document = r.json as unknown as { version: string; exitCode: number; ok: boolean; error: { kind: string; message: string }; usage: string };
      expect(document).toEqual({ version, exitCode: 2, ok: false, error: { kind: "usage", message: expect.stringMatching(message) }, usage: USAGE_HINT });
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
    ["a --service without a value", ["doctor", "--service"], /^--service needs a value$/],
    ["a --service without a name", ["doctor", "--service", "=https://127.0.0.1:1"], /^--service takes NAME=URL/],
    ["a --service without a URL", ["doctor", "--service", "keyvault="], /^--service takes NAME=URL/],
    ["a --service URL that is not a URL", ["doctor", "--service", "keyvault=127.0.0.1:8443"], /^--service keyvault: '127\.0\.0\.1:8443' is not a URL$/],
    ["a --service URL with credentials", ["doctor", "--service", "storage=https://u:p@127.0.0.1:1"], /carries credentials/],
  ];
  for (const [title, args, message] of cases) {
    it(title, () => {
      const command = parseCommand(args);
      expect(command.kind).toBe("usage-error");
      expect((command as { message: string }).message).toMatch(message);
    });
  }

  it("a usage error knows whether --json was asked for (before a `--` only)", () => {
    expect(parseCommand(["doctor", "--bogus", "--json"])).toEqual({ kind: "usage-error", message: "unknown option '--bogus'", json: true });
    expect(parseCommand(["doctor", "--bogus"])).toMatchObject({ kind: "usage-error", json: false });
    expect(parseCommand(["doctor", "--", "--json"])).toMatchObject({ kind: "usage-error", json: false });
  });

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
    expect(r.stdout).toMatch(
      /^Usage: diagnostic-credential doctor \[--scope S\]\.\.\. \[--url URL\]\.\.\. \[--service NAME=URL\]\.\.\. \[--client-id ID\] \[--verify\] \[--arm-endpoint URL\] \[--json\] \[--timeout MS\] \[--no-color\]\n/,
    );
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
    expect(
      parseCommand([
        "doctor",
        "--scope",
        VAULT_SCOPE,
        "--url",
        "https://a.vault.azure.net/secrets/x",
        "--client-id",
        "abc",
        "--json",
        "--timeout",
        "1500",
        "--no-color",
      ]),
    ).toEqual({
      kind: "doctor",
      scopes: [VAULT_SCOPE],
      dependencies: [{ url: "https://a.vault.azure.net/secrets/x", scope: VAULT_SCOPE }],
      services: [],
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
    expect(pairScopes([kv, blob, custom], [])).toEqual([
      { url: kv, scope: VAULT_SCOPE },
      { url: blob, scope: "https://storage.azure.com/.default" },
      { url: custom },
    ]);
    expect(pairScopes([kv, custom, blob], ["s1", "s2"])).toEqual([
      { url: kv, scope: VAULT_SCOPE },
      { url: custom, scope: "s1" },
      { url: blob, scope: "https://storage.azure.com/.default" },
    ]);
  });
});

describe("--service NAME=URL", () => {
  it("becomes the catalog's services option: one entry per name, each host (with its port) once", () => {
    const command = parseCommand([
      "doctor",
      "--service",
      "keyvault=https://127.0.0.1:8443",
      "--service",
      "KeyVault=https://127.0.0.1:8443/secrets",
      "--service",
      "keyvault=https://[::1]:9443/",
      "--service",
      "storage=https://devstore.internal.example",
    ]);
    expect(command).toMatchObject({
      kind: "doctor",
      services: [
        { name: "keyvault", hosts: ["127.0.0.1:8443", "[::1]:9443"] },
        { name: "storage", hosts: ["devstore.internal.example"] },
      ],
    });
  });

  it("gives a --url on that host the service's scope (no --scope needed)", () => {
    const command = parseCommand([
      "doctor",
      "--service",
      "keyvault=https://127.0.0.1:8443",
      "--url",
      "https://127.0.0.1:8443/secrets/db-password",
      "--url",
      "https://127.0.0.1:9999/x",
    ]);
    expect(command).toMatchObject({
      kind: "doctor",
      dependencies: [{ url: "https://127.0.0.1:8443/secrets/db-password", scope: VAULT_SCOPE }, { url: "https://127.0.0.1:9999/x" }],
    });
    expect(pairScopes(["https://127.0.0.1:8443/x"], [], parseServices(["keyvault=https://127.0.0.1:8443"]) as ServiceDefinitionInput[])).toEqual([
      { url: "https://127.0.0.1:8443/x", scope: VAULT_SCOPE },
    ]);
  });

  it("is documented in --help and in the one-line usage", () => {
    expect(USAGE).toMatch(/--service NAME=URL\n\s+treat the host of this https URL as the catalog service NAME \(repeatable\)/);
    expect(USAGE_HINT).toContain("[--service NAME=URL]...");
  });
});
