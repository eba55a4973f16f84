// The answer to a token request that reached the token path: the fault's stages (faults/faultTable.ts) around
// the shape's checks, the identity choice and the minting of a token.
import type { EmulatedApp } from "./emulatedApp.js";
import type { FaultEffects } from "./faults/faultTable.js";
import { chooseIdentity } from "./identitySelection.js";
import type { EndpointShape, TokenAnswer } from "./shapes/endpointShape.js";
import type { TokenMinter, TokenPlan } from "./tokenMinter.js";
import { nowSeconds } from "./tokenMinter.js";
import type { EmulatedIdentity, RecordedIdentityRequest } from "./types.js";

/** What the answerer needs. */
export interface TokenAnswererSettings {
  /** The wire shape. */
  shape: EndpointShape;
  /** The app and its identities. */
  app: EmulatedApp;
  /** Signs tokens. */
  minter: TokenMinter;
  /** Tenant of healthy tokens. */
  tenantId: string;
  /** Lifetime of healthy tokens, in seconds. */
  lifetimeSeconds: number;
}

/** Answers one token request (connection-level fault effects are the server's business). */
export type TokenAnswerer = (request: RecordedIdentityRequest, fault: FaultEffects | undefined) => Promise<TokenAnswer>;

/** Makes the answerer for one emulator. */
export function createTokenAnswerer(settings: TokenAnswererSettings): TokenAnswerer {
  const { shape, app } = settings;
  const issue = issuer(settings);
  return async (request, fault) => {
    if (fault?.preempt) return fault.preempt(shape);
    const rejection = shape.rejection(request);
    if (rejection) return rejection;
    if (fault?.refuse) return fault.refuse(shape, request);
    const choice = chooseIdentity(request, app, shape, fault?.hidesIdentities === true);
    if ("refusal" in choice) return choice.refusal;
    // rejection() answered any request without a resource.
    return issue(choice.identity, request.resource!, fault);
  };
}

/** Mints the token for the chosen identity and writes the success answer. */
function issuer(settings: TokenAnswererSettings) {
  const { shape, minter, tenantId, lifetimeSeconds } = settings;
  return async (identity: EmulatedIdentity, resource: string, fault: FaultEffects | undefined): Promise<TokenAnswer> => {
    const now = nowSeconds();
    const healthy: TokenPlan = { identity, resource, issuedAt: now, lifetimeSeconds, tenantId };
    const plan = fault?.bendToken ? fault.bendToken(healthy) : healthy;
    const accessToken = fault?.accessToken ? fault.accessToken() : await minter.sign(plan);
    const issued = { accessToken, identity, resource, now, lifetimeSeconds };
    const body = fault?.successBody ? fault.successBody(issued) : shape.success(issued);
    return { status: 200, body, identity };
  };
}
