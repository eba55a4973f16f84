/**
 * Zero-config observation's guarantees, with real clients in this process (node:diagnostics_channel is per
 * process): it never delays or alters a request, its faults (a throwing logger) are swallowed, it reports only
 * requests that carried a token this credential issued, and it names the host the client addressed.
 * The per-service hypotheses are in the other files of this folder.
 */
import { describe, expect, test } from "vitest";
import { SecretClient } from "@azure/keyvault-secrets";
import { DiagnosticCredential, getInternalFaultCount, type DiagnosisLogEntry } from "../../src/index.js";
import { disableZeroConfigObservation, enableZeroConfigObservation } from "../../src/observe/zeroConfig.js";
import { startGraphEmulator, startKeyVaultEmulator } from "../../src/testing.js";
import { diagnosticSetup, downstreamLog, failure, mintingCredential, newIdentity, QUIET_MS, settledDownstream, sleep, useEmulators } from "./helpers.js";

const env = useEmulators((base) => ({ kv: startKeyVaultEmulator({ ...base, vaultName: "zc-kv" }), graph: startGraphEmulator(base) }), {
  routeFetch: ({ graph }) => [graph.host],
});

/** A logger that blocks the event loop for `ms` on every entry: any work on the request path would show in its latency. */
function slowLogger(ms: number, into: DiagnosisLogEntry[]) {
  return (entry: DiagnosisLogEntry) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      // busy: the logger is slow
    }
    into.push(entry);
  };
}

// Sequential: a slow logger blocks the event loop, which would slow a neighbour's request down.
describe("zero-config observation: never on the request path", () => {
  test("node:http (SecretClient): the 403 reaches the caller before the (slow) diagnosis is even made", async () => {
    const identity = newIdentity();
    const logs: DiagnosisLogEntry[] = [];
    const credential = new DiagnosticCredential({
      credential: mintingCredential(env.mi, { identity }),
      clientId: identity.clientId,
      logger: slowLogger(1_500, logs),
    });
    env.kv.setSecret("slow", "x");
    // Warm up the connection with a token that is not ours (not observed).
    await new SecretClient(env.kv.endpoint, mintingCredential(env.mi, { identity }), { httpClient: env.kv.httpClient })
      .getSecret("slow")
      .catch(() => undefined);
    const started = Date.now();
    const error = await failure(new SecretClient(env.kv.endpoint, credential, { httpClient: env.kv.httpClient }).getSecret("slow"));
    const elapsed = Date.now() - started;
    expect(error.statusCode).toBe(403);
    expect(elapsed).toBeLessThan(1_000);
    // The diagnosis came later, off the request path.
    const entry = await downstreamLog(logs);
    expect(entry).toMatchObject({ source: "observed", host: "zc-kv.vault.azure.net", hypothesis: "H2" });
  });

  test("fetch (undici): same, and the URL in the diagnosis is the one the app fetched", async () => {
    const identity = newIdentity();
    const logs: DiagnosisLogEntry[] = [];
    const credential = new DiagnosticCredential({
      credential: mintingCredential(env.mi, { identity }),
      clientId: identity.clientId,
      logger: slowLogger(1_500, logs),
    });
    const token = (await credential.getToken("https://graph.microsoft.com/.default"))!.token;
    const url = `https://graph.microsoft.com:${env.graph.port}/v1.0/applications`;
    await (await fetch(url)).text(); // warm up the connection (no token: not observed)
    const started = Date.now();
    const response = await fetch(`${url}?$top=1`, { headers: { authorization: `Bearer ${token}` } });
    const body = await response.text();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(response.status).toBe(403);
    expect(JSON.parse(body).error.code).toBe("AccessDenied");
    const entry = await downstreamLog(logs);
    expect(entry).toMatchObject({ source: "observed", host: `graph.microsoft.com:${env.graph.port}`, status: 403 });
    expect(entry.evidence[0]).toBe(`HTTP 403 from graph.microsoft.com:${env.graph.port} (GET /v1.0/applications)`);
  });
});

describe.concurrent("zero-config observation: faults and foreign requests", () => {
  test("a throwing logger is swallowed (counted as an internal fault); the client's error is the same", async () => {
    const identity = newIdentity();
    const credential = new DiagnosticCredential({
      credential: mintingCredential(env.mi, { identity }),
      clientId: identity.clientId,
      logger: () => {
        throw new Error("log sink down");
      },
    });
    const before = getInternalFaultCount();
    env.kv.setSecret("faulty", "x");
    const error = await failure(new SecretClient(env.kv.endpoint, credential, { httpClient: env.kv.httpClient }).getSecret("faulty"));
    expect(error).toMatchObject({ name: "RestError", statusCode: 403, code: "Forbidden" });
    await sleep(QUIET_MS);
    expect(getInternalFaultCount()).toBeGreaterThan(before);
  });

  test("requests without a token of ours (no token, or another credential's) are not reported", async () => {
    const identity = newIdentity();
    const setup = diagnosticSetup(env.mi, { identity });
    await setup.credential.getToken("https://graph.microsoft.com/.default");
    const url = `https://graph.microsoft.com:${env.graph.port}/v1.0/users`;
    expect((await fetch(url)).status).toBe(401);
    const foreign = await env.mi.mintToken({ identity, resource: "https://graph.microsoft.com" });
    expect((await fetch(url, { headers: { authorization: `Bearer ${foreign}` } })).status).toBe(403);
    expect(await settledDownstream(setup.logs)).toEqual([]);
  });
});

describe("zero-config observation: never alters a request", () => {
  test("status, headers and body are the same with observation on and off (node:http and fetch)", async () => {
    const identity = newIdentity();
    const setup = diagnosticSetup(env.mi, { identity });
    env.kv.setSecret("same", "x");
    const graphToken = (await setup.credential.getToken("https://graph.microsoft.com/.default"))!.token;
    const observe = async () => {
      const error = await failure(new SecretClient(env.kv.endpoint, setup.credential, { httpClient: env.kv.httpClient }).getSecret("same"));
      const response = await fetch(`https://graph.microsoft.com:${env.graph.port}/v1.0/users`, { headers: { authorization: `Bearer ${graphToken}` } });
      const stable = (headers: Record<string, string>) =>
        Object.fromEntries(
          Object.entries(headers).filter(([name]) => !/date|request-id|client-request-id|x-ms-ags-diagnostic|keep-alive|connection/.test(name)),
        );
      return {
        kv: { status: error.statusCode, code: error.code, details: error.details, headers: stable(error.response.headers.toJSON()) },
        graph: { status: response.status, headers: stable(Object.fromEntries(response.headers)), body: JSON.parse(await response.text()).error.code },
      };
    };
    const on = await observe();
    disableZeroConfigObservation();
    try {
      const off = await observe();
      expect(on).toEqual(off);
    } finally {
      enableZeroConfigObservation();
    }
    expect(on.kv.status).toBe(403);
    expect(on.graph.status).toBe(403);
  });
});
