/**
 * No diagnosis ever carries the token that was sent, its signature segment or its payload segment: not in the
 * summary, the evidence, the next steps, the error code, nor anywhere else in the object.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classifyAmqpError } from "../../src/classify/amqp.js";
import { classifyResponse } from "../../src/classify/response.js";
import { redact, registerOpaqueToken } from "../../src/util/redact.js";
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
      JSON.stringify({ error: { code: `Bad${signature}`, message: `Token ${token} rejected; signature ${signature}; payload ${payload}; Bearer ${token}`, innererror: { code: signature } } }),
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
            headers: { "www-authenticate": `Bearer error="invalid_token", error_description="${token}", resource="${signature}"`, "x-ms-error-code": signature, "x-ms-request-id": payload },
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
    const fromRequest = classifyResponse({ url: "https://kv.vault.azure.net/x", status: 401, body, request: { headers: { authorization: `Bearer ${token}` } } } as never, { now: NOW });
    expect(fromRequest?.hypothesis).toBe("H4");
    assertClean(fromRequest, token);
  });

  it("AMQP errors echoing the token", async () => {
    const token = await makeToken({ aud: "https://servicebus.azure.net" });
    const [, payload, signature] = token.split(".") as [string, string, string];
    const d = classifyAmqpError(
      { name: "ServiceBusError", code: "UnauthorizedAccess", message: `Unauthorized access. 'Send' claim(s) are required. Resource: 'sb://ns.servicebus.windows.net/${signature}'. token=${token} ${payload}` },
      { token, now: NOW },
    );
    expect(d?.hypothesis).toBe("H2");
    assertClean(d, token);
  });

  it("personal claims of a user token stay out unless opted in", async () => {
    const token = await makeToken({ aud: "https://vault.azure.net", extra: { upn: "alice@contoso.com", name: "Alice Example", idtyp: "user", scp: "user_impersonation" } });
    const response = { url: "https://kv.vault.azure.net/x", status: 403, body: JSON.stringify({ error: { code: "Forbidden", message: "Caller is not authorized to perform action on resource.", innererror: { code: "ForbiddenByRbac" } } }) };
    expect(JSON.stringify(classifyResponse(response, { token, now: NOW }))).not.toContain("alice@contoso.com");
    expect(JSON.stringify(classifyResponse(response, { token, now: NOW, includePersonalClaims: true }))).toContain("alice@contoso.com");
  });
});

describe("opaque tokens registered for redaction (the smoke test's)", () => {
  it("are redacted wherever they appear; only the latest 16 are kept, so a probe that runs for months stays bounded", () => {
    const tokens = Array.from({ length: 20 }, (_, i) => `opaque-${i}-${"x".repeat(20)}-${Math.random().toString(36).slice(2)}`);
    for (const token of tokens) registerOpaqueToken(token);
    for (const token of tokens.slice(4)) expect(redact(`answer echoed ${token}; again:${token}`)).toBe("answer echoed [redacted]; again:[redacted]");
    // The oldest were let go (what bounds the set); a JWT is removed by its shape and never registered.
    expect(redact(tokens[0]!)).toBe(tokens[0]);
    expect(redact("eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2lnbmF0dXJl")).toBe("[redacted-jwt]");
  });

  it("text with nothing to redact comes back unchanged; each kind of secret is still found when the others are absent", () => {
    expect(redact("Caller is not authorized to perform action on resource. Assignment: (not found)")).toBe("Caller is not authorized to perform action on resource. Assignment: (not found)");
    expect(redact("Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123")).toBe("Authorization: Bearer [redacted]");
    expect(redact("SharedAccessSignature sr=x&sig=abc")).toBe("SharedAccessSignature [redacted]");
    expect(redact("https://a.blob.core.windows.net/c/b?sv=2022&SIG=abcdef")).toBe("https://a.blob.core.windows.net/c/b?sv=2022&SIG=[redacted]");
    expect(redact("SharedKey account:c2lnbmF0dXJl")).toBe("SharedKey [redacted]");
  });
});

describe("redaction's pre-scan", () => {
  // The four patterns applied unconditionally: what redact() did before it learned to skip text with nothing to find.
  const reference = (text: string) =>
    text
      .replace(/eyJ[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){0,2}/g, "[redacted-jwt]")
      .replace(/\b(Bearer)\s+[A-Za-z0-9._~+/-]{16,}=*(?=[\s,"';]|$)/gi, "$1 [redacted]")
      .replace(/\b(SharedKey|SharedAccessSignature)\s+[^\s,"';]+/gi, "$1 [redacted]")
      .replace(/([?&](?:sig|signature|code|client_secret|access_token)=)[^&\s"']+/gi, "$1[redacted]");
  const fragment = fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.constantFrom("eyJ", "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln", "EYJ", "Bearer ", "bearer ", "BEARER\t", "abcdefghijklmnopqrstuvwxyz", "SharedKey ", "sharedaccesssignature ", "?sig=", "&SIGNATURE=", "&code=", "?client_secret=", "&access_token=", "=", " ", ";", "\"", "'", ",", "\n"),
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
