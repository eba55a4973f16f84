import { catalogFor } from "./resolve.js";
import type { OperationAction, ServiceDefinition } from "./types.js";

/** The action a request needs, as the operation → action table of its service names it. */
export interface RequestAction {
  /** The action: "Microsoft.KeyVault/vaults/secrets/getSecret/action". */
  action: string;
  /** A data action (a role's `DataActions`); false for a control-plane action (`Actions`). */
  dataAction: boolean;
  /** The action in the resource's other authorization mode, when it has one (Container Registry ABAC mode). */
  alternative?: { action: string; dataAction: boolean; mode: string };
}

/**
 * The action a request needs: the first row of the service's operation table whose method, path, query and host
 * match. `service` is a catalog name or entry; `url` an absolute URL or a path (with its query). Undefined when the
 * service has no table or no row matches; never throws.
 */
export function actionOfRequest(
  service: string | ServiceDefinition | undefined,
  method: string | undefined,
  url: string | URL | undefined,
): RequestAction | undefined {
  try {
    const entry = typeof service === "string" ? catalogFor().byName(service) : service;
    if (entry?.operations === undefined || url === undefined) return undefined;
    const parsed = typeof url === "string" ? new URL(url, "https://service.invalid") : url;
    const path = decodePath(parsed.pathname);
    const query = parsed.search.replace(/^\?/, "");
    const host = parsed.host.toLowerCase();
    const verb = typeof method === "string" ? method.toUpperCase() : undefined;
    for (const row of entry.operations) {
      if (row.claim !== undefined) continue;
      if (row.methods !== undefined && (verb === undefined || !row.methods.includes(verb))) continue;
      if (row.path !== undefined && !statelessTest(row.path, path)) continue;
      if (row.query !== undefined && !statelessTest(row.query, query)) continue;
      if (row.host !== undefined && !statelessTest(row.host, host)) continue;
      return requestActionOf(row);
    }
  } catch {
    // A malformed URL or entry: no action, the caller falls back to the service's roles.
  }
  return undefined;
}

/**
 * The action an AMQP claim stands for (Service Bus, Event Hubs): "Send", "Listen", "Manage" and the
 * comma-separated lists answers quote ("Manage,EntityRead": the strongest claim decides).
 */
export function actionOfClaim(service: string | ServiceDefinition | undefined, claim: string | undefined): RequestAction | undefined {
  try {
    const entry = typeof service === "string" ? catalogFor().byName(service) : service;
    if (entry?.operations === undefined || typeof claim !== "string") return undefined;
    const named = claim
      .split(/[,\s]+/)
      .map((part) => part.trim().toLowerCase())
      .filter((part) => part.length > 0);
    // Rows are in strength order (Manage first): the first row naming any of the claims wins.
    for (const row of entry.operations) {
      if (row.claim !== undefined && named.includes(row.claim.toLowerCase())) return requestActionOf(row);
    }
  } catch {
    // A malformed entry: no action.
  }
  return undefined;
}

function requestActionOf(row: OperationAction): RequestAction {
  const result: RequestAction = { action: row.action, dataAction: row.control !== true };
  if (row.alternative !== undefined) {
    result.alternative = { action: row.alternative.action, dataAction: row.alternative.control !== true, mode: row.alternative.mode };
  }
  return result;
}

function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

function statelessTest(pattern: RegExp, text: string): boolean {
  pattern.lastIndex = 0;
  const matched = pattern.test(text);
  pattern.lastIndex = 0;
  return matched;
}
