// The App Service / Functions / Container Apps endpoint: `IDENTITY_ENDPOINT` + `IDENTITY_HEADER`,
// `GET /msi/token?api-version=2019-08-01`, header `X-IDENTITY-HEADER`. Errors are
// `{"statusCode","message","correlationId"}`; the server is Kestrel.
import { randomUUID } from "node:crypto";
import type { EndpointShape, TokenAnswer } from "./endpointShape.js";
import { SEVERAL_IDENTITIES_MESSAGE } from "./endpointShape.js";

/** An error in the App Service body format (a new correlation id each time, as the platform does). */
const appServiceError = (status: number, message: string): TokenAnswer => ({
  status,
  body: { statusCode: status, message, correlationId: randomUUID() },
});

/**
 * The old App Service answer for an unknown identity, with capitalised keys: 400
 * `{"StatusCode":400,"Message":"No MSI found for specified ClientId/ResourceId.","CorrelationId":…}`.
 */
export const legacyNoMsiAnswer = (): TokenAnswer => ({
  status: 400,
  body: { StatusCode: 400, Message: "No MSI found for specified ClientId/ResourceId.", CorrelationId: randomUUID() },
});

/** The platform's answer when it got no token from Entra ID (an unknown client id or audience), typo included. */
const UNEXPECTED_ERROR_MESSAGE = "An unexpected error occured while fetching the AAD Token.";

/** The `"container-apps"` shape (MSAL calls this source "AppService"). */
export const appServiceShape: EndpointShape = {
  name: "container-apps",
  tokenPath: "/msi/token",
  apiVersion: "2019-08-01",
  selectorParameters: { clientId: "client_id", objectId: "object_id", resourceId: "mi_res_id" },
  serverHeader: "Kestrel",
  // An unnamed request without a system-assigned identity is refused, however many user-assigned ones there are.
  picksSoleUserAssigned: false,
  clientHeaders: (identityHeader) => ({ "X-IDENTITY-HEADER": identityHeader }),
  env: ({ endpoint, identityHeader, app }) => ({
    IDENTITY_ENDPOINT: endpoint,
    IDENTITY_HEADER: identityHeader,
    MSI_ENDPOINT: endpoint,
    CONTAINER_APP_NAME: app.name,
    CONTAINER_APP_REVISION: app.revision,
    CONTAINER_APP_REPLICA_NAME: app.replicaName,
    CONTAINER_APP_HOSTNAME: app.hostname,
    CONTAINER_APP_ENV_DNS_SUFFIX: app.envDnsSuffix,
  }),
  rejection: (request) => {
    if (!request.identityHeaderValid) {
      return appServiceError(401, request.identityHeaderPresent ? "The X-IDENTITY-HEADER value is not valid." : "The X-IDENTITY-HEADER header is missing.");
    }
    if (!request.apiVersion) return appServiceError(400, "The api-version query parameter is required.");
    if (!request.resource) return appServiceError(400, "The resource query parameter is required.");
    return undefined;
  },
  success: ({ accessToken, identity, resource, now, lifetimeSeconds }) => ({
    access_token: accessToken,
    expires_on: String(now + lifetimeSeconds),
    resource,
    token_type: "Bearer",
    client_id: identity.clientId,
  }),
  error: appServiceError,
  statusError: appServiceError,
  noIdentity: () => appServiceError(400, "No managed identity found for the app"),
  unknownIdentity: () => appServiceError(500, UNEXPECTED_ERROR_MESSAGE),
  severalIdentities: () => appServiceError(400, SEVERAL_IDENTITIES_MESSAGE),
  // Entra's description in the platform's error format (the platform's own relay wording is not public).
  entraRefusal: ({ answer, description }) => appServiceError(answer.status, description),
  // The platform hides Entra's answer behind its ambiguous 500 (azure-sdk-for-python #33858, azure-sdk-for-net #40848).
  unknownAudience: () => appServiceError(500, UNEXPECTED_ERROR_MESSAGE),
};
