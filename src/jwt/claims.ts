import type { DiagnosisIdentity, DiagnosisToken, IdentityKind } from "../diagnosis/types.js";

/**
 * The claims of an Entra ID access token that diagnosis reads. Decoding does no signature check and no
 * validation: it only reads what the token says about itself, to compare it with what was asked for.
 */
export interface TokenClaims {
  /** Audience: the resource the token is for (v1: its URI; v2: an app id). Of an array, the first entry. */
  aud?: string;
  /** Issuer: names the tenant and the cloud (`https://sts.windows.net/<tenant>/` or `…/v2.0`). */
  iss?: string;
  /** Tenant id. */
  tid?: string;
  /** Object (principal) id of the caller: what role assignments name. */
  oid?: string;
  /** v1 client id of the caller. */
  appid?: string;
  /** v2 client id of the caller. */
  azp?: string;
  /** Managed identity resource id: the host resource (system-assigned) or the userAssignedIdentities resource. */
  xms_mirid?: string;
  /** Resource id of the host resource (the app) of a user-assigned identity's token; absent for system-assigned. */
  xms_az_rid?: string;
  /** Kind of caller: `app` for an app or managed identity, `user` for a person. */
  idtyp?: string;
  /** Issued at, seconds since epoch. */
  iat?: number;
  /** Not valid before, seconds since epoch. */
  nbf?: number;
  /** Expires at, seconds since epoch. */
  exp?: number;
  /** Token identifier (Entra ID's internal id of the token; not a secret). */
  uti?: string;
  /** Token version: "1.0" or "2.0". */
  ver?: string;
  /** Delegated permissions, space-separated: present on a user's token, never on a managed identity's. */
  scp?: string;
  /** App roles granted to the caller (at most 50 are kept). */
  roles?: string[];
  /** User principal name of a user token (personal: in evidence only when `includePersonalClaims` is set). */
  upn?: string;
  /** Display name of the user (personal: in evidence only when `includePersonalClaims` is set). */
  name?: string;
  /** User name of a v1 user token (personal: in evidence only when `includePersonalClaims` is set). */
  unique_name?: string;
}

const MAX_TOKEN_LENGTH = 64 * 1024;
const STRING_CLAIMS = [
  "aud",
  "iss",
  "tid",
  "oid",
  "appid",
  "azp",
  "xms_mirid",
  "xms_az_rid",
  "idtyp",
  "uti",
  "ver",
  "scp",
  "upn",
  "name",
  "unique_name",
] as const;
const NUMBER_CLAIMS = ["iat", "nbf", "exp"] as const;

/**
 * Reads the claims of a JWT access token. Returns undefined for anything that is not a decodable JWT (opaque
 * tokens, garbage, huge input). Never throws. The signature is not read.
 */
export function decodeTokenClaims(token: unknown): TokenClaims | undefined {
  try {
    const source = decodePayload(token);
    if (source === undefined) return undefined;
    const claims: TokenClaims = {};
    for (const key of STRING_CLAIMS) {
      const value = source[key];
      if (typeof value === "string" && value.length <= 2048) claims[key] = value;
    }
    // A v2 token may carry `aud` as an array: keep the first, as Entra ID issues one audience per token.
    if (claims.aud === undefined && Array.isArray(source.aud) && typeof source.aud[0] === "string") claims.aud = source.aud[0];
    for (const key of NUMBER_CLAIMS) {
      const value = source[key];
      if (typeof value === "number" && Number.isFinite(value)) claims[key] = value;
    }
    if (Array.isArray(source.roles)) claims.roles = source.roles.filter((r): r is string => typeof r === "string").slice(0, 50);
    return claims;
  } catch {
    return undefined;
  }
}

/** A JWT's payload as an object (no signature read); undefined for anything else. Throws on bad base64/JSON (callers catch). */
function decodePayload(token: unknown): Record<string, unknown> | undefined {
  if (typeof token !== "string" || token.length > MAX_TOKEN_LENGTH) return undefined;
  const raw = token.startsWith("Bearer ") ? token.slice(7) : token;
  const first = raw.indexOf(".");
  if (first <= 0) return undefined;
  const second = raw.indexOf(".", first + 1);
  const payloadPart = second === -1 ? raw.slice(first + 1) : raw.slice(first + 1, second);
  if (payloadPart.length === 0 || !/^[A-Za-z0-9_-]+={0,2}$/.test(payloadPart)) return undefined;
  const json: unknown = JSON.parse(Buffer.from(payloadPart, "base64url").toString("utf8"));
  return json === null || typeof json !== "object" || Array.isArray(json) ? undefined : (json as Record<string, unknown>);
}

/** The claims a federated credential matches, of an assertion (a projected service-account token): `iss`, `sub`, `aud` (first), `iat`, `exp`. */
export function decodeAssertionClaims(token: unknown): { iss?: string; sub?: string; aud?: string; iat?: number; exp?: number } | undefined {
  try {
    const source = decodePayload(token);
    if (source === undefined) return undefined;
    const out: { iss?: string; sub?: string; aud?: string; iat?: number; exp?: number } = {};
    const text = (value: unknown) => (typeof value === "string" && value.length <= 2048 ? value : undefined);
    const iss = text(source.iss);
    const sub = text(source.sub);
    const aud = text(Array.isArray(source.aud) ? source.aud[0] : source.aud);
    if (iss !== undefined) out.iss = iss;
    if (sub !== undefined) out.sub = sub;
    if (aud !== undefined) out.aud = aud;
    for (const key of ["iat", "exp"] as const) {
      const value = source[key];
      if (typeof value === "number" && Number.isFinite(value)) out[key] = value;
    }
    return out;
  } catch {
    return undefined;
  }
}

/** The caller's client id: `appid` (v1) or `azp` (v2). */
export function clientIdOf(claims: TokenClaims): string | undefined {
  return claims.appid ?? claims.azp;
}

/** A user-assigned identity's `xms_mirid` names a userAssignedIdentities resource; anything else is the host's own. */
export function identityKindOf(claims: TokenClaims): IdentityKind {
  const mirid = claims.xms_mirid?.toLowerCase();
  if (mirid === undefined) return "unknown";
  return mirid.includes("/providers/microsoft.managedidentity/userassignedidentities/") ? "user-assigned" : "system-assigned";
}

/** The identity a token belongs to, in the Diagnosis shape. */
export function identityOfClaims(claims: TokenClaims): DiagnosisIdentity {
  const identity: DiagnosisIdentity = { kind: identityKindOf(claims) };
  if (claims.oid !== undefined) identity.objectId = claims.oid;
  const clientId = clientIdOf(claims);
  if (clientId !== undefined) identity.clientId = clientId;
  if (claims.tid !== undefined) identity.tenantId = claims.tid;
  if (claims.xms_mirid !== undefined) identity.resourceId = claims.xms_mirid;
  return identity;
}

/** The token's lifetime facts, in the Diagnosis shape. */
export function tokenFactsOfClaims(claims: TokenClaims, scope?: string): DiagnosisToken {
  const facts: DiagnosisToken = {};
  if (claims.aud !== undefined) facts.audience = claims.aud;
  if (claims.iss !== undefined) facts.issuer = claims.iss;
  if (claims.iat !== undefined) facts.issuedAt = new Date(claims.iat * 1000);
  if (claims.exp !== undefined) facts.expiresAt = new Date(claims.exp * 1000);
  if (scope !== undefined) facts.scope = scope;
  return facts;
}

/** A token of a person (not an app or managed identity): its personal identifiers stay out unless opted in. */
export function isUserToken(claims: TokenClaims): boolean {
  return claims.idtyp === "user" || claims.upn !== undefined || claims.unique_name !== undefined || claims.scp !== undefined;
}

/** One evidence line describing a token's claims. Personal identifiers only when `includePersonal`. */
export function describeClaims(claims: TokenClaims, options: { includePersonal?: boolean } = {}): string {
  const parts: string[] = [];
  const add = (key: string, value: string | number | undefined) => {
    if (value !== undefined) parts.push(`${key}=${value}`);
  };
  add("aud", claims.aud);
  add("iss", claims.iss);
  add("tid", claims.tid);
  add("oid", claims.oid);
  add("appid", clientIdOf(claims));
  add("xms_mirid", claims.xms_mirid);
  add("idtyp", claims.idtyp);
  if (claims.iat !== undefined) add("iat", isoSeconds(claims.iat));
  if (claims.nbf !== undefined) add("nbf", isoSeconds(claims.nbf));
  if (claims.exp !== undefined) add("exp", isoSeconds(claims.exp));
  if (options.includePersonal) {
    add("upn", claims.upn ?? claims.unique_name);
    add("name", claims.name);
  }
  return `token claims: ${parts.join(" ")}`;
}

function isoSeconds(epochSeconds: number): string {
  const date = new Date(epochSeconds * 1000);
  return Number.isNaN(date.getTime()) ? String(epochSeconds) : date.toISOString().replace(".000Z", "Z");
}
