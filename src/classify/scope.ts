/**
 * Scope checks before a token is requested: the mistakes that make a token useless (H3) caught at the source.
 * `checkScope` says what is wrong with a scope and suggests the right one; `nearestAudience` finds the known
 * audience a misspelt scope was meant to be. An unknown but well-formed audience (a custom app id URI,
 * `api://…`, a GUID) is not a problem: custom APIs are legitimate targets. Pure, never throws.
 */
import { GUID_PATTERN } from "../catalog/services.js";
import { ServiceCatalog, catalogFor, cloudOf, hostOf, normalizeAudience, type CloudName } from "../catalog/resolve.js";
import type { ServiceDefinition, ServiceDefinitionInput } from "../catalog/types.js";
import { decodeUriComponentSafe, safeInstanceOf } from "../util/headers.js";
import { recordInternalFault } from "../util/safe.js";

export type ScopeProblemReason =
  "multiple-scopes" | "typo" | "other-cloud" | "resource-url" | "portal-url" | "missing-default" | "doubled-default" | "not-a-url";

export interface ScopeProblem {
  reason: ScopeProblemReason;
  /** The scope as given (the first one, for multiple-scopes); capped at 2,048 characters. */
  scope: string;
  /** The scope to request instead, when there is one to suggest. */
  suggestion?: string;
  /** Catalog name of the service the scope was probably meant for. */
  service?: string;
  /** One line for humans. */
  explanation: string;
}

export interface NearestAudience {
  /** The known audience (normalized, no `/.default`). */
  audience: string;
  service: ServiceDefinition;
  /** Edit distance between the hosts (0 when matched by the service's DNS label). */
  distance: number;
  /** "typo": same cloud, misspelt; "other-cloud": the audience of this service in the cloud the scope's host points at. */
  kind: "typo" | "other-cloud";
  /** The scope to request: the audience with the service's `/.default` form. */
  suggestion: string;
}

type CatalogArg = ServiceCatalog | readonly ServiceDefinitionInput[] | undefined;

function toCatalog(catalog: CatalogArg): ServiceCatalog {
  return safeInstanceOf(catalog, ServiceCatalog) ? (catalog as ServiceCatalog) : catalogFor(Array.isArray(catalog) ? catalog : undefined);
}

const MAX_SCOPE = 2048;
const MAX_DISTANCE = 3;
const DEFAULT_SUFFIX = /\/+\.default$/i;
const PORTAL_HOST = /(^|\.)portal\.azure\.(com|us|cn)$|(^|\.)portal\.microsoftazure\.de$|^(ms|preview|rc)\.portal\.azure\.com$/;
const AZURE_DOMAIN = /(^|\.)(azure|windows|microsoft|microsoftazure|chinacloudapi|usgovcloudapi|cloudapi|azconfig|azurecr|microsoftonline)\.[a-z.]+$/;

/**
 * What is wrong with the scopes about to be requested, or undefined when nothing is. `target`, when given, is the
 * URL the token is for: a known audience of another cloud than the target's is then reported as "other-cloud".
 */
export function checkScope(scopes: string | readonly string[], catalog?: CatalogArg, target?: string | URL): ScopeProblem | undefined {
  try {
    const list = typeof scopes === "string" ? [scopes] : Array.isArray(scopes) ? scopes.filter((s): s is string => typeof s === "string") : [];
    const first = (list[0] ?? "").slice(0, MAX_SCOPE);
    if (list.length === 0 || first.trim().length === 0) {
      return {
        reason: "not-a-url",
        scope: first,
        explanation: "no scope was given: request exactly one scope, the target service's audience followed by /.default",
      };
    }
    const cat = toCatalog(catalog);
    if (list.length > 1) {
      const suggestion = list.map((s) => s.trim()).find((s) => cat.serviceForAudience(s) !== undefined);
      return {
        reason: "multiple-scopes",
        scope: first,
        ...(suggestion !== undefined ? { suggestion } : {}),
        explanation: `${list.length} scopes requested at once: a managed identity token is for exactly one resource (ManagedIdentityCredential: "Multiple scopes are not supported"); request one token per resource`,
      };
    }
    const scope = first.trim();
    if (/\s/.test(scope)) {
      return {
        reason: "multiple-scopes",
        scope,
        explanation: "the scope contains whitespace (several scopes in one string?): a managed identity token is for exactly one resource",
      };
    }
    return checkOne(scope, cat, target);
  } catch (error) {
    recordInternalFault(error);
    return undefined;
  }
}

function checkOne(scope: string, catalog: ServiceCatalog, target: string | URL | undefined): ScopeProblem | undefined {
  const bare = scope.replace(DEFAULT_SUFFIX, "");
  if (GUID_PATTERN.test(bare) && !/\/\.default\/+\.default$/i.test(scope)) return undefined;

  if (/\/\.default\/+\.default$/i.test(scope)) {
    const fixed = scope.replace(/(\/+\.default)+$/i, "/.default");
    const service = catalog.serviceForAudience(fixed);
    return {
      reason: "doubled-default",
      scope,
      suggestion: service ? scopeOfAudience(service, normalizeAudience(fixed.replace(DEFAULT_SUFFIX, ""))) : fixed,
      ...(service ? { service: service.name } : {}),
      explanation:
        '"/.default" appears twice (it was appended to a value that already had it): the resource becomes unknown to Microsoft Entra ID (AADSTS500011)',
    };
  }

  let url: URL;
  try {
    url = new URL(scope);
  } catch {
    return notAUrl(scope, catalog);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return undefined; // api://…, custom schemes: well formed, unknown.
  const host = url.host.toLowerCase();
  if (host.length === 0) return notAUrl(scope, catalog);

  if (PORTAL_HOST.test(host)) return portalUrl(scope, url, catalog);

  const path = url.pathname;
  const hasDefault = DEFAULT_SUFFIX.test(path);
  const origin = normalizeAudience(`https://${host}`);
  const resource = normalizeAudience(`https://${host}${path.replace(DEFAULT_SUFFIX, "")}`);

  if (url.protocol === "http:") {
    const service = catalog.serviceForAudience(resource) ?? catalog.serviceForAudience(origin);
    if (service !== undefined) {
      return {
        reason: "typo",
        scope,
        suggestion: scopeOfAudience(service, catalog.serviceForAudience(resource) ? resource : origin),
        service: service.name,
        explanation: "the audience is written with http://; Azure audiences are https:// URIs",
      };
    }
    return undefined;
  }

  const known = catalog.serviceForAudience(resource);
  if (known !== undefined) {
    if (!hasDefault) {
      return {
        reason: "missing-default",
        scope,
        suggestion: scopeOfAudience(known, resource),
        service: known.name,
        explanation: `"${scope}" is ${known.displayName}'s audience without "/.default": ManagedIdentityCredential tolerates it, other credentials in a chain (and MSAL) treat it as a different scope`,
      };
    }
    return otherCloudForTarget(scope, resource, known, catalog, target);
  }

  const originService = catalog.serviceForAudience(origin);
  if (originService !== undefined) {
    const trimmedPath = path.replace(DEFAULT_SUFFIX, "").replace(/\/+$/, "");
    if (hasDefault && trimmedPath.length > 0) {
      return {
        reason: "resource-url",
        scope,
        suggestion: scopeOfAudience(originService, origin),
        service: originService.name,
        explanation: `"${scope}" adds a path to ${originService.displayName}'s audience: the audience is the service's, not a resource's`,
      };
    }
    return {
      reason: "missing-default",
      scope,
      suggestion: scopeOfAudience(originService, origin),
      service: originService.name,
      explanation: `"${scope}" names a delegated permission (or a path) of ${originService.displayName}: an app-only token, as a managed identity gets, is requested with "/.default"`,
    };
  }

  const hosted = catalog.servicesForHost(host);
  if (hosted.length > 0) {
    const service = hosted[0] as ServiceDefinition;
    const suggestion = catalog.scopeForHost(host, service);
    return {
      reason: "resource-url",
      scope,
      ...(suggestion !== undefined ? { suggestion } : {}),
      service: service.name,
      explanation: `"${scope}" is the URL of a resource (${service.displayName}), not a token audience${suggestion ? `: request "${suggestion}"` : ""}${
        hosted.length > 1
          ? ` (or ${hosted
              .slice(1)
              .map((s) => `"${s.scope}" for ${s.displayName}`)
              .join(", ")})`
          : ""
      }`,
    };
  }

  const nearest = nearestAudience(scope, catalog);
  if (nearest !== undefined) {
    return {
      reason: nearest.kind,
      scope,
      suggestion: nearest.suggestion,
      service: nearest.service.name,
      explanation:
        nearest.kind === "other-cloud"
          ? `"${scope}" looks like ${nearest.service.displayName} in the ${cloudOf(host)} cloud, whose audience is "${nearest.audience}"`
          : `"${scope}" is not a known audience; it looks like a misspelling of ${nearest.service.displayName}'s "${nearest.audience}"`,
    };
  }
  return undefined;
}

function otherCloudForTarget(
  scope: string,
  resource: string,
  service: ServiceDefinition,
  catalog: ServiceCatalog,
  target: string | URL | undefined,
): ScopeProblem | undefined {
  if (target === undefined) return undefined;
  const targetHost = hostOf(target);
  if (targetHost === undefined) return undefined;
  const targetServices = catalog.servicesForHost(targetHost);
  if (!targetServices.includes(service)) return undefined;
  const expected = catalog.scopeForHost(targetHost, service);
  if (expected === undefined) return undefined;
  const expectedResource = normalizeAudience(expected.replace(DEFAULT_SUFFIX, ""));
  if (expectedResource === resource || GUID_PATTERN.test(resource)) return undefined;
  if (cloudOf(expectedResource) !== cloudOf(targetHost) || cloudOf(resource) === cloudOf(targetHost)) return undefined;
  return {
    reason: "other-cloud",
    scope,
    suggestion: expected,
    service: service.name,
    explanation: `"${scope}" is ${service.displayName}'s audience in the ${cloudOf(resource)} cloud, but ${targetHost} is in the ${cloudOf(targetHost)} cloud`,
  };
}

function notAUrl(scope: string, catalog: ServiceCatalog): ScopeProblem {
  if (/^\/subscriptions\//i.test(scope)) {
    const owner = resourceIdOwner(catalog);
    return {
      reason: "not-a-url",
      scope,
      ...(owner ? { suggestion: owner.scope, service: owner.name } : {}),
      explanation: `a resource id is not a scope: request the audience of the service you call${ownerHint(owner)}`,
    };
  }
  if (!scope.includes("://") && /^[a-z0-9.-]+\.[a-z]{2,}(\/|$)/i.test(scope)) {
    const withScheme = `https://${scope}`;
    const inner = checkOne(withScheme, catalog, undefined);
    const service = catalog.serviceForAudience(withScheme);
    const suggestion = inner?.suggestion ?? (service ? scopeOfAudience(service, normalizeAudience(withScheme.replace(DEFAULT_SUFFIX, ""))) : undefined);
    if (suggestion !== undefined || service !== undefined) {
      return {
        reason: "not-a-url",
        scope,
        ...(suggestion !== undefined ? { suggestion } : {}),
        ...((inner?.service ?? service?.name) ? { service: (inner?.service ?? service?.name) as string } : {}),
        explanation: "the scope has no https:// scheme: Azure audiences are absolute https:// URIs",
      };
    }
  }
  return {
    reason: "not-a-url",
    scope,
    explanation: "the scope is not a URL or an application id: request the target service's audience followed by /.default",
  };
}

function portalUrl(scope: string, url: URL, catalog: ServiceCatalog): ScopeProblem {
  const text = decodeUriComponentSafe(`${url.pathname}${url.hash}`);
  const provider = /\/providers\/(microsoft\.[a-z0-9]+\/[a-z0-9]+)/i.exec(text)?.[1]?.toLowerCase();
  const service = provider !== undefined ? catalog.services.find((s) => s.resourceProvider?.toLowerCase() === provider) : undefined;
  return {
    reason: "portal-url",
    scope,
    ...(service ? { suggestion: service.scope, service: service.name } : {}),
    explanation: service
      ? `a portal URL is not a token audience: for this ${service.displayName} resource request "${service.scope}"`
      : `a portal URL is not a token audience: request the audience of the service you call${ownerHint(resourceIdOwner(catalog))}`,
  };
}

/** The control plane that owns resource ids (catalog: `ownsResourceIds`), Resource Manager in the built-in catalog. */
function resourceIdOwner(catalog: ServiceCatalog): ServiceDefinition | undefined {
  return catalog.services.find((service) => service.ownsResourceIds === true);
}

function ownerHint(owner: ServiceDefinition | undefined): string {
  return owner !== undefined ? ` (${owner.displayName.replace(/^Azure /, "")}: ${owner.scope})` : "";
}

/** The `/.default` scope for a known audience of a service: the service's own spelling when it has one (Service Bus `//.default`). */
function scopeOfAudience(service: ServiceDefinition, audience: string): string {
  const candidates = [service.scope, ...Object.values(service.scopeByHostSuffix)];
  for (const candidate of candidates) {
    if (normalizeAudience(candidate.replace(DEFAULT_SUFFIX, "")) === audience) return candidate;
  }
  return `${audience}/.default`;
}

/**
 * The known audience a scope was probably meant to be: the host within 3 edits of a known audience's host, or the
 * same service label ("vault", "management") on another Azure suffix. Undefined for exact matches and for hosts
 * far from every known audience (custom APIs).
 */
export function nearestAudience(scope: string, catalog?: CatalogArg): NearestAudience | undefined {
  try {
    if (typeof scope !== "string" || scope.length === 0 || scope.length > MAX_SCOPE) return undefined;
    const cat = toCatalog(catalog);
    const text = scope.includes("://") ? scope : `https://${scope}`;
    const host = hostOf(text)?.replace(/:\d+$/, "");
    if (host === undefined || host.length < 4) return undefined;
    const hostCloud = cloudOf(host);
    // Same-cloud near misses are typos; only when none is close is another cloud's audience considered.
    let best: { audience: string; service: ServiceDefinition; distance: number } | undefined;
    let bestSameCloud: typeof best;
    for (const service of cat.services) {
      for (const audience of service.audiences) {
        const audienceHost = hostOf(audience);
        if (audienceHost === undefined) continue;
        if (audienceHost === host) return undefined; // exact: not a near miss
        const distance = editDistance(host, audienceHost, MAX_DISTANCE);
        if (distance > MAX_DISTANCE) continue;
        if (best === undefined || distance < best.distance) best = { audience, service, distance };
        if (cloudOf(audienceHost) === hostCloud && (bestSameCloud === undefined || distance < bestSameCloud.distance))
          bestSameCloud = { audience, service, distance };
      }
    }
    if (bestSameCloud !== undefined) {
      return { ...bestSameCloud, kind: "typo", suggestion: scopeOfAudience(bestSameCloud.service, bestSameCloud.audience) };
    }
    if (best === undefined && AZURE_DOMAIN.test(host)) {
      // Same service label on another suffix: "vault.chinacloudapi.cn", "management.azure.us".
      const label = host.split(".")[0];
      for (const service of cat.services) {
        const audience = service.audiences.find((a) => hostOf(a)?.split(".")[0] === label);
        if (audience !== undefined) {
          best = { audience, service, distance: 0 };
          break;
        }
      }
    }
    if (best === undefined) return undefined;
    const bestHost = hostOf(best.audience) ?? "";
    if (cloudOf(bestHost) !== hostCloud) {
      const inCloud = sameServiceInCloud(best.service, hostCloud);
      if (inCloud !== undefined) {
        return { audience: inCloud, service: best.service, distance: best.distance, kind: "other-cloud", suggestion: scopeOfAudience(best.service, inCloud) };
      }
    } else if (best.distance === 0) {
      const inCloud = sameServiceInCloud(best.service, hostCloud) ?? best.audience;
      return { audience: inCloud, service: best.service, distance: 0, kind: "typo", suggestion: scopeOfAudience(best.service, inCloud) };
    }
    return { audience: best.audience, service: best.service, distance: best.distance, kind: "typo", suggestion: scopeOfAudience(best.service, best.audience) };
  } catch {
    return undefined;
  }
}

function sameServiceInCloud(service: ServiceDefinition, cloud: CloudName): string | undefined {
  return service.audiences.find((a) => !GUID_PATTERN.test(a) && hostOf(a) !== undefined && cloudOf(hostOf(a) as string) === cloud);
}

/** Levenshtein distance, giving up (returning max + 1) as soon as it must exceed `max`. */
export function editDistance(a: string, b: string, max = Number.MAX_SAFE_INTEGER): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  if (a.length > 512 || b.length > 512) return max + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
      current.push(value);
      if (value < rowMin) rowMin = value;
    }
    if (rowMin > max) return max + 1;
    previous = current;
  }
  return previous[b.length] as number;
}
