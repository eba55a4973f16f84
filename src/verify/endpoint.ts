import { cloudOf, type CloudName } from "../catalog/resolve.js";

/** Resource Manager per cloud: where to send the reads and the scope of the token they need. */
const RESOURCE_MANAGER: Readonly<Record<CloudName, { endpoint: string; scope: string }>> = {
  public: { endpoint: "https://management.azure.com", scope: "https://management.azure.com/.default" },
  china: { endpoint: "https://management.chinacloudapi.cn", scope: "https://management.chinacloudapi.cn/.default" },
  usgov: { endpoint: "https://management.usgovcloudapi.net", scope: "https://management.usgovcloudapi.net/.default" },
  germany: { endpoint: "https://management.microsoftazure.de", scope: "https://management.microsoftazure.de/.default" },
};

/**
 * The `resourceManagerEndpoint` option, checked: an absolute `https:` URL without credentials, query or fragment,
 * returned without a trailing slash. Throws a TypeError otherwise (a configuration mistake, found at construction).
 */
export function checkResourceManagerEndpoint(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new TypeError("DiagnosticCredential: resourceManagerEndpoint must be an absolute https URL");
  }
  if (url.protocol !== "https:") throw new TypeError("DiagnosticCredential: resourceManagerEndpoint must use https");
  if (url.username || url.password || url.search || url.hash) {
    throw new TypeError("DiagnosticCredential: resourceManagerEndpoint takes no credentials, query or fragment");
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

/**
 * The Resource Manager to ask: the configured endpoint, else the one of the cloud the failure happened in (from the
 * target's host, the token's issuer or audience). The token scope follows the cloud, also for a configured endpoint
 * (an emulator, a private link) that is not one of the cloud hosts.
 */
export function resourceManagerFor(hints: ReadonlyArray<string | undefined>, configured?: string): { endpoint: string; scope: string; cloud: CloudName } {
  let cloud: CloudName = "public";
  for (const hint of hints) {
    if (hint === undefined || hint.length === 0) continue;
    const found = cloudOf(hint);
    if (found !== "public") {
      cloud = found;
      break;
    }
  }
  if (configured !== undefined) {
    const own = cloudOf(configured);
    if (own !== "public") cloud = own;
    return { endpoint: configured, scope: RESOURCE_MANAGER[cloud].scope, cloud };
  }
  return { ...RESOURCE_MANAGER[cloud], cloud };
}
