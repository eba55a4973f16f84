/** readHeaders: every header container the SDKs hand out becomes one lower-case map (the policy and diagnose use it). */
import { describe, expect, it } from "vitest";
import { createHttpHeaders } from "@azure/core-rest-pipeline";
import { readHeaders } from "../../src/util/headers.js";
import { headersToRecord } from "../../src/util/headers.js";

/** The shape of @azure/core-http-compat's HttpHeaders (Storage's legacy pipeline): `get` and `toJson`, not iterable. */
class CompatHttpHeaders {
  private readonly _headersMap = new Map<string, { name: string; value: string }>();
  constructor(raw: Record<string, string>) {
    for (const [name, value] of Object.entries(raw)) this._headersMap.set(name.toLowerCase(), { name, value });
  }
  get(name: string): string | undefined {
    return this._headersMap.get(name.toLowerCase())?.value;
  }
  toJson(options: { preserveCase?: boolean } = {}): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, header] of this._headersMap) out[options.preserveCase ? header.name : key] = header.value;
    return out;
  }
}

const expected = {
  "x-ms-error-code": "AuthorizationPermissionMismatch",
  "www-authenticate": "Bearer authorization_uri=https://login.microsoftonline.com/t/oauth2/authorize resource_id=https://storage.azure.com",
};
const raw = { "X-Ms-Error-Code": expected["x-ms-error-code"], "WWW-Authenticate": expected["www-authenticate"] };

describe("readHeaders / headersToRecord", () => {
  it.each([
    ["core-rest-pipeline HttpHeaders", createHttpHeaders(raw)],
    ["core-http-compat HttpHeaders (toJson)", new CompatHttpHeaders(raw)],
    ["fetch Headers", new Headers(raw)],
    ["a plain record", raw],
  ])("%s", (_name, headers) => {
    expect(Object.fromEntries(readHeaders(headers))).toEqual(expected);
    expect(headersToRecord(headers)).toEqual(expected);
  });

  it("anything else is an empty record", () => {
    for (const input of [undefined, null, 42, "x"]) expect(headersToRecord(input)).toEqual({});
  });
});
