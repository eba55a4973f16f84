/**
 * Shared by the load, fault and fuzz suites: the FULL switch, a forced GC without --expose-gc, a walk over an
 * object's internal collections (to prove none grows without bound), and a fake inner credential that issues
 * real RS256-signed JWTs.
 */
import v8 from "node:v8";
import vm from "node:vm";
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { createTokenSigner, type TokenSigner } from "../../src/testing/tokenSigner.js";

/** `FULL=1`: the long versions (npm run test:load / test:fuzz). */
export const FULL = process.env.FULL === "1";

let gcFunction: (() => void) | undefined;
/** A real `gc()` even when vitest's worker was started without --expose-gc. */
export function gc(): void {
  if (gcFunction === undefined) {
    if (typeof (globalThis as { gc?: () => void }).gc === "function") gcFunction = (globalThis as unknown as { gc: () => void }).gc;
    else {
      v8.setFlagsFromString("--expose-gc");
      gcFunction = vm.runInNewContext("gc") as () => void;
    }
  }
  gcFunction();
}

/** heapUsed after two full collections, with the event loop turned between them (timers, finalizers). */
export async function heapUsedAfterGc(): Promise<number> {
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  return process.memoryUsage().heapUsed;
}

export interface CollectionSize {
  path: string;
  kind: "Map" | "Set" | "Array";
  size: number;
}

/**
 * Every Map, Set and Array reachable from `root` through own fields, `depth` levels deep (WeakMaps cannot grow
 * without their keys). The load tests assert that none of them is larger than a cap after a flood of distinct
 * inputs, whatever internal state the credential gains in the future.
 */
export function collectionSizes(root: object, depth = 3): CollectionSize[] {
  const out: CollectionSize[] = [];
  const seen = new Set<object>();
  const visit = (value: unknown, path: string, level: number): void => {
    if (value === null || typeof value !== "object" || seen.has(value)) return;
    seen.add(value);
    if (value instanceof Map) out.push({ path, kind: "Map", size: value.size });
    else if (value instanceof Set) out.push({ path, kind: "Set", size: value.size });
    else if (Array.isArray(value)) out.push({ path, kind: "Array", size: value.length });
    if (level >= depth) return;
    if (value instanceof Map || value instanceof Set || Array.isArray(value)) return; // sizes, not contents
    for (const key of Object.getOwnPropertyNames(value)) {
      let child: unknown;
      try {
        child = (value as Record<string, unknown>)[key];
      } catch {
        continue;
      }
      visit(child, `${path}.${key}`, level + 1);
    }
  };
  visit(root, "credential", 0);
  return out;
}

export const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
export const OID = "11111111-2222-3333-4444-555555555555";
export const CLIENT_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
export const SUB = "0d0d0d0d-0000-1111-2222-333333333333";
export const UAMI_ID = `/subscriptions/${SUB}/resourcegroups/rg-app/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-orders`;

let signerPromise: Promise<TokenSigner> | undefined;
export function signer(): Promise<TokenSigner> {
  signerPromise ??= createTokenSigner({ tenantId: TENANT });
  return signerPromise;
}

/** A managed-identity access token for `resource`, RS256-signed, valid for `lifetimeSeconds`. */
export async function mintToken(resource: string, extra: Record<string, unknown> = {}, lifetimeSeconds = 86_399): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return (await signer()).sign({
    aud: resource,
    iss: `https://sts.windows.net/${TENANT}/`,
    iat: now - 5,
    nbf: now - 5,
    exp: now + lifetimeSeconds,
    appid: CLIENT_ID,
    appidacr: "2",
    idtyp: "app",
    oid: OID,
    sub: OID,
    tid: TENANT,
    ver: "1.0",
    xms_mirid: UAMI_ID,
    ...extra,
  });
}

let unsignedSerial = 0;
/** JWT-shaped, same claims as `mintToken`, with a random (not RSA) signature: for tests that need thousands fast. */
export function unsignedToken(resource: string, lifetimeSeconds = 86_399): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const payload = {
    aud: resource,
    iss: `https://sts.windows.net/${TENANT}/`,
    iat: now - 5,
    nbf: now - 5,
    exp: now + lifetimeSeconds,
    appid: CLIENT_ID,
    idtyp: "app",
    oid: OID,
    sub: OID,
    tid: TENANT,
    ver: "1.0",
    xms_mirid: UAMI_ID,
    uti: String(unsignedSerial++),
  };
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(payload)}.${Buffer.from(crypto.getRandomValues(new Uint8Array(256))).toString("base64url")}`;
}

/**
 * An inner TokenCredential for in-process tests: one real JWT per resource (minted on first use and cached like
 * MSAL would), or a new one on every call with `fresh: true`.
 */
export function fakeManagedIdentity(options: { fresh?: boolean; lifetimeSeconds?: number; unsigned?: boolean } = {}): TokenCredential & { calls: number } {
  const cache = new Map<string, Promise<AccessToken>>();
  const issue = async (resource: string): Promise<AccessToken> => {
    const lifetime = options.lifetimeSeconds ?? 86_399;
    const token = options.unsigned ? unsignedToken(resource, lifetime) : await mintToken(resource, {}, lifetime);
    return { token, expiresOnTimestamp: Date.now() + lifetime * 1000, tokenType: "Bearer" };
  };
  const credential = {
    calls: 0,
    getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken | null> {
      credential.calls++;
      const resource = (Array.isArray(scopes) ? scopes[0]! : scopes).replace(/\/\.default$/, "");
      if (options.fresh) return issue(resource);
      let token = cache.get(resource);
      if (token === undefined) {
        token = issue(resource);
        cache.set(resource, token);
      }
      return token;
    },
  };
  return credential;
}

/** Median of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}
