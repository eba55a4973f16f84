/**
 * `diagnostic-credential doctor`, the BUILT bin run as a child process against the identity and Key Vault emulators:
 * a healthy setup, each hypothesis H1–H5, a dependency answering 2xx/401/403, and that nothing secret is printed.
 * Each case checks the human report, the `--json` document and the exit code.
 */
import { afterAll, describe, expect, it } from "vitest";
import { unusedPort } from "../../src/testing.js";
import { ARM_SCOPE, capture, runDoctor, secretsOf, startWorld, VAULT_SCOPE, type DoctorJson, type DoctorResult, type World } from "./helpers.js";

/** Every run's output with the secrets of its world: checked once at the end (no token, no identity header). */
const outputs: Array<{ output: string; secrets: () => string[] }> = [];

afterAll(() => {
  expect(outputs.length).toBeGreaterThan(15);
  for (const { output, secrets } of outputs) {
    for (const secret of secrets()) expect(output.includes(secret), `output contains a secret: ${secret.slice(0, 12)}…`).toBe(false);
    expect(output).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  }
});

interface TestWorld extends World {
  /** Runs the CLI with this world's env (plus `extraEnv`) and records the output for the secrets check. */
  run(args: string[], extraEnv?: Record<string, string>): Promise<DoctorResult>;
  /** The same arguments twice: the human report and --json. */
  both(args: string[], extraEnv?: Record<string, string>): Promise<{ human: DoctorResult; json: DoctorJson; jsonRun: DoctorResult }>;
}

async function withWorld<T>(options: Parameters<typeof startWorld>[0], fn: (world: TestWorld) => Promise<T>): Promise<T> {
  const world = await startWorld(options);
  const run = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const result = await runDoctor(args, { ...world.env, ...extraEnv });
    outputs.push({ output: result.stdout + result.stderr, secrets: () => secretsOf(world) });
    return result;
  };
  const both = async (args: string[], extraEnv?: Record<string, string>) => {
    const [human, jsonRun] = await Promise.all([run(args, extraEnv), run([...args, "--json"], extraEnv)]);
    expect(jsonRun.json, `--json printed no JSON document:\n${jsonRun.stdout}\n${jsonRun.stderr}`).toBeDefined();
    return { human, json: jsonRun.json!, jsonRun };
  };
  try {
    return await fn({ ...world, run, both });
  } finally {
    await world.close();
  }
}

function expectSections(stdout: string): void {
  const headings = ["Environment", "Identity endpoint", "Tokens", "Dependencies"].map((h) => stdout.indexOf(`\n${h}\n`));
  for (const index of headings) expect(index).toBeGreaterThan(0);
  expect([...headings].sort((a, b) => a - b)).toEqual(headings);
}

function expectJsonShape(json: DoctorJson, exitCode: number): void {
  expect(json).toMatchObject({ version: expect.stringMatching(/^\d+\.\d+\.\d+/), exitCode, ok: exitCode === 0 });
  expect(Object.keys(json)).toEqual(
    expect.arrayContaining(["version", "exitCode", "ok", "startedAt", "durationMs", "environment", "identityEndpoint", "tokens", "dependencies", "diagnoses"]),
  );
  expect(json.environment).toMatchObject({ source: expect.any(String), sourceReason: expect.any(String), identityHeaderSet: expect.any(Boolean) });
  for (const token of json.tokens) expect(token).toMatchObject({ scope: expect.any(String), ok: expect.any(Boolean), durationMs: expect.any(Number) });
  for (const dependency of json.dependencies)
    expect(dependency).toMatchObject({ url: expect.any(String), ok: expect.any(Boolean), durationMs: expect.any(Number) });
}

describe.concurrent("doctor: healthy", () => {
  it("a granted Key Vault secret: exit 0, every section, claims without the token, JSON shape", async () => {
    await withWorld({ grantSystemIdentity: true }, async (world) => {
      const url = `https://${world.keyVault.host}/secrets/db-password`;
      const { human, json, jsonRun } = await world.both(["doctor", "--scope", VAULT_SCOPE, "--url", url]);
      const system = world.identity.identities.systemAssigned!;

      capture("healthy", human.stdout);
      expect(human.exitCode).toBe(0);
      expect(human.stderr).toBe("");
      expectSections(human.stdout);
      expect(human.stdout).toContain("identity source   AppService — IDENTITY_ENDPOINT and IDENTITY_HEADER are set");
      expect(human.stdout).toMatch(/container app {5}ca-orders · revision ca-orders--\w+ · replica ca-orders--/);
      expect(human.stdout).toContain(`IDENTITY_ENDPOINT ${world.identity.endpoint}`);
      expect(human.stdout).toContain("IDENTITY_HEADER   set (value not shown)");
      expect(human.stdout).toMatch(/✓ reachable {2}http:\/\/127\.0\.0\.1:\d+\/msi\/token {2}answered in \d+ ms/);
      expect(human.stdout).toContain(`✓ ${VAULT_SCOPE}`);
      expect(human.stdout).toContain(`system-assigned identity · oid ${system.objectId} · appid ${system.clientId}`);
      expect(human.stdout).toContain("aud https://vault.azure.net");
      expect(human.stdout).toMatch(/expires \S+Z \(in 23 h 59 min\)/);
      expect(human.stdout).toContain(`✓ GET ${url} → 200 OK`);
      expect(human.stdout).not.toMatch(/Problem \d/);
      expect(human.stdout.trimEnd().split("\n").at(-1)).toBe("✓ All good: 1 token issued, 1 dependency answered. Exit code 0.");
      expect(human.stdout).not.toMatch(/\u001b\[/); // not a TTY: no colour

      expect(jsonRun.exitCode).toBe(0);
      expect(jsonRun.stderr).toBe("");
      expectJsonShape(json, 0);
      expect(json.environment).toMatchObject({
        source: "AppService",
        hostKind: "container-apps",
        identityHeaderSet: true,
        identityEndpoint: world.identity.endpoint,
        containerApp: { name: "ca-orders", revision: world.identity.env.CONTAINER_APP_REVISION, replica: world.identity.env.CONTAINER_APP_REPLICA_NAME },
        configuredIdentity: {},
      });
      expect(json.identityEndpoint).toMatchObject({ url: world.identity.endpoint, reachable: true, latencyMs: expect.any(Number), status: 401 });
      expect(json.tokens).toEqual([
        {
          scope: VAULT_SCOPE,
          ok: true,
          durationMs: expect.any(Number),
          expiresAt: expect.any(String),
          claims: expect.objectContaining({
            aud: "https://vault.azure.net",
            oid: system.objectId,
            appid: system.clientId,
            tid: world.identity.tenantId,
            xms_mirid: system.resourceId,
            identityKind: "system-assigned",
            issuedAt: expect.any(String),
            expiresAt: expect.any(String),
          }),
        },
      ]);
      expect(json.dependencies).toEqual([
        expect.objectContaining({ url, method: "GET", scope: VAULT_SCOPE, service: "keyvault", ok: true, status: 200, notes: ["added api-version=7.5"] }),
      ]);
      expect(json.diagnoses).toEqual([]);
      // One token request per run (MSAL is not asked twice).
      expect(world.keyVault.requests.filter((r) => r.status === 200)).toHaveLength(2);
    });
  });

  it("no --scope and no --url: a token for Resource Manager, as the runbook checks it", async () => {
    await withWorld({}, async (world) => {
      const { human, json } = await world.both(["doctor"]);
      expect(human.exitCode).toBe(0);
      expect(human.stdout).toContain(`✓ ${ARM_SCOPE}`);
      expect(human.stdout).toContain("none given (--url URL)");
      expect(json.tokens.map((t) => [t.scope, t.ok])).toEqual([[ARM_SCOPE, true]]);
      expect(json.dependencies).toEqual([]);
      const resources = world.identity.requests.filter((r) => r.resource !== undefined).map((r) => r.resource);
      expect(resources).toEqual(["https://management.azure.com", "https://management.azure.com"]);
    });
  });

  it("--client-id tests that user-assigned identity", async () => {
    const clientId = "5c1c0000-0000-4000-8000-00000000c11d";
    await withWorld({ identity: { userAssigned: [{ name: "uami-orders", clientId }] } }, async (world) => {
      const { human, json } = await world.both(["doctor", "--client-id", clientId]);
      expect(human.exitCode).toBe(0);
      expect(human.stdout).toContain(`identity tested   user-assigned, client id ${clientId}`);
      expect(human.stdout).toContain(`user-assigned identity · oid ${world.identity.identities.userAssigned[0]!.objectId} · appid ${clientId}`);
      expect(json.environment.configuredIdentity).toEqual({ clientId });
      expect(json.tokens[0]!.claims).toMatchObject({ appid: clientId, identityKind: "user-assigned" });
      expect(world.identity.requests.filter((r) => r.clientId === clientId)).toHaveLength(2);
    });
  });
});

describe.concurrent("doctor: the five hypotheses", () => {
  it("H1: the app has no managed identity", async () => {
    await withWorld({ identity: { systemAssigned: false } }, async (world) => {
      const { human, json } = await world.both(["doctor", "--scope", VAULT_SCOPE]);
      expect(human.exitCode).toBe(1);
      expectSections(human.stdout);
      expect(human.stdout).toContain(`✗ ${VAULT_SCOPE}  H1 IdentityNotAssigned`);
      expect(human.stdout).toContain("Problem 1/1 H1 Managed identity not assigned to the app [IdentityNotAssigned] · high confidence");
      expect(human.stdout).toContain("The identity endpoint says this app has no managed identity");
      // Each numbered step is one line: the sentence and its command.
      expect(human.stdout).toMatch(
        /\n {4}1\. See which managed identities the app has [^\n]*: az containerapp show --name "ca-orders" --resource-group "\$RG" --query identity --output json\n/,
      );
      expect(human.stdout).toContain('az containerapp identity assign --name "ca-orders" --resource-group "$RG" --system-assigned');
      expect(human.stdout).toContain("Runbook H1  for: az containerapp show has empty identity");
      expect(human.stdout.trimEnd().split("\n").at(-1)).toBe("✗ 1 problem found: H1 Managed identity not assigned to the app. Exit code 1.");
      expectJsonShape(json, 1);
      expect(json.tokens[0]).toMatchObject({ scope: VAULT_SCOPE, ok: false, diagnosis: { hypothesis: "H1", code: "IdentityNotAssigned" } });
      expect(json.tokens[0]!.claims).toBeUndefined();
      expect(json.diagnoses.map((d) => d.hypothesis)).toEqual(["H1"]);
    });
  });

  it("H1: a client id that is not attached to the app (500 'unexpected error occured')", async () => {
    await withWorld({}, async (world) => {
      const { exitCode, json } = await world.run(["doctor", "--client-id", "99999999-9999-9999-9999-999999999999", "--timeout", "8000", "--json"]);
      expect(exitCode).toBe(1);
      expect(json!.diagnoses[0]).toMatchObject({ hypothesis: "H1", code: "IdentityNotAssigned", confidence: "high" });
      expect(json!.diagnoses[0]!.summary).toMatch(/clientId 99999999-9999-9999-9999-999999999999 .*not attached/);
    });
  });

  it("H1: a Container App without IDENTITY_ENDPOINT (IMDS shape, no identity)", async () => {
    await withWorld({ identity: { shape: "imds", systemAssigned: false } }, async (world) => {
      const human = await world.run(["doctor"], { CONTAINER_APP_NAME: "ca-orders" });
      expect(human.exitCode).toBe(1);
      expect(human.stdout).toContain("identity source   DefaultToImds");
      expect(human.stdout).toContain("IDENTITY_ENDPOINT not set");
      expect(human.stdout).toContain("! Container Apps sets IDENTITY_ENDPOINT and IDENTITY_HEADER only when a managed identity is assigned to the app");
      expect(human.stdout).toMatch(/✓ reachable {2}http:\/\/127\.0\.0\.1:\d+\/metadata\/identity\/oauth2\/token/);
      expect(human.stdout).toContain(`✗ ${ARM_SCOPE}  H1 IdentityNotAssigned`);
    });
  });

  it("H2: the dependency answers 403 ForbiddenByRbac (no role on the vault)", async () => {
    await withWorld({}, async (world) => {
      const url = `https://${world.keyVault.host}/secrets/db-password`;
      const { human, json } = await world.both(["doctor", "--scope", VAULT_SCOPE, "--url", url]);
      const oid = world.identity.identities.systemAssigned!.objectId;
      capture("h2", human.stdout);
      expect(human.exitCode).toBe(1);
      expect(human.stderr).toBe(""); // no log lines besides the report
      expectSections(human.stdout);
      expect(human.stdout).toContain(`✓ ${VAULT_SCOPE}`);
      expect(human.stdout).toContain(`✗ GET ${url} → 403 Forbidden H2 RoleMissingOrWrongScope (ForbiddenByRbac)`);
      expect(human.stdout).toContain(
        "Problem 1/1 H2 RBAC role missing or wrong scope [RoleMissingOrWrongScope] · high confidence · keyvault · HTTP 403 · ForbiddenByRbac",
      );
      // The grant sentence and its command are one numbered step, as in the JSON's nextSteps.
      expect(human.stdout).toMatch(
        new RegExp(
          `\\n {4}1\\. Grant the least-privilege data-plane role "Key Vault Secrets User" to principal ${oid} at the exact scope vaults/orders-kv: az role assignment create --assignee-object-id ${oid} [^\\n]*--role "Key Vault Secrets User"`,
        ),
      );
      expect(human.stdout).toMatch(
        new RegExp(`\\n {4}2\\. Check what the identity already has [^\\n]*: az role assignment list --assignee ${oid} --all --output table\\n`),
      );
      expect(human.stdout).toContain("Runbook H2  for: 403 from target resource");
      expect(human.stdout.trimEnd().split("\n").at(-1)).toBe("✗ 1 problem found: H2 RBAC role missing or wrong scope. Exit code 1.");
      expectJsonShape(json, 1);
      expect(json.tokens[0]).toMatchObject({ ok: true });
      expect(json.dependencies[0]).toMatchObject({
        url,
        ok: false,
        status: 403,
        diagnosis: { hypothesis: "H2", code: "RoleMissingOrWrongScope", errorCode: "ForbiddenByRbac", service: "keyvault", identity: { objectId: oid } },
      });
      expect(json.diagnoses).toHaveLength(1);
    });
  });

  it("H3: a Resource Manager token sent to Key Vault (--scope for the wrong audience) → 401", async () => {
    await withWorld({ grantSystemIdentity: true }, async (world) => {
      const url = `https://${world.keyVault.host}/secrets/db-password`;
      const { human, json } = await world.both(["doctor", "--scope", ARM_SCOPE, "--url", url]);
      expect(human.exitCode).toBe(1);
      expect(human.stdout).toContain(`✓ ${ARM_SCOPE}`);
      expect(human.stdout).toContain(`✗ GET ${url} → 401 Unauthorized H3 WrongAudience`);
      expect(human.stdout).toContain(`token for ${ARM_SCOPE} · the catalog's scope for this host is ${VAULT_SCOPE}`);
      expect(human.stdout).toContain("Problem 1/1 H3 Token audience or scope wrong for the target");
      expect(human.stdout).toMatch(/AKV10022: Invalid audience/);
      expect(human.stdout).not.toMatch(/\d\. .*diagnostic-credential doctor/); // the doctor does not tell to run itself
      expectJsonShape(json, 1);
      expect(json.dependencies[0]).toMatchObject({
        status: 401,
        scope: ARM_SCOPE,
        expectedScope: VAULT_SCOPE,
        diagnosis: { hypothesis: "H3", code: "WrongAudience" },
      });
    });
  });

  it("H4: the identity endpoint hands out an expired token; the vault refuses it", async () => {
    await withWorld({ identity: { fault: { kind: "expired" } }, grantSystemIdentity: true }, async (world) => {
      const url = `https://${world.keyVault.host}/secrets/db-password`;
      const { human, json } = await world.both(["doctor", "--url", url]);
      expect(human.exitCode).toBe(1);
      expect(human.stdout).toContain(`✗ ${VAULT_SCOPE}  H4 StaleTokenOrIdentityMixup`);
      expect(human.stdout).toMatch(/expires \S+Z \(1 h 0 min ago\)/);
      expect(human.stdout).toMatch(/is already expired/);
      expect(human.stdout).toContain(`✗ GET ${url} → 401 Unauthorized H4 StaleTokenOrIdentityMixup`);
      expect(human.stdout).toMatch(/az containerapp revision restart --name "?ca-orders"? --resource-group "\$RG" --revision "?ca-orders--/);
      expectJsonShape(json, 1);
      expect(json.tokens[0]).toMatchObject({ ok: false, claims: { aud: "https://vault.azure.net" }, diagnosis: { hypothesis: "H4" } });
      expect(json.dependencies[0]).toMatchObject({ status: 401, diagnosis: { hypothesis: "H4" } });
      expect(json.diagnoses.map((d) => d.hypothesis)).toEqual(["H4", "H4"]);
    });
  });

  it("H4: the token belongs to another identity than the client id asked for", async () => {
    const clientId = "aaaaaaaa-0000-4000-8000-000000000001";
    await withWorld({ identity: { userAssigned: [{ name: "uami", clientId }], fault: { kind: "wrong-identity" } } }, async (world) => {
      const human = await world.run(["doctor", "--client-id", clientId]);
      expect(human.exitCode).toBe(1);
      expect(human.stdout).toContain(`✗ ${ARM_SCOPE}  H4 StaleTokenOrIdentityMixup`);
      expect(human.stdout).toContain("Identity mix-up");
      expect(human.stdout).toContain(`clientId ${clientId} was configured, the token's appid is`);
    });
  });

  it("H5: the identity endpoint refuses connections", async () => {
    const port = await unusedPort();
    await withWorld({}, async (world) => {
      const refused = { IDENTITY_ENDPOINT: `http://127.0.0.1:${port}/msi/token`, MSI_ENDPOINT: `http://127.0.0.1:${port}/msi/token` };
      const { human, json } = await world.both(["doctor", "--timeout", "8000"], refused);
      expect(human.exitCode).toBe(1);
      expect(human.stdout).toMatch(new RegExp(`✗ not reachable {2}http://127\\.0\\.0\\.1:${port}/msi/token {2}ECONNREFUSED`));
      expect(human.stdout).toContain(`✗ ${ARM_SCOPE}  H5 IdentityEndpointUnreachable`);
      expect(human.stdout).toMatch(/refused the connection .*\(ECONNREFUSED\)/);
      expect(human.stdout).toContain("Runbook H5  for: CredentialUnavailable, timeout, or connection errors before token issuance");
      expect(human.stdout.trimEnd().split("\n").at(-1)).toBe("✗ 1 problem found: H5 Identity endpoint unreachable or not answering. Exit code 1.");
      expectJsonShape(json, 1);
      expect(json.identityEndpoint).toMatchObject({ reachable: false, errorCode: "ECONNREFUSED" });
      expect(json.diagnoses[0]).toMatchObject({ hypothesis: "H5", code: "IdentityEndpointUnreachable" });
    });
  });

  it("H5: the identity endpoint accepts and never answers; --timeout 1000 bounds each step", async () => {
    await withWorld({ identity: { fault: { kind: "hang" } } }, async (world) => {
      const url = `https://${world.keyVault.host}/secrets/db-password`;
      const { human, json, jsonRun } = await world.both(["doctor", "--timeout", "1000", "--url", url]);
      expect(human.exitCode).toBe(1);
      expect(jsonRun.exitCode).toBe(1);
      // Bounded by --timeout (without it: 10 s per step; the credential alone: for ever). Measured in the child, so a
      // slow machine's process start-up does not count.
      expect(json.durationMs as number).toBeLessThan(4_000);
      expect(human.stdout).toContain("accepted the connection but did not answer within 1000 ms");
      // Every time limit the report states is the one given (not the smoke test's backstop, which waits a little longer).
      const limits = [...(human.stdout + jsonRun.stdout).matchAll(/within (\d+) ms/g)].map((m) => m[1]);
      expect(limits.length).toBeGreaterThan(1);
      expect(new Set(limits)).toEqual(new Set(["1000"]));
      expect(human.stdout).toContain(`✗ ${VAULT_SCOPE}  H5 IdentityEndpointUnreachable`);
      expect(human.stdout).toContain(`✗ GET ${url} → not called`);
      // The credential's per-request limit and its getToken deadline both end at ~1000 ms: either wording is H5.
      expect(human.stdout).toMatch(/accepted the (request but never answered|connection but did not answer in time)/);
      expectJsonShape(json, 1);
      expect(json.identityEndpoint).toMatchObject({ reachable: false, errorCode: "TIMEOUT" });
      expect(json.tokens[0]).toMatchObject({ ok: false, diagnosis: { hypothesis: "H5" } });
      expect(json.tokens[0]!.durationMs as number).toBeLessThan(3_000);
      expect(json.dependencies[0]).toMatchObject({ ok: false, failure: "no-token" });
      expect(world.keyVault.requests).toHaveLength(0);
    });
  });
});

describe.concurrent("doctor: dependencies", () => {
  it("one run with a 200, a 403 and a 401: each line, each diagnosis, exit 1", async () => {
    await withWorld({}, async (world) => {
      const oid = world.identity.identities.systemAssigned!.objectId;
      // Secrets User on one secret only: that secret answers 200, another 403.
      world.keyVault.rbac.grant(
        { principalId: oid, role: "Key Vault Secrets User", scope: `${world.keyVault.resourceId}/secrets/db-password` },
        { propagationDelayMs: 0 },
      );
      const base = `https://${world.keyVault.host}/secrets`;
      const args = [
        "doctor",
        "--scope",
        VAULT_SCOPE,
        "--url",
        `${base}/db-password`,
        "--scope",
        VAULT_SCOPE,
        "--url",
        `${base}/other`,
        "--scope",
        ARM_SCOPE,
        "--url",
        `${base}/db-password`,
      ];
      const { human, json } = await world.both(args);
      expect(human.exitCode).toBe(1);
      expect(human.stdout).toContain(`✓ GET ${base}/db-password → 200 OK`);
      expect(human.stdout).toContain(`✗ GET ${base}/other → 403 Forbidden H2 RoleMissingOrWrongScope`);
      expect(human.stdout).toContain(`✗ GET ${base}/db-password → 401 Unauthorized H3 WrongAudience`);
      expect(human.stdout).toContain("Problem 1/2 H2");
      expect(human.stdout).toContain("Problem 2/2 H3");
      expect(human.stdout.trimEnd().split("\n").at(-1)).toBe(
        "✗ 2 problems found: H2 RBAC role missing or wrong scope; H3 Token audience or scope wrong for the target. Exit code 1.",
      );
      expect(json.tokens.map((t) => t.scope)).toEqual([VAULT_SCOPE, ARM_SCOPE]);
      expect(json.dependencies.map((d) => [d.status, d.ok, d.diagnosis?.hypothesis])).toEqual([
        [200, true, undefined],
        [403, false, "H2"],
        [401, false, "H3"],
      ]);
    });
  });

  it("a dependency that refuses the connection is a network finding, not a diagnosis", async () => {
    const port = await unusedPort();
    await withWorld({}, async (world) => {
      const url = "https://orders-kv2.vault.azure.net/secrets/x";
      const { human, json } = await world.both(["doctor", "--url", url], {
        DIAGNOSTIC_CREDENTIAL_DOCTOR_RESOLVE: `orders-kv2.vault.azure.net=127.0.0.1:${port}`,
      });
      expect(human.exitCode).toBe(1);
      expect(human.stdout).toContain(`✗ GET ${url} → ECONNREFUSED`);
      expect(human.stdout.trimEnd().split("\n").at(-1)).toBe("✗ 1 problem found: network: orders-kv2.vault.azure.net ECONNREFUSED. Exit code 1.");
      expect(json.dependencies[0]).toMatchObject({ ok: false, failure: "network", errorCode: "ECONNREFUSED" });
      expect(json.diagnoses).toEqual([]);
    });
  });
});

describe.concurrent("doctor: secrets", () => {
  it("never prints a token (or part of one) or the IDENTITY_HEADER value (every run of this file is checked too)", async () => {
    await withWorld({}, async (world) => {
      const url = `https://${world.keyVault.host}/secrets/db-password`;
      const run = await world.run(["doctor", "--scope", ARM_SCOPE, "--url", url], { FORCE_COLOR: "1" });
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toMatch(/\u001b\[31m✗\u001b\[39m/); // FORCE_COLOR: colour without a TTY
      expect(world.issued.length).toBeGreaterThanOrEqual(1);
      const output = run.stdout + run.stderr;
      for (const secret of secretsOf(world)) expect(output.includes(secret)).toBe(false);
      // The identity header did reach the child: the token request carried it.
      expect(world.identity.requests.some((r) => r.identityHeaderValid)).toBe(true);
    });
  });
});
