// Access tokens shaped like Entra ID's managed-identity tokens (v1 or v2 claims), signed by the emulator's signer.
// Token faults never touch this module: they bend the TokenPlan it is given.
import { randomBytes } from "node:crypto";
import type { TokenSigner } from "../tokenSigner.js";
import type { EmulatedApp } from "./emulatedApp.js";
import { randomChars } from "./emulatedApp.js";
import type { EmulatedIdentity, MintTokenOptions } from "./types.js";

/** `xms_tcdt`: the tenant's creation time (a fixed plausible value). */
const TENANT_CREATION_TIME = 1_289_241_547;
/** What `mintToken()` mints for when no resource is given. */
const DEFAULT_MINT_RESOURCE = "https://management.azure.com/";

/** Application ids of well-known resources (v2 `aud`). Keys: resource URI, lower case, no trailing slash. */
const WELL_KNOWN_APP_IDS: Record<string, string> = {
  "https://vault.azure.net": "cfa8b339-82a2-471a-a3c9-0fc0be7a4093",
  "https://management.azure.com": "797f4846-ba00-4fd7-ba43-dac1f8f63013",
  "https://management.core.windows.net": "797f4846-ba00-4fd7-ba43-dac1f8f63013",
  "https://storage.azure.com": "e406a681-f3d4-42a8-90b6-c2b029497af1",
  "https://graph.microsoft.com": "00000003-0000-0000-c000-000000000000",
};

/** What a token says, before it is signed: whose, for what, when, in which tenant. Faults bend a copy of it. */
export interface TokenPlan {
  /** Whose claims (`oid`, `sub`, `appid`/`azp`, `xms_mirid`) the token carries. */
  identity: EmulatedIdentity;
  /** The resource as requested (`/.default` is stripped when the audience is made). */
  resource: string;
  /** `iat` and `nbf`, in seconds since the epoch. */
  issuedAt: number;
  /** `exp - iat`. */
  lifetimeSeconds: number;
  /** `tid`, and the tenant in `iss`/`idp`. */
  tenantId: string;
}

/** Settings of {@link createTokenMinter}. */
export interface TokenMinterSettings {
  /** Signs every token. */
  signer: TokenSigner;
  /** The app (for `xms_az_rid` and `mintToken()`'s default identity). */
  app: EmulatedApp;
  /** Tenant of healthy tokens. */
  tenantId: string;
  /** Lifetime of healthy tokens, in seconds. */
  lifetimeSeconds: number;
  /** Claim shape. */
  tokenVersion: "1.0" | "2.0";
  /** Extra resource URI → application id pairs for v2 `aud`. */
  audienceAppIds: Record<string, string> | undefined;
}

/** Signs tokens from plans (for requests) and from `mintToken()` options (for tests, without HTTP). */
export interface TokenMinter {
  /** Signs the token a plan describes. */
  sign(plan: TokenPlan): Promise<string>;
  /** `emulator.mintToken()`: a healthy plan for now, plus any claim overrides. */
  mint(options?: MintTokenOptions): Promise<string>;
}

/** Seconds since the epoch, as JWT times are. */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Resource URI → audience: trimmed, without a `/.default` scope suffix. */
const normalizeResource = (resource: string): string => {
  let r = resource.trim();
  if (r.endsWith("/.default")) r = r.slice(0, -"/.default".length);
  return r;
};

/** Key of the application-id table: lower case, no trailing slash. */
const appIdKey = (resource: string): string => resource.toLowerCase().replace(/\/+$/, "");

/** Makes the minter for one emulator. */
export function createTokenMinter(settings: TokenMinterSettings): TokenMinter {
  const { signer, app, tenantId, lifetimeSeconds } = settings;
  const appIds: Record<string, string> = { ...WELL_KNOWN_APP_IDS };
  for (const [k, v] of Object.entries(settings.audienceAppIds ?? {})) appIds[appIdKey(k)] = v;
  const claimsOf = settings.tokenVersion === "2.0" ? v2Claims(appIds) : v1Claims;
  const buildClaims = (plan: TokenPlan): Record<string, unknown> => claimsOf(plan, settings.tokenVersion, app.hostResourceId);

  return {
    sign: (plan) => signer.sign(buildClaims(plan)),
    mint: async (mintOptions = {}) => {
      const { identity, resource, lifetimeSeconds: lifetime, ...overrides } = mintOptions;
      const who = identity ?? app.identities.systemAssigned ?? app.identities.userAssigned[0] ?? app.unattachedUserAssigned(`uami-${randomChars(6)}`);
      const plan = {
        identity: who,
        resource: resource ?? DEFAULT_MINT_RESOURCE,
        issuedAt: nowSeconds(),
        lifetimeSeconds: lifetime ?? lifetimeSeconds,
        tenantId,
      };
      return signer.sign({ ...buildClaims(plan), ...overrides });
    },
  };
}

type ClaimsBuilder = (plan: TokenPlan, version: "1.0" | "2.0", hostResourceId: string) => Record<string, unknown>;

/** v1 claims: `aud` as requested, `iss` sts.windows.net, `appid`, `idp`. */
const v1Claims: ClaimsBuilder = (plan, version, hostResourceId) => {
  const tid = plan.tenantId;
  const head = {
    aud: normalizeResource(plan.resource),
    iss: `https://sts.windows.net/${tid}/`,
    ...timesAndAio(plan),
    appid: plan.identity.clientId,
    appidacr: "2",
    idp: `https://sts.windows.net/${tid}/`,
  };
  return { ...head, ...commonClaims(plan, version, hostResourceId) };
};

/** v2 claims: `aud` the resource's application id when known, `iss` login.microsoftonline.com …/v2.0, `azp`. */
const v2Claims =
  (appIds: Record<string, string>): ClaimsBuilder =>
  (plan, version, hostResourceId) => {
    const audience = normalizeResource(plan.resource);
    const head = {
      aud: appIds[appIdKey(audience)] ?? audience,
      iss: `https://login.microsoftonline.com/${plan.tenantId}/v2.0`,
      ...timesAndAio(plan),
      azp: plan.identity.clientId,
      azpacr: "2",
    };
    return { ...head, ...commonClaims(plan, version, hostResourceId) };
  };

/** `iat`, `nbf`, `exp` and the opaque `aio`, in the order Entra ID writes them. */
const timesAndAio = (plan: TokenPlan): Record<string, unknown> => ({
  iat: plan.issuedAt,
  nbf: plan.issuedAt,
  exp: plan.issuedAt + plan.lifetimeSeconds,
  aio: `${randomBytes(48).toString("base64url")}`,
});

/** The claims both versions share, after the version-specific ones. */
const commonClaims = (plan: TokenPlan, version: "1.0" | "2.0", hostResourceId: string): Record<string, unknown> => {
  const { identity } = plan;
  const claims: Record<string, unknown> = {
    idtyp: "app",
    oid: identity.objectId,
    rh: `1.${randomBytes(48).toString("base64url")}.`,
    sub: identity.objectId,
    tid: plan.tenantId,
    uti: randomBytes(16).toString("base64url"),
    ver: version,
    xms_mirid: identity.resourceId,
  };
  // Only a user-assigned identity's token names the resource it is attached to.
  if (identity.kind === "user-assigned") claims.xms_az_rid = hostResourceId;
  claims.xms_tcdt = TENANT_CREATION_TIME;
  return claims;
};
