/**
 * Property (issue 15, "Hardening, round 2"): a secret embedded in generated text — a JWT in any of the encodings text
 * passes through (encoded dots, line breaks, standard base64, JSON and URL escapes), an opaque bearer value with
 * whatever closes it, a registered IDENTITY_HEADER or opaque token, each whole or cut short — never reaches an
 * output, not even as a run of 12 of its characters: not from redact, not from excerpt (whatever its limit, and
 * wherever its cut falls: the cases place the secret across it on purpose), not from a Diagnosis of
 * classifyResponse (body as text, JSON or XML; challenge header; error-code header) or of classifyCredentialError
 * (message, string error, string cause, error name, aggregate member, caller-supplied exchanges).
 *
 * Default ≈800 cases in all (200 per property); FULL=1 ≈40,000.
 */
import { CredentialUnavailableError } from "@azure/identity";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classifyCredentialError, classifyResponse } from "../../src/index.js";
import { excerpt, redact, registerOpaqueToken, registerSecret } from "../../src/util/redact.js";
import { embeddedSecret, fuzzRuns, HARDENING_CORPUS, leakedRun, type EmbeddedSecret } from "../helpers/arbitraries.js";

const runs = (share: number) => fuzzRuns(share, 100);

/** Registers what a case's secret needs (the opaque-token registry keeps the latest 16: register per case). */
function register(secret: EmbeddedSecret): void {
  if (secret.kind === "identity-header") registerSecret(secret.secret);
  if (secret.kind === "opaque-token") registerOpaqueToken(secret.secret);
}

function expectNoLeak(where: string, output: unknown, secret: EmbeddedSecret, input: string): void {
  const text = typeof output === "string" ? output : (JSON.stringify(output) ?? "");
  const run = leakedRun(text, secret);
  if (run !== undefined)
    throw new Error(
      `${where} leaks ${JSON.stringify(run)} of a ${secret.how}\ninput:  ${JSON.stringify(input.slice(0, 600))}\noutput: ${JSON.stringify(text.slice(0, 1200))}`,
    );
}

/** Text around a secret: generated, with the corpus of past attacks mixed in. */
const filler = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom("", " ", "\n", "token: ", '{"a":"', "<Message>", "Authorization: ", ...HARDENING_CORPUS));
/** What separates a secret from its surroundings (a word glued to "Bearer" is not the scheme). */
const gap = fc.constantFrom(" ", "\n", "\t", ": ", "=", '"', "(", "[", "{", ">", ", ");

const placed = fc
  .record({ secret: embeddedSecret, before: filler, after: filler, gapBefore: gap, gapAfter: gap })
  .map(({ secret, before, after, gapBefore, gapAfter }) => ({
    secret,
    text: `${before}${gapBefore}${secret.text}${gapAfter}${after}`,
  }));

describe("hostile secrets never reach an output (issue 15)", () => {
  it("redact(text)", () => {
    fc.assert(
      fc.property(placed, ({ secret, text }) => {
        register(secret);
        expectNoLeak("redact", redact(text), secret, text);
      }),
      { numRuns: runs(0.1) },
    );
  });

  it("excerpt(text, maxLength), with the secret across its cut", () => {
    const spaces = fc.constantFrom(" ", "\n", "\u0000", "\t\r\n", "ab ");
    fc.assert(
      fc.property(placed, fc.integer({ min: 8, max: 500 }), fc.integer({ min: -8, max: 400 }), spaces, ({ secret, text }, maxLength, overlap, pad) => {
        register(secret);
        // Padding that folds to almost nothing, so the head's end (maxLength * 4) falls inside the secret.
        const head = maxLength * 4;
        const padLength = Math.max(0, head - Math.max(0, overlap));
        const padded = `${pad.repeat(Math.ceil(padLength / pad.length)).slice(0, padLength)}${text}`;
        expectNoLeak(`excerpt(…, ${maxLength})`, excerpt(padded, maxLength), secret, padded);
        expectNoLeak(`excerpt(…, ${maxLength})`, excerpt(text, maxLength), secret, text);
      }),
      { numRuns: runs(0.1) },
    );
  });

  it("classifyResponse: a Diagnosis of an answer that echoes it in the body, the challenge or the error-code header", () => {
    const shapes = fc.constantFrom("text", "json", "xml", "www-authenticate", "x-ms-error-code");
    fc.assert(
      fc.property(
        placed,
        shapes,
        fc.constantFrom(401, 403),
        fc.constantFrom(
          "https://kv-orders.vault.azure.net/secrets/x",
          "https://storders.blob.core.windows.net/c/b",
          "https://management.azure.com/subscriptions/x",
        ),
        ({ secret, text }, shape, status, url) => {
          register(secret);
          const body =
            shape === "json"
              ? JSON.stringify({ error: { code: "Forbidden", message: `Caller is not authorized. ${text}`, innererror: { code: "ForbiddenByRbac" } } })
              : shape === "xml"
                ? `<?xml version="1.0"?><Error><Code>AuthorizationPermissionMismatch</Code><Message>${text}</Message><AuthenticationErrorDetail>${text}</AuthenticationErrorDetail></Error>`
                : shape === "text"
                  ? `Forbidden: ${text}`
                  : '{"error":{"code":"Unauthorized","message":"AKV10022: Invalid audience."}}';
          const headers: Record<string, string> = {};
          if (shape === "www-authenticate")
            headers["www-authenticate"] = `Bearer authorization="https://login.windows.net/t", error="invalid_token", error_description="${text}"`;
          if (shape === "x-ms-error-code") headers["x-ms-error-code"] = text;
          const diagnosis = classifyResponse({ url, status, headers, body });
          expectNoLeak(`classifyResponse(${shape})`, diagnosis, secret, text);
        },
      ),
      { numRuns: runs(0.1) },
    );
  });

  it("classifyCredentialError: a Diagnosis of an error that echoes it anywhere it is read", () => {
    const shapes = fc.constantFrom("message", "string", "cause", "name", "aggregate", "exchange", "exchange-url", "scopes", "credential-name", "environment");
    fc.assert(
      fc.property(placed, shapes, ({ secret, text }, shape) => {
        register(secret);
        const message = `ManagedIdentityCredential: Authentication failed. ${text}`;
        let error: unknown;
        let context: Parameters<typeof classifyCredentialError>[1] = {};
        if (shape === "message") error = new CredentialUnavailableError(message);
        else if (shape === "string") error = message;
        else if (shape === "cause") error = Object.assign(new CredentialUnavailableError("ManagedIdentityCredential: failed"), { cause: message });
        else if (shape === "name") error = Object.assign(new Error("ManagedIdentityCredential: failed"), { name: `CredentialUnavailableError ${text}` });
        else if (shape === "aggregate") error = new AggregateError([new CredentialUnavailableError(message)], "ChainedTokenCredential authentication failed.");
        else {
          error = new CredentialUnavailableError("ManagedIdentityCredential: Authentication failed. AADSTS500011 multiple scopes are not supported");
          const exchange = {
            method: "GET",
            url: `http://localhost:42356/msi/token?resource=https://vault.azure.net&x=${text}`,
            status: 401,
            bodyExcerpt: text,
            errorMessage: text,
            errorCode: "ECONNRESET",
            durationMs: 3,
            startedAt: 0,
          };
          if (shape === "exchange") context = { exchanges: [exchange] };
          else if (shape === "exchange-url") context = { exchanges: [{ ...exchange, url: text, errorCode: "" }] };
          else if (shape === "scopes")
            context = { scopes: [text, `https://vault.azure.net/.default ${text}`], scopeFinding: { scope: text, explanation: text, suggestion: text } };
          else if (shape === "credential-name") context = { credentialName: text, timedOutAfterMs: 5 };
          else {
            error = new CredentialUnavailableError("ManagedIdentityCredential: failed");
            context = {
              timedOutAfterMs: 5,
              environment: {
                source: "AppService",
                sourceReason: text,
                identityEndpoint: text,
                identityEndpointMalformed: true,
                identityHeaderSet: true,
                imdsHostOverride: text,
                containerApp: { name: text, revision: text, replica: text },
                appServiceName: text,
                azureClientId: text,
                expectsIdentityVariables: true,
                workloadIdentity: false,
                hostKind: "container-apps",
              } as never,
            };
          }
        }
        expectNoLeak(`classifyCredentialError(${shape})`, classifyCredentialError(error, context), secret, text);
      }),
      { numRuns: runs(0.1) },
    );
  });
});
