import { describe, expect, it } from "vitest";
import { challengeInfo, decodeClaimsChallenge, parseWwwAuthenticate, requiredNotBefore } from "../../src/classify/challenge.js";

const TID = "72f988bf-86f1-41af-91ab-2d7cd011db47";

describe("parseWwwAuthenticate", () => {
  it.each([
    [
      "Key Vault: quoted, comma separated",
      `Bearer authorization="https://login.windows.net/${TID}", resource="https://vault.azure.net"`,
      [{ scheme: "Bearer", params: { authorization: `https://login.windows.net/${TID}`, resource: "https://vault.azure.net" } }],
    ],
    [
      "Storage: unquoted, space separated",
      `Bearer authorization_uri=https://login.microsoftonline.com/${TID}/oauth2/authorize resource_id=https://storage.azure.com`,
      [
        {
          scheme: "Bearer",
          params: { authorization_uri: `https://login.microsoftonline.com/${TID}/oauth2/authorize`, resource_id: "https://storage.azure.com" },
        },
      ],
    ],
    [
      "App Configuration: two schemes",
      'HMAC-SHA256, Bearer error="invalid_token", error_description="Authorization token failed validation"',
      [
        { scheme: "HMAC-SHA256", params: {} },
        { scheme: "Bearer", params: { error: "invalid_token", error_description: "Authorization token failed validation" } },
      ],
    ],
    [
      "ACR: no spaces after commas",
      'Bearer realm="https://reg.azurecr.io/oauth2/token",service="reg.azurecr.io",scope="repository:app:pull,push"',
      [{ scheme: "Bearer", params: { realm: "https://reg.azurecr.io/oauth2/token", service: "reg.azurecr.io", scope: "repository:app:pull,push" } }],
    ],
    [
      "escaped quotes and commas inside quotes",
      'Bearer error_description="a \\"quoted\\", value", error=invalid_token',
      [{ scheme: "Bearer", params: { error_description: 'a "quoted", value', error: "invalid_token" } }],
    ],
    [
      "spaces around '='",
      'Bearer  error = "invalid_token" ,  resource= https://x',
      [{ scheme: "Bearer", params: { error: "invalid_token", resource: "https://x" } }],
    ],
    ["parameter names are case-insensitive, first wins", 'bearer Error="a", error="b"', [{ scheme: "bearer", params: { error: "a" } }]],
    [
      "token68",
      'Negotiate YWxhZGRpbjpvcGVuc2VzYW1l==, Bearer realm=""',
      [
        { scheme: "Negotiate", params: { token68: "YWxhZGRpbjpvcGVuc2VzYW1l==" } },
        { scheme: "Bearer", params: { realm: "" } },
      ],
    ],
    ["unterminated quote", 'Bearer error="invalid_token', [{ scheme: "Bearer", params: { error: "invalid_token" } }]],
    [
      "CRLF-folded header value",
      'Bearer realm="",\r\n authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize",\r\n error="insufficient_claims"',
      [
        {
          scheme: "Bearer",
          params: { realm: "", authorization_uri: "https://login.microsoftonline.com/common/oauth2/authorize", error: "insufficient_claims" },
        },
      ],
    ],
  ])("%s", (_name, header, expected) => {
    expect(parseWwwAuthenticate(header)).toEqual(expected);
  });

  it("returns [] for nothing, non-strings and junk", () => {
    expect(parseWwwAuthenticate(undefined)).toEqual([]);
    expect(parseWwwAuthenticate(42)).toEqual([]);
    expect(parseWwwAuthenticate("")).toEqual([]);
    expect(() => parseWwwAuthenticate('=,=,"",,,  = "')).not.toThrow();
  });

  it("stays bounded on a huge header", () => {
    const started = performance.now();
    const result = parseWwwAuthenticate(`Bearer ${"a=b, ".repeat(500_000)}`);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(result.length).toBeLessThanOrEqual(17);
  });
});

describe("challengeInfo", () => {
  it("reads tenant and expected resource (Key Vault)", () => {
    const info = challengeInfo(parseWwwAuthenticate(`Bearer authorization="https://login.windows.net/${TID}", resource="https://vault.azure.net"`));
    expect(info).toMatchObject({
      schemes: ["Bearer"],
      resource: "https://vault.azure.net",
      tenantId: TID,
      authorizationUri: `https://login.windows.net/${TID}`,
    });
  });
  it("reads resource_id and tenant from an authorization_uri with a path (Storage)", () => {
    const info = challengeInfo(
      parseWwwAuthenticate(`Bearer authorization_uri=https://login.microsoftonline.com/${TID}/oauth2/authorize resource_id=https://storage.azure.com`),
    );
    expect(info).toMatchObject({ resource: "https://storage.azure.com", tenantId: TID });
  });
  it("has no tenant for common/organizations or a bare authority (ARM)", () => {
    expect(challengeInfo(parseWwwAuthenticate('Bearer authorization_uri="https://login.windows.net/", error="invalid_token"'))?.tenantId).toBeUndefined();
    expect(
      challengeInfo(parseWwwAuthenticate('Bearer authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"'))?.tenantId,
    ).toBeUndefined();
  });
  it("prefers the Bearer challenge's parameters over another scheme's", () => {
    const info = challengeInfo(parseWwwAuthenticate('Basic realm="x", Bearer realm="y", error="invalid_token"'));
    expect(info).toMatchObject({ realm: "y", error: "invalid_token", schemes: ["Basic", "Bearer"] });
  });
  it("decodes a CAE claims challenge and its required nbf", () => {
    const claims = Buffer.from('{"access_token":{"nbf":{"essential":true, "value":"1700000000"}}}').toString("base64");
    const info = challengeInfo(
      parseWwwAuthenticate(
        `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="${claims}"`,
      ),
    );
    expect(info?.error).toBe("insufficient_claims");
    expect(requiredNotBefore(info?.claimsDecoded)).toBe(1_700_000_000);
    expect(decodeClaimsChallenge("not base64 json")).toBeUndefined();
    expect(requiredNotBefore({ access_token: { nbf: { value: "soon" } } })).toBeUndefined();
  });
  it("undefined for no challenges", () => {
    expect(challengeInfo([])).toBeUndefined();
  });
});
