import { SERVICE_CATALOG } from "./services.js";
import type { ServiceDefinition, ServiceDefinitionInput } from "./types.js";

/** Lower case, no trailing slashes: `https://servicebus.azure.net/` and `https://servicebus.azure.net` are one audience. */
export function normalizeAudience(audience: string): string {
  return audience.trim().toLowerCase().replace(/\/+$/, "");
}

/** The resource a scope names, as ManagedIdentityCredential sends it: one `/.default` suffix removed. */
export function scopeToResource(scope: string): string {
  return scope.endsWith("/.default") ? scope.slice(0, -"/.default".length) : scope;
}

/** The host (and port, when not default) of a URL, lower case; undefined for anything that is not a URL. */
export function hostOf(url: string | URL): string | undefined {
  try {
    const parsed = typeof url === "string" ? new URL(url) : url;
    return parsed.host.toLowerCase() || undefined;
  } catch {
    return undefined;
  }
}

/** A catalog: the built-in services merged with the `services` option. Immutable once made. */
export class ServiceCatalog {
  readonly services: readonly ServiceDefinition[];
  private readonly hostCache = new Map<string, ServiceDefinition | null>();

  constructor(extra: readonly ServiceDefinitionInput[] = []) {
    this.services = mergeServices(SERVICE_CATALOG, extra);
  }

  byName(name: string): ServiceDefinition | undefined {
    return this.services.find((service) => service.name === name);
  }

  /** The service a host belongs to: exact hosts first (custom domains, emulators), then host suffixes. */
  serviceForHost(host: string): ServiceDefinition | undefined {
    const key = host.toLowerCase();
    const cached = this.hostCache.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const hostname = key.replace(/:\d+$/, "");
    const found =
      this.services.find((s) => s.hosts.includes(key) || s.hosts.includes(hostname)) ??
      this.services.find((s) => s.hostSuffixes.some((suffix) => hostname.endsWith(suffix) || `.${hostname}` === suffix));
    if (this.hostCache.size < 1000) this.hostCache.set(key, found ?? null);
    return found;
  }

  serviceForUrl(url: string | URL): ServiceDefinition | undefined {
    const host = hostOf(url);
    return host === undefined ? undefined : this.serviceForHost(host);
  }

  /** The service whose accepted audiences include `audience` (a resource URI or scope). */
  serviceForAudience(audience: string): ServiceDefinition | undefined {
    const normalized = normalizeAudience(scopeToResource(audience));
    return this.services.find((service) => audienceBelongsTo(service, normalized));
  }

  /** The scope to request for a URL: the per-cloud scope of its service, or undefined for an unknown host. */
  scopeForUrl(url: string | URL): string | undefined {
    const host = hostOf(url);
    if (host === undefined) return undefined;
    const service = this.serviceForHost(host);
    if (service === undefined) return undefined;
    const hostname = host.replace(/:\d+$/, "");
    for (const [suffix, scope] of Object.entries(service.scopeByHostSuffix)) {
      if (hostname.endsWith(suffix)) return scope;
    }
    return service.scope;
  }
}

/** Whether a token audience (already normalized) is one the service accepts. */
export function audienceBelongsTo(service: ServiceDefinition, normalizedAudience: string): boolean {
  return (
    service.audiences.includes(normalizedAudience) ||
    service.audiencePatterns.some((pattern) => pattern.test(normalizedAudience))
  );
}

function mergeServices(base: readonly ServiceDefinition[], extra: readonly ServiceDefinitionInput[]): ServiceDefinition[] {
  const merged = base.map((service) => ({ ...service }));
  for (const input of extra) {
    if (input === null || typeof input !== "object" || typeof input.name !== "string") continue;
    const lowerList = (list: string[] | undefined) => (list ?? []).map((item) => String(item).toLowerCase());
    const existing = merged.find((service) => service.name === input.name);
    if (existing !== undefined) {
      existing.hosts = [...lowerList(input.hosts), ...existing.hosts];
      existing.hostSuffixes = [...lowerList(input.hostSuffixes), ...existing.hostSuffixes];
      existing.audiences = [...(input.audiences ?? []).map(normalizeAudience), ...existing.audiences];
      if (input.fingerprints) existing.fingerprints = [...input.fingerprints, ...existing.fingerprints];
      if (input.roles) existing.roles = [...input.roles];
      continue;
    }
    const audiences = (input.audiences ?? (input.scope ? [scopeToResource(input.scope)] : [])).map(normalizeAudience);
    // A new service without an audience cannot be checked for H3 and has no scope to request: skip it.
    if (audiences.length === 0) continue;
    merged.unshift({
      name: input.name,
      displayName: input.displayName ?? input.name,
      hostSuffixes: lowerList(input.hostSuffixes),
      hosts: lowerList(input.hosts),
      audiences,
      audiencePatterns: [],
      scope: input.scope ?? `${audiences[0]}/.default`,
      scopeByHostSuffix: {},
      accessModel: input.accessModel ?? "azure-rbac",
      roles: input.roles ?? [],
      controlPlaneRoles: input.controlPlaneRoles ?? [],
      propagation: input.propagation ?? "up to ~10 minutes",
      propagationMinutes: input.propagationMinutes ?? 10,
      unauthorizedMeansForbidden: input.unauthorizedMeansForbidden ?? false,
      fingerprints: input.fingerprints ?? [],
    });
  }
  return merged;
}

const defaultCatalog = new ServiceCatalog();

/** The catalog for a `services` option; the built-in one is shared when there is nothing to add. */
export function catalogFor(services?: readonly ServiceDefinitionInput[]): ServiceCatalog {
  return services === undefined || services.length === 0 ? defaultCatalog : new ServiceCatalog(services);
}

/**
 * Which scope to request for a URL: `scopeForUrl("https://myvault.vault.azure.net/secrets/x")` →
 * `"https://vault.azure.net/.default"`. Undefined for a host the catalog does not know.
 */
export function scopeForUrl(url: string | URL, services?: readonly ServiceDefinitionInput[]): string | undefined {
  return catalogFor(services).scopeForUrl(url);
}
