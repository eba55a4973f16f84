// The Azure Instance Metadata Service: `GET /metadata/identity/oauth2/token?api-version=2018-02-01`, header
// `Metadata: true`, reached through `AZURE_POD_IDENTITY_AUTHORITY_HOST`. Errors are OAuth-style
// `{"error","error_description"}`.
import type { EndpointShape, TokenAnswer } from "./endpointShape.js";
import { SEVERAL_IDENTITIES_MESSAGE } from "./endpointShape.js";

/** An error in the IMDS body format. */
const imdsError = (status: number, description: string, error = "invalid_request"): TokenAnswer => ({
  status,
  body: { error, error_description: description },
});

const IDENTITY_NOT_FOUND = "Identity not found";

/** The `"imds"` shape. */
export const imdsShape: EndpointShape = {
  name: "imds",
  tokenPath: "/metadata/identity/oauth2/token",
  apiVersion: "2018-02-01",
  selectorParameters: { clientId: "client_id", objectId: "object_id", resourceId: "msi_res_id" },
  serverHeader: undefined,
  // An unnamed request without a system-assigned identity gets the only user-assigned one, if there is exactly one.
  picksSoleUserAssigned: true,
  clientHeaders: () => ({ Metadata: "true" }),
  // MSAL appends the token path to this host (and lower-cases the URL, adding a trailing `/`).
  env: ({ url }) => ({ AZURE_POD_IDENTITY_AUTHORITY_HOST: url }),
  rejection: (request) => {
    if (!request.metadataHeader) return imdsError(400, "Required metadata header not specified");
    if (!request.apiVersion) return imdsError(400, "Required query variable 'api-version' is missing");
    if (!request.resource) return imdsError(400, "Required audience parameter not specified");
    return undefined;
  },
  success: ({ accessToken, identity, resource, now, lifetimeSeconds }) => ({
    access_token: accessToken,
    client_id: identity.clientId,
    expires_in: String(lifetimeSeconds),
    expires_on: String(now + lifetimeSeconds),
    ext_expires_in: String(lifetimeSeconds),
    not_before: String(now),
    resource,
    token_type: "Bearer",
  }),
  error: (status, message) => imdsError(status, message),
  statusError: (status, reason) => imdsError(status, reason, status >= 500 ? "server_error" : "invalid_request"),
  noIdentity: () => imdsError(400, IDENTITY_NOT_FOUND),
  unknownIdentity: () => imdsError(400, IDENTITY_NOT_FOUND),
  severalIdentities: () => imdsError(400, SEVERAL_IDENTITIES_MESSAGE),
  // IMDS relays Entra's `error` and `error_description`, e.g. 400 {"error":"invalid_resource","error_description":
  // "AADSTS500011: The resource principal named … was not found …"} (MSAL.NET #3979, azure-sdk-for-net #13481).
  entraRefusal: ({ answer, description }) => imdsError(answer.status, description, answer.error),
  unknownAudience: ({ answer, description }) => imdsError(answer.status, description, answer.error),
};
