// The request log entry: what a client sent, read the same way whatever the shape (the shape's rejection()
// decides what is missing). The identity header's value is compared, never stored.
import type { IncomingMessage } from "node:http";
import { timingSafeEqual } from "node:crypto";
import type { RecordedIdentityRequest } from "./types.js";

/** Compares the header with the secret in constant time, so the emulator shows the habit it tests for. */
function secretsEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given, "utf8");
  const b = Buffer.from(expected, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The first value of a header Node may have split into several. */
const firstValue = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/** A pending log entry for `req`. */
export function recordRequest(req: IncomingMessage, url: URL, identityHeader: string): RecordedIdentityRequest {
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const given = firstValue(req.headers["x-identity-header"]);
  return {
    time: new Date(),
    method: req.method ?? "GET",
    path: url.pathname,
    query,
    resource: query["resource"],
    apiVersion: query["api-version"],
    // Either spelling of each selector is taken, so a request naming an identity is matched whatever the shape.
    clientId: query["client_id"] ?? query["clientid"],
    objectId: query["object_id"],
    resourceId: query["mi_res_id"] ?? query["msi_res_id"],
    identityHeaderPresent: given !== undefined,
    identityHeaderValid: given !== undefined && secretsEqual(given, identityHeader),
    metadataHeader: firstValue(req.headers["metadata"])?.toLowerCase() === "true",
    clientRequestId: firstValue(req.headers["x-ms-client-request-id"]),
    outcome: "pending",
  };
}
