import { json, startEmulatorServer, type EmulatorEnv, type IncomingCall, type Reply, type ServiceEmulator, type ServiceEmulatorOptions } from "./server.js";
import type { TokenFailureReason } from "./tokenCheck.js";

/** Options of {@link startGraphEmulator}. */
export interface GraphEmulatorOptions extends ServiceEmulatorOptions {
  /** Users returned by `/v1.0/users`. Default: two sample users. */
  users?: ReadonlyArray<
    Record<string, unknown> & {
      /** The user's id: `/v1.0/users/{id}` finds it. */
      id: string;
    }
  >;
  /** Applications returned by `/v1.0/applications`. Default: one sample application. */
  applications?: ReadonlyArray<
    Record<string, unknown> & {
      /** The application's id: `/v1.0/applications/{id}` finds it. */
      id: string;
    }
  >;
}

/** A running Microsoft Graph emulator. */
export type GraphEmulator = ServiceEmulator;

const GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000";
/** App roles (the token's `roles` claim) that let an app read each collection. */
const READ_ROLES: Record<string, readonly string[]> = {
  users: ["User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
  applications: ["Application.Read.All", "Application.ReadWrite.All", "Application.ReadWrite.OwnedBy", "Directory.Read.All", "Directory.ReadWrite.All"],
};

const ODATA = { "content-type": "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8" };

const TOKEN_MESSAGE: Record<TokenFailureReason, string> = {
  missing: "Access token is empty.",
  malformed: "IDX14100: JWT is not well formed, there are no dots (.).",
  signature: "Access token validation failure.",
  audience: "Access token validation failure. Invalid audience.",
  tenant: "Access token validation failure. Invalid issuer.", // the real Graph serves the token's own tenant; the emulator knows one
  expired: "Lifetime validation failed, the token is expired.",
  "not-yet-valid": "Lifetime validation failed, the token is not yet valid.",
};

/**
 * Microsoft Graph: `GET /v1.0/users[/{id}]` and `GET /v1.0/applications[/{id}]`. An app's Graph permissions are
 * app-role assignments that travel in the token's `roles` claim (not Azure RBAC): the emulator reads that claim, and
 * its `rbac` table is not consulted. No network rules (`setFirewall` has no effect).
 */
export async function startGraphEmulator(options: GraphEmulatorOptions): Promise<GraphEmulator> {
  const host = "graph.microsoft.com";
  const collections: Record<string, ReadonlyArray<Record<string, unknown> & { id: string }>> = {
    users: options.users ?? [
      { id: "6e7b768e-07e2-4810-8459-485f84f8f204", displayName: "Adele Vance", userPrincipalName: "AdeleV@contoso.com", mail: "AdeleV@contoso.com" },
      { id: "87d349ed-44d7-43e1-9a83-5f2406dee5bd", displayName: "Alex Wilber", userPrincipalName: "AlexW@contoso.com", mail: "AlexW@contoso.com" },
    ],
    applications: options.applications ?? [
      { id: "c6ab6e39-7e1c-4f2b-9a39-2c4e5a5b1e0e", appId: "5b9f1a9b-8f2e-4c9e-9f76-0d1f3c0f5b6a", displayName: "orders-api" },
    ],
  };

  const error = (call: IncomingCall, env: EmulatorEnv, status: number, code: string, message: string, headers: Record<string, string> = {}): Reply =>
    json(
      status,
      {
        error: {
          code,
          message,
          innerError: {
            date: new Date(env.now()).toISOString().slice(0, 19),
            "request-id": call.requestId,
            "client-request-id": call.clientRequestId ?? call.requestId,
          },
        },
      },
      code,
      headers,
    );

  return startEmulatorServer(
    {
      service: "graph",
      host,
      resourceId: `/tenants/${options.tenantId}/providers/Microsoft.Graph`,
      audiences: [`https://${host}`, GRAPH_APP_ID],
      roles: {},
      headers: (call) => ({
        "request-id": call.requestId,
        "client-request-id": call.clientRequestId ?? call.requestId,
        "x-ms-ags-diagnostic": JSON.stringify({
          ServerInfo: { DataCenter: "West Europe", Slice: "E", Ring: "5", ScaleUnit: "001", RoleInstance: "AM4PEPF0000A3C6" },
        }),
        "strict-transport-security": "max-age=31536000",
        "x-ms-resource-unit": "1",
        "cache-control": "no-cache",
      }),
      tokenFailure: (call, failure, env) =>
        error(call, env, 401, "InvalidAuthenticationToken", TOKEN_MESSAGE[failure.reason], {
          "www-authenticate": `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="${GRAPH_APP_ID}"`,
        }),
      handle(call, caller, env) {
        const match = /^\/v1\.0\/(users|applications)(?:\/([^/]+))?\/?$/i.exec(call.url.pathname);
        if (!match || call.method !== "GET") {
          return error(call, env, 400, "BadRequest", `Resource not found for the segment '${call.url.pathname.split("/").filter(Boolean).pop() ?? ""}'.`);
        }
        const collection = match[1]!.toLowerCase();
        const roles = caller.roles ?? [];
        if (roles.length === 0 && caller.scp === undefined) {
          return error(call, env, 403, "AccessDenied", "Either scp or roles claim need to be present in the token.");
        }
        if (!roles.some((role) => READ_ROLES[collection]!.some((r) => r.toLowerCase() === role.toLowerCase()))) {
          return error(call, env, 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.");
        }
        const items = collections[collection]!;
        const context = `https://${host}/v1.0/$metadata#${collection}`;
        if (match[2]) {
          const id = decodeURIComponent(match[2]);
          const item = items.find((i) => i.id === id || i.userPrincipalName === id);
          if (!item)
            return error(
              call,
              env,
              404,
              "Request_ResourceNotFound",
              `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
            );
          return json(200, { "@odata.context": `${context}/$entity`, ...item }, undefined, ODATA);
        }
        return json(200, { "@odata.context": context, value: items }, undefined, ODATA);
      },
    },
    options,
  );
}
