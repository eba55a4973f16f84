import { randomBytes } from "node:crypto";
import { clientIdOf, type TokenClaims } from "../../jwt/claims.js";
import { BUILT_IN_ROLES } from "./rbac.js";
import {
  json,
  resourceIdOf,
  startEmulatorServer,
  type EmulatorEnv,
  type IncomingCall,
  type Reply,
  type ServiceEmulator,
  type ServiceEmulatorOptions,
} from "./server.js";

/** Options of {@link startKeyVaultEmulator}. */
export interface KeyVaultEmulatorOptions extends ServiceEmulatorOptions {
  /** Vault name: the host is `<vaultName>.vault.azure.net`. Default `myvault`. */
  vaultName?: string;
  /** Secrets present from the start. */
  secrets?: Record<string, string>;
}

/** A running Key Vault emulator. */
export interface KeyVaultEmulator extends ServiceEmulator {
  /** The vault name. */
  readonly vaultName: string;
  /** Sets a secret directly (no auth), as a new version. */
  setSecret(name: string, value: string): void;
}

const AUDIENCE = "https://vault.azure.net";
const ACTIONS = {
  get: "Microsoft.KeyVault/vaults/secrets/getSecret/action",
  set: "Microsoft.KeyVault/vaults/secrets/setSecret/action",
} as const;

interface SecretVersion {
  value: string;
  version: string;
  created: number;
}

/**
 * Azure Key Vault (RBAC permission model), secrets only: `GET /secrets/{name}[/{version}]`, `PUT /secrets/{name}`.
 * Answers like the real service: the 401 challenge to the unauthenticated first request, AKV100xx token errors with
 * a `WWW-Authenticate` challenge, 403 `ForbiddenByRbac` with the real multi-line message, 403 `ForbiddenByFirewall`.
 */
export async function startKeyVaultEmulator(options: KeyVaultEmulatorOptions): Promise<KeyVaultEmulator> {
  const vaultName = (options.vaultName ?? "myvault").toLowerCase();
  const host = `${vaultName}.vault.azure.net`;
  const resourceId = resourceIdOf(options, "Microsoft.KeyVault", `vaults/${vaultName}`);
  const secrets = new Map<string, SecretVersion[]>();
  const setSecret = (name: string, value: string, now: number) => {
    const versions = secrets.get(name.toLowerCase()) ?? [];
    const entry = { value, version: randomBytes(16).toString("hex"), created: Math.floor(now / 1000) };
    versions.push(entry);
    secrets.set(name.toLowerCase(), versions);
    return entry;
  };
  const clock = options.now ?? Date.now;
  for (const [name, value] of Object.entries(options.secrets ?? {})) setSecret(name, value, clock());

  const challenge = (env: EmulatorEnv) => `Bearer authorization="https://login.windows.net/${env.tenantId}", resource="${AUDIENCE}"`;
  const unauthorized = (message: string, env: EmulatorEnv): Reply =>
    json(401, { error: { code: "Unauthorized", message } }, "Unauthorized", { "www-authenticate": challenge(env) });
  const forbidden = (message: string, inner: string): Reply => json(403, { error: { code: "Forbidden", message, innererror: { code: inner } } }, inner);

  const emulator = await startEmulatorServer(
    {
      service: "keyvault",
      host,
      resourceId,
      audiences: [AUDIENCE],
      roles: BUILT_IN_ROLES,
      firewall: {
        // Key Vault authenticates first: the challenge round trip still works, the firewall answers the real call.
        afterAuth: true,
        reply: (call, env, caller) =>
          forbidden(
            [
              "Client address is not authorized and caller is not a trusted service.",
              `Client address: ${call.clientIp}`,
              `Caller: ${caller ? callerText(caller, env) : ""}`,
              `Vault: ${vaultName};location=${env.region}`,
            ].join("\r\n"),
            "ForbiddenByFirewall",
          ),
      },
      headers: (call, env) => ({
        "cache-control": "no-cache",
        "x-content-type-options": "nosniff",
        "strict-transport-security": "max-age=31536000;includeSubDomains",
        "x-ms-request-id": call.requestId,
        ...(call.clientRequestId ? { "x-ms-client-request-id": call.clientRequestId } : {}),
        "x-ms-keyvault-region": env.region,
        "x-ms-keyvault-network-info": `conn_type=Ipv4;addr=${call.clientIp};act_addr_fam=InterNetwork;`,
        "x-ms-keyvault-service-version": "1.9.2179.1",
      }),
      tokenFailure(call, failure, env) {
        const claims = failure.claims;
        switch (failure.reason) {
          case "missing":
            return unauthorized("AKV10000: Request is missing a Bearer or PoP token.", env);
          case "malformed":
            return unauthorized("AKV10001: Invalid token format.", env); // unverified text
          case "signature":
            return unauthorized("AKV10046: Unable to resolve the key used for signature validation.", env);
          case "audience":
            return unauthorized(`AKV10022: Invalid audience. Expected ${AUDIENCE}, found: ${claims?.aud ?? ""}.`, env);
          case "tenant":
            return unauthorized(
              `AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${env.tenantId}/, https://login.microsoftonline.com/${env.tenantId}/v2.0, found ${claims?.iss ?? ""}.`,
              env,
            );
          case "expired":
            return unauthorized("AKV10013: Token is expired.", env); // unverified text
          case "not-yet-valid":
            return unauthorized("Token not yet valid", env);
        }
      },
      handle(call, caller, env) {
        const match = /^\/secrets\/([^/]+)(?:\/([^/]*))?\/?$/i.exec(call.url.pathname);
        if (!call.url.searchParams.get("api-version")) {
          return json(400, { error: { code: "BadParameter", message: "The request URI contains an invalid api-version parameter." } }, "BadParameter");
        }
        if (!match || !["GET", "PUT"].includes(call.method)) {
          return json(400, { error: { code: "BadParameter", message: "The request URI is not supported by the emulator." } }, "BadParameter");
        }
        const name = decodeURIComponent(match[1]!);
        const action = call.method === "GET" ? ACTIONS.get : ACTIONS.set;
        const secretScope = `${resourceId}/secrets/${name}`;
        if (!env.rbac.allows(caller.oid, "dataAction", action, secretScope)) {
          return forbidden(rbacMessage(caller, env, action, secretScope, vaultName), "ForbiddenByRbac");
        }
        if (call.method === "PUT") {
          let value: unknown;
          try {
            value = (JSON.parse(call.body.toString("utf8")) as { value?: unknown }).value;
          } catch {
            value = undefined;
          }
          if (typeof value !== "string") return json(400, { error: { code: "BadParameter", message: "Property value is required." } }, "BadParameter");
          return json(200, bundle(call, name, setSecret(name, value, env.now())));
        }
        const versions = secrets.get(name.toLowerCase()) ?? [];
        const version = match[2] ? versions.find((v) => v.version === match[2]) : versions[versions.length - 1];
        if (!version) {
          return json(
            404,
            {
              error: {
                code: "SecretNotFound",
                message: `A secret with (name/id) ${name}${match[2] ? `/${match[2]}` : ""} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
              },
            },
            "SecretNotFound",
          );
        }
        return json(200, bundle(call, name, version));
      },
    },
    options,
  );
  return { ...emulator, vaultName, setSecret: (name, value) => void setSecret(name, value, clock()) };
}

function bundle(call: IncomingCall, name: string, secret: SecretVersion) {
  return {
    value: secret.value,
    id: `https://${call.url.host}/secrets/${name}/${secret.version}`,
    attributes: { enabled: true, created: secret.created, updated: secret.created, recoveryLevel: "Recoverable+Purgeable", recoverableDays: 90 },
    tags: {},
  };
}

/** The real ForbiddenByRbac message: `\r\n` separated, caller from the token, resource id lower-cased up to the vault. */
function rbacMessage(caller: TokenClaims & { oid: string }, env: EmulatorEnv, action: string, scope: string, vaultName: string): string {
  const [vaultPart, secretPart] = [scope.slice(0, scope.indexOf("/secrets/")), scope.slice(scope.indexOf("/secrets/"))];
  return [
    "Caller is not authorized to perform action on resource.",
    "If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.",
    `Caller: ${callerText(caller, env)}`,
    `Action: '${action}'`,
    `Resource: '${vaultPart.toLowerCase()}${secretPart}'`,
    "Assignment: (not found)",
    "DenyAssignmentId: null",
    "DecisionReason: null ",
    `Vault: ${vaultName};location=${env.region}`,
    "",
  ].join("\r\n");
}

/** `appid=…;oid=…;iss=…[;xms_mirid=…][;xms_az_rid=…]`, as Key Vault prints the caller. */
function callerText(caller: TokenClaims & { oid: string }, env: EmulatorEnv): string {
  return [
    `appid=${clientIdOf(caller) ?? ""}`,
    `oid=${caller.oid}`,
    `iss=${caller.iss ?? `https://sts.windows.net/${env.tenantId}/`}`,
    ...(caller.xms_mirid ? [`xms_mirid=${caller.xms_mirid}`] : []),
    ...(caller.xms_az_rid ? [`xms_az_rid=${caller.xms_az_rid}`] : []),
  ].join(";");
}
