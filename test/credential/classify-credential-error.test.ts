/** classifyCredentialError is pure: the shapes the real credential throws, from the text and recorded exchanges alone. */
import { describe, expect, it } from "vitest";
import { classifyCredentialError, type CredentialErrorContext } from "../../src/index.js";
import { readHostEnvironment } from "../../src/environment/hostEnvironment.js";
import type { IdentityExchange } from "../../src/credential/identityExchange.js";
import { expectChecks, type ExpectedCheck } from "../helpers/findings.js";

const networkError = Object.assign(
  new Error("ManagedIdentityCredential: Network unreachable. Message: network_error: See https://aka.ms/msal.js.errors#network_error for details"),
  { name: "CredentialUnavailableError" },
);
const exchange = (over: Partial<IdentityExchange>): IdentityExchange => ({
  method: "GET",
  url: "http://127.0.0.1:42356/msi/token?api-version=2019-08-01&resource=https://vault.azure.net",
  durationMs: 3,
  startedAt: Date.now(),
  ...over,
});
const containerApps = readHostEnvironment({
  IDENTITY_ENDPOINT: "http://localhost:42356/msi/token",
  IDENTITY_HEADER: "secret-value-1",
  CONTAINER_APP_NAME: "ca-a",
  CONTAINER_APP_REVISION: "ca-a--1",
});

describe("classifyCredentialError", () => {
  // Each case: the error, its context, the hypothesis and confidence, the token-time rule that decides, and its check.
  it.each<[string, unknown, CredentialErrorContext, string, string, string, ExpectedCheck]>([
    [
      "transport code from the recorded exchange",
      networkError,
      { exchanges: [exchange({ errorCode: "ECONNREFUSED" })], environment: containerApps },
      "H5",
      "high",
      "transport-error",
      { kind: "identity-endpoint", verdict: "fail", expected: "HTTP 200", actual: "ECONNREFUSED" },
    ],
    [
      "ETIMEDOUT",
      networkError,
      { exchanges: [exchange({ errorCode: "ETIMEDOUT" })] },
      "H5",
      "high",
      "transport-error",
      { kind: "identity-endpoint", verdict: "fail", actual: "ETIMEDOUT" },
    ],
    [
      "EHOSTUNREACH on the error itself",
      Object.assign(new Error("connect EHOSTUNREACH 169.254.169.254:80"), { code: "EHOSTUNREACH" }),
      {},
      "H5",
      "high",
      "transport-error",
      { kind: "identity-endpoint", verdict: "fail", actual: "EHOSTUNREACH" },
    ],
    [
      "DNS failure",
      networkError,
      { exchanges: [exchange({ errorCode: "ENOTFOUND" })] },
      "H5",
      "high",
      "transport-error",
      { kind: "identity-endpoint", verdict: "fail", actual: "ENOTFOUND" },
    ],
    [
      "network_error without an exchange",
      networkError,
      {},
      "H5",
      "medium",
      "network-error",
      { kind: "identity-endpoint", verdict: "fail", actual: "network error" },
    ],
    [
      "Docker Desktop 403 unreachable network",
      new Error("ManagedIdentityCredential: Network unreachable. Message: A socket operation was attempted to an unreachable network."),
      {},
      "H5",
      "medium",
      "network-error",
      { kind: "identity-endpoint", verdict: "fail", actual: "network error" },
    ],
    [
      "Identity not found",
      new Error("ManagedIdentityCredential: Authentication failed. Message invalid_request: Identity not found"),
      {},
      "H1",
      "high",
      "identity-not-found",
      { kind: "identity-assignment", verdict: "fail", expected: "system-assigned identity" },
    ],
    [
      "No MSI found",
      new Error("No MSI found for specified ClientId/ResourceId."),
      { configuredIdentity: { clientId: "c" } },
      "H1",
      "high",
      "identity-not-found",
      { kind: "identity-assignment", verdict: "fail", expected: "clientId c" },
    ],
    [
      "Unable to load the proper Managed Identity",
      new Error("Unable to load the proper Managed Identity."),
      {},
      "H1",
      "high",
      "identity-not-found",
      { kind: "identity-assignment", verdict: "fail" },
    ],
    [
      "Multiple user assigned identities",
      new Error("Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request"),
      {},
      "H1",
      "high",
      "multiple-user-assigned",
      { kind: "identity-assignment", verdict: "fail" },
    ],
    [
      "500 unexpected error with a client id",
      new Error("Authentication failed"),
      {
        configuredIdentity: { clientId: "c1" },
        exchanges: [exchange({ status: 500, bodyExcerpt: '{"statusCode":500,"message":"An unexpected error occured while fetching the AAD Token."}' })],
      },
      "H1",
      "high",
      "identity-not-attached",
      { kind: "identity-assignment", verdict: "fail", expected: "clientId c1" },
    ],
    [
      "500 unexpected error without a client id",
      new Error("Authentication failed"),
      { exchanges: [exchange({ status: 500, bodyExcerpt: '{"statusCode":500,"message":"An unexpected error occured while fetching the AAD Token."}' })] },
      "H5",
      "medium",
      "endpoint-failing",
      { kind: "identity-endpoint", verdict: "fail", actual: "HTTP 500" },
    ],
    [
      "AADSTS500011",
      new Error("AADSTS500011: The resource principal named https://vault.azure.nett was not found in the tenant"),
      { scopes: "https://vault.azure.nett/.default" },
      "H3",
      "high",
      "unknown-resource",
      { kind: "scope", verdict: "fail", actual: "https://vault.azure.nett/.default", confirmedBy: "answer" },
    ],
    [
      "multiple scopes",
      new Error('ManagedIdentityCredential: Multiple scopes are not supported. Scopes: ["a","b"]'),
      { scopes: ["a", "b"] },
      "H3",
      "high",
      "multiple-scopes",
      { kind: "scope", verdict: "fail", expected: "exactly one scope", actual: "a, b", confirmedBy: "answer" },
    ],
    [
      "timeout",
      new Error("no token"),
      { timedOutAfterMs: 1000 },
      "H5",
      "high",
      "timeout",
      { kind: "identity-endpoint", verdict: "fail", actual: "no answer within 1000 ms" },
    ],
    [
      "malformed IDENTITY_ENDPOINT",
      new Error("x"),
      { environment: readHostEnvironment({ IDENTITY_ENDPOINT: "::nope", IDENTITY_HEADER: "h1234" }) },
      "H5",
      "high",
      "endpoint-malformed",
      { kind: "identity-variables", verdict: "fail", actual: "IDENTITY_ENDPOINT=::nope (malformed)", confirmedBy: "environment" },
    ],
    [
      "Container Apps without identity variables",
      networkError,
      { environment: readHostEnvironment({ CONTAINER_APP_NAME: "ca-b" }), exchanges: [exchange({ errorCode: "ECONNREFUSED" })] },
      "H1",
      "high",
      "identity-variables-missing",
      { kind: "identity-variables", verdict: "fail", actual: "IDENTITY_ENDPOINT not set", confirmedBy: "environment" },
    ],
    [
      "HTTP 503 from the endpoint",
      new Error("Authentication failed"),
      { exchanges: [exchange({ status: 503 }), exchange({ status: 503 })] },
      "H5",
      "high",
      "endpoint-failing",
      { kind: "identity-endpoint", verdict: "fail", expected: "HTTP 200", actual: "HTTP 503", confirmedBy: "answer" },
    ],
  ])("%s", (_name, error, context, hypothesis, confidence, rule, check) => {
    const diagnosis = classifyCredentialError(error, context);
    expect(diagnosis?.hypothesis).toBe(hypothesis);
    expect(diagnosis?.confidence).toBe(confidence);
    expect(diagnosis?.rule).toEqual({ id: `token-time.${rule}`, source: "token-time" });
    expectChecks(diagnosis, check);
    expect(diagnosis!.evidence.length).toBeGreaterThan(0);
    expect(diagnosis!.nextSteps.length).toBeGreaterThan(0);
    // Each step is one string: a sentence, and its command after a colon when it has one (never a bare command).
    for (const step of diagnosis!.nextSteps) {
      expect(step).toMatch(/^[A-Z]/);
      expect(step).not.toMatch(/^az /);
      expect(step.trimEnd()).not.toMatch(/:$/);
      if (/\baz (containerapp|webapp|role)\b/.test(step)) expect(step).toMatch(/^[A-Z][^]*?: az (containerapp|webapp|role) /);
    }
    expect(JSON.stringify(diagnosis)).not.toContain("secret-value-1");
  });

  it("never throws and returns a clear result for garbage", () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error("boom");
        },
      },
    );
    for (const input of [undefined, null, 42, "x", {}, [], hostile, Object.create(null), { cause: { cause: { cause: {} } } }]) {
      expect(() => classifyCredentialError(input)).not.toThrow();
      expect(() => classifyCredentialError(input, { exchanges: [hostile as never] })).not.toThrow();
    }
  });

  it("returns undefined for errors that are not credential failures", () => {
    expect(classifyCredentialError(new TypeError("x is not a function"))).toBeUndefined();
  });
});
