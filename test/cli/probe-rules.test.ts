/**
 * The smoke test's per-service request rules (api-version, x-ms-version, the form the token is sent in) are data:
 * the `probe` field of a catalog entry. A service defined only through the `services` option is called with its own
 * rule, against a local HTTPS server that refuses any request without it; the built-in rules are checked on the
 * requests the smoke test hands to a recording HttpClient (nothing leaves the process).
 */
import type { IncomingMessage } from "node:http";
import { createServer, type Server } from "node:https";
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { createHttpHeaders, type HttpClient, type PipelineRequest, type PipelineResponse } from "@azure/core-rest-pipeline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSmokeTest, type ServiceDefinitionInput } from "../../src/index.js";
import { createEmulatorHttpClient, createTestCertificateAuthority, startIdentityEndpoint, type IdentityEndpointEmulator } from "../../src/testing.js";

const WIDGETS_HOST = "shop.widgets.example.com";
const WIDGETS_SCOPE = "https://widgets.example.com/.default";

/** A service the catalog does not know, defined only as data: hosts, audience and its probe rule. */
const WIDGETS: ServiceDefinitionInput = {
  name: "widgets",
  displayName: "Contoso Widgets",
  hosts: [WIDGETS_HOST],
  audiences: ["https://widgets.example.com"],
  probe: {
    query: { "api-version": "2030-01-01" },
    headers: { "x-widget-version": "3" },
    dateHeader: "x-widget-date",
    path: /^\/widgets\//,
    authorization: { template: "WidgetToken {token}" },
  },
};

let identity: IdentityEndpointEmulator;
let widgets: Server;
let widgetsClient: HttpClient;
const seen: Array<{ path: string; headers: IncomingMessage["headers"] }> = [];

/** A TokenCredential minting the identity emulator's tokens for the requested resource; `minted` keeps them. */
function mintingCredential(): TokenCredential & { minted: string[] } {
  const minted: string[] = [];
  return {
    minted,
    async getToken(scopes): Promise<AccessToken> {
      const scope = Array.isArray(scopes) ? scopes[0]! : scopes;
      const token = await identity.mintToken({ resource: scope.replace(/\/\.default$/, "") });
      minted.push(token);
      return { token, expiresOnTimestamp: Date.now() + 3600_000, tokenType: "Bearer" };
    },
  };
}

beforeAll(async () => {
  identity = await startIdentityEndpoint();
  const ca = createTestCertificateAuthority();
  // The widgets API refuses (400) any request that lacks what its probe rule adds.
  widgets = createServer(ca.issue([WIDGETS_HOST]), (request, response) => {
    seen.push({ path: request.url ?? "", headers: request.headers });
    const url = new URL(request.url ?? "/", `https://${WIDGETS_HOST}`);
    const complete =
      url.searchParams.get("api-version") !== null &&
      request.headers["x-widget-version"] !== undefined &&
      !Number.isNaN(Date.parse(String(request.headers["x-widget-date"]))) &&
      /^WidgetToken eyJ/.test(request.headers.authorization ?? "");
    response.writeHead(complete ? 200 : 400, { "content-type": "application/json" });
    response.end(
      JSON.stringify(
        complete
          ? { id: 1 }
          : { error: { code: "IncompleteWidgetRequest", message: "api-version, x-widget-version, x-widget-date and a WidgetToken are required" } },
      ),
    );
  });
  await new Promise<void>((resolve) => widgets.listen(0, "127.0.0.1", resolve));
  const port = (widgets.address() as { port: number }).port;
  widgetsClient = createEmulatorHttpClient({ ca: ca.cert, routes: { [WIDGETS_HOST]: `127.0.0.1:${port}` } });
});

afterAll(async () => {
  await Promise.all([identity?.close(), new Promise((resolve) => widgets?.close(resolve))]);
});

/** An HttpClient that answers 200 to everything and keeps the requests the smoke test sent. */
function recordingClient(): HttpClient & { requests: PipelineRequest[] } {
  const requests: PipelineRequest[] = [];
  return {
    requests,
    async sendRequest(request): Promise<PipelineResponse> {
      requests.push(request);
      return { request, status: 200, headers: createHttpHeaders({ "content-type": "application/json" }), bodyAsText: "{}" };
    },
  };
}

describe.concurrent("per-service probe rules are catalog data", () => {
  it("a new service given only as data through `services` is called with its own rule", async () => {
    const paths = ["/widgets/1", "/widgets/2?api-version=2031-06-01", "/status"];
    const credential = mintingCredential();
    const report = await runSmokeTest({
      credential,
      services: [WIDGETS],
      httpClient: widgetsClient,
      probeIdentityEndpoint: false,
      dependencies: [
        `https://${WIDGETS_HOST}${paths[0]}`,
        // What the caller set is kept: its api-version and its x-widget-version.
        { url: `https://${WIDGETS_HOST}${paths[1]}`, headers: { "X-Widget-Version": "4" } },
        // Outside the rule's `path`: only the token form applies, so the API refuses the request.
        `https://${WIDGETS_HOST}${paths[2]}`,
      ],
    });

    expect(report.tokens).toEqual([expect.objectContaining({ scope: WIDGETS_SCOPE, ok: true })]);
    expect(report.dependencies).toEqual([
      {
        url: `https://${WIDGETS_HOST}/widgets/1`,
        method: "GET",
        scope: WIDGETS_SCOPE,
        service: "widgets",
        ok: true,
        status: 200,
        notes: ["added api-version=2030-01-01", "added header x-widget-version: 3"],
        durationMs: expect.any(Number),
      },
      {
        url: `https://${WIDGETS_HOST}/widgets/2?api-version=2031-06-01`,
        method: "GET",
        scope: WIDGETS_SCOPE,
        service: "widgets",
        ok: true,
        status: 200,
        durationMs: expect.any(Number),
      },
      expect.objectContaining({
        service: "widgets",
        ok: false,
        status: 400,
        failure: "status",
        error: "HTTP 400 Bad Request: not an authentication or authorization failure (IncompleteWidgetRequest)",
      }),
    ]);
    expect(report.ok).toBe(false);

    const byPath = new Map(seen.map((s) => [s.path.replace(/[?&]api-version=2030-01-01$/, ""), s]));
    const first = byPath.get("/widgets/1")!;
    expect(first.path).toBe("/widgets/1?api-version=2030-01-01");
    expect(first.headers).toMatchObject({ "x-widget-version": "3", authorization: `WidgetToken ${credential.minted[0]}` });
    expect(Math.abs(Date.parse(String(first.headers["x-widget-date"])) - Date.now())).toBeLessThan(60_000);
    expect(byPath.get(paths[1]!)!.headers["x-widget-version"]).toBe("4");
    expect(byPath.get("/status")!.headers).toMatchObject({ authorization: expect.stringMatching(/^WidgetToken eyJ/) });
    expect(byPath.get("/status")!.headers["x-widget-version"]).toBeUndefined();
    const text = JSON.stringify(report);
    for (const token of credential.minted) expect(text).not.toContain(token.split(".")[2]!);
  });

  it("the built-in services' rules: api-version, x-ms-version and x-ms-date, Cosmos DB's token form, Resource Manager's paths", async () => {
    const client = recordingClient();
    const urls = [
      "https://orders-kv.vault.azure.net/secrets/db-password",
      "https://orders-hsm.managedhsm.azure.net/keys/k1",
      "https://ordersdata.blob.core.windows.net/invoices/2024.pdf",
      "https://orders-db.documents.azure.com/dbs/shop",
      "https://management.azure.com/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg-orders",
      "https://management.azure.com/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Web/sites",
      "https://orders-config.azconfig.io/kv",
      "https://graph.microsoft.com/v1.0/me",
    ];
    const report = await runSmokeTest({ credential: mintingCredential(), httpClient: client, probeIdentityEndpoint: false, dependencies: urls });

    expect(report.dependencies.map((d) => [d.service, d.ok, d.notes])).toEqual([
      ["keyvault", true, ["added api-version=7.5"]],
      ["managedhsm", true, ["added api-version=7.5"]],
      ["storage", true, ["added header x-ms-version: 2024-08-04"]],
      ["cosmos", true, ["added header x-ms-version: 2018-12-31"]],
      ["arm", true, ["added api-version=2022-12-01"]],
      ["arm", true, undefined],
      ["appconfig", true, ["added api-version=1.0"]],
      ["graph", true, undefined],
    ]);
    const sent = new Map(client.requests.map((r) => [new URL(r.url).host + new URL(r.url).pathname, r]));
    const request = (url: string) => sent.get(new URL(url).host + new URL(url).pathname)!;
    expect(request(urls[0]!).url).toBe(`${urls[0]}?api-version=7.5`);
    expect(request(urls[0]!).headers.get("authorization")).toMatch(/^Bearer eyJ/);
    const storage = request(urls[2]!).headers;
    expect(storage.get("x-ms-version")).toBe("2024-08-04");
    expect(Number.isNaN(Date.parse(storage.get("x-ms-date") ?? ""))).toBe(false);
    const cosmos = request(urls[3]!).headers;
    expect(decodeURIComponent(cosmos.get("authorization") ?? "")).toMatch(/^type=aad&ver=1\.0&sig=eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(cosmos.get("x-ms-date")).toBeDefined();
    expect(request(urls[5]!).url).toBe(urls[5]);
    expect(request(urls[6]!).url).toBe(`${urls[6]}?api-version=1.0`);
    expect(request(urls[7]!).url).toBe(urls[7]);
    expect(request(urls[7]!).headers.get("authorization")).toMatch(/^Bearer eyJ/);
  });

  it("a `services` entry for a known service replaces the fields of its rule it gives; unusable parts of a rule are dropped", async () => {
    const client = recordingClient();
    const services: ServiceDefinitionInput[] = [
      { name: "keyvault", probe: { query: { "api-version": "2025-07-01" } } },
      {
        name: "gadgets",
        hosts: ["api.gadgets.example.com"],
        audiences: ["https://gadgets.example.com"],
        probe: {
          headers: { "x-gadget": "ok", "x-bad": "a\r\nInjected: yes", Authorization: "Basic Zm9v" },
          authorization: { template: "no token placeholder" },
        },
      },
    ];
    const report = await runSmokeTest({
      credential: mintingCredential(),
      httpClient: client,
      probeIdentityEndpoint: false,
      services,
      dependencies: ["https://orders-kv.vault.azure.net/secrets/db-password", "https://api.gadgets.example.com/items"],
    });
    expect(report.dependencies.map((d) => [d.service, d.ok, d.notes])).toEqual([
      ["keyvault", true, ["added api-version=2025-07-01"]],
      ["gadgets", true, ["added header x-gadget: ok"]],
    ]);
    const gadgets = client.requests.find((r) => r.url.startsWith("https://api.gadgets.example.com/"))!;
    expect(gadgets.headers.get("authorization")).toMatch(/^Bearer eyJ/);
    expect(gadgets.headers.get("x-bad")).toBeUndefined();
    expect(gadgets.headers.get("injected")).toBeUndefined();
  });
});
