// Runs DiagnosticCredential against the local identity-endpoint emulator, once per fault, and prints what a user
// sees: the thrown error's name and the diagnosis (or the warning logged for a token that came back wrong).
// Each fault runs in its own process: MSAL's token cache and identity-source detection are per-process statics.
//
//   npm run example
import { spawn } from "node:child_process";
import { startIdentityEndpoint, unusedPort } from "diagnostic-credential/testing";

const VAULT = "https://vault.azure.net/.default";

const scenarios = [
  { title: "healthy system-assigned identity", emulator: {} },
  { title: "H1 no identity assigned (IMDS)", emulator: { shape: "imds", systemAssigned: false } },
  { title: "H1 user-assigned client id not attached", emulator: {}, options: { clientId: "99999999-9999-9999-9999-999999999999" } },
  { title: "H1 several identities, none chosen", emulator: { shape: "imds", systemAssigned: false, userAssigned: [{ name: "a" }, { name: "b" }] } },
  { title: "H3 several scopes", emulator: {}, scopes: [VAULT, "https://storage.azure.com/.default"] },
  { title: "H3 typo in the scope", emulator: {}, scopes: "https://vault.azure.nte/.default" },
  { title: "H3 token for another audience", emulator: { fault: { kind: "wrong-audience", audience: "https://management.azure.com/" } } },
  { title: "H4 token already expired", emulator: { fault: { kind: "expired" } } },
  {
    title: "H4 token of another identity",
    emulator: { userAssigned: [{ name: "uami", clientId: "aaaaaaaa-0000-0000-0000-000000000001" }], fault: { kind: "wrong-identity" } },
    options: { clientId: "aaaaaaaa-0000-0000-0000-000000000001" },
  },
  { title: "H5 identity endpoint refuses connections", refused: true },
  { title: "H5 identity endpoint never answers", emulator: { fault: { kind: "hang" } }, options: { tokenTimeoutMs: 2000 } },
  { title: "H5 identity endpoint answers 503", emulator: { fault: { kind: "status", status: 503 } } },
];

const child = (env, options, scopes) => `
import { DiagnosticCredential } from "diagnostic-credential";
const logged = [];
const credential = new DiagnosticCredential({ ...${JSON.stringify(options)}, retryOptions: { maxRetries: 1 }, logger: (entry) => logged.push(entry) });
try {
  const token = await credential.getToken(${JSON.stringify(scopes)});
  console.log(JSON.stringify({ ok: true, expiresOn: new Date(token.expiresOnTimestamp).toISOString(), logged }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, name: error.name, diagnosis: error.diagnosis, logged }));
}
process.exit(0);`;

function run(env, options, scopes) {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ["--input-type=module", "-e", child(env, options, scopes)], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    proc.stdout.on("data", (d) => (out += d));
    proc.on("close", () => resolve(JSON.parse(out.trim().split("\n").at(-1))));
  });
}

for (const scenario of scenarios) {
  let emulator;
  let env;
  if (scenario.refused) {
    env = { IDENTITY_ENDPOINT: `http://127.0.0.1:${await unusedPort()}/msi/token`, IDENTITY_HEADER: "example-secret", CONTAINER_APP_NAME: "ca-example" };
  } else {
    emulator = await startIdentityEndpoint({ containerApp: { name: "ca-example" }, ...scenario.emulator });
    env = emulator.env;
  }
  const result = await run(env, scenario.options ?? {}, scenario.scopes ?? VAULT);
  console.log(`\n== ${scenario.title}`);
  if (result.ok) console.log(`   token issued (expires ${result.expiresOn})`);
  else console.log(`   ${result.name} thrown`);
  // A thrown error carries a Diagnosis (its summary); a token that came back wrong is only logged, and a log line's
  // message starts with "DiagnosticCredential [H3 WrongAudience]": that tag is printed once, from the fields.
  const diagnosis = result.diagnosis ?? result.logged.find((entry) => entry.source !== "identity-endpoint");
  if (diagnosis) {
    const text = diagnosis.summary ?? `${diagnosis.message.replace(/^DiagnosticCredential \[[^\]]*\]\s*/, "")} (logged, level ${diagnosis.level})`;
    console.log(`   ${diagnosis.hypothesis} ${diagnosis.code} (${diagnosis.confidence}): ${text}`);
    for (const line of diagnosis.evidence.slice(0, 3)) console.log(`     evidence: ${line}`);
    console.log(`     next: ${diagnosis.nextSteps[0]}`);
  } else {
    console.log("   no diagnosis: nothing wrong");
  }
  await emulator?.close();
}

// Downstream: a token is issued, but Key Vault answers 403 because the identity has no data-plane role (H2).
// The real SecretClient against the Key Vault emulator, with the diagnostic pipeline policy.
{
  const { SecretClient } = await import("@azure/keyvault-secrets");
  const { DiagnosticCredential, diagnosticPolicy, getDiagnosis } = await import("diagnostic-credential");
  const { startKeyVaultEmulator } = await import("diagnostic-credential/testing");
  const identity = await startIdentityEndpoint({ containerApp: { name: "ca-example" } });
  const vault = await startKeyVaultEmulator({
    issuerKeys: identity.signer.jwks(),
    tenantId: identity.tenantId,
    vaultName: "orders-kv",
    secrets: { "db-password": "s3cret" },
  });
  // In-process stand-in for the managed identity (MSAL's cache is per process): tokens minted by the emulator.
  const minted = {
    getToken: async (scopes) => ({
      token: await identity.mintToken({ resource: [scopes].flat()[0].replace(/\/\.default$/, "") }),
      expiresOnTimestamp: Date.now() + 3_600_000,
    }),
  };
  const credential = new DiagnosticCredential({ credential: minted, logger: false });
  const client = new SecretClient(vault.endpoint, credential, { httpClient: vault.httpClient, additionalPolicies: [diagnosticPolicy(credential)] });
  console.log("\n== H2 Key Vault 403: no data-plane role (real SecretClient, diagnosticPolicy)");
  try {
    await client.getSecret("db-password");
  } catch (error) {
    const diagnosis = getDiagnosis(error);
    console.log(`   ${error.name} ${error.statusCode} thrown (unchanged)`);
    console.log(`   ${diagnosis.hypothesis} ${diagnosis.code} (${diagnosis.confidence}): ${diagnosis.summary}`);
    for (const step of diagnosis.nextSteps.slice(0, 2)) console.log(`     next: ${step}`);
  }
  await vault.close();
  await identity.close();
}
