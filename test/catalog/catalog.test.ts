import { describe, expect, it } from "vitest";
import { ServiceCatalog, catalogFor, cloudOf, findServiceForScope, normalizeAudience, scopeForUrl, scopeToResource } from "../../src/catalog/resolve.js";
import { GENERIC_FINGERPRINTS, SERVICE_CATALOG } from "../../src/catalog/services.js";
import { DIAGNOSIS_CODES } from "../../src/diagnosis/codes.js";

const REQUIRED = [
  "keyvault",
  "managedhsm",
  "storage",
  "servicebus",
  "eventhubs",
  "cosmos",
  "graph",
  "arm",
  "appconfig",
  "sql",
  "postgres",
  "mysql",
  "redis",
  "openai",
  "eventgrid",
  "monitor",
  "acr",
  "search",
  "loganalytics",
  "aifoundry",
  "kusto",
  "signalr",
  "webpubsub",
  "batch",
  "eventgridnamespaces",
];

describe("SERVICE_CATALOG entries", () => {
  it("has every required service, each name once", () => {
    const names = SERVICE_CATALOG.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of REQUIRED) expect(names).toContain(name);
  });

  it.each(SERVICE_CATALOG.map((s) => [s.name, s] as const))("%s is well formed data", (_name, service) => {
    expect(service.displayName.length).toBeGreaterThan(0);
    for (const suffix of service.hostSuffixes) expect(suffix).toMatch(/^\.[a-z0-9.-]+[a-z]$/);
    for (const host of service.hosts) expect(host).toBe(host.toLowerCase());
    expect(service.hostSuffixes.length + service.hosts.length).toBeGreaterThan(0);
    for (const audience of service.audiences) expect(audience).toBe(normalizeAudience(audience));
    expect(service.scope).toMatch(/\/\.default$/);
    // The SDK's scope is one of the accepted audiences.
    expect(findServiceForScope(service.scope)?.name === service.name || service.audiences.includes(normalizeAudience(scopeToResource(service.scope)))).toBe(
      true,
    );
    for (const [suffix, scope] of Object.entries(service.scopeByHostSuffix)) {
      expect(service.hostSuffixes.includes(suffix) || service.hosts.includes(suffix)).toBe(true);
      expect(service.audiences).toContain(normalizeAudience(scopeToResource(scope)));
    }
    expect(service.roles.length).toBeGreaterThan(0);
    expect(service.propagation.length).toBeGreaterThan(0);
    expect(service.propagationMinutes).toBeGreaterThan(0);
    expect(typeof service.unauthorizedMeansForbidden).toBe("boolean");
    // Data only: no functions anywhere.
    const walk = (value: unknown): void => {
      expect(typeof value).not.toBe("function");
      if (value !== null && typeof value === "object" && !(value instanceof RegExp)) for (const item of Object.values(value)) walk(item);
    };
    walk(service);
  });

  it("fingerprints: unique ids prefixed by their service, valid codes, stateless case-insensitive patterns", () => {
    const all = [
      ...SERVICE_CATALOG.flatMap((s) => s.fingerprints.map((f) => [s.name, f] as const)),
      ...GENERIC_FINGERPRINTS.map((f) => ["generic", f] as const),
    ];
    const ids = all.map(([, f]) => f.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [name, fingerprint] of all) {
      expect(fingerprint.id.startsWith(`${name}.`), fingerprint.id).toBe(true);
      expect(DIAGNOSIS_CODES[fingerprint.code], fingerprint.id).toBeDefined();
      expect(["high", "medium", "low"]).toContain(fingerprint.confidence);
      expect(fingerprint.meaning.length).toBeGreaterThan(10);
      if (fingerprint.message) {
        expect(fingerprint.message.flags, fingerprint.id).toContain("i");
        expect(fingerprint.message.global || fingerprint.message.sticky, fingerprint.id).toBe(false);
      }
      expect(
        fingerprint.status !== undefined ||
          fingerprint.errorCode !== undefined ||
          fingerprint.message !== undefined ||
          fingerprint.substatus !== undefined ||
          fingerprint.challengeError !== undefined,
        fingerprint.id,
      ).toBe(true);
    }
  });

  it("services that answer 401 for a missing permission say so", () => {
    const flagged = SERVICE_CATALOG.filter((s) => s.unauthorizedMeansForbidden)
      .map((s) => s.name)
      .sort();
    expect(flagged).toEqual(["acr", "aifoundry", "eventgrid", "eventgridnamespaces", "eventhubs", "openai", "servicebus"]);
  });

  it("every H2-capable entry of the azure-rbac model names how to find its scope or quotes it", () => {
    for (const service of SERVICE_CATALOG.filter((s) => s.accessModel === "azure-rbac")) {
      expect((service.scopeHints ?? []).length, service.name).toBeGreaterThan(0);
    }
  });
});

describe("scopeForUrl", () => {
  it.each([
    ["https://kv.vault.azure.net/secrets/x", "https://vault.azure.net/.default"],
    ["https://kv.vault.azure.cn/secrets/x", "https://vault.azure.cn/.default"],
    ["https://kv.vault.usgovcloudapi.net/", "https://vault.usgovcloudapi.net/.default"],
    ["https://hsm.managedhsm.azure.net/keys", "https://managedhsm.azure.net/.default"],
    ["https://st.blob.core.windows.net/c", "https://storage.azure.com/.default"],
    ["https://st.queue.core.windows.net/q", "https://storage.azure.com/.default"],
    ["https://st.table.core.windows.net/t", "https://storage.azure.com/.default"],
    ["https://st.file.core.windows.net/s", "https://storage.azure.com/.default"],
    ["https://st.dfs.core.windows.net/fs", "https://storage.azure.com/.default"],
    ["https://st.blob.core.chinacloudapi.cn/c", "https://storage.azure.com/.default"],
    ["https://st.blob.core.usgovcloudapi.net/c", "https://storage.azure.com/.default"],
    ["https://ns.servicebus.windows.net/q", "https://servicebus.azure.net//.default"],
    ["sb://ns.servicebus.windows.net/q", "https://servicebus.azure.net//.default"],
    ["https://acct.documents.azure.com:443/", "https://acct.documents.azure.com/.default"],
    ["https://acct.documents.azure.us/", "https://acct.documents.azure.us/.default"],
    ["https://graph.microsoft.com/v1.0/me", "https://graph.microsoft.com/.default"],
    ["https://graph.microsoft.us/v1.0/users", "https://graph.microsoft.us/.default"],
    ["https://dod-graph.microsoft.us/v1.0/users", "https://dod-graph.microsoft.us/.default"],
    ["https://microsoftgraph.chinacloudapi.cn/v1.0/users", "https://microsoftgraph.chinacloudapi.cn/.default"],
    ["https://management.azure.com/subscriptions", "https://management.azure.com/.default"],
    ["https://management.usgovcloudapi.net/subscriptions", "https://management.usgovcloudapi.net/.default"],
    ["https://management.chinacloudapi.cn/subscriptions", "https://management.chinacloudapi.cn/.default"],
    ["https://cs.azconfig.io/kv", "https://appconfig.azure.com/.default"],
    ["https://cs.azconfig.azure.us/kv", "https://appconfig.azure.us/.default"],
    ["https://cs.azconfig.azure.cn/kv", "https://appconfig.azure.cn/.default"],
    ["mssql://sql.database.windows.net", "https://database.windows.net/.default"],
    ["https://sql.database.usgovcloudapi.net", "https://database.usgovcloudapi.net/.default"],
    ["https://pg.postgres.database.azure.com", "https://ossrdbms-aad.database.windows.net/.default"],
    ["https://pg.postgres.database.chinacloudapi.cn", "https://ossrdbms-aad.database.chinacloudapi.cn/.default"],
    ["https://my.mysql.database.azure.com", "https://ossrdbms-aad.database.windows.net/.default"],
    ["rediss://cache.redis.cache.windows.net:6380", "https://redis.azure.com/.default"],
    ["https://amr.westeurope.redis.azure.net", "https://redis.azure.com/.default"],
    ["https://oai.openai.azure.com/openai", "https://cognitiveservices.azure.com/.default"],
    ["https://ai.cognitiveservices.azure.com/", "https://cognitiveservices.azure.com/.default"],
    ["https://oai.openai.azure.us/", "https://cognitiveservices.azure.us/.default"],
    ["https://topic.westeurope-1.eventgrid.azure.net/api/events", "https://eventgrid.azure.net/.default"],
    ["https://dce.westeurope-1.ingest.monitor.azure.com/dataCollectionRules/x", "https://monitor.azure.com/.default"],
    ["https://dce.usgovvirginia-1.ingest.monitor.azure.us/", "https://monitor.azure.us/.default"],
    ["https://reg.azurecr.io/v2/", "https://containerregistry.azure.net/.default"],
    ["https://srch-orders.search.windows.net/indexes/docs/docs/search", "https://search.azure.com/.default"],
    ["https://srch-orders.search.azure.us/indexes", "https://search.azure.us/.default"],
    ["https://srch-orders.search.azure.cn/indexes", "https://search.azure.cn/.default"],
    ["https://api.loganalytics.io/v1/workspaces/x/query", "https://api.loganalytics.io/.default"],
    ["https://api.loganalytics.azure.com/v1/workspaces/x/query", "https://api.loganalytics.io/.default"],
    ["https://api.loganalytics.us/v1/workspaces/x/query", "https://api.loganalytics.us/.default"],
    ["https://api.loganalytics.azure.cn/v1/workspaces/x/query", "https://api.loganalytics.azure.cn/.default"],
    ["https://adx-orders.westeurope.kusto.windows.net/v2/rest/query", "https://kusto.kusto.windows.net/.default"],
    ["https://adx-orders.usgovvirginia.kusto.usgovcloudapi.net/", "https://kusto.kusto.usgovcloudapi.net/.default"],
    ["https://adx-orders.chinaeast2.kusto.chinacloudapi.cn/", "https://kusto.kusto.chinacloudapi.cn/.default"],
    ["https://sig-orders.service.signalr.net/api/hubs/chat/:send", "https://signalr.azure.com/.default"],
    ["https://wps-orders.webpubsub.azure.com/api/hubs/chat/:send", "https://webpubsub.azure.com/.default"],
    ["https://batch-orders.westeurope.batch.azure.com/jobs", "https://batch.core.windows.net//.default"],
    ["https://batch-orders.usgovvirginia.batch.usgovcloudapi.net/jobs", "https://batch.core.usgovcloudapi.net//.default"],
    ["https://batch-orders.chinanorth2.batch.chinacloudapi.cn/jobs", "https://batch.chinacloudapi.cn//.default"],
  ])("%s → %s", (url, scope) => {
    expect(scopeForUrl(url)).toBe(scope);
  });

  it("undefined for unknown hosts and non-URLs; extra hosts through services", () => {
    expect(scopeForUrl("https://example.com")).toBeUndefined();
    expect(scopeForUrl("not a url")).toBeUndefined();
    expect(scopeForUrl("http://127.0.0.1:10000/devstoreaccount1", [{ name: "storage", hosts: ["127.0.0.1:10000"] }])).toBe(
      "https://storage.azure.com/.default",
    );
    expect(scopeForUrl("https://orders.contoso.com/x", [{ name: "orders", hosts: ["orders.contoso.com"], scope: "api://orders/.default" }])).toBe(
      "api://orders/.default",
    );
  });
});

describe("ServiceCatalog", () => {
  const catalog = new ServiceCatalog();
  it("Service Bus and Event Hubs share their host suffixes", () => {
    expect(catalog.servicesForHost("ns.servicebus.windows.net").map((s) => s.name)).toEqual(["servicebus", "eventhubs"]);
    expect(catalog.serviceForHost("ns.servicebus.windows.net")?.name).toBe("servicebus");
  });
  it("the longest matching suffix wins (PostgreSQL over SQL)", () => {
    expect(catalog.servicesForHost("pg.postgres.database.chinacloudapi.cn").map((s) => s.name)).toEqual(["postgres"]);
    expect(catalog.servicesForHost("sql.database.chinacloudapi.cn").map((s) => s.name)).toEqual(["sql"]);
  });
  it("audiences with and without trailing slash, v2 GUID audiences", () => {
    expect(catalog.serviceForAudience("https://management.core.windows.net/")?.name).toBe("arm");
    expect(catalog.serviceForAudience("https://servicebus.azure.net/")?.name).toBe("servicebus");
    expect(catalog.serviceForAudience("cfa8b339-82a2-471a-a3c9-0fc0be7a4093")?.name).toBe("keyvault");
    expect(catalog.serviceForAudience("https://st.blob.core.windows.net")?.name).toBe("storage");
  });
  it("merges the services option and ignores malformed entries", () => {
    const merged = catalogFor([
      { name: "keyvault", hosts: ["secrets.contoso.internal"] },
      { name: "orders", audiences: ["api://orders"], hosts: ["orders.contoso.com"] },
      { name: "no-audience", hosts: ["x.example"] },
      null as never,
      { name: 42 } as never,
      { name: "storage", hosts: "one-host.example" as never, hostSuffixes: [1, null] as never },
    ]);
    expect(merged.serviceForHost("secrets.contoso.internal")?.name).toBe("keyvault");
    expect(merged.serviceForHost("orders.contoso.com")?.name).toBe("orders");
    expect(merged.serviceForHost("x.example")).toBeUndefined();
    expect(merged.serviceForHost("one-host.example")?.name).toBe("storage");
  });
  it("caches the catalog per services array", () => {
    const services = [{ name: "storage", hosts: ["a.example"] }];
    expect(catalogFor(services)).toBe(catalogFor(services));
    expect(catalogFor()).toBe(catalogFor([]));
  });
  it("cloudOf", () => {
    expect(cloudOf("kv.vault.azure.cn")).toBe("china");
    expect(cloudOf("https://management.chinacloudapi.cn")).toBe("china");
    expect(cloudOf("kv.vault.usgovcloudapi.net")).toBe("usgov");
    expect(cloudOf("https://graph.microsoft.us")).toBe("usgov");
    expect(cloudOf("kv.vault.azure.net")).toBe("public");
  });
});

describe("catalog next steps: each one string, a sentence with its command", () => {
  const steps = [
    ...[...SERVICE_CATALOG.flatMap((s) => s.fingerprints), ...GENERIC_FINGERPRINTS].flatMap((f) => (f.nextSteps ?? []).map((step) => [f.id, step] as const)),
    ...SERVICE_CATALOG.flatMap((s) => (s.grantTemplates ?? []).map((step) => [`${s.name} grant`, step] as const)),
  ];
  it.each(steps)("%s: %s", (_id, step) => {
    expect(step).toMatch(/^[A-Z]/); // a sentence first, never a bare command
    expect(step).not.toMatch(/^(az |CREATE |select |GRANT )/);
    expect(step.trimEnd()).not.toMatch(/:$/); // never a sentence that announces the next step
  });
});
