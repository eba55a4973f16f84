// A readiness probe built on runSmokeTest: the replica reports "ready" only when its managed identity gets a token
// for every dependency and every dependency accepts it. On Azure Container Apps, point the readiness probe at /readyz
// and the liveness probe at /healthz: a replica whose identity path is broken (H1–H5) is taken out of rotation
// instead of answering 500s, and the JSON body says why.
//
//   GET /healthz  200 "ok" while the process runs (liveness: never depends on Azure)
//   GET /readyz   200 or 503 with the SmokeTestReport as JSON (cached for CACHE_MS; concurrent probes share one run)
//
// Configuration (environment):
//   DEPENDENCIES  comma-separated https URLs to call with a token, e.g. https://myvault.vault.azure.net/secrets/db-password
//   SCOPES        comma-separated extra scopes to request a token for
//   CLIENT_ID     client id of the user-assigned identity the app uses (default: system-assigned)
//   PORT          default 8080;  CACHE_MS default 5000;  TIMEOUT_MS per step, default 3000
// The report holds no token and no IDENTITY_HEADER, but it does name identities and resources: serve /readyz on a
// port that ingress does not expose.
//
// Try it against the local emulators (identity endpoint + Key Vault, started in this process):
//   npm run build
//   node examples/readiness-probe.mjs --emulators              # identity has "Key Vault Secrets User": /readyz → 200
//   node examples/readiness-probe.mjs --emulators=forbidden    # no role on the vault: /readyz → 503, diagnosis H2
//   curl -s localhost:8080/healthz; curl -s localhost:8080/readyz | head -40
// With --emulators the vault keeps its real-looking host name (orders-kv.vault.azure.net); requests reach the local
// emulator through its `httpClient`, which trusts the emulator's CA. In your own tests you can instead start the
// process with NODE_EXTRA_CA_CERTS=<file with emulator.ca>.
import { createServer } from "node:http";
import { runSmokeTest } from "diagnostic-credential";

const list = (value) =>
  (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
const emulatorMode = process.argv.find((arg) => arg.startsWith("--emulators"));

const options = {
  dependencies: list(process.env.DEPENDENCIES),
  scopes: list(process.env.SCOPES),
  timeoutMs: Number(process.env.TIMEOUT_MS ?? 3000),
  ...(process.env.CLIENT_ID ? { clientId: process.env.CLIENT_ID } : {}),
};
const cacheMs = Number(process.env.CACHE_MS ?? 5000);
const port = Number(process.env.PORT ?? 8080);

let emulators;
if (emulatorMode) {
  const { startIdentityEndpoint, startKeyVaultEmulator } = await import("diagnostic-credential/testing");
  const identity = await startIdentityEndpoint({ containerApp: { name: "ca-readiness-demo" } });
  const keyVault = await startKeyVaultEmulator({
    issuerKeys: identity.signer.jwks(),
    tenantId: identity.tenantId,
    vaultName: "orders-kv",
    secrets: { "db-password": "s3cret" },
  });
  if (emulatorMode !== "--emulators=forbidden") {
    keyVault.rbac.grant({ principalId: identity.identities.systemAssigned.objectId, role: "Key Vault Secrets User", scope: keyVault.resourceId });
  }
  // Before the first credential is made: MSAL reads the identity variables once per process.
  Object.assign(process.env, identity.env);
  options.dependencies = [`${keyVault.endpoint}/secrets/db-password`];
  options.httpClient = keyVault.httpClient;
  emulators = [identity, keyVault];
}

let cached; // { at, report }
let running; // the smoke test in flight, shared by concurrent probes

async function readiness() {
  if (cached && Date.now() - cached.at < cacheMs) return cached.report;
  running ??= runSmokeTest(options)
    .then((report) => {
      cached = { at: Date.now(), report };
      return report;
    })
    .finally(() => {
      running = undefined;
    });
  return running;
}

const server = createServer(async (req, res) => {
  const path = (req.url ?? "/").split("?")[0];
  if (path === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    return;
  }
  if (path === "/readyz") {
    const report = await readiness();
    res.writeHead(report.ok ? 200 : 503, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
});

server.listen(port, () => {
  const { port: actual } = server.address();
  console.log(`readiness probe listening on http://127.0.0.1:${actual} (GET /healthz, GET /readyz)`);
});

const stop = async () => {
  server.close();
  await Promise.all((emulators ?? []).map((e) => e.close()));
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
