// DiagnosticCredential's spans, metrics and log lines with the OpenTelemetry Node SDK, printed to the console.
// Runs against the local identity-endpoint emulator from `diagnostic-credential/testing`: no Azure needed.
//
//   npm run build && npx node examples/otel-console.mjs
//
// What it shows, in order:
//   1. a token for Key Vault (span status UNSET; scope, service, identity ids, expiry, cache age 0, 1 endpoint attempt)
//   2. the same token again (cached: cache age > 0, 0 endpoint attempts)
//   3. the identity is removed (H1): span status ERROR, error.type IdentityNotAssigned, one JSON log line on stderr
//   4. the identity is back: a token, a `[recovered]` log line and the `diagnostic_credential.recovered` span event
// then, at shutdown, the metrics: diagnostic_credential.get_token.duration (s), diagnostic_credential.diagnoses
// ({diagnosis}) and diagnostic_credential.recovery.duration (s), with the Container Apps attributes.
import { trace } from "@opentelemetry/api";
import { metrics, NodeSDK, tracing } from "@opentelemetry/sdk-node";
import { DiagnosticCredential } from "diagnostic-credential";
import { startIdentityEndpoint } from "diagnostic-credential/testing";

// The emulator plays the Container Apps identity endpoint; its env (IDENTITY_ENDPOINT, IDENTITY_HEADER,
// CONTAINER_APP_NAME/_REVISION/_REPLICA_NAME, ...) must be in place before the credential is made.
const emulator = await startIdentityEndpoint({
  containerApp: { name: "ca-orders", revision: "ca-orders--r7x2k9q", replicaName: "ca-orders--r7x2k9q-5d8f6c7b9-x2x7z" },
});
Object.assign(process.env, emulator.env);

const sdk = new NodeSDK({
  serviceName: "otel-console-example",
  traceExporter: new tracing.ConsoleSpanExporter(),
  // Exported once at shutdown (the interval is longer than the example).
  metricReaders: [new metrics.PeriodicExportingMetricReader({ exporter: new metrics.ConsoleMetricExporter(), exportIntervalMillis: 60_000 })],
  instrumentations: [],
});
sdk.start();

// Default logger: one JSON line per diagnosis on stderr (what Container Apps console logs collect).
const credential = new DiagnosticCredential({ retryOptions: { maxRetries: 0 } });
const tracer = trace.getTracer("otel-console-example");

await tracer.startActiveSpan("example", async (span) => {
  const vault = await credential.getToken("https://vault.azure.net/.default");
  console.log(`1. token for Key Vault, expires ${new Date(vault.expiresOnTimestamp).toISOString()}`);
  await credential.getToken("https://vault.azure.net/.default");
  console.log("2. the same token again (cached)");

  emulator.setFault({ kind: "no-identity" });
  try {
    await credential.getToken("https://storage.azure.com/.default");
  } catch (error) {
    console.log(`3. ${error.name}: ${error.diagnosis?.hypothesis} ${error.diagnosis?.code}`);
  }

  emulator.setFault(undefined);
  await credential.getToken("https://storage.azure.com/.default");
  console.log("4. token for Storage: the identity is back (see the [recovered] line on stderr)");
  span.end();
});

await sdk.shutdown();
await emulator.close();
