/**
 * A flood of failing downstream calls (10,000 a second: a retry loop gone wrong, a batch job with a missing role):
 * the log stays readable (repeats are folded into a few lines per distinct diagnosis), no diagnosis is lost (the
 * folded counts add up), memory stays flat, and no internal collection grows with the number of calls or of
 * distinct inputs. FULL=1: 100,000 calls through the policy at 10,000/s, 10,000 through zero-config observation.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  bearerTokenAuthenticationPolicy,
  createEmptyPipeline,
  createHttpHeaders,
  createPipelineRequest,
  type HttpClient,
  type PipelineRequest,
} from "@azure/core-rest-pipeline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DiagnosticCredential, diagnosticPolicy, type DiagnosisLogEntry } from "../../src/index.js";
import { credentialInternalsOf } from "../../src/credential/internals.js";
import { lookupIssuedToken } from "../../src/registry/issuedTokens.js";
import { DiagnosisLogger } from "../../src/logging/diagnosisLogger.js";
import { makeDiagnosis } from "../../src/diagnosis/build.js";
import { CLIENT_ID, collectionSizes, fakeManagedIdentity, FULL, heapUsedAfterGc, OID, SUB, TENANT } from "./helpers.js";

const PER_SECOND = 10_000;
// The default run is short (npm test); FULL=1 sends 100,000 (10 s at the target rate, longer when the CPU cannot keep up).
const POLICY_CALLS = FULL ? 100_000 : 2_000;
const OBSERVED_CALLS = FULL ? 10_000 : 500;
const DISTINCT = FULL ? 20_000 : 1_500;
/** More than COLLECTION_CAP, so that any per-scope collection without a cap fails the test. */
const SCOPES = FULL ? 10_000 : 1_500;
/** No internal collection may hold more entries than this, whatever the flood. */
const COLLECTION_CAP = 1_024;

const KV_SCOPE = `/subscriptions/${SUB}/resourcegroups/rg-orders/providers/microsoft.keyvault/vaults/kv-orders`;
const kvRbacBody = (secret: string) =>
  JSON.stringify({
    error: {
      code: "Forbidden",
      message: [
        "Caller is not authorized to perform action on resource.",
        "If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.",
        `Caller: appid=${CLIENT_ID};oid=${OID};iss=https://sts.windows.net/${TENANT}/`,
        "Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'",
        `Resource: '${KV_SCOPE}/secrets/${secret}'`,
        "Assignment: (not found)",
        "DenyAssignmentId: null",
        "",
      ].join("\r\n"),
      innererror: { code: "ForbiddenByRbac" },
    },
  });

/** Five distinct failures, each answered for ever-changing paths (a real flood hits many secrets/blobs). */
const KINDS: Array<{ scope: string; url: (i: number) => string; status: number; headers: Record<string, string>; body: (i: number) => string }> = [
  {
    scope: "https://vault.azure.net/.default",
    url: (i) => `https://kv-orders.vault.azure.net/secrets/s-${i}?api-version=7.5`,
    status: 403,
    headers: { "content-type": "application/json" },
    body: (i) => kvRbacBody(`s-${i}`),
  },
  {
    scope: "https://storage.azure.com/.default",
    url: (i) => `https://storders.blob.core.windows.net/invoices/${i}.pdf`,
    status: 403,
    headers: { "x-ms-error-code": "AuthorizationPermissionMismatch", "content-type": "application/xml" },
    body: (i) =>
      `<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationPermissionMismatch</Code><Message>This request is not authorized to perform this operation using this permission.\nRequestId:${i}\nTime:2025-05-01T12:00:00.0000000Z</Message></Error>`,
  },
  {
    scope: "https://management.azure.com/.default",
    url: (i) => `https://management.azure.com${KV_SCOPE}?api-version=2023-07-01&i=${i}`,
    status: 403,
    headers: { "content-type": "application/json" },
    body: () =>
      JSON.stringify({
        error: {
          code: "AuthorizationFailed",
          message: `The client '${CLIENT_ID}' with object id '${OID}' does not have authorization to perform action 'Microsoft.KeyVault/vaults/read' over scope '${KV_SCOPE}' or the scope is invalid.`,
        },
      }),
  },
  {
    scope: "https://cosmos-orders.documents.azure.com/.default",
    url: (i) => `https://cosmos-orders.documents.azure.com/dbs/orders/colls/items/docs/${i}`,
    status: 403,
    headers: { "x-ms-substatus": "5301", "content-type": "application/json" },
    body: () =>
      JSON.stringify({
        code: "Forbidden",
        message: `Request blocked by Auth cosmos-orders : Request is blocked because principal [${OID}] does not have required RBAC permissions to perform action [Microsoft.DocumentDB/databaseAccounts/readMetadata] on resource [/].`,
      }),
  },
  {
    scope: "https://vault.azure.net/.default",
    url: (i) => `https://kv-billing.vault.azure.net/secrets/t-${i}?api-version=7.5`,
    status: 401,
    headers: { "content-type": "application/json" },
    body: () =>
      JSON.stringify({
        error: {
          code: "Unauthorized",
          message: `AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${TENANT}/, found https://sts.windows.net/0b0b0b0b-1111-2222-3333-444444444444/.`,
        },
      }),
  },
];

function stubClient(): HttpClient {
  return {
    async sendRequest(request: PipelineRequest) {
      const kind = KINDS[Number(request.headers.get("x-kind"))]!;
      const i = Number(request.headers.get("x-i"));
      return { status: kind.status, headers: createHttpHeaders(kind.headers), request, bodyAsText: kind.body(i) };
    },
  };
}

/** Sends `total` calls at `perSecond` (batches every 50 ms); returns the achieved rate. */
async function paced(total: number, perSecond: number, send: (i: number) => Promise<unknown>): Promise<{ seconds: number; perSecond: number }> {
  const batch = Math.max(1, Math.round(perSecond / 20));
  const started = performance.now();
  for (let sent = 0; sent < total; sent += batch) {
    const size = Math.min(batch, total - sent);
    await Promise.all(Array.from({ length: size }, (_, k) => send(sent + k)));
    const due = started + ((sent + size) / perSecond) * 1000;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  const seconds = (performance.now() - started) / 1000;
  return { seconds, perSecond: total / seconds };
}

function foldedLinesPerDiagnosis(lines: DiagnosisLogEntry[]): Map<string, { lines: number; count: number }> {
  const groups = new Map<string, { lines: number; count: number }>();
  for (const line of lines) {
    const key = `${line.source}|${line.code}|${line.service}|${line.status}|${line.errorCode}|${line.message}`;
    const group = groups.get(key) ?? { lines: 0, count: 0 };
    group.lines++;
    group.count += line.count;
    groups.set(key, group);
  }
  return groups;
}

function expectCollectionsCapped(credential: object): void {
  const sizes = collectionSizes(credential);
  const over = sizes.filter((entry) => entry.size > COLLECTION_CAP);
  expect(over, `collections over ${COLLECTION_CAP}: ${JSON.stringify(over)}`).toEqual([]);
}

describe("a flood of failing downstream calls", () => {
  it(
    `${POLICY_CALLS.toLocaleString()} 401/403 answers at ${PER_SECOND.toLocaleString()}/s through diagnosticPolicy: folded lines, nothing lost, flat memory`,
    async () => {
      const lines: DiagnosisLogEntry[] = [];
      const credential = new DiagnosticCredential({ credential: fakeManagedIdentity(), clientId: CLIENT_ID, logger: (entry) => lines.push(entry) });
      const pipelines = KINDS.map((kind) => {
        const pipeline = createEmptyPipeline();
        pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential, scopes: kind.scope }));
        pipeline.addPolicy(diagnosticPolicy(credential).policy, { afterPhase: "Sign" });
        return pipeline;
      });
      const client = stubClient();
      const diagnosed = { count: 0 };
      const send = async (i: number) => {
        const k = i % KINDS.length;
        const request = createPipelineRequest({ url: KINDS[k]!.url(i), headers: createHttpHeaders({ "x-kind": String(k), "x-i": String(i) }) });
        const response = await pipelines[k]!.sendRequest(client, request);
        expect(response.status).toBe(KINDS[k]!.status);
        diagnosed.count++;
      };
      // Warm up (JIT, token cache), then measure the heap over two equal halves: the second must not grow.
      for (let i = 0; i < 500; i++) await send(i);
      const heap0 = await heapUsedAfterGc();
      const first = await paced(POLICY_CALLS / 2, PER_SECOND, send);
      const heap1 = await heapUsedAfterGc();
      const second = await paced(POLICY_CALLS / 2, PER_SECOND, (i) => send(i + POLICY_CALLS));
      const heap2 = await heapUsedAfterGc();
      credential.flushLogs();

      const responseLines = lines.filter((line) => line.source === "response");
      const groups = foldedLinesPerDiagnosis(responseLines);
      const totalCount = responseLines.reduce((sum, line) => sum + line.count, 0);
      console.info(
        `[load] policy flood: ${POLICY_CALLS} calls at ${Math.round(first.perSecond)} + ${Math.round(second.perSecond)}/s achieved ` +
          `(${(first.seconds + second.seconds).toFixed(1)} s); ${lines.length} log lines for ${groups.size} distinct diagnoses; ` +
          `heap ${(heap0 / 1048576).toFixed(1)} → ${(heap1 / 1048576).toFixed(1)} → ${(heap2 / 1048576).toFixed(1)} MB`,
      );
      expect(diagnosed.count).toBe(POLICY_CALLS + 500);
      // One distinct diagnosis per kind of failure, whatever the path of each call.
      expect(groups.size).toBe(KINDS.length);
      // ≤ 2 lines per distinct diagnosis per 60 s window (the first at once, then one folded count).
      for (const [key, group] of groups) expect(group.lines, key).toBeLessThanOrEqual(2 * Math.ceil((first.seconds + second.seconds + 1) / 60));
      // Nothing lost: the folded counts add up to every diagnosed answer.
      expect(totalCount).toBe(POLICY_CALLS + 500);
      // No log line from anything else (the tokens are healthy, the scopes right).
      expect(lines.filter((line) => line.source !== "response").map((line) => line.message)).toEqual([]);
      // Flat memory: the second half retains no more than the first (< 4 MB either way, a fraction of a KB per call).
      expect(heap2 - heap1).toBeLessThan(4 * 1048576);
      expect(heap2 - heap0).toBeLessThan(8 * 1048576);
      expectCollectionsCapped(credential);
    },
    FULL ? 300_000 : 60_000,
  );

  it(
    `${DISTINCT.toLocaleString()} distinct failures and ${SCOPES.toLocaleString()} distinct scopes and tokens: every internal collection stays capped`,
    async () => {
      let written = 0;
      const credential = new DiagnosticCredential({
        credential: fakeManagedIdentity({ fresh: true, unsigned: true, lifetimeSeconds: 3_600 }),
        clientId: CLIENT_ID,
        logger: () => void written++,
      });
      // Distinct hosts: a distinct diagnosis each (the vault name is in the summary), so folding cannot help; the
      // fold table, the handled-answers table and every per-host state must evict.
      const heap0 = await heapUsedAfterGc();
      for (let i = 0; i < DISTINCT; i++) {
        credentialInternalsOf(credential)!.diagnoseResponse(
          { url: `https://kv-${i}.vault.azure.net/secrets/x`, status: 403, method: "GET", body: kvRbacBody("x") },
          undefined,
          "response",
        );
      }
      // Distinct scopes, each with a new token: lastTokens, per-audience tokens, scope findings, telemetry state
      // and the process-wide registry of issued tokens must all stay capped.
      const firstToken = (await credential.getToken("https://app-0.contoso.com/.default"))!.token;
      let lastToken = firstToken;
      for (let i = 1; i < SCOPES; i++) lastToken = (await credential.getToken(`https://app-${i}.contoso.com/.default`))!.token;
      credential.flushLogs();
      const heap1 = await heapUsedAfterGc();
      console.info(
        `[load] ${DISTINCT} distinct failures + ${SCOPES} distinct scopes: ${written} lines, heap +${((heap1 - heap0) / 1048576).toFixed(1)} MB; largest collections: ${JSON.stringify(
          collectionSizes(credential)
            .sort((a, b) => b.size - a.size)
            .slice(0, 4),
        )}`,
      );
      expectCollectionsCapped(credential);
      expect(lookupIssuedToken(firstToken)).toBeUndefined();
      expect(lookupIssuedToken(lastToken)).toBeDefined();
      expect(heap1 - heap0).toBeLessThan(24 * 1048576);
    },
    FULL ? 300_000 : 60_000,
  );

  describe("through zero-config observation (node:http, no policy)", () => {
    let server: http.Server;
    let port: number;
    beforeAll(async () => {
      server = http.createServer((req, res) => {
        req.resume();
        const body = kvRbacBody("s");
        res.writeHead(403, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
        res.end(body);
      });
      server.keepAliveTimeout = 60_000;
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    it(
      `${OBSERVED_CALLS.toLocaleString()} observed 403s carrying our token: folded, counted, timers drained`,
      async () => {
        const lines: DiagnosisLogEntry[] = [];
        const credential = new DiagnosticCredential({ credential: fakeManagedIdentity(), clientId: CLIENT_ID, logger: (entry) => lines.push(entry) });
        const token = (await credential.getToken("https://vault.azure.net/.default"))!.token;
        const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
        const get = (i: number) =>
          new Promise<void>((resolve, reject) => {
            // The Host header makes the observer see the vault's host while the request goes to the local server.
            const req = http.request(
              { host: "127.0.0.1", port, path: `/secrets/s-${i}`, agent, headers: { host: "kv-orders.vault.azure.net", authorization: `Bearer ${token}` } },
              (res) => {
                res.resume();
                res.on("end", resolve);
              },
            );
            req.on("error", reject);
            req.end();
          });
        const heap0 = await heapUsedAfterGc();
        const rate = await paced(OBSERVED_CALLS, PER_SECOND, get);
        // The observer waits 100 ms for a policy before it reports: let every pending report run.
        await new Promise((resolve) => setTimeout(resolve, 400));
        credential.flushLogs();
        agent.destroy();
        const heap1 = await heapUsedAfterGc();
        const observed = lines.filter((line) => line.source === "observed");
        const groups = foldedLinesPerDiagnosis(observed);
        console.info(
          `[load] observed flood: ${OBSERVED_CALLS} requests at ${Math.round(rate.perSecond)}/s achieved; ${observed.length} lines for ${groups.size} distinct diagnoses; heap +${((heap1 - heap0) / 1048576).toFixed(1)} MB`,
        );
        expect(observed.reduce((sum, line) => sum + line.count, 0)).toBe(OBSERVED_CALLS);
        expect(groups.size).toBe(1);
        expect(observed.length).toBeLessThanOrEqual(2);
        expect(observed[0]).toMatchObject({ hypothesis: "H2", host: "kv-orders.vault.azure.net", status: 403 });
        expect(heap1 - heap0).toBeLessThan(8 * 1048576);
        expectCollectionsCapped(credential);
      },
      FULL ? 120_000 : 60_000,
    );
  });

  it("the logger folds per window and caps its table (simulated clock: 100,000 diagnoses over 5 windows)", () => {
    let now = 1_750_000_000_000;
    const realNow = Date.now;
    Date.now = () => now;
    try {
      const written: DiagnosisLogEntry[] = [];
      const logger = new DiagnosisLogger((entry) => written.push(entry), { windowMs: 1_000, maxKeys: 64 });
      const kinds = Array.from({ length: 5 }, (_, k) =>
        makeDiagnosis("RoleMissingOrWrongScope", {
          confidence: "high",
          summary: `kind ${k}`,
          evidence: [],
          nextSteps: [],
          identity: { kind: "system-assigned" },
          status: 403,
        }),
      );
      const context = { level: "error" as const, source: "response", containerApp: {} };
      const perWindow = FULL ? 100_000 : 20_000;
      for (let window = 0; window < 5; window++) {
        for (let i = 0; i < perWindow; i++) {
          logger.log(kinds[i % kinds.length]!, context);
          if (i % 1000 === 0) now += 1; // 20 ms of simulated time per 20,000 … within the window
        }
        now += 1_000; // next window
      }
      logger.flushAll();
      // ≤ 2 lines per distinct diagnosis per window; nothing lost.
      expect(written.length).toBeLessThanOrEqual(kinds.length * 5 * 2);
      expect(written.reduce((sum, entry) => sum + entry.count, 0)).toBe(perWindow * 5);

      // 10,000 distinct diagnoses: the fold table never holds more than maxKeys.
      const many = new DiagnosisLogger(() => {}, { windowMs: 60_000, maxKeys: 64 });
      for (let i = 0; i < 10_000; i++) {
        many.log(
          makeDiagnosis("RoleMissingOrWrongScope", {
            confidence: "high",
            summary: `distinct ${i}`,
            evidence: [],
            nextSteps: [],
            identity: { kind: "system-assigned" },
          }),
          context,
        );
        many.log(
          makeDiagnosis("RoleMissingOrWrongScope", {
            confidence: "high",
            summary: `distinct ${i}`,
            evidence: [],
            nextSteps: [],
            identity: { kind: "system-assigned" },
          }),
          context,
        );
      }
      const sizes = collectionSizes(many);
      expect(Math.max(...sizes.map((entry) => entry.size))).toBeLessThanOrEqual(64);
    } finally {
      Date.now = realNow;
    }
  });
});
