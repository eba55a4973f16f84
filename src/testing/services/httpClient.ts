import https from "node:https";
import type { Duplex } from "node:stream";
import tls, { rootCertificates } from "node:tls";
import { createDefaultHttpClient, type HttpClient, type PipelineRequest, type PipelineResponse } from "@azure/core-rest-pipeline";
import { isLegacyRequest, legacyResponse, pipelineRequestFromLegacy, type LegacyResponseLike, type LegacyWebResourceLike } from "../../pipeline/legacyHttp.js";

export type { LegacyHttpHeadersLike, LegacyResponseLike, LegacyWebResourceLike } from "../../pipeline/legacyHttp.js";

/**
 * An `HttpClient` for Azure SDK clients talking to the service emulators. Besides the `@azure/core-rest-pipeline`
 * shape it also accepts the core-http v1 request that `@azure/storage-blob` passes to its `httpClient` option, so
 * one client serves every SDK.
 */
export interface EmulatorHttpClient extends HttpClient {
  /**
   * Sends a request (to its emulator when the host is routed) and resolves with the response. Takes a
   * core-rest-pipeline `PipelineRequest`, or the core-http v1 request `@azure/storage-blob` passes, which is answered
   * in the v1 shape with `request` set to that same object.
   */
  sendRequest: ((request: PipelineRequest) => Promise<PipelineResponse>) &
    (<Request extends LegacyWebResourceLike>(request: Request) => Promise<LegacyResponseLike<Request>>);
}

/** Options of {@link createEmulatorHttpClient}. */
export interface EmulatorHttpClientOptions {
  /** CA certificate(s), PEM, trusted on top of Node's bundled roots. */
  ca: string | readonly string[];
  /**
   * Real host name → where it is served: `{ "myvault.vault.azure.net": "127.0.0.1:44321" }`. The request keeps its
   * real URL (so pipeline policies and error messages show the real host); only the TCP connection goes to the
   * target, with TLS SNI and certificate check done for the real host name and `Host` set to it.
   */
  routes?: Record<string, string>;
  /** The client that sends the request. Default `createDefaultHttpClient()`. */
  httpClient?: HttpClient;
}

/**
 * A client that trusts `ca` (plus Node's bundled roots) for every https request. It always replaces the request's
 * `agent` (`@azure/cosmos` sets its own default agent on every request, which would not trust the CA).
 */
export function createTrustingHttpClient(ca: string | readonly string[]): EmulatorHttpClient {
  return createEmulatorHttpClient({ ca });
}

/**
 * A client that sends requests for the routed real host names to the emulators, trusting their CA. Hosts that are
 * not routed go to the network as usual (still trusting `ca`).
 */
export function createEmulatorHttpClient(options: EmulatorHttpClientOptions): EmulatorHttpClient {
  const inner = options.httpClient ?? createDefaultHttpClient();
  const cas = typeof options.ca === "string" ? [options.ca] : [...options.ca];
  const routes = new Map<string, { hostname: string; port: number }>();
  for (const [host, target] of Object.entries(options.routes ?? {})) routes.set(host.toLowerCase(), parseTarget(target));
  const agent = new RoutingAgent(routes, { keepAlive: true, ca: [...rootCertificates, ...cas] });

  async function send(request: PipelineRequest): Promise<PipelineResponse> {
    if (!request.url.toLowerCase().startsWith("https:")) return inner.sendRequest(request);
    const saved = request.agent;
    request.agent = agent;
    try {
      return await inner.sendRequest(request);
    } finally {
      request.agent = saved;
    }
  }

  const sendRequest = (request: PipelineRequest | LegacyWebResourceLike) => (isLegacyRequest(request) ? sendLegacy(request) : send(request));

  async function sendLegacy(webResource: LegacyWebResourceLike) {
    return legacyResponse(await send(pipelineRequestFromLegacy(webResource)), webResource);
  }

  return { sendRequest: sendRequest as EmulatorHttpClient["sendRequest"] };
}

/**
 * Opens the TCP connection of a routed host name to its emulator. Routing in the agent (not through
 * `request.requestOverrides`, which only newer `@azure/core-rest-pipeline` versions read) works with every version in
 * the peer range: the URL, `Host`, TLS SNI and certificate check all keep the real host name.
 */
class RoutingAgent extends https.Agent {
  constructor(
    private readonly routes: ReadonlyMap<string, { hostname: string; port: number }>,
    options: https.AgentOptions,
  ) {
    super(options);
  }

  override createConnection(options: ConnectionOptions, callback?: (error: Error | null, socket: Duplex) => void): Duplex {
    const host = String(options.host ?? "").toLowerCase();
    const route = this.routes.get(`${host}:${options.port ?? 443}`) ?? this.routes.get(host);
    const target = route ? { ...options, host: route.hostname, port: route.port, servername: options.servername ?? host } : options;
    // @ts-expect-error Agent.createConnection exists at run time (node:https) but is missing from @types/node's Agent.
    return super.createConnection(target, callback);
  }
}

type ConnectionOptions = tls.ConnectionOptions & { host?: string; port?: number };

function parseTarget(target: string): { hostname: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
  if (!match) throw new TypeError(`route target must be "host:port", got "${target}"`);
  return { hostname: match[1]!, port: Number(match[2]) };
}
