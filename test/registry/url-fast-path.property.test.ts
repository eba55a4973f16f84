/**
 * hostOf and responseKey read plain URLs without a URL parser (they run on every 401/403 of a storm); the fast path
 * must give exactly what the parser gives, for any URL.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hostOf } from "../../src/catalog/resolve.js";
import { responseKey } from "../../src/registry/handledAnswers.js";

const viaParser = {
  host(url: string): string | undefined {
    try {
      return new URL(url).host.toLowerCase() || undefined;
    } catch {
      return undefined;
    }
  },
  key(url: string): string {
    try {
      const parsed = new URL(url);
      return `GET ${parsed.protocol}//${parsed.host}${parsed.pathname || "/"} 403`;
    } catch {
      return `GET ${String(url).split("?")[0] ?? ""} 403`;
    }
  },
};

const urls = fc.oneof(
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
  fc
    .tuple(
      fc.constantFrom("https://", "http://", "HTTPS://"),
      fc.stringMatching(/^[A-Za-z0-9.-]{1,20}$/),
      fc.stringMatching(/^(\/[A-Za-z0-9._~%-]{0,8}|\/\.\.?|\/)*$/),
      fc.constantFrom("", "?a=1", "#x", ":443/x", "@h/"),
    )
    .map(([scheme, host, path, tail]) => `${scheme}${host}${path}${tail}`),
);

describe("URL fast paths equal the URL parser", () => {
  it("hostOf", () => {
    fc.assert(
      fc.property(urls, (url) => {
        expect(hostOf(url)).toBe(viaParser.host(url));
      }),
      { numRuns: 5_000 },
    );
  });
  it("responseKey", () => {
    fc.assert(
      fc.property(urls, (url) => {
        expect(responseKey({ url, status: 403 })).toBe(viaParser.key(url));
      }),
      { numRuns: 5_000 },
    );
  });
});
