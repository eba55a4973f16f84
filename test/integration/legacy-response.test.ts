/**
 * The answer to a core-http v1 request (what `@azure/storage-blob` passes to its `httpClient` option): the same
 * request object back and headers with the whole v1 `HttpHeaders` surface that core-http-compat's `CompatResponse`
 * declares, for `diagnosticHttpClient` and the emulators' client alike.
 */
import { describe, expect, it } from "vitest";
import { createHttpHeaders, type HttpClient } from "@azure/core-rest-pipeline";
import { DiagnosticCredential, diagnosticHttpClient, type LegacyWebResourceLike } from "../../src/index.js";
import { createEmulatorHttpClient } from "../../src/testing.js";

/** Answers 200 with two headers, without any network. */
const inner: HttpClient = {
  sendRequest: async (request) => ({
    request,
    status: 200,
    headers: createHttpHeaders({ "Content-Type": "text/plain", "x-ms-request-id": "r1" }),
    bodyAsText: "ok",
  }),
};

const clients = {
  diagnosticHttpClient: () => diagnosticHttpClient(new DiagnosticCredential({ credential: { getToken: async () => null }, logger: false }), inner),
  createEmulatorHttpClient: () => createEmulatorHttpClient({ ca: [], httpClient: inner }),
};

describe.each(Object.entries(clients))("%s answers a core-http v1 request in the v1 shape", (_name, makeClient) => {
  it("returns the same request, the status, the body and v1 headers", async () => {
    const legacy: LegacyWebResourceLike & { marker: string } = {
      url: "https://ordersdata.blob.core.windows.net/data/a.txt",
      method: "GET",
      headers: { rawHeaders: () => ({ "x-ms-version": "2025-01-05" }) },
      prepare: () => undefined,
      marker: "the caller's own object",
    };
    const response = await makeClient().sendRequest(legacy);

    expect(response.request).toBe(legacy);
    expect(response.request.marker).toBe("the caller's own object");
    expect(response.status).toBe(200);
    expect(response.bodyAsText).toBe("ok");
    const headers = response.headers;
    expect(headers.get("CONTENT-TYPE")).toBe("text/plain");
    expect(headers.contains("x-ms-request-id")).toBe(true);
    expect(headers.toJson({ preserveCase: true })).toEqual({ "Content-Type": "text/plain", "x-ms-request-id": "r1" });
    expect(headers.rawHeaders()).toEqual({ "Content-Type": "text/plain", "x-ms-request-id": "r1" });
    expect(headers.headersArray()).toEqual([
      { name: "Content-Type", value: "text/plain" },
      { name: "x-ms-request-id", value: "r1" },
    ]);
    expect(headers.headerNames()).toEqual(["content-type", "x-ms-request-id"]);
    expect(headers.headerValues()).toEqual(["text/plain", "r1"]);
  });

  it("set, remove and clone behave as core-http's HttpHeaders: a clone is independent", async () => {
    const legacy: LegacyWebResourceLike = { url: "https://ordersdata.blob.core.windows.net/data/a.txt", method: "GET", headers: {}, prepare: () => undefined };
    const { headers } = await makeClient().sendRequest(legacy);

    const copy = headers.clone();
    copy.set("x-extra", 7);
    expect(copy.get("x-extra")).toBe("7");
    expect(headers.contains("x-extra")).toBe(false);

    expect(headers.remove("x-ms-request-id")).toBe(true);
    expect(headers.remove("x-ms-request-id")).toBe(false);
    expect(headers.headerNames()).toEqual(["content-type"]);
    expect(copy.get("x-ms-request-id")).toBe("r1");
  });
});
