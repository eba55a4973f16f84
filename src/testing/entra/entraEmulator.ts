import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLocalJWKSet, jwtVerify, type JWK } from "jose";
import { decodeTokenClaims } from "../../jwt/claims.js";
import { LISTEN_BACKLOG } from "../ports.js";
import { createTestCertificateAuthority, type TestCertificateAuthority } from "../services/tls.js";
import { createTokenSigner, DEFAULT_TENANT_ID, type TokenSigner } from "../tokenSigner.js";
import { entraError, entraErrorBody, type EntraErrorFacts } from "./entraErrors.js";

/** The audience AKS workload identity's projected service-account token carries. */
export const TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange";

/** A federated identity credential of a user-assigned identity (or app): what the assertion must match exactly. */
export interface FederatedIdentityCredential {
  /** Client id of the identity it belongs to. */
  clientId: string;
  /** The cluster's OIDC issuer URL, trailing slash included when AKS has one. */
  issuer: string;
  /** `system:serviceaccount:<namespace>:<service account>`. */
  subject: string;
  /** Default {@link TOKEN_EXCHANGE_AUDIENCE}. */
  audience?: string;
  /** Object id of the identity (the access token's `oid`). Default: a GUID per client id. */
  objectId?: string;
}

/** An answer forced for every token request (a cause the table cannot produce, e.g. AADSTS90061). */
export interface EntraFault {
  /** The AADSTS code to answer with. */
  aadsts: number;
}

/** One token request the emulator answered. Never holds the assertion or the token. */
export interface RecordedEntraRequest {
  /** HTTP method. */
  method: string;
  /** URL path. */
  path: string;
  /** Status of the answer. */
  status: number;
  /** AADSTS code of an error answer. */
  aadsts?: number;
  /** The `client_id` sent. */
  clientId?: string;
  /** The assertion's `iss`, `sub`, `aud` (claims only). */
  assertion?: {
    /** Issuer. */
    iss?: string;
    /** Subject. */
    sub?: string;
    /** Audience (the first). */
    aud?: string;
  };
}

/** Options of {@link startEntraEmulator}. */
export interface EntraEmulatorOptions {
  /** The tenant; default {@link DEFAULT_TENANT_ID}. */
  tenantId?: string;
  /** The federated credentials in effect. */
  federatedCredentials?: readonly FederatedIdentityCredential[];
  /** Keys of the cluster's OIDC issuer: when given, the assertion's signature is checked (AADSTS7000272 otherwise). */
  issuerKeys?: {
    /** The issuer's public keys. */
    keys: JWK[];
  };
  /** Signs the access tokens; default a new signer for the tenant. */
  signer?: TokenSigner;
  /** Issue the server certificate from this CA. Default: a new CA. */
  certificateAuthority?: TestCertificateAuthority;
  /** Answer 70021 with the assertion's issuer, subject and audience (Entra's older answer) instead of 700211/700212/700213. */
  legacyMismatchCode?: boolean;
  /** Emulator clock (epoch ms). Default `Date.now`. */
  now?: () => number;
  /** An answer forced from the start. */
  fault?: EntraFault;
}

/** A running Entra ID token endpoint emulator. */
export interface EntraEmulator {
  /** `https://127.0.0.1:<port>`: the value of AZURE_AUTHORITY_HOST. */
  readonly authorityHost: string;
  /** The tenant it serves. */
  readonly tenantId: string;
  /** PEM file of the CA (for NODE_EXTRA_CA_CERTS). */
  readonly caFile: string;
  /** AZURE_AUTHORITY_HOST, AZURE_TENANT_ID, NODE_EXTRA_CA_CERTS, and a refused proxy with NO_PROXY for loopback (nothing leaves the machine). */
  readonly env: Readonly<Record<string, string>>;
  /** Signs the access tokens it issues (its `jwks()` for service emulators). */
  readonly signer: TokenSigner;
  /** The token requests answered, oldest first. */
  readonly requests: RecordedEntraRequest[];
  /** Adds a federated credential to the table. */
  addFederatedCredential(credential: FederatedIdentityCredential): void;
  /** Forces an answer for every token request (undefined: back to the table). */
  setFault(fault: EntraFault | undefined): void;
  /** Stops the server. */
  close(): Promise<void>;
}

/** The longest assertion lifetime Entra accepts: 1.01:00:00. */
const MAX_ASSERTION_LIFETIME_S = 25 * 3600;

/**
 * An Entra ID token endpoint for client-assertion exchanges (AKS workload identity), over HTTPS with its own CA:
 * `/{tenant}/v2.0/.well-known/openid-configuration` (MSAL's authority metadata), `/common/discovery/instance`
 * (instance discovery; MSAL sends it to login.microsoftonline.com, so clients use `disableInstanceDiscovery`, as
 * ManagedIdentityCredential's AKS path does) and `POST /{tenant}/oauth2/v2.0/token`, which checks the assertion
 * (the projected service-account token) against the federated credentials and answers with Entra's error bodies.
 */
export async function startEntraEmulator(options: EntraEmulatorOptions = {}): Promise<EntraEmulator> {
  const tenantId = options.tenantId ?? DEFAULT_TENANT_ID;
  const signer = options.signer ?? (await createTokenSigner({ tenantId }));
  const ca = options.certificateAuthority ?? createTestCertificateAuthority();
  const now = options.now ?? Date.now;
  const credentials = [...(options.federatedCredentials ?? [])];
  const objectIds = new Map<string, string>();
  const requests: RecordedEntraRequest[] = [];
  const keySet = options.issuerKeys ? createLocalJWKSet(options.issuerKeys) : undefined;
  let fault: EntraFault | undefined = options.fault;
  let host = "";

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
  };

  async function tokenAnswer(req: IncomingMessage, form: URLSearchParams): Promise<{ status: number; body: string; record: Partial<RecordedEntraRequest> }> {
    const pathTenant = (req.url ?? "").split("/")[1] ?? "";
    const clientId = form.get("client_id") ?? "";
    const assertion = form.get("client_assertion") ?? "";
    const claims = decodeTokenClaims(assertion);
    const sub = claims ? subjectOf(assertion) : undefined;
    const facts: EntraErrorFacts = { clientId, tenantId: pathTenant, now: Math.floor(now() / 1000) };
    if (claims?.iss !== undefined) facts.issuer = claims.iss;
    if (sub !== undefined) facts.subject = sub;
    if (claims?.aud !== undefined) facts.audience = claims.aud;
    if (claims?.iat !== undefined) facts.issuedAt = claims.iat;
    if (claims?.nbf !== undefined) facts.notBefore = claims.nbf;
    if (claims?.exp !== undefined) facts.expiresAt = claims.exp;
    const record: Partial<RecordedEntraRequest> = { clientId };
    if (claims) record.assertion = { ...(claims.iss ? { iss: claims.iss } : {}), ...(sub ? { sub } : {}), ...(claims.aud ? { aud: claims.aud } : {}) };
    const fail = (code: number) => {
      const answer = entraError(code, facts);
      return {
        status: answer.status,
        body: entraErrorBody(answer, header(req, "client-request-id") ?? randomUUID(), new Date(now())),
        record: { ...record, aadsts: code },
      };
    };
    if (fault !== undefined) return fail(fault.aadsts);
    if (pathTenant !== tenantId && pathTenant.toLowerCase() !== "organizations") return fail(/^[0-9a-f-]{36}$/i.test(pathTenant) ? 700016 : 90002);
    const mine = credentials.filter((c) => c.clientId === clientId);
    if (mine.length === 0) return fail(700016);
    if (claims === undefined || form.get("client_assertion_type") !== "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") return fail(50027);
    if (claims.iat !== undefined && claims.exp !== undefined && claims.exp - claims.iat > MAX_ASSERTION_LIFETIME_S) return fail(70023);
    const nowS = facts.now!;
    if ((claims.exp !== undefined && claims.exp < nowS) || (claims.nbf !== undefined && claims.nbf > nowS + 300)) return fail(700024);
    const aud = claims.aud ?? "";
    const match = mine.find((c) => c.issuer === claims.iss && c.subject === sub && (c.audience ?? TOKEN_EXCHANGE_AUDIENCE) === aud);
    if (match === undefined) {
      if (options.legacyMismatchCode) return fail(70021);
      const byIssuer = mine.filter((c) => c.issuer === claims.iss);
      if (byIssuer.length === 0) return fail(700211);
      const bySubject = byIssuer.filter((c) => c.subject === sub);
      if (bySubject.length === 0) return fail(700213);
      return fail(700212);
    }
    if (keySet !== undefined) {
      try {
        await jwtVerify(assertion, keySet, { currentDate: new Date(now()) });
      } catch {
        return { ...fail(7000272) };
      }
    }
    const scope = (form.get("scope") ?? "").split(" ").find((s) => s.endsWith("/.default")) ?? "";
    const resource = scope.slice(0, -"/.default".length);
    const issuedAt = Math.floor(now() / 1000);
    const oid = match.objectId ?? objectIds.get(clientId) ?? randomUUID();
    objectIds.set(clientId, oid);
    const accessToken = await signer.sign({
      aud: resource,
      tid: tenantId,
      oid,
      sub: oid,
      appid: clientId,
      idtyp: "app",
      iat: issuedAt,
      nbf: issuedAt,
      exp: issuedAt + 3600,
      ver: "1.0",
    });
    return {
      status: 200,
      body: JSON.stringify({ token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599, access_token: accessToken }),
      record,
    };
  }

  const server = https.createServer({ ...ca.issue(["localhost", "127.0.0.1", "login.microsoftonline.com"]), keepAliveTimeout: 5_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= 256 * 1024) chunks.push(chunk);
    });
    req.on("end", () => {
      void (async () => {
        const url = new URL(req.url ?? "/", "https://emulator");
        const [, tenant = "", ...rest] = url.pathname.split("/");
        const tail = rest.join("/");
        if (req.method === "GET" && tenant === "common" && tail === "discovery/instance") {
          return send(res, 200, {
            tenant_discovery_endpoint: `https://${host}/${tenantId}/v2.0/.well-known/openid-configuration`,
            "api-version": "1.1",
            metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
          });
        }
        if (req.method === "GET" && tail === "v2.0/.well-known/openid-configuration") {
          const base = `https://${host}/${tenant}`;
          return send(res, 200, {
            token_endpoint: `${base}/oauth2/v2.0/token`,
            token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            jwks_uri: `https://${host}/${tenant}/discovery/v2.0/keys`,
            response_modes_supported: ["query", "fragment", "form_post"],
            subject_types_supported: ["pairwise"],
            id_token_signing_alg_values_supported: ["RS256"],
            response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
            scopes_supported: ["openid", "profile", "email", "offline_access"],
            issuer: `https://${host}/${tenantId}/v2.0`,
            authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
            end_session_endpoint: `${base}/oauth2/v2.0/logout`,
            tenant_region_scope: "EU",
            cloud_instance_name: "microsoftonline.com",
          });
        }
        if (tail === "discovery/v2.0/keys") return send(res, 200, signer.jwks());
        if (req.method === "POST" && tail === "oauth2/v2.0/token") {
          const answer = await tokenAnswer(req, new URLSearchParams(Buffer.concat(chunks).toString("utf8")));
          requests.push({ method: "POST", path: url.pathname, status: answer.status, ...answer.record });
          return send(res, answer.status, answer.body);
        }
        send(res, 404, { error: "not_found", error_description: `The emulator does not serve ${req.method} ${url.pathname}` });
      })().catch((error: unknown) => send(res, 500, { error: "server_error", error_description: String(error) }));
    });
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: "127.0.0.1", backlog: LISTEN_BACKLOG }, () => resolve()));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = mkdtempSync(path.join(tmpdir(), "entra-emulator-"));
  const caFile = path.join(dir, "ca.pem");
  writeFileSync(caFile, ca.cert);
  const authorityHost = `https://${host}`;
  return {
    authorityHost,
    tenantId,
    caFile,
    signer,
    requests,
    env: {
      AZURE_AUTHORITY_HOST: authorityHost,
      AZURE_TENANT_ID: tenantId,
      NODE_EXTRA_CA_CERTS: caFile,
      // Anything not addressed to loopback (instance discovery at login.microsoftonline.com, IMDS) goes to a
      // proxy port nobody listens on: refused at once, never sent off the machine.
      HTTPS_PROXY: "http://127.0.0.1:9",
      HTTP_PROXY: "http://127.0.0.1:9",
      NO_PROXY: "localhost,127.0.0.1",
    },
    addFederatedCredential: (credential) => void credentials.push(credential),
    setFault: (next) => void (fault = next),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A Kubernetes projected service-account token's `sub` (the claims reader of src/jwt keeps Entra's claims only). */
function subjectOf(jwt: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8")) as { sub?: unknown };
    return typeof payload.sub === "string" ? payload.sub : undefined;
  } catch {
    return undefined;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" ? value : undefined;
}

/** Options of {@link createServiceAccountTokenIssuer}. */
export interface ServiceAccountTokenOptions {
  /** Default `default`. */
  namespace?: string;
  /** Default `workload-identity-sa`. */
  serviceAccount?: string;
  /** Default {@link TOKEN_EXCHANGE_AUDIENCE}. */
  audience?: string;
  /** Seconds; default 3600 (AKS projects one-hour tokens). */
  lifetimeSeconds?: number;
  /** Epoch seconds; default now. */
  issuedAt?: number;
}

/** A cluster's OIDC issuer: mints projected service-account tokens and writes them where AZURE_FEDERATED_TOKEN_FILE points. */
export interface ServiceAccountTokenIssuer {
  /** The issuer URL (`iss`). */
  readonly issuer: string;
  /** Its public keys (for `issuerKeys` of the Entra emulator). */
  jwks(): {
    /** The signing key. */
    keys: JWK[];
  };
  /** Mints a projected service-account token. */
  mint(options?: ServiceAccountTokenOptions): Promise<string>;
  /** Mints a token and writes it to a new file; returns the path. */
  writeTokenFile(options?: ServiceAccountTokenOptions): Promise<string>;
}

/** A cluster OIDC issuer (default URL shaped like AKS's, with its trailing slash). */
export async function createServiceAccountTokenIssuer(
  issuer = `https://eastus.oic.prod-aks.azure.com/${DEFAULT_TENANT_ID}/${randomUUID()}/`,
): Promise<ServiceAccountTokenIssuer> {
  const signer = await createTokenSigner({ issuer });
  const mint = (o: ServiceAccountTokenOptions = {}) => {
    const iat = o.issuedAt ?? Math.floor(Date.now() / 1000);
    const namespace = o.namespace ?? "default";
    const sa = o.serviceAccount ?? "workload-identity-sa";
    return signer.sign({
      aud: [o.audience ?? TOKEN_EXCHANGE_AUDIENCE],
      iss: issuer,
      sub: `system:serviceaccount:${namespace}:${sa}`,
      iat,
      nbf: iat,
      exp: iat + (o.lifetimeSeconds ?? 3600),
      "kubernetes.io": { namespace, serviceaccount: { name: sa, uid: randomUUID() } },
    });
  };
  return {
    issuer,
    jwks: () => signer.jwks(),
    mint,
    async writeTokenFile(o) {
      const file = path.join(mkdtempSync(path.join(tmpdir(), "sa-token-")), "azure-identity-token");
      writeFileSync(file, await mint(o));
      return file;
    },
  };
}
