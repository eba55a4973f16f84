import { closeSync, openSync, readSync } from "node:fs";
import type { FederatedTokenFacts, WorkloadIdentityContext } from "../classify/workloadIdentity.js";
import type { WorkloadIdentityEnvironment } from "../environment/workloadIdentityEnv.js";
import { decodeAssertionClaims } from "../jwt/claims.js";
import { entraExchangesSince } from "../observe/entraExchanges.js";

/** A projected token is ~1 KB; a file bigger than this is no token, and is not read further. */
const MAX_TOKEN_FILE_BYTES = 64 * 1024;

/**
 * Reads the projected service-account token's claims (iss, sub, aud, iat, exp) for a diagnosis: at most 64 KB, on
 * the failure path only. The token itself and its signature never leave this function.
 */
export function readFederatedToken(path: string): FederatedTokenFacts {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const buffer = Buffer.alloc(MAX_TOKEN_FILE_BYTES);
    const length = readSync(fd, buffer, 0, MAX_TOKEN_FILE_BYTES, 0);
    const content = buffer.subarray(0, length).toString("utf8").trim();
    if (content === "") return { path, problem: "empty" };
    const claims = decodeAssertionClaims(content);
    return claims === undefined ? { path, problem: "not-a-jwt" } : { path, claims };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const errno = typeof code === "string" ? code : undefined;
    return { path, problem: errno === "ENOENT" ? "missing" : "unreadable", ...(errno ? { errno } : {}) };
  } finally {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // closing a file we read: nothing to do
      }
    }
  }
}

/** The workload identity facts of a failed call that started at `since` (epoch ms); undefined off workload identity. */
export function workloadIdentityContextOf(env: WorkloadIdentityEnvironment, since: number): WorkloadIdentityContext | undefined {
  if (env.tokenFile === undefined && !env.onKubernetes) return undefined;
  const context: WorkloadIdentityContext = { environment: env, entraExchanges: entraExchangesSince(since) };
  if (env.tokenFile !== undefined) context.federatedToken = readFederatedToken(env.tokenFile);
  return context;
}
