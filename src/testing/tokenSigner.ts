import { randomUUID } from "node:crypto";
import { SignJWT, exportJWK, generateKeyPair, jwtVerify, createLocalJWKSet } from "jose";
import type { JWK, JWTHeaderParameters, JWTPayload } from "jose";

/** The tenant the emulators use when none is given: a fixed GUID, so logs and snapshots are stable. */
export const DEFAULT_TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/** Options of {@link createTokenSigner}. */
export interface TokenSignerOptions {
  /** Tenant the signer issues for; used for the default issuer. Default {@link DEFAULT_TENANT_ID}. */
  tenantId?: string;
  /**
   * Issuer `verify` checks when the caller gives none, and that `sign` puts in `iss` when the claims have none.
   * Default: the v1 Entra ID issuer `https://sts.windows.net/<tenantId>/`.
   */
  issuer?: string;
  /** Key id; default a random GUID. */
  kid?: string;
}

/** What {@link TokenSigner.verify} checks besides the signature. */
export interface TokenVerifyOptions {
  /** Expected `aud` (one value or any of several). Not checked when absent. */
  audience?: string | string[];
  /** Expected `iss`. Not checked when absent (pass `signer.issuer` to check the default one). */
  issuer?: string | string[];
  /** Allowed clock skew in seconds for `exp`/`nbf`. Default 0. */
  clockToleranceSeconds?: number;
  /** The time to check `exp`/`nbf` against. Default now. */
  currentDate?: Date;
}

/**
 * An RS256 signing key that mints JWT access tokens shaped like Entra ID's, and checks them.
 *
 * Stable contract for service emulators: `publicJwk` (with `kid`, `alg: "RS256"`, `use: "sig"`) and `jwks()`
 * never change for the life of the signer, so an emulator can take either once at start and check every
 * token's signature with `jose.jwtVerify(token, jose.createLocalJWKSet(signer.jwks()))` or `signer.verify(token)`.
 */
export interface TokenSigner {
  /** Key id, also in every token header (`kid`). */
  readonly kid: string;
  /** Tenant the signer issues for. */
  readonly tenantId: string;
  /** Default issuer (see {@link TokenSignerOptions.issuer}). */
  readonly issuer: string;
  /** The public key as a JWK: `kty`, `n`, `e`, `kid`, `alg: "RS256"`, `use: "sig"`. */
  readonly publicJwk: JWK;
  /** A JSON Web Key Set holding the public key, like Entra ID's `discovery/keys` document. */
  jwks(): {
    /** The signer's public key, the only one. */
    keys: JWK[];
  };
  /**
   * Signs claims as a compact JWT (`alg: RS256`, `typ: JWT`, `kid`). The claims are written as given (no
   * defaults are added except `iss` when absent); extra header parameters may be passed.
   */
  sign(claims: Record<string, unknown>, header?: Partial<JWTHeaderParameters>): Promise<string>;
  /**
   * Checks the signature (and `exp`/`nbf`, and `aud`/`iss` when asked) and returns the payload.
   * Throws jose's errors (`JWSSignatureVerificationFailed`, `JWTExpired`, `JWTClaimValidationFailed`, …).
   */
  verify(token: string, options?: TokenVerifyOptions): Promise<JWTPayload>;
}

/** Creates a {@link TokenSigner} with a fresh RS256 key pair (extractable, so the public JWK can be exported). */
export async function createTokenSigner(options: TokenSignerOptions = {}): Promise<TokenSigner> {
  const tenantId = options.tenantId ?? DEFAULT_TENANT_ID;
  const issuer = options.issuer ?? `https://sts.windows.net/${tenantId}/`;
  const kid = options.kid ?? randomUUID();
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  const exported = await exportJWK(publicKey);
  const publicJwk: JWK = Object.freeze({ kty: exported.kty, n: exported.n, e: exported.e, kid, alg: "RS256", use: "sig" }) as JWK;
  const keySet = createLocalJWKSet({ keys: [publicJwk] });

  return {
    kid,
    tenantId,
    issuer,
    publicJwk,
    jwks: () => ({ keys: [{ ...publicJwk }] }),
    async sign(claims, header = {}) {
      const payload: JWTPayload = { ...claims };
      if (payload.iss === undefined) payload.iss = issuer;
      return new SignJWT(payload).setProtectedHeader({ ...header, alg: "RS256", typ: "JWT", kid }).sign(privateKey);
    },
    async verify(token, verifyOptions = {}) {
      const { payload } = await jwtVerify(token, keySet, {
        algorithms: ["RS256"],
        audience: verifyOptions.audience,
        issuer: verifyOptions.issuer,
        clockTolerance: verifyOptions.clockToleranceSeconds ?? 0,
        currentDate: verifyOptions.currentDate,
      });
      return payload;
    },
  };
}
