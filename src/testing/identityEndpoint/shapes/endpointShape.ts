// The strategy interface every wire shape implements, and the answers shapes and faults produce. A shape knows
// its own paths, headers and body formats; nothing outside shapes/ writes a shape-specific body.
import type { EntraErrorAnswer } from "../../entra/entraErrors.js";
import type { EmulatedApp } from "../emulatedApp.js";
import type { EmulatedIdentity, IdentityEndpointShape, RecordedIdentityRequest } from "../types.js";

/** An answer to a request, before it is written to the wire. */
export interface TokenAnswer {
  /** HTTP status. */
  status: number;
  /** A string is sent as is, anything else as JSON. */
  body: unknown;
  /** Extra response headers (a status fault's). */
  headers?: Record<string, string>;
  /** Whom a token was issued for (success only). */
  identity?: EmulatedIdentity;
}

/** Entra ID's refusal of the token the endpoint asked for on the app's behalf, for the endpoint to relay. */
export interface EntraRefusal {
  /** Entra's status, OAuth `error` and AADSTS code. */
  answer: EntraErrorAnswer;
  /** Entra's `error_description` (the AADSTS sentence, then its Trace ID / Correlation ID / Timestamp lines). */
  description: string;
}

/** What a success body reports about the token just issued. */
export interface IssuedToken {
  /** The signed JWT (or a fault's opaque string). */
  accessToken: string;
  /** The identity asked for (the body's `client_id`), even when a fault put another's claims in the token. */
  identity: EmulatedIdentity;
  /** The resource as requested. */
  resource: string;
  /** When the request was answered, in seconds since the epoch. */
  now: number;
  /** The emulator's token lifetime (`expires_in`), whatever a fault did to `exp`. */
  lifetimeSeconds: number;
}

/** Where the emulator listens, and what a shape's `env` is made of. */
export interface EndpointAddress {
  /** Base URL. */
  url: string;
  /** The token URL (`url` + the shape's token path). */
  endpoint: string;
  /** The `IDENTITY_HEADER` secret. */
  identityHeader: string;
  /** The app served. */
  app: EmulatedApp;
}

/** Which query parameter names each kind of identity selector. */
export interface SelectorParameters {
  /** For a client id. */
  clientId: string;
  /** For an object id. */
  objectId: string;
  /** For a resource id (the two shapes spell it differently). */
  resourceId: string;
}

/** One wire protocol the emulator speaks: how a request is checked, and how every answer is written. */
export interface EndpointShape {
  /** The public name (`options.shape`). */
  readonly name: IdentityEndpointShape;
  /** Path of the token endpoint (compared lower-case, without trailing slashes). */
  readonly tokenPath: string;
  /** `api-version` that `tokenUrl()` sends. */
  readonly apiVersion: string;
  /** Parameters `tokenUrl()` uses to name an identity. */
  readonly selectorParameters: SelectorParameters;
  /** `Server` header on every answer, when the real endpoint sends one. */
  readonly serverHeader: string | undefined;
  /** Whether a request that names no identity gets the app's only user-assigned identity when it has no system one. */
  readonly picksSoleUserAssigned: boolean;
  /** The headers a well-behaved client sends. */
  clientHeaders(identityHeader: string): Record<string, string>;
  /** Environment variables that point the real credential at this endpoint. */
  env(address: EndpointAddress): Record<string, string>;
  /** The platform's answer to a request missing what it requires (header, api-version, resource), else undefined. */
  rejection(request: RecordedIdentityRequest): TokenAnswer | undefined;
  /** The success body. */
  success(token: IssuedToken): Record<string, unknown>;
  /** An error in this shape's body format (unknown path, wrong method). */
  error(status: number, message: string): TokenAnswer;
  /** The default body of a `status` fault: the status's reason phrase in this shape's error format. */
  statusError(status: number, reason: string): TokenAnswer;
  /** The app has no identity (or none that can answer an unnamed request). */
  noIdentity(): TokenAnswer;
  /** The request names an identity the app does not have. */
  unknownIdentity(): TokenAnswer;
  /** The request names no identity and the app has several user-assigned ones. */
  severalIdentities(): TokenAnswer;
  /** Entra ID refused the token (an AADSTS error): the endpoint relays it. */
  entraRefusal(refusal: EntraRefusal): TokenAnswer;
  /** The resource is no audience Entra ID knows (`refusal` is Entra's AADSTS500011, for a shape that relays it). */
  unknownAudience(refusal: EntraRefusal): TokenAnswer;
}

/** The message both shapes give when an unnamed request cannot choose among user-assigned identities. */
export const SEVERAL_IDENTITIES_MESSAGE =
  "Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request";
