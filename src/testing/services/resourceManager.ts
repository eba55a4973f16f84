import { BUILT_IN_ROLES } from "./rbac.js";
import {
  DEFAULT_RESOURCE_GROUP,
  DEFAULT_REGION,
  DEFAULT_SUBSCRIPTION_ID,
  dotnetUtc,
  json,
  startEmulatorServer,
  type Reply,
  type ServiceEmulator,
  type ServiceEmulatorOptions,
} from "./server.js";

/** Options of {@link startResourceManagerEmulator}. */
export interface ResourceManagerEmulatorOptions extends ServiceEmulatorOptions {
  /** Resource groups of the subscription. Default: one, named `resourceGroup` (default `rg-emulators`), in `region`. */
  resourceGroups?: ReadonlyArray<{
    /** The resource group's name. */
    name: string;
    /** Its Azure region. Default: `region`. */
    location?: string;
    /** Its tags. Default: none. */
    tags?: Record<string, string>;
  }>;
}

/** A running Resource Manager emulator. */
export type ResourceManagerEmulator = ServiceEmulator;

const READ_RESOURCE_GROUPS = "Microsoft.Resources/subscriptions/resourceGroups/read";
const DEFAULT_AUDIENCES = ["https://management.azure.com", "https://management.core.windows.net"];

/**
 * Azure Resource Manager, resource groups only (enough for `@azure/arm-resources` `resourceGroups.list()`/`get()`):
 * `GET /subscriptions/{sub}/resourcegroups` and `GET /subscriptions/{sub}/resourceGroups/{rg}`, with `api-version`.
 * Control-plane roles apply here (Reader, Contributor, Owner). 401s carry
 * `WWW-Authenticate: Bearer authorization_uri="https://login.windows.net/", error="invalid_token", error_description="…"`.
 * No network rules (`setFirewall` has no effect).
 */
export async function startResourceManagerEmulator(options: ResourceManagerEmulatorOptions): Promise<ResourceManagerEmulator> {
  const subscriptionId = options.subscriptionId ?? DEFAULT_SUBSCRIPTION_ID;
  const subscriptionScope = `/subscriptions/${subscriptionId}`;
  const groups = (options.resourceGroups ?? [{ name: options.resourceGroup ?? DEFAULT_RESOURCE_GROUP }]).map((g) => ({
    id: `${subscriptionScope}/resourceGroups/${g.name}`,
    name: g.name,
    type: "Microsoft.Resources/resourceGroups",
    location: g.location ?? options.region ?? DEFAULT_REGION,
    ...(g.tags ? { tags: g.tags } : {}),
    properties: { provisioningState: "Succeeded" },
  }));
  const audiences = options.audiences ?? DEFAULT_AUDIENCES;
  const audienceList = audiences.flatMap((a) => [`'${a.replace(/\/+$/, "")}/'`, `'${a.replace(/\/+$/, "")}'`]).join(",");

  const error = (status: number, code: string, message: string, headers: Record<string, string> = {}): Reply =>
    json(status, { error: { code, message } }, code, headers);
  const unauthorized = (code: string, message: string, description: string, authority = "https://login.windows.net/"): Reply =>
    error(401, code, message, {
      "www-authenticate": `Bearer authorization_uri="${authority}", error="invalid_token", error_description="${description}"`,
      "x-ms-failure-cause": "gateway",
    });

  return startEmulatorServer(
    {
      service: "arm",
      host: "management.azure.com",
      resourceId: subscriptionScope,
      audiences,
      roles: BUILT_IN_ROLES,
      headers: (call, env) => ({
        "cache-control": "no-cache",
        pragma: "no-cache",
        expires: "-1",
        "strict-transport-security": "max-age=31536000; includeSubDomains",
        "x-content-type-options": "nosniff",
        "x-ms-request-id": call.requestId,
        "x-ms-correlation-request-id": call.clientRequestId ?? call.requestId,
        "x-ms-routing-request-id": `${env.region.toUpperCase()}:${new Date(env.now()).toISOString().replace(/[-:]|\.\d+/g, "")}:${call.requestId}`,
        "x-ms-ratelimit-remaining-subscription-reads": "11999",
        ...(call.clientRequestId ? { "x-ms-client-request-id": call.clientRequestId } : {}),
      }),
      tokenFailure(call, failure, env) {
        const claims = failure.claims;
        switch (failure.reason) {
          case "missing":
            return unauthorized(
              "AuthenticationFailed",
              "Authentication failed. The 'Authorization' header is missing.",
              "The authentication failed because of missing 'Authorization' header.",
            );
          case "malformed":
          case "signature":
            return unauthorized("InvalidAuthenticationToken", "The access token is invalid.", "The access token is invalid.");
          case "audience": {
            const text = `wrong audience or resource '${claims?.aud ?? ""}'. It should exactly match with one of the allowed audiences ${audienceList}.`;
            return unauthorized(
              "InvalidAuthenticationTokenAudience",
              `The access token has been obtained for ${text}`,
              `The access token has been obtained from ${text}`,
            );
          }
          case "tenant":
            return unauthorized(
              "InvalidAuthenticationTokenTenant",
              `The access token is from the wrong issuer '${claims?.iss ?? ""}'. It must match the tenant 'https://sts.windows.net/${env.tenantId}/' associated with this subscription. ` +
                `Please use the authority (URL) 'https://login.windows.net/${env.tenantId}' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, ` +
                "but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.",
              "The access token is from the wrong issuer.",
              `https://login.windows.net/${env.tenantId}`,
            );
          case "expired":
            return unauthorized(
              "ExpiredAuthenticationToken",
              `The access token expiry UTC time '${dotnetUtc((claims?.exp ?? 0) * 1000)}' is earlier than current UTC time '${dotnetUtc(env.now())}'.`,
              "The access token has expired.",
            );
          case "not-yet-valid": // unverified text
            return unauthorized(
              "InvalidAuthenticationToken",
              `The access token validity start UTC time '${dotnetUtc((claims?.nbf ?? 0) * 1000)}' is later than current UTC time '${dotnetUtc(env.now())}'.`,
              "The access token is not yet valid.",
            );
        }
      },
      handle(call, caller, env) {
        if (!call.url.searchParams.get("api-version")) {
          return error(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");
        }
        const match = /^\/subscriptions\/([^/]+)\/resourcegroups(?:\/([^/]+))?\/?$/i.exec(call.url.pathname);
        if (!match || call.method !== "GET") {
          return error(
            400,
            "InvalidResourceType",
            `The resource type could not be found for the request '${call.method} ${call.url.pathname}' (the emulator serves resource group reads only).`,
          );
        }
        if (match[1]!.toLowerCase() !== subscriptionId.toLowerCase()) {
          return error(404, "SubscriptionNotFound", `The subscription '${match[1]}' could not be found.`);
        }
        const denied = (scope: string) =>
          error(
            403,
            "AuthorizationFailed",
            `The client '${caller.appid ?? caller.azp ?? caller.oid}' with object id '${caller.oid}' does not have authorization to perform action '${READ_RESOURCE_GROUPS}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
            { "x-ms-failure-cause": "gateway" },
          );
        const allows = (scope: string) => env.rbac.allows(caller.oid, "action", READ_RESOURCE_GROUPS, scope);
        if (match[2]) {
          const name = decodeURIComponent(match[2]);
          const scope = `${subscriptionScope}/resourceGroups/${name}`;
          if (!allows(scope)) return denied(scope);
          const group = groups.find((g) => g.name.toLowerCase() === name.toLowerCase());
          if (!group) return error(404, "ResourceGroupNotFound", `Resource group '${name}' could not be found.`);
          return json(200, group);
        }
        // A list shows what the caller may read: all groups with a role at the subscription, else the groups it has a
        // role on; with none at all, the list itself is refused.
        const visible = allows(subscriptionScope) ? groups : groups.filter((g) => allows(g.id));
        if (visible.length === 0 && !allows(subscriptionScope)) return denied(subscriptionScope);
        return json(200, { value: visible });
      },
    },
    { ...options, subscriptionId },
  );
}
