import { randomUUID } from "node:crypto";
import https from "node:https";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TokenClaims } from "../../jwt/claims.js";
import { createEmulatorHttpClient, type EmulatorHttpClient } from "./httpClient.js";
import { createRbacTable, type RbacTable, type RoleAssignment, type RoleAssignmentTable, type RoleDefinition } from "./rbac.js";
import { createTestCertificateAuthority, type TestCertificateAuthority } from "./tls.js";
import { LISTEN_BACKLOG } from "../ports.js";
import { bearerToken, createTokenChecker, type IssuerKeys, type TokenCheckResult, type TokenFailureReason } from "./tokenCheck.js";

/** Options every service emulator takes. */
export interface ServiceEmulatorOptions {
  /** Keys the accepted tokens are signed with (e.g. the identity emulator's `signer.jwks()`). */
  issuerKeys: IssuerKeys;
  /** The tenant the service belongs to: tokens of another tenant are refused. */
  tenantId: string;
  /** Subscription of the emulated resource. Default `00000000-0000-0000-0000-000000000000`. */
  subscriptionId?: string;
  /** Resource group of the emulated resource. Default `rg-emulators`. */
  resourceGroup?: string;
  /** Azure region reported in headers/bodies. Default `westeurope`. */
  region?: string;
  /** Role assignments in effect from the start. */
  rbac?: readonly RoleAssignment[];
  /** Delay before a role granted at run time (`rbac.grant`) takes effect. Default 0. */
  propagationDelayMs?: number;
  /** Start with the network rules rejecting this client. Default false. */
  firewall?: boolean;
  /** Accepted token audiences, replacing the service's defaults. */
  audiences?: readonly string[];
  /** Extra DNS names for the server certificate and the routing client. */
  hostNames?: readonly string[];
  /** The emulator's clock (epoch ms) for token lifetime and propagation. Default `Date.now`. */
  now?: () => number;
  /** Issue the server certificate from this CA (share one CA between emulators). Default: a new CA. */
  certificateAuthority?: TestCertificateAuthority;
  /** Port on 127.0.0.1. Default: any free port. */
  port?: number;
}

/** Which service an emulator stands for (the catalog's names). */
export type EmulatedService = "keyvault" | "storage" | "servicebus" | "cosmos" | "graph" | "arm";

/** One request an emulator answered. Never holds the token. */
export interface RecordedServiceRequest {
  /** Emulator clock, epoch ms. */
  time: number;
  /** HTTP method, as received. */
  method: string;
  /** The host the client addressed (the `Host` header). */
  host: string;
  /** Path and query (a SAS `sig` is masked). */
  path: string;
  /** Status of the answer. */
  status: number;
  /** The service's error code, when the answer is an error (`ForbiddenByRbac`, `InvalidAuthenticationInfo`, …). */
  errorCode?: string;
  /** `oid` of a token that passed the checks. */
  principalId?: string;
  /** Why the token was refused, when it was. */
  tokenFailure?: TokenFailureReason;
}

/** A running service emulator. */
export interface ServiceEmulator {
  /** Which service this emulates (its catalog name). */
  readonly service: EmulatedService;
  /** `https://127.0.0.1:<port>`. */
  readonly url: string;
  /** `https://<host>`: the real-looking endpoint, reachable through {@link ServiceEmulator.httpClient}. */
  readonly endpoint: string;
  /** The real-looking host name (`myvault.vault.azure.net`). */
  readonly host: string;
  /** The port it listens on, on 127.0.0.1. */
  readonly port: number;
  /** PEM of the CA that issued the server certificate. */
  readonly ca: string;
  /** Azure resource id of the emulated resource. */
  readonly resourceId: string;
  /** Role assignments, mutable at run time. */
  readonly rbac: RoleAssignmentTable;
  /** False for services without network rules (Resource Manager, Graph): `setFirewall` then does nothing. */
  readonly firewallSupported: boolean;
  /** Turn the service's network rejection on or off. */
  setFirewall(enabled: boolean): void;
  /** Every request answered, oldest first. */
  readonly requests: RecordedServiceRequest[];
  /** Real host name → `127.0.0.1:<port>`, for {@link createEmulatorHttpClient}. */
  readonly routes: Readonly<Record<string, string>>;
  /** An `httpClient` for SDK clients: routes {@link ServiceEmulator.host} here and trusts {@link ServiceEmulator.ca}. */
  readonly httpClient: EmulatorHttpClient;
  /** Stops the server and closes its open connections; resolves when it is closed. */
  close(): Promise<void>;
}

// ---- internal contract between the harness and each service -------------------------------------------------

/** What the harness hands a service module about one request. */
export interface IncomingCall {
  method: string;
  /** Full URL with the host the client addressed. */
  url: URL;
  /** Lower-cased host name the client addressed, without port. */
  hostname: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  requestId: string;
  clientRequestId?: string;
  clientIp: string;
}

/** A service's answer. */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
  errorCode?: string;
}

/** Per-emulator state the service modules read. */
export interface EmulatorEnv {
  now: () => number;
  rbac: RbacTable;
  tenantId: string;
  subscriptionId: string;
  resourceGroup: string;
  region: string;
  host: string;
  resourceId: string;
}

export interface ServiceSpec {
  service: EmulatedService;
  host: string;
  resourceId: string;
  audiences: readonly string[];
  roles: Readonly<Record<string, RoleDefinition>>;
  normalizeScope?: (scope: string) => string;
  /** The service's network rejection; `afterAuth` when the service authenticates before applying it. */
  firewall?: { afterAuth: boolean; reply(call: IncomingCall, env: EmulatorEnv, caller?: Caller): Reply };
  /** Reads the token from the request. Default: `Authorization: Bearer`. */
  readToken?(call: IncomingCall): string | undefined;
  /** Headers on every answer (request ids, service version, …). */
  headers(call: IncomingCall, env: EmulatorEnv): Record<string, string>;
  tokenFailure(call: IncomingCall, failure: Extract<TokenCheckResult, { ok: false }>, env: EmulatorEnv): Reply;
  handle(call: IncomingCall, caller: Caller, env: EmulatorEnv): Reply | Promise<Reply>;
}

/** The verified token's claims; `oid` is "" when the token has none. */
export type Caller = TokenClaims & { oid: string };

export const DEFAULT_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000";
export const DEFAULT_RESOURCE_GROUP = "rg-emulators";
export const DEFAULT_REGION = "westeurope";

/** Starts an HTTPS server for one service spec. */
export async function startEmulatorServer(spec: ServiceSpec, options: ServiceEmulatorOptions): Promise<ServiceEmulator> {
  const now = options.now ?? Date.now;
  const rbac = createRbacTable({
    assignments: options.rbac,
    propagationDelayMs: options.propagationDelayMs,
    now,
    roles: spec.roles,
    normalizeScope: spec.normalizeScope,
  });
  const env: EmulatorEnv = {
    now,
    rbac,
    tenantId: options.tenantId,
    subscriptionId: options.subscriptionId ?? DEFAULT_SUBSCRIPTION_ID,
    resourceGroup: options.resourceGroup ?? DEFAULT_RESOURCE_GROUP,
    region: options.region ?? DEFAULT_REGION,
    host: spec.host,
    resourceId: spec.resourceId,
  };
  const checkToken = createTokenChecker({
    issuerKeys: options.issuerKeys,
    tenantId: options.tenantId,
    audiences: options.audiences ?? spec.audiences,
    now,
  });
  let firewall = options.firewall ?? false;
  const requests: RecordedServiceRequest[] = [];

  async function answer(call: IncomingCall): Promise<Reply & { principalId?: string; tokenFailure?: TokenFailureReason }> {
    if (firewall && spec.firewall && !spec.firewall.afterAuth) return spec.firewall.reply(call, env);
    const result = await checkToken((spec.readToken ?? defaultReadToken)(call));
    if (!result.ok) return { ...spec.tokenFailure(call, result, env), tokenFailure: result.reason };
    const caller: Caller = { ...result.claims, oid: result.claims.oid ?? "" };
    if (firewall && spec.firewall) return spec.firewall.reply(call, env, caller);
    return { ...(await spec.handle(call, caller, env)), principalId: caller.oid || undefined };
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const hostHeader = req.headers.host ?? `127.0.0.1:${port}`;
    const url = new URL(req.url ?? "/", `https://${hostHeader}`);
    const clientRequestId = header(req.headers, "x-ms-client-request-id") ?? header(req.headers, "client-request-id");
    const call: IncomingCall = {
      method: (req.method ?? "GET").toUpperCase(),
      url,
      hostname: url.hostname.toLowerCase().replace(/^\[|\]$/g, ""),
      headers: req.headers,
      body: Buffer.concat(chunks),
      requestId: randomUUID(),
      clientRequestId,
      clientIp: (req.socket.remoteAddress ?? "127.0.0.1").replace(/^::ffff:/, ""),
    };
    let reply: Reply & { principalId?: string; tokenFailure?: TokenFailureReason };
    try {
      reply = await answer(call);
    } catch (error) {
      reply = {
        status: 500,
        headers: { "content-type": "text/plain" },
        body: `emulator error: ${(error as Error)?.message ?? error}`,
        errorCode: "InternalError",
      };
    }
    const body = reply.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(reply.body) ? reply.body : Buffer.from(reply.body, "utf8");
    const headers: Record<string, string> = {
      ...spec.headers(call, env),
      date: new Date(now()).toUTCString(),
      ...reply.headers,
      "content-length": String(body.length),
    };
    requests.push({
      time: now(),
      method: call.method,
      host: hostHeader,
      path: recordedPath(url),
      status: reply.status,
      ...(reply.errorCode !== undefined ? { errorCode: reply.errorCode } : {}),
      ...(reply.principalId !== undefined ? { principalId: reply.principalId } : {}),
      ...(reply.tokenFailure !== undefined ? { tokenFailure: reply.tokenFailure } : {}),
    });
    res.writeHead(reply.status, headers);
    res.end(call.method === "HEAD" ? undefined : body);
  }

  const ca = options.certificateAuthority ?? createTestCertificateAuthority();
  const names = [spec.host, ...(options.hostNames ?? []), "localhost", "127.0.0.1"];
  const server = https.createServer({ ...ca.issue(names), keepAliveTimeout: 5_000 }, (req, res) => {
    onRequest(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: options.port ?? 0, host: "127.0.0.1", backlog: LISTEN_BACKLOG }, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const target = `127.0.0.1:${port}`;
  const routes: Record<string, string> = {};
  for (const name of [spec.host, ...(options.hostNames ?? [])]) routes[name.toLowerCase()] = target;

  return {
    service: spec.service,
    url: `https://${target}`,
    endpoint: `https://${spec.host}`,
    host: spec.host,
    port,
    ca: ca.cert,
    resourceId: spec.resourceId,
    rbac,
    firewallSupported: spec.firewall !== undefined,
    setFirewall(enabled) {
      firewall = enabled;
    },
    requests,
    routes,
    httpClient: createEmulatorHttpClient({ ca: ca.cert, routes }),
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** Path and query, with a SAS signature (`sig=`) masked: no credential ends up in a record. */
function recordedPath(url: URL): string {
  if (!url.searchParams.has("sig")) return `${url.pathname}${url.search}`;
  const masked = new URL(url);
  masked.searchParams.set("sig", "REDACTED");
  return `${masked.pathname}${masked.search}`;
}

function defaultReadToken(call: IncomingCall): string | undefined {
  return bearerToken(header(call.headers, "authorization"));
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A JSON answer. */
export function json(status: number, body: unknown, errorCode?: string, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
    body: JSON.stringify(body),
    ...(errorCode !== undefined ? { errorCode } : {}),
  };
}

/** Escapes text for XML element content. */
export function xmlText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** `/subscriptions/<sub>/resourceGroups/<rg>/providers/<provider>/<type>/<name>`. */
export function resourceIdOf(env: { subscriptionId?: string; resourceGroup?: string }, provider: string, name: string): string {
  return `/subscriptions/${env.subscriptionId ?? DEFAULT_SUBSCRIPTION_ID}/resourceGroups/${env.resourceGroup ?? DEFAULT_RESOURCE_GROUP}/providers/${provider}/${name}`;
}

/** A UTC time as .NET prints it in Azure error messages: `1/30/2025 2:47:35 PM`. */
export function dotnetUtc(epochMs: number): string {
  const d = new Date(epochMs);
  const hours = d.getUTCHours();
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${hours % 12 || 12}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${hours < 12 ? "AM" : "PM"}`;
}
