import { afterAll, beforeAll } from "vitest";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { startTogether, type Closable, type Starting } from "../helpers/emulators.js";
import { createHttpHeaders, createPipelineRequest, RestError, type HttpClient, type HttpMethods } from "@azure/core-rest-pipeline";

export const TENANT = "11111111-1111-1111-1111-111111111111";
export const OTHER_TENANT = "99999999-9999-9999-9999-999999999999";
export const SUBSCRIPTION = "22222222-2222-2222-2222-222222222222";
export const RESOURCE_GROUP = "rg-app";
export const PRINCIPAL = "33333333-3333-3333-3333-333333333333";
export const CLIENT_ID = "44444444-4444-4444-4444-444444444444";
export const MIRID = `/subscriptions/${SUBSCRIPTION}/resourcegroups/${RESOURCE_GROUP}/providers/Microsoft.App/containerApps/my-app`;

/** Everything a test needs to mint tokens that the emulators accept (or, on purpose, reject). */
export interface TestIssuer {
  publicJwk: JWK;
  /** A token for `audience` with overrides of the default claims. */
  mint(audience: string, claims?: Record<string, unknown>, options?: { lifetimeSeconds?: number; issuedAt?: number }): Promise<string>;
  /** A TokenCredential: the audience comes from the requested scope unless `claims.aud` overrides it. */
  credential(
    claims?: Record<string, unknown> | (() => Record<string, unknown>),
    options?: { issuedAt?: () => number; lifetimeSeconds?: number },
  ): TokenCredential & { scopes: string[][]; calls: GetTokenOptions[] };
}

export async function createTestIssuer(kid = "test-key"): Promise<TestIssuer> {
  const { privateKey, publicKey } = await generateKeyPair("RS256");
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  const mint: TestIssuer["mint"] = async (audience, claims = {}, options = {}) => {
    const iat = options.issuedAt ?? Math.floor(Date.now() / 1000);
    const tid = (claims.tid as string | undefined) ?? TENANT;
    return new SignJWT({
      aud: audience,
      iss: `https://sts.windows.net/${tid}/`,
      iat,
      nbf: iat,
      exp: iat + (options.lifetimeSeconds ?? 3600),
      tid,
      oid: PRINCIPAL,
      appid: CLIENT_ID,
      idtyp: "app",
      xms_mirid: MIRID,
      ver: "1.0",
      ...claims,
    })
      .setProtectedHeader({ alg: "RS256", kid, typ: "JWT" })
      .sign(privateKey);
  };
  return {
    publicJwk,
    mint,
    credential(claims = {}, options = {}) {
      const scopes: string[][] = [];
      const calls: GetTokenOptions[] = [];
      return {
        scopes,
        calls,
        async getToken(scope: string | string[], getTokenOptions?: GetTokenOptions): Promise<AccessToken> {
          const list = Array.isArray(scope) ? scope : [scope];
          scopes.push(list);
          calls.push(getTokenOptions ?? {});
          const audience = list[0]!.replace(/\/?\.default$/, "").replace(/\/+$/, "");
          const iat = options.issuedAt ? Math.floor(options.issuedAt() / 1000) : undefined;
          const extra = typeof claims === "function" ? claims() : claims;
          const token = await mint(audience, extra, { issuedAt: iat, lifetimeSeconds: options.lifetimeSeconds });
          return { token, expiresOnTimestamp: Date.now() + 3600_000, tokenType: "Bearer" };
        },
      };
    },
  };
}

/** Options every emulator of these tests takes: the test issuer's key, the tenant, subscription and resource group. */
export function emulatorOptions(issuer: TestIssuer) {
  return { issuerKeys: issuer.publicJwk, tenantId: TENANT, subscriptionId: SUBSCRIPTION, resourceGroup: RESOURCE_GROUP };
}

export type EmulatorOptions = ReturnType<typeof emulatorOptions>;

/**
 * The set-up of a test file: in `beforeAll`, a fresh {@link TestIssuer} and the emulators `start` builds from
 * {@link emulatorOptions} (started side by side); in `afterAll`, the emulators are closed. The returned object is
 * filled in by `beforeAll`: read it inside tests and hooks only.
 */
export function useEmulators<S extends Record<string, Closable>>(start: (options: EmulatorOptions) => Starting<S>): { issuer: TestIssuer } & S {
  const fixture = {} as { issuer: TestIssuer } & S;
  let started: S | undefined;
  beforeAll(async () => {
    fixture.issuer = await createTestIssuer();
    started = await startTogether(start(emulatorOptions(fixture.issuer)));
    Object.assign(fixture, started);
  });
  afterAll(() => Promise.all(Object.values(started ?? {}).map((emulator) => emulator.close())));
  return fixture;
}

/** Awaits a promise that must reject with a RestError; returns it. */
export async function restError(promise: Promise<unknown>): Promise<RestError & { details?: unknown }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RestError || (error as { name?: string })?.name === "RestError") return error as RestError;
    throw error;
  }
  throw new Error("expected the call to fail");
}

/** The raw body the SDK received with the error (non-enumerable `response`). */
export function bodyOf(error: RestError): string {
  return error.response?.bodyAsText ?? "";
}

/** A distinct principal object id per test, so role grants of one test never leak into another. */
export function principal(n: number): string {
  return `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
}

/** One request through an emulator `httpClient` (a real TLS request), for REST services without an SDK here. */
export async function send(
  httpClient: HttpClient,
  url: string,
  options: { method?: HttpMethods; token?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const headers = createHttpHeaders({ ...options.headers, ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) });
  const response = await httpClient.sendRequest(createPipelineRequest({ url, method: options.method ?? "GET", headers, body: options.body }));
  return { status: response.status, headers: response.headers.toJSON(), body: response.bodyAsText ?? "" };
}
