import { describe, expect, it } from "vitest";
import { checkScope, editDistance, nearestAudience, type ScopeProblem } from "../../src/classify/scope.js";
import { ServiceCatalog, findServiceForScope } from "../../src/catalog/resolve.js";

const catalog = new ServiceCatalog();

describe("checkScope: no problem", () => {
  it.each([
    "https://vault.azure.net/.default",
    "https://vault.azure.cn/.default",
    "https://vault.usgovcloudapi.net/.default",
    "https://managedhsm.azure.net/.default",
    "https://storage.azure.com/.default",
    "https://storders.blob.core.windows.net/.default",
    "https://servicebus.azure.net//.default",
    "https://servicebus.azure.net/.default",
    "https://eventhubs.azure.net//.default",
    "https://eh-ns.servicebus.windows.net/.default", // Event Hubs' Kafka audience (for Service Bus it would be wrong; a scope alone cannot tell)
    "https://cosmos-orders.documents.azure.com/.default",
    "https://cosmos.azure.com/.default",
    "https://graph.microsoft.com/.default",
    "https://graph.microsoft.us/.default",
    "https://management.azure.com/.default",
    "https://management.core.windows.net//.default",
    "https://management.chinacloudapi.cn/.default",
    "https://appconfig.azure.com/.default",
    "https://database.windows.net//.default",
    "https://ossrdbms-aad.database.windows.net/.default",
    "https://redis.azure.com/.default",
    "https://cognitiveservices.azure.com/.default",
    "https://eventgrid.azure.net/.default",
    "https://monitor.azure.com/.default",
    "https://containerregistry.azure.net/.default",
    // Unknown but well formed: custom APIs are legitimate.
    "api://5e6f7a8b-0000-1111-2222-333344445555/.default",
    "5e6f7a8b-0000-1111-2222-333344445555/.default",
    "5e6f7a8b-0000-1111-2222-333344445555",
    "https://orders-api.contoso.com/.default",
    "https://contoso.onmicrosoft.com/orders-api/.default",
    ["https://vault.azure.net/.default"],
  ])("%s", (scope) => {
    expect(checkScope(scope as string, catalog)).toBeUndefined();
  });
});

describe("checkScope: problems", () => {
  it.each<[string | string[], Partial<ScopeProblem>]>([
    [["https://vault.azure.net/.default", "https://storage.azure.com/.default"], { reason: "multiple-scopes", suggestion: "https://vault.azure.net/.default" }],
    ["https://vault.azure.net/.default https://storage.azure.com/.default", { reason: "multiple-scopes" }],
    ["https://vualt.azure.net/.default", { reason: "typo", suggestion: "https://vault.azure.net/.default", service: "keyvault" }],
    ["https://vault.azure.com/.default", { reason: "typo", suggestion: "https://vault.azure.net/.default", service: "keyvault" }],
    ["https://storage.azure.net/.default", { reason: "typo", suggestion: "https://storage.azure.com/.default", service: "storage" }],
    ["https://servicebus.azure.com//.default", { reason: "typo", suggestion: "https://servicebus.azure.net//.default", service: "servicebus" }],
    ["https://graph.microsoft.co/.default", { reason: "typo", suggestion: "https://graph.microsoft.com/.default", service: "graph" }],
    ["https://managment.azure.com/.default", { reason: "typo", suggestion: "https://management.azure.com/.default", service: "arm" }],
    ["https://cognitiveservice.azure.com/.default", { reason: "typo", suggestion: "https://cognitiveservices.azure.com/.default", service: "openai" }],
    ["http://vault.azure.net/.default", { reason: "typo", suggestion: "https://vault.azure.net/.default" }],
    ["https://servicebus.windows.net/.default", { reason: "resource-url", suggestion: "https://servicebus.azure.net//.default", service: "servicebus" }],
    ["https://vault.azure.us/.default", { reason: "other-cloud", suggestion: "https://vault.usgovcloudapi.net/.default", service: "keyvault" }],
    ["https://management.azure.cn/.default", { reason: "other-cloud", suggestion: "https://management.chinacloudapi.cn/.default", service: "arm" }],
    ["https://vault.chinacloudapi.cn/.default", { reason: "other-cloud", suggestion: "https://vault.azure.cn/.default", service: "keyvault" }],
    ["https://kv-orders.vault.azure.net/.default", { reason: "resource-url", suggestion: "https://vault.azure.net/.default", service: "keyvault" }],
    ["https://kv-orders.vault.azure.net", { reason: "resource-url", suggestion: "https://vault.azure.net/.default", service: "keyvault" }],
    ["https://kv-cn.vault.azure.cn/", { reason: "resource-url", suggestion: "https://vault.azure.cn/.default" }],
    [
      "https://sb-orders.servicebus.windows.net/queue/.default",
      { reason: "resource-url", suggestion: "https://sb-orders.servicebus.windows.net/.default", service: "eventhubs" },
    ],
    ["https://appcs.azconfig.io/kv/.default", { reason: "resource-url", service: "appconfig", suggestion: "https://appcs.azconfig.io/.default" }],
    ["https://oai-orders.openai.azure.com/.default", { reason: "resource-url", suggestion: "https://cognitiveservices.azure.com/.default", service: "openai" }],
    ["https://myreg.azurecr.io/v2/.default", { reason: "resource-url", service: "acr" }],
    ["https://storage.azure.com/container/.default", { reason: "resource-url", suggestion: "https://storage.azure.com/.default", service: "storage" }],
    [
      "https://portal.azure.com/#@contoso.onmicrosoft.com/resource/subscriptions/0d0d/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-orders/overview",
      { reason: "portal-url", suggestion: "https://vault.azure.net/.default", service: "keyvault" },
    ],
    ["https://portal.azure.com/.default", { reason: "portal-url" }],
    ["https://vault.azure.net", { reason: "missing-default", suggestion: "https://vault.azure.net/.default", service: "keyvault" }],
    ["https://servicebus.azure.net/", { reason: "missing-default", suggestion: "https://servicebus.azure.net//.default", service: "servicebus" }],
    ["https://vault.azure.net/user_impersonation", { reason: "missing-default", suggestion: "https://vault.azure.net/.default" }],
    ["https://vault.azure.net/.default/.default", { reason: "doubled-default", suggestion: "https://vault.azure.net/.default", service: "keyvault" }],
    ["https://servicebus.azure.net//.default//.default", { reason: "doubled-default", suggestion: "https://servicebus.azure.net//.default" }],
    ["vault.azure.net/.default", { reason: "not-a-url", suggestion: "https://vault.azure.net/.default", service: "keyvault" }],
    ["/subscriptions/0d0d/resourceGroups/rg", { reason: "not-a-url", suggestion: "https://management.azure.com/.default" }],
    ["not a scope", { reason: "multiple-scopes" }],
    ["%%%", { reason: "not-a-url" }],
    ["", { reason: "not-a-url" }],
    [[], { reason: "not-a-url" }],
  ])("%s", (scope, expected) => {
    const problem = checkScope(scope, catalog);
    expect(problem, JSON.stringify(problem)).toMatchObject(expected);
    expect(problem?.explanation.length).toBeGreaterThan(10);
  });

  it("other cloud against a target URL", () => {
    expect(checkScope("https://vault.azure.net/.default", catalog, "https://kv-cn.vault.azure.cn/secrets/x")).toMatchObject({
      reason: "other-cloud",
      suggestion: "https://vault.azure.cn/.default",
    });
    expect(checkScope("https://management.azure.com/.default", catalog, "https://management.usgovcloudapi.net/subscriptions")).toMatchObject({
      reason: "other-cloud",
      suggestion: "https://management.usgovcloudapi.net/.default",
    });
    // Storage uses one audience in every cloud.
    expect(checkScope("https://storage.azure.com/.default", catalog, "https://st.blob.core.chinacloudapi.cn/c")).toBeUndefined();
    expect(checkScope("https://vault.azure.net/.default", catalog, "https://kv.vault.azure.net/")).toBeUndefined();
  });

  it("accepts a services array or nothing as the catalog", () => {
    expect(checkScope("https://orders.contoso.com", [{ name: "orders", audiences: ["https://orders.contoso.com"] }])).toMatchObject({
      reason: "missing-default",
      service: "orders",
    });
    expect(checkScope("https://vualt.azure.net/.default")).toMatchObject({ reason: "typo" });
  });

  it("never throws on odd input", () => {
    for (const value of [undefined, null, 42, {}, [1, 2], ["x", 3], "x".repeat(100_000), "https://", "https://[::1]/.default", "https://a/.default\u0000"]) {
      expect(() => checkScope(value as never, catalog)).not.toThrow();
    }
  });
});

describe("nearestAudience and findServiceForScope", () => {
  it("finds the nearest known audience", () => {
    expect(nearestAudience("https://vualt.azure.net/.default")).toMatchObject({ audience: "https://vault.azure.net", distance: 2, kind: "typo" });
    expect(nearestAudience("https://vault.azure.net/.default")).toBeUndefined();
    expect(nearestAudience("https://orders-api.contoso.com")).toBeUndefined();
  });
  it("finds the service of a scope", () => {
    expect(findServiceForScope("https://vault.azure.net/.default")?.name).toBe("keyvault");
    expect(findServiceForScope("https://servicebus.azure.net//.default")?.name).toBe("servicebus");
    expect(findServiceForScope("https://eventhubs.azure.net//.default")?.name).toBe("eventhubs");
    expect(findServiceForScope("https://acct.documents.azure.com/.default")?.name).toBe("cosmos");
    expect(findServiceForScope("00000003-0000-0000-c000-000000000000")?.name).toBe("graph");
    expect(findServiceForScope("https://nope.example/.default")).toBeUndefined();
    expect(findServiceForScope(42 as never)).toBeUndefined();
  });
  it("edit distance", () => {
    expect(editDistance("vault", "vualt")).toBe(2);
    expect(editDistance("abc", "abc")).toBe(0);
    expect(editDistance("a", "abcdefgh", 3)).toBe(4);
  });
});
