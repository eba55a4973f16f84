// Composes the emulator: options → app, shape, signer, fault switch, token answerer, request handler, server;
// then the public handle over them.
import { randomBytes } from "node:crypto";
import { createTokenSigner, DEFAULT_TENANT_ID } from "../tokenSigner.js";
import { createEmulatedApp } from "./emulatedApp.js";
import { createFaultSwitch } from "./faults/faultSwitch.js";
import type { IdentityEndpointFault } from "./faults/faultTypes.js";
import { createRequestHandler } from "./requestHandler.js";
import { listen } from "./server.js";
import type { EndpointShape } from "./shapes/endpointShape.js";
import { shapeNamed } from "./shapes/index.js";
import { createTokenAnswerer } from "./tokenAnswer.js";
import { createTokenMinter } from "./tokenMinter.js";
import type { IdentityEndpointEmulator, IdentityEndpointOptions, IdentitySelector, RecordedIdentityRequest } from "./types.js";

/** `expires_in` of the platform's tokens (a day, less a second). */
const DEFAULT_LIFETIME_SECONDS = 86_399;

/**
 * Starts a local managed-identity endpoint on 127.0.0.1 that the real `ManagedIdentityCredential` can use (via
 * `emulator.env`), issuing RS256-signed access tokens shaped like Entra ID's and able to misbehave on demand
 * (see {@link IdentityEndpointFault}).
 *
 * @example
 * ```ts
 * const mi = await startIdentityEndpoint({ userAssigned: [{ name: "uami-reader" }] });
 * // in a fresh process with mi.env set: new ManagedIdentityCredential(mi.identities.userAssigned[0].clientId)
 * mi.setFault({ kind: "status", status: 500, times: 2 });
 * await mi.close();
 * ```
 */
export async function startIdentityEndpoint(options: IdentityEndpointOptions = {}): Promise<IdentityEndpointEmulator> {
  const shape = shapeNamed(options.shape ?? "container-apps");
  const host = options.host ?? "127.0.0.1";
  const tenantId = options.tenantId ?? options.signer?.tenantId ?? DEFAULT_TENANT_ID;
  const lifetimeSeconds = options.tokenLifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS;
  const identityHeader = options.identityHeader ?? randomBytes(16).toString("hex");
  const signer = options.signer ?? (await createTokenSigner({ tenantId }));
  const app = createEmulatedApp(options);
  const minter = createTokenMinter({
    signer,
    app,
    tenantId,
    lifetimeSeconds,
    tokenVersion: options.tokenVersion ?? "1.0",
    audienceAppIds: options.audienceAppIds,
  });
  const faults = createFaultSwitch(app);
  // Before listening: an invalid `times` throws without leaving a server behind.
  faults.set(options.fault);

  const requests: RecordedIdentityRequest[] = [];
  const answerToken = createTokenAnswerer({ shape, app, minter, tenantId, lifetimeSeconds });
  const handler = createRequestHandler({ shape, identityHeader, signer, faults, answerToken, requests });
  const server = await listen(host, options.port ?? 0, handler);
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${server.port}`;
  const endpoint = `${url}${shape.tokenPath}`;

  return {
    url,
    port: server.port,
    endpoint,
    shape: shape.name,
    env: Object.freeze(shape.env({ url, endpoint, identityHeader, app })),
    tenantId,
    identityHeader,
    hostResourceId: app.hostResourceId,
    identities: app.identities,
    signer,
    requests,
    get fault(): IdentityEndpointFault | undefined {
      return faults.current;
    },
    setFault: (fault) => faults.set(fault),
    mintToken: (mintOptions) => minter.mint(mintOptions),
    tokenUrl: (resource, selector) => tokenUrl(shape, endpoint, resource, selector),
    requestHeaders: () => shape.clientHeaders(identityHeader),
    close: () => server.close(),
  };
}

/** A token request URL in the shape's dialect (api-version and selector parameter names). */
function tokenUrl(shape: EndpointShape, endpoint: string, resource: string, selector: IdentitySelector = {}): string {
  const u = new URL(endpoint);
  u.searchParams.set("api-version", shape.apiVersion);
  u.searchParams.set("resource", resource);
  const names = shape.selectorParameters;
  if (selector.clientId) u.searchParams.set(names.clientId, selector.clientId);
  if (selector.objectId) u.searchParams.set(names.objectId, selector.objectId);
  if (selector.resourceId) u.searchParams.set(names.resourceId, selector.resourceId);
  return u.toString();
}
