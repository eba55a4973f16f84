// Which identity a token request gets: the one it names, else the app's default as the shape picks it, else the
// shape's error for "none" or "several".
import type { EmulatedApp } from "./emulatedApp.js";
import type { EndpointShape, TokenAnswer } from "./shapes/endpointShape.js";
import type { EmulatedIdentity, RecordedIdentityRequest } from "./types.js";

/** The identity to issue a token for, or the answer refusing to. */
export type IdentityChoice = { identity: EmulatedIdentity } | { refusal: TokenAnswer };

/** GUIDs and Azure resource ids are case-insensitive. */
const sameId = (a: string, b: string | undefined): boolean => b !== undefined && a.toLowerCase() === b.toLowerCase();

/** Chooses for `request`; `hidden` (a `no-identity` fault) makes the app seem to have no identity. */
export function chooseIdentity(request: RecordedIdentityRequest, app: EmulatedApp, shape: EndpointShape, hidden: boolean): IdentityChoice {
  const attached = hidden ? [] : app.attached();
  const named = request.clientId !== undefined || request.objectId !== undefined || request.resourceId !== undefined;
  if (named) {
    if (attached.length === 0) return { refusal: shape.noIdentity() };
    const identity = attached.find(
      (i) => sameId(i.clientId, request.clientId) || sameId(i.objectId, request.objectId) || sameId(i.resourceId, request.resourceId),
    );
    return identity ? { identity } : { refusal: shape.unknownIdentity() };
  }
  const systemAssigned = hidden ? undefined : app.identities.systemAssigned;
  if (systemAssigned) return { identity: systemAssigned };
  const userAssigned = attached.filter((i) => i.kind === "user-assigned");
  if (userAssigned.length === 0) return { refusal: shape.noIdentity() };
  if (shape.picksSoleUserAssigned && userAssigned.length === 1) return { identity: userAssigned[0] };
  return { refusal: shape.severalIdentities() };
}
