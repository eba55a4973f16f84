/**
 * The identity-endpoint probe: is the endpoint the Azure SDK will call there at all? A plain HTTP GET without query
 * string or secret, with its own short time limit.
 */
import http from "node:http";
import https from "node:https";
import { excerpt } from "../util/redact.js";
import { sanitizeEndpoint, type HostEnvironment } from "../environment/hostEnvironment.js";
import type { SmokeTestIdentityEndpoint } from "./types.js";

/** The identity-endpoint probe never waits longer than this, whatever `timeoutMs` says. */
export const MAX_PROBE_MS = 3_000;
const IMDS_TOKEN_URL = "http://169.254.169.254/metadata/identity/oauth2/token";

/** What to probe: a URL, or why there is none (malformed or not set). */
export interface ProbeTarget {
  url?: string;
  malformed?: string;
  skipped?: string;
}

/** The endpoint the SDK's managed-identity source for this environment will call. */
export function probeTarget(env: HostEnvironment): ProbeTarget {
  switch (env.source) {
    case "ServiceFabric":
    case "AppService":
    case "AzureArc":
      if (env.identityEndpointMalformed) return { malformed: "IDENTITY_ENDPOINT is not a valid http(s) URL" };
      return env.identityEndpoint !== undefined ? { url: env.identityEndpoint } : { skipped: "IDENTITY_ENDPOINT is not set" };
    case "MachineLearning":
    case "CloudShell":
      return env.msiEndpoint !== undefined ? { url: env.msiEndpoint } : { malformed: "MSI_ENDPOINT is not a valid http(s) URL" };
    case "DefaultToImds": {
      if (env.imdsHostOverride !== undefined) {
        const base = sanitizeEndpoint(env.imdsHostOverride);
        if (base === undefined) return { malformed: "AZURE_POD_IDENTITY_AUTHORITY_HOST is not a valid http(s) URL" };
        return { url: `${base.replace(/\/+$/, "")}/metadata/identity/oauth2/token` };
      }
      return { url: IMDS_TOKEN_URL };
    }
  }
}

/** A plain GET without query string or secret: any HTTP answer (400/401 included) means the endpoint is reachable. */
export async function probeIdentityEndpoint(target: ProbeTarget, timeoutMs: number): Promise<SmokeTestIdentityEndpoint> {
  if (target.skipped !== undefined) return { reachable: false, skipped: target.skipped };
  if (target.malformed !== undefined || target.url === undefined) {
    return { reachable: false, error: target.malformed ?? "no identity endpoint", errorCode: "ERR_INVALID_URL" };
  }
  const url = target.url;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url, reachable: false, error: "not a valid URL", errorCode: "ERR_INVALID_URL" };
  }
  const startedAt = performance.now();
  return new Promise<SmokeTestIdentityEndpoint>((resolve) => {
    let done = false;
    let connectMs: number | undefined;
    const finish = (result: SmokeTestIdentityEndpoint) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      request.destroy();
      resolve({ url, ...result, ...(connectMs !== undefined ? { connectMs } : {}) });
    };
    const transport = parsed.protocol === "https:" ? https : http;
    const request = transport.request(
      parsed,
      {
        method: "GET",
        agent: false,
        headers: { "user-agent": "diagnostic-credential-doctor" },
        // The probe sends no secret: a TLS endpoint with a private certificate (Service Fabric) still counts as reachable.
        ...(parsed.protocol === "https:" ? { rejectUnauthorized: false } : {}),
      },
      (response) => {
        const latencyMs = Math.round(performance.now() - startedAt);
        response.resume();
        finish({ reachable: true, latencyMs, ...(response.statusCode !== undefined ? { status: response.statusCode } : {}) });
      },
    );
    request.on("socket", (socket) => {
      socket.once("connect", () => {
        connectMs = Math.round(performance.now() - startedAt);
      });
    });
    request.on("error", (error: NodeJS.ErrnoException) => {
      const code = typeof error.code === "string" ? error.code : "ERROR";
      // Redacted before it is cut (excerpt): a secret cut in half would no longer be recognised.
      finish({ reachable: false, errorCode: code, error: excerpt(`${code}: ${error.message}`, 300) });
    });
    const timer = setTimeout(() => {
      finish({
        reachable: false,
        errorCode: "TIMEOUT",
        error: connectMs !== undefined ? `accepted the connection but did not answer within ${timeoutMs} ms` : `no connection within ${timeoutMs} ms`,
      });
    }, timeoutMs);
    request.end();
  });
}
