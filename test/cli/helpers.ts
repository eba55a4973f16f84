/**
 * Runs the BUILT CLI (`dist/cli.js`, the package's `bin`) as a child process, as a user would after `npm install`,
 * against emulators started in the test process. `npm test` builds first; run `npm run build` before
 * `npx vitest run test/cli/`.
 *
 * Service emulators keep their real-looking host names (`myvault.vault.azure.net`): the child gets
 * `DIAGNOSTIC_CREDENTIAL_DOCTOR_RESOLVE=<host>=127.0.0.1:<port>` (the CLI's test hook, like curl's `--resolve`) and
 * `NODE_EXTRA_CA_CERTS` naming a temp file with the emulators' CA. The identity endpoint comes from the identity
 * emulator's `env` (IDENTITY_ENDPOINT, IDENTITY_HEADER, CONTAINER_APP_*).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  createTestCertificateAuthority,
  createTokenSigner,
  startIdentityEndpoint,
  startKeyVaultEmulator,
  type IdentityEndpointEmulator,
  type IdentityEndpointOptions,
  type KeyVaultEmulator,
  type TokenSigner,
} from "../../src/testing.js";
import { REPO_ROOT } from "../helpers/childScenario.js";

export const CLI = path.join(REPO_ROOT, "dist", "cli.js");
export const VAULT_SCOPE = "https://vault.azure.net/.default";
export const ARM_SCOPE = "https://management.azure.com/.default";

export interface DoctorResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  durationMs: number;
  /** stdout parsed as JSON (with --json). */
  json?: DoctorJson;
}

/** The `--json` document (loosely typed: the test checks the shape). */
export type DoctorJson = Record<string, unknown> & {
  version: string;
  exitCode: number;
  ok: boolean;
  environment: Record<string, unknown> & { containerApp: Record<string, string>; notes: string[] };
  identityEndpoint: Record<string, unknown> & { reachable: boolean };
  tokens: Array<
    Record<string, unknown> & {
      scope: string;
      ok: boolean;
      claims?: Record<string, string>;
      diagnosis?: Record<string, unknown> & { hypothesis: string; evidence: string[]; nextSteps: string[] };
    }
  >;
  dependencies: Array<
    Record<string, unknown> & { url: string; ok: boolean; status?: number; diagnosis?: Record<string, unknown> & { hypothesis: string; code: string } }
  >;
  diagnoses: Array<Record<string, unknown> & { hypothesis: string; code: string; summary: string; evidence: string[]; nextSteps: string[] }>;
};

/** The built bin, as `npm install` would link it. */
export async function builtCli(): Promise<string> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  return CLI;
}

/** At most this many CLI processes at a time per test file: the machine has few cores. */
const MAX_CHILDREN = 4;
let running = 0;
const waiting: Array<() => void> = [];

async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (running >= MAX_CHILDREN) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** Runs the built bin (`node dist/cli.js ...args`) with only PATH, HOME and `env`. */
export async function runDoctor(args: string[], env: Record<string, string | undefined>, timeoutMs = 25_000): Promise<DoctorResult> {
  const cli = await builtCli();
  return slot(() => spawnCli(cli, args, env, timeoutMs));
}

function spawnCli(cli: string, args: string[], env: Record<string, string | undefined>, timeoutMs: number): Promise<DoctorResult> {
  const childEnv: Record<string, string> = {};
  if (process.env.PATH) childEnv.PATH = process.env.PATH;
  if (process.env.HOME) childEnv.HOME = process.env.HOME;
  for (const [key, value] of Object.entries(env)) if (value !== undefined) childEnv[key] = value;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: REPO_ROOT, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      let json: DoctorJson | undefined;
      if (args.includes("--json")) {
        try {
          json = JSON.parse(stdout) as DoctorJson;
        } catch {
          json = undefined;
        }
      }
      resolve({ stdout, stderr, exitCode: code ?? (signal ? 137 : 1), durationMs: Date.now() - started, ...(json ? { json } : {}) });
    });
  });
}

/** A signer that remembers every token it signs: the tokens the CLI received, to prove none is printed. */
export async function recordingSigner(): Promise<{ signer: TokenSigner; issued: string[] }> {
  const inner = await createTokenSigner();
  const issued: string[] = [];
  const signer: TokenSigner = {
    kid: inner.kid,
    tenantId: inner.tenantId,
    issuer: inner.issuer,
    publicJwk: inner.publicJwk,
    jwks: () => inner.jwks(),
    verify: (token, options) => inner.verify(token, options),
    async sign(claims, header) {
      const token = await inner.sign(claims, header);
      issued.push(token);
      return token;
    },
  };
  return { signer, issued };
}

export interface World {
  identity: IdentityEndpointEmulator;
  keyVault: KeyVaultEmulator;
  /** Tokens the identity emulator issued. */
  issued: string[];
  /** Env of the CLI child: identity endpoint, Container Apps vars, CA file, host routing. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** The identity emulator, one Key Vault emulator trusting its tokens, and the env the CLI needs to reach both. */
export async function startWorld(options: { identity?: IdentityEndpointOptions; grantSystemIdentity?: boolean; vaultName?: string } = {}): Promise<World> {
  const { signer, issued } = await recordingSigner();
  const identity = await startIdentityEndpoint({ containerApp: { name: "ca-orders" }, ...options.identity, signer });
  const ca = createTestCertificateAuthority();
  const keyVault = await startKeyVaultEmulator({
    issuerKeys: signer.jwks(),
    tenantId: identity.tenantId,
    vaultName: options.vaultName ?? "orders-kv",
    secrets: { "db-password": "s3cret", other: "x" },
    certificateAuthority: ca,
  });
  if (options.grantSystemIdentity && identity.identities.systemAssigned) {
    keyVault.rbac.grant(
      { principalId: identity.identities.systemAssigned.objectId, role: "Key Vault Secrets User", scope: keyVault.resourceId },
      { propagationDelayMs: 0 },
    );
  }
  const dir = mkdtempSync(path.join(tmpdir(), "doctor-ca-"));
  const caFile = path.join(dir, "ca.pem");
  writeFileSync(caFile, ca.cert);
  return {
    identity,
    keyVault,
    issued,
    env: {
      ...identity.env,
      NODE_EXTRA_CA_CERTS: caFile,
      DIAGNOSTIC_CREDENTIAL_DOCTOR_RESOLVE: `${keyVault.host}=127.0.0.1:${keyVault.port}`,
    },
    async close() {
      await Promise.all([identity.close(), keyVault.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every secret a run must never print: the tokens, their signatures and payloads, the identity header. */
export function secretsOf(world: Pick<World, "issued" | "identity">): string[] {
  const out = [world.identity.identityHeader];
  for (const token of world.issued) {
    const [, payload, signature] = token.split(".");
    out.push(token);
    if (payload) out.push(payload.slice(0, 40));
    if (signature) out.push(signature.slice(0, 40));
  }
  return out;
}

/** With DOCTOR_CAPTURE_DIR set, keeps a run's human report as `<dir>/<name>.txt` (the README's screens come from here). */
export function capture(name: string, text: string): void {
  const dir = process.env.DOCTOR_CAPTURE_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${name}.txt`), text);
}
