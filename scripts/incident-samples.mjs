// The sample incident reports of docs/incident-reports/: one `doctor --format markdown` run per hypothesis (and a
// healthy one), the BUILT bin against the emulators, with what changes from run to run (ports, times, ids, durations)
// normalised. `npm run docs:samples` writes them; `node scripts/incident-samples.mjs --check` (and
// test/cli/incident-report.test.ts) fails when the code no longer produces them, so the docs cannot drift.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const SAMPLES_DIR = path.join(ROOT, "docs", "incident-reports");
const VAULT_SCOPE = "https://vault.azure.net/.default";
const ARM_SCOPE = "https://management.azure.com/.default";
const APP = { name: "ca-orders", revision: "ca-orders--rev1", replicaName: "ca-orders--rev1-5d8f9c7b6-x2k4q" };
const SYSTEM = { objectId: "11111111-1111-4111-8111-111111111111", clientId: "22222222-2222-4222-8222-222222222222" };

/** One sample: the emulators' setup and the doctor's arguments. */
export const SAMPLES = [
  { name: "healthy", title: "Healthy: a token and a Key Vault secret", grant: true, args: (url) => ["--scope", VAULT_SCOPE, "--url", url] },
  { name: "h1-identity-not-assigned", title: "H1: the app has no managed identity", identity: { systemAssigned: false }, args: () => ["--scope", VAULT_SCOPE] },
  { name: "h2-role-missing", title: "H2: no role on the vault (403 ForbiddenByRbac)", args: (url) => ["--scope", VAULT_SCOPE, "--url", url] },
  { name: "h3-wrong-audience", title: "H3: a Resource Manager token sent to Key Vault", grant: true, args: (url) => ["--scope", ARM_SCOPE, "--url", url] },
  {
    name: "h4-expired-token",
    title: "H4: the identity endpoint hands out an expired token",
    grant: true,
    identity: { fault: { kind: "expired" } },
    args: (url) => ["--url", url],
  },
  { name: "h5-endpoint-refused", title: "H5: the identity endpoint refuses connections", refuse: true, args: () => ["--timeout", "5000"] },
];

/**
 * Runs one sample: the emulators, the built bin with `--format markdown` and the extra arguments, in a child process.
 * Resolves with the raw report, its normalised form, the exit code and every secret of the run (tokens, IDENTITY_HEADER).
 */
export async function runSample(sample, extraArgs = []) {
  const testing = await import(pathToFileURL(path.join(ROOT, "dist", "testing.js")).href);
  const signer = await testing.createTokenSigner();
  const issued = [];
  const recording = { ...signer, sign: async (claims, header) => remember(await signer.sign(claims, header)) };
  const remember = (token) => (issued.push(token), token);
  const identity = await testing.startIdentityEndpoint({ containerApp: APP, systemAssigned: SYSTEM, ...sample.identity, signer: recording });
  const ca = testing.createTestCertificateAuthority();
  const keyVault = await testing.startKeyVaultEmulator({
    issuerKeys: signer.jwks(),
    tenantId: identity.tenantId,
    vaultName: "orders-kv",
    secrets: { "db-password": "s3cret" },
    certificateAuthority: ca,
  });
  if (sample.grant)
    keyVault.rbac.grant({ principalId: SYSTEM.objectId, role: "Key Vault Secrets User", scope: keyVault.resourceId }, { propagationDelayMs: 0 });
  const dir = mkdtempSync(path.join(tmpdir(), "incident-samples-"));
  try {
    writeFileSync(path.join(dir, "ca.pem"), ca.cert);
    const env = {
      PATH: process.env.PATH ?? "",
      ...identity.env,
      NODE_EXTRA_CA_CERTS: path.join(dir, "ca.pem"),
      DIAGNOSTIC_CREDENTIAL_DOCTOR_RESOLVE: `${keyVault.host}=127.0.0.1:${keyVault.port}`,
    };
    if (sample.refuse) {
      const port = await testing.unusedPort();
      env.IDENTITY_ENDPOINT = `http://127.0.0.1:${port}/msi/token`;
      env.MSI_ENDPOINT = env.IDENTITY_ENDPOINT;
    }
    const url = `https://${keyVault.host}/secrets/db-password`;
    const result = await runCli(["doctor", "--format", "markdown", ...sample.args(url), ...extraArgs], env);
    return { ...result, normalized: normalize(result.stdout), secrets: [identity.identityHeader, ...issued] };
  } finally {
    await Promise.all([identity.close(), keyVault.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

function runCli(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, "dist", "cli.js"), ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, exitCode: code ?? 1 });
    });
  });
}

/** What changes from run to run, replaced by fixed stand-ins: ports, times, durations, generated ids. */
/** The built-in roles' definition ids: facts of the role data, the same in every run. */
const ROLE_DEFINITION_IDS = new Set(
  [
    ...readFileSync(path.join(ROOT, "src/catalog/builtin-roles.json"), "utf8").matchAll(
      /"[^"]*","([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"/gi,
    ),
  ].map((match) => match[1].toLowerCase()),
);

export function normalize(text) {
  const ids = new Map();
  return (
    text
      .replace(/\b(127\.0\.0\.1|localhost):\d+/g, "$1:PORT")
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "2026-01-01T00:00:00Z")
      .replace(/\b\d+ ms\b/g, "N ms")
      // The process's age at the failure (the sample runs in a fresh process: seconds, different each run).
      .replace(/(process uptime at the failure: )[\d.]+ (ms|s|min)\b/g, "$1N")
      // Ages measured against the clock (an expired token's "3600 s ago") move by a second on a slow run.
      .replace(/\b\d+ (s|min) (ago|before)\b/g, "N $1 $2")
      .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, (id) => {
        // Fixed ids (the emulators' tenant and subscription, the sample's identity) stay; generated ones get a stand-in.
        if (/^(0{8}|1{8}|2{8}|72f988bf)/i.test(id) || ROLE_DEFINITION_IDS.has(id.toLowerCase())) return id;
        if (!ids.has(id.toLowerCase())) ids.set(id.toLowerCase(), `99999999-0000-4000-8000-${String(ids.size + 1).padStart(12, "0")}`);
        return ids.get(id.toLowerCase());
      })
  );
}

/** The file of a sample: a generated-file notice, then the normalised report. */
export function sampleFile(sample, normalized) {
  return `<!-- Generated by scripts/incident-samples.mjs (npm run docs:samples): ${sample.title}. Do not edit. -->\n\n${normalized}`;
}

async function main() {
  const check = process.argv.includes("--check");
  let drift = 0;
  for (const sample of SAMPLES) {
    const { normalized } = await runSample(sample);
    const file = path.join(SAMPLES_DIR, `${sample.name}.md`);
    const text = sampleFile(sample, normalized);
    if (!check) {
      writeFileSync(file, text);
      console.log(`wrote ${path.relative(ROOT, file)}`);
      continue;
    }
    let current = "";
    try {
      current = readFileSync(file, "utf8");
    } catch {}
    if (current !== text) {
      drift++;
      console.error(`${path.relative(ROOT, file)} differs from what the code produces: run npm run docs:samples`);
    }
  }
  if (drift > 0) process.exit(1);
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
