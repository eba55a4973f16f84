import { GENERIC_QUOTES, SERVICE_CATALOG } from "./services.js";
import { DIAGNOSIS_CODES } from "../diagnosis/codes.js";
import type { DiagnosisCode } from "../diagnosis/types.js";
import type {
  AccessModel,
  ErrorFingerprint,
  FailureProtocol,
  QuotedFact,
  QuotedFactKind,
  RoleAdvice,
  RoleCondition,
  ScopeHint,
  ServiceDefinition,
  ServiceDefinitionInput,
  ServiceProbeRule,
} from "./types.js";
import { ACCESS_MODELS } from "./accessModels.js";
import { decodeUriComponentSafe } from "../util/headers.js";

/** Lower case, no trailing slashes: `https://servicebus.azure.net/` and `https://servicebus.azure.net` are one audience. */
export function normalizeAudience(audience: string): string {
  return String(audience).trim().toLowerCase().replace(/\/+$/, "");
}

/** The resource a scope names, as ManagedIdentityCredential sends it: one `/.default` suffix removed. */
export function scopeToResource(scope: string): string {
  return scope.endsWith("/.default") ? scope.slice(0, -"/.default".length) : scope;
}

/** The host (and port, when not default) of a URL, lower case; undefined for anything that is not a URL. */
/**
 * An http(s) URL with a plain host name (labels of letters, digits and `-`, the last starting with a letter: not an
 * IPv4 form; no port, no credentials): its host, without a URL parser (hot on failure paths).
 */
const PLAIN_HOST = /^https?:\/\/((?:[A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*)(?:[/?#]|$)/i;

export function hostOf(url: string | URL): string | undefined {
  if (typeof url === "string") {
    const plain = PLAIN_HOST.exec(url);
    if (plain !== null) return plain[1]!.toLowerCase() || undefined;
  }
  try {
    const parsed = typeof url === "string" ? new URL(url) : url;
    return parsed.host.toLowerCase() || undefined;
  } catch {
    return undefined;
  }
}

/** The sovereign cloud a host or audience belongs to, guessed from its DNS suffix. */
export type CloudName = "public" | "china" | "usgov" | "germany";

/** Which cloud a host (or an audience URL) lives in. Heuristic on DNS suffixes; "public" when nothing else fits. */
export function cloudOf(hostOrUrl: string): CloudName {
  const host = (hostOf(hostOrUrl) ?? String(hostOrUrl)).toLowerCase().replace(/:\d+$/, "").replace(/\/.*$/, "");
  if (/(\.|^)chinacloudapi\.cn$|\.azure\.cn$|\.cn$/.test(host)) return "china";
  if (/(\.|^)usgovcloudapi\.net$|\.azure\.us$|\.microsoft\.us$|\.us$/.test(host)) return "usgov";
  if (/(\.|^)microsoftazure\.de$|cloudapi\.de$/.test(host)) return "germany";
  return "public";
}

/** A catalog: the built-in services merged with the `services` option. Immutable once made. */
export class ServiceCatalog {
  readonly services: readonly ServiceDefinition[];
  private readonly hostCache = new Map<string, readonly ServiceDefinition[]>();

  constructor(extra: readonly ServiceDefinitionInput[] = []) {
    this.services = mergeServices(SERVICE_CATALOG, Array.isArray(extra) ? extra : []);
  }

  /**
   * The token in an `Authorization` value: `Bearer …`, or a service's own form as its catalog entry declares it
   * (`probe.authorization`, e.g. Cosmos DB's URL-encoded `type=aad&ver=1.0&sig={token}`).
   */
  tokenOfAuthorization(value: string | undefined | null): string | undefined {
    if (typeof value !== "string") return undefined;
    if (/^bearer\s+/i.test(value)) return value.replace(/^bearer\s+/i, "").trim();
    const decoded = value.includes("%") ? decodeUriComponentSafe(value) : value;
    for (const form of (this.authorizationForms ??= authorizationFormsOf(this.services))) {
      const match = form.exec(decoded);
      if (match?.[1]) return match[1];
    }
    return undefined;
  }

  /** The services' own `Authorization` forms as patterns capturing the token (made on first use). */
  private authorizationForms: RegExp[] | undefined;

  /** Every service's quotes, then the generic ones, compiled and grouped by fact on first use (see QuotedFact). */
  get quotes(): CompiledQuotes {
    return (this.compiledQuotes ??= compileQuotes([...this.services.flatMap((service) => service.quotes ?? []), ...GENERIC_QUOTES]));
  }

  private compiledQuotes: CompiledQuotes | undefined;

  byName(name: string): ServiceDefinition | undefined {
    return this.services.find((service) => service.name === name);
  }

  /**
   * Every service a host may belong to, best first: exact hosts (custom domains, emulators) before host suffixes.
   * Several services share suffixes (Service Bus and Event Hubs): callers tell them apart with other evidence.
   */
  servicesForHost(host: string): readonly ServiceDefinition[] {
    const key = String(host).toLowerCase();
    const cached = this.hostCache.get(key);
    if (cached !== undefined) return cached;
    const hostname = key.replace(/:\d+$/, "");
    const exact = this.services.filter((s) => s.hosts.includes(key) || s.hosts.includes(hostname));
    let found: readonly ServiceDefinition[] = exact;
    if (exact.length === 0) {
      // The longest matching suffix wins (".core.chinacloudapi.cn" is shorter than ".postgres…" would be), ties keep catalog order.
      let best = 0;
      const matches: { service: ServiceDefinition; length: number }[] = [];
      for (const service of this.services) {
        let length = 0;
        for (const suffix of service.hostSuffixes) {
          if ((hostname.endsWith(suffix) && hostname.length > suffix.length) || `.${hostname}` === suffix) length = Math.max(length, suffix.length);
        }
        if (length > 0) {
          matches.push({ service, length });
          best = Math.max(best, length);
        }
      }
      found = matches.filter((m) => m.length === best).map((m) => m.service);
    }
    if (this.hostCache.size < 1000) this.hostCache.set(key, found);
    return found;
  }

  /** The service a host belongs to: exact hosts first (custom domains, emulators), then host suffixes. */
  serviceForHost(host: string): ServiceDefinition | undefined {
    return this.servicesForHost(host)[0];
  }

  serviceForUrl(url: string | URL): ServiceDefinition | undefined {
    const host = hostOf(url);
    return host === undefined ? undefined : this.serviceForHost(host);
  }

  /** The service whose accepted audiences include `audience` (a resource URI or scope). */
  serviceForAudience(audience: string): ServiceDefinition | undefined {
    const normalized = normalizeAudience(scopeToResource(String(audience)));
    return this.services.find((service) => audienceBelongsTo(service, normalized));
  }

  /** The scope to request for a host, for a given service (defaults to the host's first service). */
  scopeForHost(host: string, service: ServiceDefinition | undefined = this.serviceForHost(host)): string | undefined {
    if (service === undefined) return undefined;
    const hostname = host.toLowerCase().replace(/:\d+$/, "");
    if (service.scopeTemplate !== undefined && service.hostSuffixes.some((suffix) => hostname.endsWith(suffix))) {
      return service.scopeTemplate.replace("{hostname}", hostname);
    }
    for (const [suffix, scope] of Object.entries(service.scopeByHostSuffix)) {
      if (hostname.endsWith(suffix)) return scope;
    }
    return service.scope;
  }

  /** The scope to request for a URL: the per-cloud scope of its service, or undefined for an unknown host. */
  scopeForUrl(url: string | URL): string | undefined {
    const host = hostOf(url);
    if (host === undefined) return undefined;
    return this.scopeForHost(host);
  }
}

/** What a service's roles govern; `"data"` unless the entry says `"control"` (Resource Manager). */
export function planeOf(service: ServiceDefinition): "data" | "control" {
  return service.plane === "control" ? "control" : "data";
}

/** Whether a token audience (already normalized) is one the service accepts. */
export function audienceBelongsTo(service: ServiceDefinition, normalizedAudience: string): boolean {
  return (
    service.audiences.includes(normalizedAudience) ||
    service.audiencePatterns.some((pattern) => {
      pattern.lastIndex = 0;
      return pattern.test(normalizedAudience);
    })
  );
}

function stringList(list: unknown): string[] {
  if (!Array.isArray(list)) return typeof list === "string" ? [list.toLowerCase()] : [];
  return list.filter((item): item is string => typeof item === "string").map((item) => item.toLowerCase());
}

function arrayOf<T>(list: unknown): T[] | undefined {
  return Array.isArray(list) ? (list as T[]) : undefined;
}

function mergeServices(base: readonly ServiceDefinition[], extra: readonly ServiceDefinitionInput[]): ServiceDefinition[] {
  const merged = base.map((service) => ({ ...service }));
  let list: readonly ServiceDefinitionInput[];
  try {
    list = extra.slice(0, 100);
  } catch {
    return merged;
  }
  for (const raw of list) {
    // Entries are user input: copy the fields through guarded reads, skip an entry whose reads fail.
    let input: ServiceDefinitionInput;
    try {
      if (raw === null || typeof raw !== "object" || typeof raw.name !== "string") continue;
      input = { ...raw, name: raw.name };
    } catch {
      continue;
    }
    try {
      mergeOne(merged, input);
    } catch {
      // A malformed entry is ignored.
    }
  }
  return merged;
}

/** A user fingerprint, copied with only well-typed fields; undefined when it cannot be used. */
function cleanFingerprint(raw: unknown): ErrorFingerprint | undefined {
  if (raw === null || typeof raw !== "object") return undefined;
  const f = raw as Record<string, unknown>;
  if (typeof f.id !== "string" || typeof f.code !== "string" || !(f.code in DIAGNOSIS_CODES)) return undefined;
  const out: ErrorFingerprint = {
    id: f.id,
    code: f.code as DiagnosisCode,
    confidence: f.confidence === "high" || f.confidence === "low" ? f.confidence : "medium",
    meaning: typeof f.meaning === "string" ? f.meaning : f.id,
  };
  if (typeof f.status === "number" || (Array.isArray(f.status) && f.status.every((x) => typeof x === "number"))) out.status = f.status as number | number[];
  if (typeof f.errorCode === "string" || (Array.isArray(f.errorCode) && f.errorCode.every((x) => typeof x === "string")))
    out.errorCode = f.errorCode as string | string[];
  if (typeof f.substatus === "string" || (Array.isArray(f.substatus) && f.substatus.every((x) => typeof x === "string")))
    out.substatus = f.substatus as string | string[];
  if (f.message instanceof RegExp) out.message = f.message;
  if (typeof f.challengeError === "string") out.challengeError = f.challengeError;
  if (Array.isArray(f.protocols)) out.protocols = f.protocols.filter((p): p is FailureProtocol => p === "http" || p === "amqp" || p === "sql" || p === "redis");
  if (Array.isArray(f.nextSteps)) out.nextSteps = f.nextSteps.filter((step): step is string => typeof step === "string");
  if (f.skipRoleAdvice === true) out.skipRoleAdvice = true;
  if (f.normalChallenge === true) out.normalChallenge = true;
  if (f.fallback === true) out.fallback = true;
  return out;
}

/** A user role, copied with only well-typed fields. */
function cleanRole(raw: unknown): RoleAdvice | undefined {
  if (raw === null || typeof raw !== "object") return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.role !== "string") return undefined;
  const out: RoleAdvice = { operation: typeof r.operation === "string" ? r.operation : "default", role: r.role };
  if (typeof r.roleDefinitionId === "string") out.roleDefinitionId = r.roleDefinitionId;
  const when = r.when;
  if (when !== null && typeof when === "object") {
    const w = when as Record<string, unknown>;
    const condition: RoleCondition = {};
    if (w.action instanceof RegExp) condition.action = w.action;
    if (w.path instanceof RegExp) condition.path = w.path;
    if (w.host instanceof RegExp) condition.host = w.host;
    if (Array.isArray(w.methods)) condition.methods = w.methods.filter((m): m is string => typeof m === "string").map((m) => m.toUpperCase());
    out.when = condition;
  }
  return out;
}

function cleanScopeHints(raw: unknown): ScopeHint[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const hints: ScopeHint[] = [];
  for (const item of raw) {
    if (item === null || typeof item !== "object") continue;
    const h = item as Record<string, unknown>;
    if (typeof h.template !== "string" || !(h.from === "resource" || h.from === "path" || h.from === "text" || h.from === "host")) continue;
    if (h.from !== "host" && !(h.pattern instanceof RegExp)) continue;
    const hint: ScopeHint = { from: h.from, template: h.template };
    if (h.pattern instanceof RegExp) hint.pattern = h.pattern;
    if (typeof h.label === "string") hint.label = h.label;
    const alternative = h.alternative as Record<string, unknown> | null | undefined;
    if (alternative !== null && typeof alternative === "object" && typeof alternative.template === "string" && typeof alternative.label === "string") {
      hint.alternative = { template: alternative.template, label: alternative.label };
    }
    hints.push(hint);
  }
  return hints;
}

/** An HTTP header name (RFC 9110 token); `Authorization` is the rule's `authorization`, never a plain header. */
function isHeaderName(name: string): boolean {
  return /^[!#$%&'*+.^_`|~0-9a-z-]{1,100}$/i.test(name) && name.toLowerCase() !== "authorization";
}

/** A value that fits in a query parameter or header: no line breaks or NULs (fetch would throw on them). */
function isFieldValue(value: unknown): value is string {
  return typeof value === "string" && value.length <= 1000 && !/[\r\n\0]/.test(value);
}

function cleanPairs(raw: unknown, validName: (name: string) => boolean): Record<string, string> | undefined {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return undefined;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw).slice(0, 20)) if (validName(name) && isFieldValue(value)) out[name] = value;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A user probe rule, copied with only well-typed fields; undefined when nothing in it can be used. */
function cleanProbe(raw: unknown): ServiceProbeRule | undefined {
  if (raw === null || typeof raw !== "object") return undefined;
  const p = raw as Record<string, unknown>;
  const out: ServiceProbeRule = {};
  const query = cleanPairs(p.query, (name) => name.length > 0 && name.length <= 100);
  if (query !== undefined) out.query = query;
  const headers = cleanPairs(p.headers, isHeaderName);
  if (headers !== undefined) out.headers = headers;
  if (typeof p.dateHeader === "string" && isHeaderName(p.dateHeader)) out.dateHeader = p.dateHeader;
  if (p.path instanceof RegExp) out.path = p.path;
  const authorization = p.authorization as Record<string, unknown> | null | undefined;
  if (authorization !== null && typeof authorization === "object" && isFieldValue(authorization.template) && authorization.template.includes("{token}")) {
    out.authorization = { template: authorization.template, ...(authorization.urlEncode === true ? { urlEncode: true } : {}) };
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

const QUOTED_FACT_KINDS: ReadonlySet<string> = new Set([
  "callerObjectId",
  "callerAppId",
  "callerIssuer",
  "callerMirid",
  "resource",
  "action",
  "noAssignment",
  "resourceTenantId",
  "entityUrl",
]);

/** User quotes, copied with only well-typed fields. */
function cleanQuotes(raw: unknown): QuotedFact[] {
  const out: QuotedFact[] = [];
  for (const item of arrayOf<unknown>(raw) ?? []) {
    if (item === null || typeof item !== "object") continue;
    const q = item as Record<string, unknown>;
    if (typeof q.fact === "string" && QUOTED_FACT_KINDS.has(q.fact) && q.pattern instanceof RegExp && typeof q.needs === "string") {
      out.push({ fact: q.fact as QuotedFactKind, pattern: q.pattern, needs: q.needs });
    }
  }
  return out;
}

function mergeOne(merged: ServiceDefinition[], input: ServiceDefinitionInput): void {
  const existing = merged.find((service) => service.name === input.name);
  const fingerprints = arrayOf<unknown>(input.fingerprints)
    ?.map(cleanFingerprint)
    .filter((f): f is ErrorFingerprint => f !== undefined);
  const roles = arrayOf<unknown>(input.roles)
    ?.map(cleanRole)
    .filter((r): r is RoleAdvice => r !== undefined);
  const scopeHints = cleanScopeHints(input.scopeHints);
  const quotes = cleanQuotes(input.quotes);
  const evidenceHeaders = stringList(input.evidenceHeaders);
  const probe = cleanProbe(input.probe);
  if (existing !== undefined) {
    existing.hosts = [...stringList(input.hosts), ...existing.hosts];
    existing.hostSuffixes = [...stringList(input.hostSuffixes), ...existing.hostSuffixes];
    existing.audiences = [...stringList(input.audiences).map(normalizeAudience), ...existing.audiences];
    if (fingerprints) existing.fingerprints = [...fingerprints, ...existing.fingerprints];
    if (roles && roles.length > 0) existing.roles = [...roles];
    if (input.plane === "data" || input.plane === "control") existing.plane = input.plane;
    if (probe !== undefined) existing.probe = { ...existing.probe, ...probe };
    if (quotes.length > 0) existing.quotes = [...quotes, ...(existing.quotes ?? [])];
    if (evidenceHeaders.length > 0) existing.evidenceHeaders = [...(existing.evidenceHeaders ?? []), ...evidenceHeaders];
    return;
  }
  const scope = typeof input.scope === "string" ? input.scope : undefined;
  const audiences = (stringList(input.audiences).length > 0 ? stringList(input.audiences) : scope ? [scopeToResource(scope)] : []).map(normalizeAudience);
  // A new service without an audience cannot be checked for H3 and has no scope to request: skip it.
  if (audiences.length === 0) return;
  merged.unshift({
    name: input.name,
    displayName: typeof input.displayName === "string" ? input.displayName : input.name,
    hostSuffixes: stringList(input.hostSuffixes),
    hosts: stringList(input.hosts),
    audiences,
    audiencePatterns: [],
    scope: scope ?? `${audiences[0]}/.default`,
    scopeByHostSuffix: {},
    accessModel: ACCESS_MODELS.includes(input.accessModel as AccessModel) ? (input.accessModel as AccessModel) : "azure-rbac",
    roles: roles ?? [],
    controlPlaneRoles: stringList(input.controlPlaneRoles).length > 0 ? (input.controlPlaneRoles as string[]).filter((r) => typeof r === "string") : [],
    ...(input.plane === "data" || input.plane === "control" ? { plane: input.plane } : {}),
    propagation: typeof input.propagation === "string" ? input.propagation : "up to ~10 minutes",
    propagationMinutes: typeof input.propagationMinutes === "number" ? input.propagationMinutes : 10,
    unauthorizedMeansForbidden: input.unauthorizedMeansForbidden === true,
    challengeFirst: input.challengeFirst === true,
    fingerprints: fingerprints ?? [],
    ...(scopeHints !== undefined ? { scopeHints } : {}),
    ...(quotes.length > 0 ? { quotes } : {}),
    ...(evidenceHeaders.length > 0 ? { evidenceHeaders } : {}),
    ...(probe !== undefined ? { probe } : {}),
  });
}

const defaultCatalog = new ServiceCatalog();
const catalogCache = new WeakMap<readonly ServiceDefinitionInput[], ServiceCatalog>();

/** The catalog for a `services` option; the built-in one is shared when there is nothing to add. Cached per array. */
export function catalogFor(services?: readonly ServiceDefinitionInput[]): ServiceCatalog {
  try {
    if (!Array.isArray(services) || services.length === 0) return defaultCatalog;
    const cached = catalogCache.get(services);
    if (cached !== undefined) return cached;
    const catalog = new ServiceCatalog(services);
    catalogCache.set(services, catalog);
    return catalog;
  } catch {
    // A hostile `services` value (a Proxy whose traps throw): the built-in catalog still works.
    return defaultCatalog;
  }
}

/**
 * Which scope to request for a URL: `scopeForUrl("https://myvault.vault.azure.net/secrets/x")` →
 * `"https://vault.azure.net/.default"`. Undefined for a host the catalog does not know.
 */
export function scopeForUrl(url: string | URL, services?: readonly ServiceDefinitionInput[]): string | undefined {
  try {
    return catalogFor(services).scopeForUrl(url);
  } catch {
    return undefined;
  }
}

/**
 * The service a scope (or resource URI / audience) belongs to: `https://vault.azure.net/.default` → keyvault.
 * Exact audiences and account-specific audiences only; see `nearestAudience` for near misses.
 */
export function findServiceForScope(scope: string, services?: readonly ServiceDefinitionInput[]): ServiceDefinition | undefined {
  try {
    if (typeof scope !== "string") return undefined;
    return catalogFor(services).serviceForAudience(scope.replace(/\/\/\.default$/, "/.default"));
  } catch {
    return undefined;
  }
}

/** The token of an `Authorization` value, by the built-in catalog's forms (see ServiceCatalog.tokenOfAuthorization). */
export function tokenOfAuthorization(value: string | undefined | null): string | undefined {
  return defaultCatalog.tokenOfAuthorization(value);
}

function authorizationFormsOf(services: readonly ServiceDefinition[]): RegExp[] {
  const forms: RegExp[] = [];
  for (const service of services) {
    const template = service.probe?.authorization?.template;
    if (typeof template !== "string" || !template.includes("{token}") || /^bearer\s/i.test(template)) continue;
    const [before, after] = template.split("{token}", 2) as [string, string];
    const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    forms.push(new RegExp(`^${escape(before)}([^&\\s]+)${escape(after)}$`, "i"));
  }
  return forms;
}

/** A compiled quote: its pattern (global for list facts, not for single ones) and the literal it needs. */
export interface CompiledQuote {
  regex: RegExp;
  needs: string;
}

/** Quotes by fact, in catalog order, duplicates (two services sharing a wording) once. */
export type CompiledQuotes = Readonly<Record<QuotedFactKind, readonly CompiledQuote[]>>;

/** Facts that collect every match; the others take the first. */
const LIST_FACTS: ReadonlySet<QuotedFactKind> = new Set(["resource", "action"]);

function compileQuotes(quotes: readonly QuotedFact[]): CompiledQuotes {
  const byFact: Record<QuotedFactKind, CompiledQuote[]> = {
    callerObjectId: [],
    callerAppId: [],
    callerIssuer: [],
    callerMirid: [],
    resource: [],
    action: [],
    noAssignment: [],
    resourceTenantId: [],
    entityUrl: [],
  };
  const seen = new Set<string>();
  for (const quote of quotes) {
    const list = byFact[quote.fact];
    if (list === undefined || !(quote.pattern instanceof RegExp) || typeof quote.needs !== "string") continue;
    const flags = quote.pattern.flags.replace(/[gy]/g, "") + (LIST_FACTS.has(quote.fact) ? "g" : "");
    const key = `${quote.fact}/${quote.pattern.source}/${flags}`;
    if (seen.has(key)) continue;
    seen.add(key);
    list.push({ regex: new RegExp(quote.pattern.source, flags), needs: quote.needs.toLowerCase() });
  }
  return byFact;
}
