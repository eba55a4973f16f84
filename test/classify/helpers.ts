import { SignJWT, generateKeyPair } from "jose";

export const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
export const OTHER_TENANT = "0b0b0b0b-1111-2222-3333-444444444444";
export const OID = "11111111-2222-3333-4444-555555555555";
export const CLIENT_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
export const OTHER_OID = "99999999-8888-7777-6666-555555555555";
export const OTHER_CLIENT_ID = "ffffffff-eeee-dddd-cccc-bbbbbbbbbbbb";
export const SUB = "0d0d0d0d-0000-1111-2222-333333333333";
export const UAMI_ID = `/subscriptions/${SUB}/resourcegroups/rg-app/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders`;
export const NOW = Date.UTC(2025, 4, 1, 12, 0, 0);

type Key = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
let keyPromise: Promise<Key> | undefined;
function key(): Promise<Key> {
  keyPromise ??= generateKeyPair("RS256", { extractable: false }).then((pair) => pair.privateKey);
  return keyPromise;
}

export interface TokenOptions {
  aud?: string;
  tid?: string;
  oid?: string;
  appid?: string;
  mirid?: string;
  /** Seconds relative to NOW. */
  iat?: number;
  nbf?: number;
  exp?: number;
  extra?: Record<string, unknown>;
  ver?: "1.0" | "2.0";
}

/** A realistic managed-identity access token, signed RS256 with a throwaway key. */
export async function makeToken(options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(NOW / 1000);
  const tid = options.tid ?? TENANT;
  const oid = options.oid ?? OID;
  const payload: Record<string, unknown> = {
    aud: options.aud ?? "https://vault.azure.net",
    iss: options.ver === "2.0" ? `https://login.microsoftonline.com/${tid}/v2.0` : `https://sts.windows.net/${tid}/`,
    iat: now + (options.iat ?? -600),
    nbf: now + (options.nbf ?? -600),
    exp: now + (options.exp ?? 85_000),
    aio: "E2ZgYJj8Nn9x/ZS0uwUmlhJt0b8kAA==",
    appid: options.appid ?? CLIENT_ID,
    appidacr: "2",
    idp: `https://sts.windows.net/${tid}/`,
    idtyp: "app",
    oid,
    rh: "0.AX0Av4j5cvGGr0GRqy180BHbRzmzqM-ighpHo8kPwL56QJN9AAA.",
    sub: oid,
    tid,
    uti: "Vc6Y5mOGbUeGLkT2Q0YtAA",
    ver: options.ver ?? "1.0",
    xms_mirid: options.mirid ?? UAMI_ID,
    xms_tcdt: 1289241547,
    ...options.extra,
  };
  return new SignJWT(payload).setProtectedHeader({ alg: "RS256", typ: "JWT", kid: "L1KfKFI_jnXbwWc22xZxw1sUHH0" }).sign(await key());
}
