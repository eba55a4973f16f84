/**
 * `--service NAME=URL`: the built bin pointed at the emulators of `diagnostic-credential/testing` by their loopback
 * URL, as the README shows (no host-name routing, only the emulators' CA in NODE_EXTRA_CA_CERTS). The local URL is
 * treated as that catalog service: its scope, its api-version, its audience check, its role advice. The README's
 * doctor screen is this file's H2 run (DOCTOR_CAPTURE_DIR=… keeps it as `readme-h2.txt`).
 */
import { describe, expect, it } from "vitest";
import { capture, runDoctor, secretsOf, startWorld, VAULT_SCOPE, type DoctorResult, type World } from "./helpers.js";

/** The world's env without the host-name routing hook: the CLI reaches the vault by its loopback URL only. */
function loopbackEnv(world: World): Record<string, string> {
  const { DIAGNOSTIC_CREDENTIAL_DOCTOR_RESOLVE: _routing, ...env } = world.env;
  return env;
}

function expectNoSecrets(world: World, ...results: DoctorResult[]): void {
  for (const result of results) {
    const output = result.stdout + result.stderr;
    for (const secret of secretsOf(world)) expect(output.includes(secret), `output contains a secret: ${secret.slice(0, 12)}…`).toBe(false);
    expect(output).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  }
}

describe.concurrent("doctor --service keyvault=https://127.0.0.1:PORT (the Key Vault emulator by its loopback URL)", () => {
  it("no role on the vault: H2 at high confidence, audience accepted, api-version added, each next step a sentence with its command", async () => {
    const world = await startWorld({});
    try {
      const base = `https://127.0.0.1:${world.keyVault.port}`;
      const url = `${base}/secrets/db-password`;
      const args = ["doctor", "--service", `keyvault=${base}`, "--url", url];
      const env = loopbackEnv(world);
      const [human, jsonRun] = await Promise.all([runDoctor(args, env), runDoctor([...args, "--json"], env)]);
      const oid = world.identity.identities.systemAssigned!.objectId;
      capture("readme-h2", human.stdout);

      expect(jsonRun.exitCode).toBe(1);
      expect(jsonRun.stderr).toBe("");
      const json = jsonRun.json!;
      // No --scope: the scope comes from the service the URL was declared as.
      expect(json.tokens).toEqual([expect.objectContaining({ scope: VAULT_SCOPE, ok: true })]);
      expect(json.dependencies).toEqual([
        expect.objectContaining({ url, scope: VAULT_SCOPE, service: "keyvault", ok: false, status: 403, notes: ["added api-version=7.5"] }),
      ]);
      // The emulator saw the api-version the doctor added (without it: 400 BadParameter).
      expect(world.keyVault.requests.some((r) => r.status === 403 && /[?&]api-version=7\.5\b/.test(r.path))).toBe(true);
      expect(json.diagnoses).toHaveLength(1);
      const diagnosis = json.diagnoses[0]!;
      expect(diagnosis).toMatchObject({
        hypothesis: "H2",
        code: "RoleMissingOrWrongScope",
        confidence: "high",
        service: "keyvault",
        status: 403,
        errorCode: "ForbiddenByRbac",
      });
      expect(diagnosis.evidence).toContain("service: Azure Key Vault (keyvault), recognised by its host");
      // The loopback URL is judged as Key Vault: its rule, its audience check (passed, not "could not be compared").
      expect(diagnosis).toMatchObject({ rule: { id: "keyvault.forbidden-by-rbac", source: "catalog:keyvault" } });
      expect(diagnosis.checks).toContainEqual({
        kind: "audience",
        expected: "https://vault.azure.net/.default",
        actual: "https://vault.azure.net",
        verdict: "pass",
        confirmedBy: "token",
      });
      expect(diagnosis.checks).not.toContainEqual(expect.objectContaining({ kind: "audience", verdict: "unknown" }));

      // Each next step is one string: the sentence, a colon, and its command.
      const grant = diagnosis.nextSteps.find((step) => step.includes("az role assignment create"));
      expect(grant).toBeDefined();
      expect(grant).toMatch(
        new RegExp(
          `^Grant the least-privilege data-plane role "Key Vault Secrets User" to principal ${oid} at the exact scope vaults/orders-kv: az role assignment create --assignee-object-id ${oid} --assignee-principal-type ServicePrincipal --role "Key Vault Secrets User" --scope "/subscriptions/[^"]+/vaults/orders-kv"$`,
        ),
      );
      const list = diagnosis.nextSteps.find((step) => step.includes("az role assignment list"));
      expect(list).toBe(
        `Check what the identity already has (a role at a sibling or narrower scope, or a control-plane role, does not help): az role assignment list --assignee ${oid} --all --output table`,
      );
      for (const step of diagnosis.nextSteps) {
        expect(step).toMatch(/^[A-Z"]/);
        expect(step.trimEnd()).not.toMatch(/:$/);
      }

      // The human report: the same steps, one numbered line each.
      expect(human.exitCode).toBe(1);
      expect(human.stderr).toBe("");
      expect(human.stdout).toContain(`✗ GET ${url} → 403 Forbidden H2 RoleMissingOrWrongScope (ForbiddenByRbac)`);
      expect(human.stdout).toContain("token for https://vault.azure.net/.default · added api-version=7.5");
      expect(human.stdout).toContain(
        "Problem 1/1 H2 RBAC role missing or wrong scope [RoleMissingOrWrongScope] · high confidence · keyvault · HTTP 403 · ForbiddenByRbac",
      );
      expect(human.stdout).toContain('• audience check: "https://vault.azure.net" is accepted by Azure Key Vault');
      const numbered = human.stdout.split("\n").filter((line) => /^ {4}\d\. /.test(line));
      expect(numbered[0]).toBe(`    1. ${grant}`);
      expect(numbered[1]).toBe(`    2. ${list}`);
      expect(numbered.every((line) => !line.trimEnd().endsWith(":"))).toBe(true);
      expect(human.stdout.trimEnd().split("\n").at(-1)).toBe("✗ 1 problem found: H2 RBAC role missing or wrong scope. Exit code 1.");
      expectNoSecrets(world, human, jsonRun);
    } finally {
      await world.close();
    }
  });

  it("with the role granted: 200 through the loopback URL, exit 0", async () => {
    const world = await startWorld({ grantSystemIdentity: true });
    try {
      const base = `https://127.0.0.1:${world.keyVault.port}`;
      const url = `${base}/secrets/db-password`;
      const result = await runDoctor(["doctor", "--service", `keyvault=${base}/`, "--url", url, "--json"], loopbackEnv(world));
      expect(result.exitCode).toBe(0);
      expect(result.json).toMatchObject({ ok: true, diagnoses: [] });
      expect(result.json!.dependencies).toEqual([
        expect.objectContaining({ url, service: "keyvault", ok: true, status: 200, notes: ["added api-version=7.5"] }),
      ]);
      expectNoSecrets(world, result);
    } finally {
      await world.close();
    }
  });

  it("without --service the loopback URL is an unknown host: no scope, nothing sent", async () => {
    const world = await startWorld({});
    try {
      const url = `https://127.0.0.1:${world.keyVault.port}/secrets/db-password`;
      const result = await runDoctor(["doctor", "--url", url, "--json"], loopbackEnv(world));
      expect(result.exitCode).toBe(1);
      expect(result.json!.dependencies).toEqual([expect.objectContaining({ url, ok: false, failure: "no-scope" })]);
      expect(world.keyVault.requests).toHaveLength(0);
    } finally {
      await world.close();
    }
  });
});
