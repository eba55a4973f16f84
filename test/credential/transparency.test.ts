/**
 * Diagnostics never change what they diagnose: tokens pass through unchanged, errors keep their name and cause,
 * chains move on, a throwing logger or hostile error cannot break getToken, repeats are folded.
 */
import { ChainedTokenCredential, CredentialUnavailableError, AuthenticationError } from "@azure/identity";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DiagnosticCredential, getDiagnosis, getInternalFaultCount, type DiagnosisLogEntry } from "../../src/index.js";

const unavailable = () =>
  new CredentialUnavailableError(
    "ManagedIdentityCredential: Network unreachable. Message: network_error: See https://aka.ms/msal.js.errors#network_error for details",
  );

describe("transparency", () => {
  // An app on Azure (App Service / Container Apps variables set): off Azure, a network failure of managed identity is
  // the expected fall-through and is logged once at info level (test/lifecycle/process-state.test.ts).
  beforeEach(() => {
    vi.stubEnv("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token");
    vi.stubEnv("IDENTITY_HEADER", "transparency-header");
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("returns the wrapped credential's AccessToken object unchanged", async () => {
    const accessToken = {
      token: "opaque-token-value",
      expiresOnTimestamp: Date.now() + 60_000,
      refreshAfterTimestamp: Date.now() + 30_000,
      tokenType: "Bearer" as const,
    };
    const credential = new DiagnosticCredential({ credential: { getToken: async () => accessToken }, logger: false });
    expect(await credential.getToken("https://vault.azure.net/.default")).toBe(accessToken);
    expect(await credential.getToken("https://vault.azure.net/.default")).toBe(accessToken);
  });

  it("keeps the error's class, name and cause, adds the diagnosis and ends the message with the summary", async () => {
    const original = unavailable();
    const cause = new Error("inner");
    Object.assign(original, { cause });
    const credential = new DiagnosticCredential({
      credential: {
        getToken: async () => {
          throw original;
        },
      },
      logger: false,
    });
    const thrown = await credential.getToken("https://vault.azure.net/.default").catch((e: unknown) => e);
    expect(thrown).toBe(original);
    expect(thrown).toBeInstanceOf(CredentialUnavailableError);
    expect((thrown as Error).name).toBe("CredentialUnavailableError");
    expect((thrown as Error).cause).toBe(cause);
    expect(getDiagnosis(thrown)).toMatchObject({ hypothesis: "H5" });
    expect((thrown as Error).message.split("\n").at(-1)).toMatch(/^DiagnosticCredential \[H5 IdentityEndpointUnreachable\] /);
  });

  it("a ChainedTokenCredential moves on to the next credential after a DiagnosticCredential failure", async () => {
    const chain = new ChainedTokenCredential(
      new DiagnosticCredential({
        credential: {
          getToken: async () => {
            throw unavailable();
          },
        },
        logger: false,
      }),
      { getToken: async () => ({ token: "next", expiresOnTimestamp: Date.now() + 60_000 }) },
    );
    expect((await chain.getToken("https://vault.azure.net/.default"))!.token).toBe("next");
  });

  it("other error names stop the chain as they would without the wrapper", async () => {
    const authError = new AuthenticationError(400, { error: "invalid_request", error_description: "bad" });
    const chain = new ChainedTokenCredential(
      new DiagnosticCredential({
        credential: {
          getToken: async () => {
            throw authError;
          },
        },
        logger: false,
      }),
      { getToken: async () => ({ token: "next", expiresOnTimestamp: Date.now() + 60_000 }) },
    );
    await expect(chain.getToken("https://vault.azure.net/.default")).rejects.toMatchObject({ name: "AuthenticationError" });
  });

  it("a throwing logger is swallowed and counted; the error thrown is still the original", async () => {
    const before = getInternalFaultCount();
    const original = unavailable();
    const credential = new DiagnosticCredential({
      credential: {
        getToken: async () => {
          throw original;
        },
      },
      logger: () => {
        throw new Error("logger down");
      },
    });
    await expect(credential.getToken("https://vault.azure.net/.default")).rejects.toBe(original);
    expect(getInternalFaultCount()).toBe(before + 1);
  });

  it("frozen and non-Error throwables pass through untouched", async () => {
    const frozen = Object.freeze(unavailable());
    const credential = new DiagnosticCredential({
      credential: {
        getToken: async () => {
          throw frozen;
        },
      },
      logger: false,
    });
    await expect(credential.getToken("https://vault.azure.net/.default")).rejects.toBe(frozen);
    const stringThrower = new DiagnosticCredential({
      credential: {
        getToken: async () => {
          throw "plain string";
        },
      },
      logger: false,
    });
    await expect(stringThrower.getToken("https://vault.azure.net/.default")).rejects.toBe("plain string");
  });

  it("folds repeats: the first line at once, the rest as one line with a count", async () => {
    const lines: DiagnosisLogEntry[] = [];
    const credential = new DiagnosticCredential({
      credential: {
        getToken: async () => {
          throw unavailable();
        },
      },
      logger: (e) => lines.push(e),
    });
    for (let i = 0; i < 5; i++) await credential.getToken("https://vault.azure.net/.default").catch(() => undefined);
    expect(lines.map((l) => l.count)).toEqual([1]);
    credential.flushLogs();
    expect(lines.map((l) => l.count)).toEqual([1, 4]);
  });

  it("the default logger writes one JSON line per diagnosis on stderr", async () => {
    const written: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const credential = new DiagnosticCredential({
        credential: {
          getToken: async () => {
            throw unavailable();
          },
        },
      });
      await credential.getToken("https://vault.azure.net/.default").catch(() => undefined);
    } finally {
      process.stderr.write = original;
    }
    const entry = JSON.parse(written.find((w) => w.includes("DiagnosticCredential ["))!);
    expect(Object.keys(entry)).toEqual(
      expect.arrayContaining(["time", "level", "message", "hypothesis", "code", "confidence", "evidence", "nextSteps", "containerApp", "count"]),
    );
    expect(entry.message).toMatch(/CredentialUnavailableError/);
  });
  it("an abort signal whose listeners cannot be added or removed neither breaks nor delays the call", async () => {
    const before = getInternalFaultCount();
    const accessToken = { token: "t", expiresOnTimestamp: Date.now() + 60_000 };
    const hostileSignal = {
      aborted: false,
      addEventListener: () => {
        throw new Error("no listeners here");
      },
      removeEventListener: () => {
        throw new Error("no listeners here");
      },
    };
    const credential = new DiagnosticCredential({ credential: { getToken: async () => accessToken }, tokenTimeoutMs: 200, logger: false });
    expect(await credential.getToken("https://vault.azure.net/.default", { abortSignal: hostileSignal as never })).toBe(accessToken);
    // A signal that can be listened to but not unsubscribed from: the call still settles at once, with the token.
    const sticky = new AbortController();
    const signal = Object.assign(Object.create(sticky.signal), {
      addEventListener: sticky.signal.addEventListener.bind(sticky.signal),
      removeEventListener: () => {
        throw new Error("stuck");
      },
    });
    expect(await credential.getToken("https://vault.azure.net/.default", { abortSignal: signal })).toBe(accessToken);
    await new Promise((resolve) => setTimeout(resolve, 300)); // past tokenTimeoutMs: no late timeout surfaces
    expect((credential as unknown as { calls: { deadlines: { pendingCount: number } } }).calls.deadlines.pendingCount).toBe(0);
    expect(getInternalFaultCount()).toBe(before); // the caller's signal misbehaving is not a fault of the library
  });

  it("scopes or options it cannot read go to the wrapped credential as given: the caller gets that credential's own answer", async () => {
    const seen: unknown[][] = [];
    const inner = {
      getToken: async (scopes: unknown, options: unknown) => {
        seen.push([scopes, options]);
        if (typeof scopes !== "string" && !Array.isArray(scopes)) throw new TypeError("scopes must be a string or an array");
        return { token: "t", expiresOnTimestamp: Date.now() + 60_000 };
      },
    };
    const credential = new DiagnosticCredential({ credential: inner, logger: false });
    const options = {
      get abortSignal(): never {
        throw new Error("getter");
      },
    };
    expect((await credential.getToken("https://vault.azure.net/.default", options))!.token).toBe("t");
    expect(seen.at(-1)![1]).toBe(options);
    await expect(credential.getToken(42 as never)).rejects.toMatchObject({ name: "TypeError", message: "scopes must be a string or an array" });
    expect(seen.at(-1)![0]).toBe(42);
  });
});
