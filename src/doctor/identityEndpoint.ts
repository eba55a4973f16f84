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
  /** IMDS is told by the shape of its answer to this probe: 400 and its own JSON error (no `Metadata: true` sent). */
  imds?: boolean;
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
        return { url: `${base.replace(/\/+$/, "")}/metadata/identity/oauth2/token`, imds: true };
      }
      return { url: IMDS_TOKEN_URL, imds: true };
    }
  }
}

/** Characters of the probe's answer read to tell who answered. */
const MAX_BODY_READ = 2048;

/**
 * Why an answer to the probe did not come from the identity endpoint, or undefined when it did. IMDS answers a
 * request without `Metadata: true` with 400 and its own JSON (`{"error":"invalid_request",…}`): any other answer at
 * the IMDS address is a firewall, a proxy or a sidecar. For the other endpoints, a proxy's 407, a
 * `Proxy-Authenticate` header or an HTML page gives the stranger away.
 */
export function foreignAnswer(
  target: ProbeTarget,
  status: number | undefined,
  body: string,
  headers: Record<string, string | string[] | undefined>,
): string | undefined {
  const shown = `HTTP ${status ?? "?"}${body.trim() ? ` "${excerpt(body.trim(), 120)}"` : ""}`;
  if (target.imds === true) {
    const server = headers["server"];
    if (typeof server === "string" && /^IMDS\//i.test(server)) return undefined;
    if (status === 400 && hasJsonError(body)) return undefined;
    return `${shown}: not IMDS (IMDS answers a probe without Metadata: true with HTTP 400 and its own JSON error), so a firewall, a proxy or a sidecar answered in its place`;
  }
  if (status === 407 || headers["proxy-authenticate"] !== undefined)
    return `${shown}: a proxy answered (it asks for proxy credentials), not the identity endpoint`;
  if (/^\s*<(!doctype|html|head|body|h1)\b/i.test(body))
    return `${shown}: an HTML page, so something other than the identity endpoint answered (a proxy, a firewall or a sidecar)`;
  return undefined;
}

function hasJsonError(body: string): boolean {
  try {
    const parsed: unknown = JSON.parse(body);
    return parsed !== null && typeof parsed === "object" && typeof (parsed as { error?: unknown }).error === "string";
  } catch {
    return false;
  }
}

/**
 * A plain GET without query string or secret: an answer of the identity endpoint (400/401 included) means it is
 * reachable; an answer of anything else (told by its shape, see foreignAnswer) means it is not.
 */
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
        const status = response.statusCode;
        // The head of the body tells who answered (IMDS's JSON, a proxy's HTML page); never more than MAX_BODY_READ.
        let body = "";
        const judge = () => {
          const foreign = foreignAnswer(target, status, body, response.headers);
          if (foreign === undefined) finish({ reachable: true, latencyMs, ...(status !== undefined ? { status } : {}), answeredBy: "identity-endpoint" });
          else
            finish({
              reachable: false,
              latencyMs,
              ...(status !== undefined ? { status } : {}),
              answeredBy: "something-else",
              errorCode: "NOT_IDENTITY_ENDPOINT",
              error: foreign,
            });
        };
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          body += chunk;
          if (body.length >= MAX_BODY_READ) judge();
        });
        response.on("end", judge);
        response.on("error", judge);
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
