// DiagnosticCredential's spans and metrics sent to Application Insights with the Azure Monitor OpenTelemetry
// distro. Run it where a managed identity is available (inside a Container App), or anywhere to see the diagnosis
// of a failure:
//
//   npm run build
//   APPLICATIONINSIGHTS_CONNECTION_STRING="InstrumentationKey=...;IngestionEndpoint=https://..." npx node examples/otel-azure-monitor.mjs
//
// Without APPLICATIONINSIGHTS_CONNECTION_STRING it explains what is missing and exits with code 2, before anything
// is loaded or sent.
//
// In Application Insights: spans are in `dependencies` (name DiagnosticCredential.getToken; failures have
// success == false and customDimensions["error.type"]), metrics in `customMetrics`
// (name "diagnostic_credential.diagnoses" etc., attributes in customDimensions), and the JSON log lines in the
// Container Apps console logs (ContainerAppConsoleLogs_CL). Queries: docs/observability.md.
const connectionString = process.env.APPLICATIONINSIGHTS_CONNECTION_STRING;
if (!connectionString) {
  console.error(
    [
      "otel-azure-monitor: APPLICATIONINSIGHTS_CONNECTION_STRING is not set.",
      "Set it to your Application Insights connection string (portal: Application Insights > Overview > Connection String), e.g.",
      '  APPLICATIONINSIGHTS_CONNECTION_STRING="InstrumentationKey=...;IngestionEndpoint=https://..." npx node examples/otel-azure-monitor.mjs',
      "For a run without Azure, see examples/otel-console.mjs.",
    ].join("\n"),
  );
  process.exit(2);
}

const { useAzureMonitor, shutdownAzureMonitor } = await import("@azure/monitor-opentelemetry");
const { trace } = await import("@opentelemetry/api");
const { DiagnosticCredential } = await import("diagnostic-credential");

// Registers the global tracer and meter providers: DiagnosticCredential uses them (no option needed).
useAzureMonitor({ azureMonitorExporterOptions: { connectionString } });

const scope = process.argv[2] ?? "https://vault.azure.net/.default";
const credential = new DiagnosticCredential({ tokenTimeoutMs: 10_000 });
await trace.getTracer("otel-azure-monitor-example").startActiveSpan("example", async (span) => {
  try {
    const token = await credential.getToken(scope);
    console.log(`token for ${scope}, expires ${new Date(token.expiresOnTimestamp).toISOString()}`);
  } catch (error) {
    console.log(`${error.name}: ${error.diagnosis ? `${error.diagnosis.hypothesis} ${error.diagnosis.code}: ${error.diagnosis.summary}` : error.message}`);
  } finally {
    span.end();
  }
});

// Flushes spans and metrics to Application Insights.
await shutdownAzureMonitor();
