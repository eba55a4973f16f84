/**
 * No diagnosis ever carries the token that was sent, its signature segment or its payload segment: not in the
 * summary, the evidence, the next steps, the error code, nor anywhere else in the object.
 */
import fc from "fast-check";
import { beforeEach, describe, expect, it } from "vitest";
import { classifyAmqpError } from "../../src/classify/amqp.js";
import { classifyResponse } from "../../src/classify/response.js";
import { excerpt, redact, REDACTION_PATTERNS, registerOpaqueToken, registerSecret } from "../../src/util/redact.js";
import type { Diagnosis } from "../../src/diagnosis/types.js";
import { fuzzRuns } from "../helpers/arbitraries.js";
import { SHAPES } from "./fixtures.js";
import { NOW, makeToken } from "./helpers.js";

function assertClean(d: Diagnosis | undefined, token: string): void {
  if (d === undefined) return;
  const [header, payload, signature] = token.split(".") as [string, string, string];
  const everything = JSON.stringify(d);
  for (const secret of [token, payload, signature, `${header}.${payload}`]) expect(everything).not.toContain(secret);
  for (const line of [d.summary, ...d.evidence, ...d.nextSteps, d.errorCode ?? ""]) {
    expect(line).not.toContain(signature);
    expect(line).not.toContain(payload);
    expect(line).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  }
}

describe("no token material in any diagnosis", () => {
  it.each(SHAPES.filter((s) => s.expect.hypothesis !== undefined).map((s) => [s.name, s] as const))("%s (token in context)", async (_name, shape) => {
    const token = await makeToken(shape.token ?? {});
    assertClean(classifyResponse(shape.response, { now: NOW, ...(shape.context ?? {}), token }), token);
  });

  it("a service that echoes the token everywhere still does not leak it", async () => {
    const token = await makeToken({ aud: "https://management.azure.com" });
    const [, payload, signature] = token.split(".") as [string, string, string];
    const bodies = [
      JSON.stringify({
        error: {
          code: `Bad${signature}`,
          message: `Token ${token} rejected; signature ${signature}; payload ${payload}; Bearer ${token}`,
          innererror: { code: signature },
        },
      }),
      `<Error><Code>${signature}</Code><Message>${token}</Message><AuthenticationErrorDetail>sig=${signature}&amp;x=${payload}</AuthenticationErrorDetail></Error>`,
      `${token.slice(0, 200)}`,
      `Authorization: Bearer ${token}\r\n${payload}\r\n${signature}`,
    ];
    for (const body of bodies) {
      for (const status of [401, 403]) {
        const d = classifyResponse(
          {
            url: `https://kv.vault.azure.net/secrets/${signature}?access_token=${token}`,
            status,
            headers: {
              "www-authenticate": `Bearer error="invalid_token", error_description="${token}", resource="${signature}"`,
              "x-ms-error-code": signature,
              "x-ms-request-id": payload,
            },
            body,
          },
          { token, now: NOW },
        );
        expect(d).toBeDefined();
        assertClean(d, token);
      }
    }
  });

  it("the token passed with a Bearer prefix, and a token only in the request's headers", async () => {
    const token = await makeToken({ aud: "https://vault.azure.net", exp: -3600 });
    const body = JSON.stringify({ error: { code: "Unauthorized", message: `expired ${token}` } });
    assertClean(classifyResponse({ url: "https://kv.vault.azure.net/x", status: 401, body }, { token: `Bearer ${token}`, now: NOW }), token);
    const fromRequest = classifyResponse(
      { url: "https://kv.vault.azure.net/x", status: 401, body, request: { headers: { authorization: `Bearer ${token}` } } } as never,
      { now: NOW },
    );
    expect(fromRequest?.hypothesis).toBe("H4");
    assertClean(fromRequest, token);
  });

  it("AMQP errors echoing the token", async () => {
    const token = await makeToken({ aud: "https://servicebus.azure.net" });
    const [, payload, signature] = token.split(".") as [string, string, string];
    const d = classifyAmqpError(
      {
        name: "ServiceBusError",
        code: "UnauthorizedAccess",
        message: `Unauthorized access. 'Send' claim(s) are required. Resource: 'sb://ns.servicebus.windows.net/${signature}'. token=${token} ${payload}`,
      },
      { token, now: NOW },
    );
    expect(d?.hypothesis).toBe("H2");
    assertClean(d, token);
  });

  it("personal claims of a user token stay out unless opted in", async () => {
    const token = await makeToken({
      aud: "https://vault.azure.net",
      extra: { upn: "alice@contoso.com", name: "Alice Example", idtyp: "user", scp: "user_impersonation" },
    });
    const response = {
      url: "https://kv.vault.azure.net/x",
      status: 403,
      body: JSON.stringify({
        error: { code: "Forbidden", message: "Caller is not authorized to perform action on resource.", innererror: { code: "ForbiddenByRbac" } },
      }),
    };
    expect(JSON.stringify(classifyResponse(response, { token, now: NOW }))).not.toContain("alice@contoso.com");
    expect(JSON.stringify(classifyResponse(response, { token, now: NOW, includePersonalClaims: true }))).toContain("alice@contoso.com");
  });
});

function randomText(length: number): string {
  let out = "";
  while (out.length < length) out += Math.random().toString(36).slice(2);
  return out.slice(0, length);
}

describe("opaque tokens registered for redaction (the smoke test's)", () => {
  it("are redacted wherever they appear; only the latest 16 are kept, so a probe that runs for months stays bounded", () => {
    // Random, as real tokens are (a run of 12 characters shared by two tokens would be redacted as a fragment).
    const tokens = Array.from({ length: 20 }, (_, i) => `opaque-${i}-${randomText(32)}`);
    for (const token of tokens) registerOpaqueToken(token);
    for (const token of tokens.slice(4)) expect(redact(`answer echoed ${token}; again:${token}`)).toBe("answer echoed [redacted]; again:[redacted]");
    // The oldest were let go (what bounds the set); a JWT is removed by its shape and never registered.
    expect(redact(tokens[0]!)).toBe(tokens[0]);
    expect(redact("eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2lnbmF0dXJl")).toBe("[redacted-jwt]");
  });

  it("text with nothing to redact comes back unchanged; each kind of secret is still found when the others are absent", () => {
    expect(redact("Caller is not authorized to perform action on resource. Assignment: (not found)")).toBe(
      "Caller is not authorized to perform action on resource. Assignment: (not found)",
    );
    expect(redact("Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123")).toBe("Authorization: Bearer [redacted]");
    expect(redact("SharedAccessSignature sr=x&sig=abc")).toBe("SharedAccessSignature [redacted]");
    expect(redact("https://a.blob.core.windows.net/c/b?sv=2022&SIG=abcdef")).toBe("https://a.blob.core.windows.net/c/b?sv=2022&SIG=[redacted]");
    expect(redact("SharedKey account:c2lnbmF0dXJl")).toBe("SharedKey [redacted]");
  });
});

describe("redaction's pre-scan", () => {
  // The patterns applied unconditionally: what redact() did before it learned to skip text with nothing to find.
  const reference = (text: string) => REDACTION_PATTERNS.reduce((out, [pattern, replacement]) => out.replace(pattern, replacement), text);
  const fragment = fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.constantFrom(
      "eyJ",
      "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln",
      "EYJ",
      "Bearer ",
      "bearer ",
      "BEARER\t",
      "abcdefghijklmnopqrstuvwxyz",
      "SharedKey ",
      "sharedaccesssignature ",
      "?sig=",
      "&SIGNATURE=",
      "&code=",
      "?client_secret=",
      "&access_token=",
      "=",
      " ",
      ";",
      '"',
      "'",
      ",",
      "\n",
    ),
    // The encodings redaction reads through: escapes of the JWT start and its dots, line breaks, base64, closers.
    fc.constantFrom(
      "\\u0065",
      "\\u0079",
      "\\u004a",
      "\\u004A",
      "\\U0065",
      "%2E",
      "%2e",
      "&#46;",
      "&#x2E;",
      "\\u002e",
      "\\n",
      "\\r\\n",
      "\r\n",
      "+",
      "/",
      "\\/",
      "%2B",
      "%3D",
      ")",
      "}",
      "]",
      ">",
      "&amp;sig=",
      "Bearer%20",
      "\\",
    ),
  );
  it("never changes what is redacted: same output as the four patterns applied unconditionally", () => {
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 12 }), (parts) => {
        const text = parts.join("");
        expect(redact(text)).toBe(reference(text));
      }),
      { numRuns: fuzzRuns(0.5, 200) },
    );
  });
});

// Issue 15 ("Hardening, round 2"): what a determined attacker found. Each was a leak before its fix.
describe("hardening: a secret cut in half by an excerpt", () => {
  const header = `hdr-${randomText(28)}`;
  const opaque = `op-${randomText(40)}`;
  // Registered per test: the opaque-token registry keeps only the latest 16, and other tests register more.
  beforeEach(() => {
    registerSecret(header);
    registerOpaqueToken(opaque);
  });

  it("IDENTITY_HEADER straddling the excerpt's head limit (whitespace folded before it) leaks nothing of itself", () => {
    for (const maxLength of [40, 300, 400]) {
      const head = maxLength * 4;
      for (const inside of [1, 8, 20, header.length - 1]) {
        const text = `${" ".repeat(head - inside)}${header} trailing words`;
        const out = excerpt(text, maxLength);
        for (let i = 0; i + 8 <= header.length; i++) expect(out, `${maxLength}/${inside}: ${out}`).not.toContain(header.slice(i, i + 8));
      }
    }
  });

  it("a registered opaque token straddling it, in a body of one long word, leaks nothing of itself", () => {
    const text = `${"\u0000".repeat(1190)}${opaque}${"x".repeat(20_000)}`;
    const out = excerpt(text, 300);
    for (let i = 0; i + 8 <= opaque.length; i++) expect(out).not.toContain(opaque.slice(i, i + 8));
  });

  it("a registered secret echoed cut short elsewhere ('abc…', a prefix, a middle part) is removed from 12 characters on", () => {
    expect(redact(`header was ${header.slice(0, 12)}… (truncated)`)).toBe("header was [redacted]… (truncated)");
    expect(redact(`token ${opaque.slice(5, 30)}, again ${opaque.slice(-12)}`)).toBe("token [redacted], again [redacted]");
    // Shorter runs are not distinguishable from chance: left alone.
    expect(redact(`short ${header.slice(0, 11)}`)).toBe(`short ${header.slice(0, 11)}`);
  });
});

describe("hardening: tokens in other encodings", () => {
  const header = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9";
  const payload = "eyJhdWQiOiJodHRwczovL3ZhdWx0LmF6dXJlLm5ldCIsIm9pZCI6IjExMTEifQ";
  const signature = "c2lnbmF0dXJlLW9mLXRoZS10b2tlbi10aGF0LW11c3Qtbm90LWxlYWs";
  const leaksAny = (out: string, ...secrets: string[]) =>
    secrets.some((secret) => Array.from({ length: secret.length - 11 }, (_, i) => secret.slice(i, i + 12)).some((run) => out.includes(run)));

  it.each([
    ["the signature after a newline", `token ${header}.${payload}.\n${signature} end`],
    ["the signature after a CRLF and indentation (a folded log line)", `token ${header}.${payload}\r\n    .${signature} end`],
    ["JSON-escaped line breaks", `{"m":"token ${header}.${payload}.\\r\\n${signature}"}`],
    ["%2E separators (URL-encoded)", `https://x/cb?id_token=${header}%2E${payload}%2E${signature}&state=1`],
    ["&#46; separators (HTML entity)", `<p>${header}&#46;${payload}&#46;${signature}</p>`],
    ["&#x2e; and \\u002e separators", `${header}&#x2e;${payload}\\u002e${signature}`],
    ["standard base64 (+ / =)", `${header}.${payload.replace(/z/g, "+")}=.${signature.replace(/W/g, "/")}==`],
    ["a JSON-escaped slash", `{"t":"${header}.${payload}.${signature.replace(/W/g, "\\/")}"}`],
    ["a \\u0065yJ escape of the start", `{"t":"\\u0065yJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.${payload}.${signature}"}`],
    ["every start letter escaped", `\\u0065\\u0079\\u004a${header.slice(3)}.${payload}.${signature}`],
  ])("a JWT with %s is removed whole", (_name, text) => {
    const out = redact(text);
    expect(leaksAny(out, header.slice(3), payload, signature), out).toBe(false);
    expect(out).toContain("[redacted-jwt]");
  });

  it.each([")", "}", "]", ">", "<", "\\", "&", "|", ":", "*"])("Bearer <opaque> followed by %s is removed", (closer) => {
    const opaque = "Zm9vYmFyYmF6cXV4LW9wYXF1ZS12YWx1ZQ";
    for (const text of [`(Bearer ${opaque}${closer} more`, `{"h":"Bearer ${opaque}${closer}"}`, `Bearer ${opaque}==${closer}`, `Bearer%20${opaque}${closer}`]) {
      const out = redact(text);
      expect(out, text).not.toContain(opaque.slice(0, 12));
      expect(out).toContain("Bearer [redacted]");
    }
  });

  it("a JWT whose run continues across a line break into the next token takes all of that token's segments", () => {
    const out = redact(`sent token=${header}.${payload}.${signature}.\naccess_token=${header}.${payload}.${signature}&x=1`);
    expect(leaksAny(out, payload, signature), out).toBe(false);
  });

  it("an opaque bearer value that starts like a JWT in the wrong case ('EYJ…') is removed", () => {
    expect(redact("Bearer EYJAAAAAAAAAAAAAAAAA end")).toBe("Bearer [redacted] end");
  });

  it("prose and challenge parameters stay readable", () => {
    for (const text of [
      'Bearer authorization_uri="https://login.windows.net/t", resource_id="https://vault.azure.net"',
      'Bearer authorization="https://login.windows.net/t", error="invalid_token", error_description="The token expired"',
      "Use a Bearer or PoP token (see the docs)",
    ])
      expect(redact(text)).toBe(text);
  });

  it("a SAS signature inside XML (&amp;sig=) is removed", () => {
    expect(redact("<Url>https://a.blob.core.windows.net/c/b?sv=2022&amp;sig=c2lnbmF0dXJl%3D&amp;se=x</Url>")).toBe(
      "<Url>https://a.blob.core.windows.net/c/b?sv=2022&amp;sig=[redacted]&amp;se=x</Url>",
    );
  });
});
