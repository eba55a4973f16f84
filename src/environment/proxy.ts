/**
 * The HTTP proxy the Azure SDK will use, read as core-rest-pipeline's proxyPolicy reads it: HTTPS_PROXY, then
 * ALL_PROXY, then HTTP_PROXY (upper case before lower case), and NO_PROXY as a list of exact hosts or `.suffix`
 * patterns (no wildcards, no CIDR, no implicit localhost). A proxy that is not bypassed for the identity endpoint
 * receives the token request instead of the endpoint: IMDS and the local endpoints refuse proxied calls.
 */
type Env = Record<string, string | undefined>;

/** The proxy variables, as the Azure SDK reads them. The proxy's credentials are never kept. */
export interface ProxyEnvironment {
  /** The variable that decided: "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "HTTP_PROXY", … */
  variable: string;
  /** The proxy URL without user name and password (or the raw value, cut, when it is no URL). */
  url: string;
  /** NO_PROXY's entries, trimmed; empty when NO_PROXY is not set. */
  noProxy: string[];
}

function valueOf(env: Env, name: string): { name: string; value: string } | undefined {
  for (const candidate of [name, name.toLowerCase()]) {
    const value = env[candidate];
    if (typeof value === "string" && value.length > 0) return { name: candidate, value };
  }
  return undefined;
}

/** The proxy the SDK will use; undefined when no proxy variable is set. */
export function readProxyEnvironment(env: Env = process.env): ProxyEnvironment | undefined {
  const chosen = valueOf(env, "HTTPS_PROXY") ?? valueOf(env, "ALL_PROXY") ?? valueOf(env, "HTTP_PROXY");
  if (chosen === undefined) return undefined;
  const noProxy = (valueOf(env, "NO_PROXY")?.value ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0)
    .slice(0, 200)
    .map((item) => item.slice(0, 200));
  return { variable: chosen.name, url: withoutCredentials(chosen.value), noProxy };
}

function withoutCredentials(value: string): string {
  try {
    const url = new URL(value);
    url.username = "";
    url.password = "";
    return url.href.replace(/\/$/, "");
  } catch {
    // Not a URL: anything before an `@` may be a password.
    return value.replace(/^.*@/, "").slice(0, 200);
  }
}

/** The host name of a URL as NO_PROXY is matched against it (no port, no IPv6 brackets); undefined for no URL. */
export function proxyHostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, "") || undefined;
  } catch {
    return undefined;
  }
}

/** Whether NO_PROXY exempts `host` (a host name or IP, no port), by proxyPolicy's rules. */
export function proxyBypassed(proxy: ProxyEnvironment, host: string): boolean {
  const name = host.toLowerCase().replace(/^\[|\]$/g, "");
  const list = Array.isArray(proxy.noProxy) ? proxy.noProxy : [];
  return list.some((raw) => {
    const pattern = String(raw).toLowerCase();
    if (pattern.startsWith(".")) return name.endsWith(pattern) || name === pattern.slice(1);
    return name === pattern;
  });
}
