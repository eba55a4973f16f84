/**
 * Shared set-up of the integration tests: the identity emulator (its signer issues every token) and the service
 * emulators that trust it, real SDK clients pointed at the emulators with their real host names, and
 * DiagnosticCredentials whose tokens the identity emulator mints (in-process: a wrapped TokenCredential; the real
 * ManagedIdentityCredential path runs in child processes, see managedIdentity.test.ts).
 */
import dns from "node:dns";
import { randomUUID } from "node:crypto";
import tls from "node:tls";
import { afterAll, beforeAll, expect, test } from "vitest";
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { DiagnosticCredential, getDiagnosis, type Diagnosis, type DiagnosisLogEntry } from "../../src/index.js";
import { startIdentityEndpoint, type EmulatedIdentity, type IdentityEndpointEmulator, type TestCertificateAuthority } from "../../src/testing.js";
import { createTestCertificateAuthority } from "../../src/testing.js";
import { startTogether, type Closable, type Starting } from "../helpers/emulators.js";

export const SUBSCRIPTION = "5f2e7c1a-3b4d-4e6f-8a9b-0c1d2e3f4a5b";
export const RESOURCE_GROUP = "rg-orders";
export const OTHER_TENANT = "99999999-9999-4999-8999-999999999999";

/** The identity emulator (no system-assigned identity: every test brings its own user-assigned one) and a CA for the services. */
export async function startIdentity(): Promise<{ mi: IdentityEndpointEmulator; ca: TestCertificateAuthority }> {
  const mi = await startIdentityEndpoint({ systemAssigned: false, userAssigned: [{ name: "uami-default" }] });
  return { mi, ca: createTestCertificateAuthority() };
}

/** Options every service emulator of a test file takes. */
export function emulatorBase(mi: IdentityEndpointEmulator, ca: TestCertificateAuthority) {
  return { issuerKeys: mi.signer.jwks(), tenantId: mi.tenantId, subscriptionId: SUBSCRIPTION, resourceGroup: RESOURCE_GROUP, certificateAuthority: ca };
}

export type EmulatorBase = ReturnType<typeof emulatorBase>;

/** The identity emulator and the service emulators of a test file (see {@link useEmulators}). */
export type Emulators<S> = { mi: IdentityEndpointEmulator } & S;

/**
 * The set-up of a test file: in `beforeAll`, the identity emulator ({@link startIdentity}) and the service emulators
 * `start` builds from {@link emulatorBase} (started side by side); with `routeFetch`, `fetch` then reaches those hosts
 * by their real names ({@link routeFetchToEmulators}). In `afterAll`, the routing is undone and every emulator
 * closed. The returned object is filled in by `beforeAll`: read it inside tests and hooks only.
 */
export function useEmulators<S extends Record<string, Closable>>(
  start: (base: EmulatorBase) => Starting<S>,
  options: { routeFetch?: (emulators: Emulators<S>) => readonly string[] } = {},
): Emulators<S> {
  const emulators = {} as Emulators<S>;
  let unroute: (() => void) | undefined;
  beforeAll(async () => {
    const { mi, ca } = await startIdentity();
    emulators.mi = mi;
    Object.assign(emulators, await startTogether(start(emulatorBase(mi, ca))));
    if (options.routeFetch) unroute = routeFetchToEmulators(ca.cert, options.routeFetch(emulators));
  });
  afterAll(async () => {
    unroute?.();
    await Promise.all(Object.values(emulators).map((emulator) => emulator.close()));
  });
  return emulators;
}

/** `/subscriptions/<SUBSCRIPTION>/resourceGroups/<RESOURCE_GROUP>/providers/<path>`: a resource of the test resource group. */
export function resourceIdOf(path: string): string {
  return `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RESOURCE_GROUP}/providers/${path}`;
}

/** A name of its own for one test (`prefix-` and 8 random characters): resources of one test never meet another's. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
}

/** A user-assigned identity of its own for one test (fresh ids: role grants of one test never help another). */
export function newIdentity(name = `uami-${randomUUID().slice(0, 8)}`): EmulatedIdentity {
  return {
    kind: "user-assigned",
    name,
    clientId: randomUUID(),
    objectId: randomUUID(),
    resourceId: `/subscriptions/${SUBSCRIPTION}/resourcegroups/${RESOURCE_GROUP}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${name}`,
  };
}

/** How the tokens of a test go wrong (or not). */
export interface TokenPlan {
  /** Whose claims the token carries. */
  identity: EmulatedIdentity;
  /** Mint for this audience instead of the requested scope's (H3). */
  audience?: string;
  /** Claims to override (expiry, tenant). */
  claims?: () => Record<string, unknown>;
}

/** Claims of a token that expired an hour ago (while `expiresOnTimestamp` says it is good, so the SDK sends it). */
export function expiredClaims(): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { iat: now - 7200, nbf: now - 7200, exp: now - 3600 };
}

/** Claims of a token issued by another tenant. */
export function otherTenantClaims(): Record<string, unknown> {
  return { tid: OTHER_TENANT, iss: `https://sts.windows.net/${OTHER_TENANT}/`, idp: `https://sts.windows.net/${OTHER_TENANT}/` };
}

/** A plain TokenCredential minting with the identity emulator's signer: what the app would use without the library. */
export function mintingCredential(mi: IdentityEndpointEmulator, plan: TokenPlan): TokenCredential & { scopes: string[] } {
  const scopes: string[] = [];
  return {
    scopes,
    async getToken(scope: string | string[]): Promise<AccessToken> {
      const requested = Array.isArray(scope) ? scope[0]! : scope;
      scopes.push(requested);
      const resource = requested.replace(/\/\.default$/, "");
      const token = await mi.mintToken({ identity: plan.identity, resource: plan.audience ?? resource, ...plan.claims?.() });
      return { token, expiresOnTimestamp: Date.now() + 3_600_000, tokenType: "Bearer" };
    },
  };
}

export interface DiagnosticSetup {
  credential: DiagnosticCredential;
  /** The same tokens without the library (for the "error unchanged" comparison). */
  plain: TokenCredential;
  logs: DiagnosisLogEntry[];
}

/**
 * A DiagnosticCredential wrapping {@link mintingCredential}, configured for `configured` (default: the plan's own
 * identity; another one makes an identity mix-up), logging into `logs`.
 */
export function diagnosticSetup(mi: IdentityEndpointEmulator, plan: TokenPlan, configured: EmulatedIdentity = plan.identity): DiagnosticSetup {
  return { ...wrap(mintingCredential(mi, plan), configured), plain: mintingCredential(mi, plan) };
}

/** A DiagnosticCredential around `inner`, configured for `configured`, logging into `logs`. */
export function wrap(inner: TokenCredential, configured: EmulatedIdentity): { credential: DiagnosticCredential; logs: DiagnosisLogEntry[] } {
  const logs: DiagnosisLogEntry[] = [];
  const credential = new DiagnosticCredential({ credential: inner, clientId: configured.clientId, logger: (entry) => logs.push(entry) });
  return { credential, logs };
}

/**
 * Tokens that go stale and get fixed: the first `badCount` carry `bad` claims, the later ones are good; each is handed
 * out as valid for 0.5 s only, so the SDK's token cache asks again on every request (and on a challenge's retry).
 */
export function rotatingCredential(
  mi: IdentityEndpointEmulator,
  identity: EmulatedIdentity,
  bad: () => Record<string, unknown>,
  badCount: number,
): TokenCredential {
  const good = mintingCredential(mi, { identity });
  const stale = mintingCredential(mi, { identity, claims: bad });
  let calls = 0;
  return {
    async getToken(scopes, options) {
      const token = await (++calls <= badCount ? stale : good).getToken(scopes, options);
      return token && { ...token, expiresOnTimestamp: Date.now() + 500 };
    },
  };
}

/**
 * The same failing call twice: through a DiagnosticCredential ({@link diagnosticSetup}; with `policy`, `call` gets
 * it as `diagnose`, to put the library in the client's pipeline), then with the plain credential and no library.
 * Both must fail, and the errors must look the same to the caller ({@link errorShape}).
 */
export async function failWithAndWithoutLibrary(
  mi: IdentityEndpointEmulator,
  plan: TokenPlan,
  options: { policy: boolean; configured?: EmulatedIdentity },
  call: (credential: TokenCredential, diagnose?: DiagnosticCredential) => Promise<unknown>,
): Promise<DiagnosticSetup & { error: any }> {
  const setup = diagnosticSetup(mi, plan, options.configured);
  const error = await failure(call(setup.credential, options.policy ? setup.credential : undefined));
  const plainError = await failure(call(setup.plain));
  expect(errorShape(error)).toEqual(errorShape(plainError));
  return { ...setup, error };
}

/** A `fetch` whose only header is the credential's token for `scope`: the response, and its body read as text. */
export async function fetchWithToken(
  credential: TokenCredential,
  scope: string,
  url: string,
  init: RequestInit = {},
): Promise<{ response: Response; body: string }> {
  const token = (await credential.getToken(scope))!.token;
  const response = await fetch(url, { ...init, headers: { authorization: `Bearer ${token}` } });
  return { response, body: await response.text() };
}

/** Awaits a promise that must reject; returns what it rejected with. */
export async function failure(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
}

/** What a user's code can see of an error: class, name, status, codes, message (ids and times masked), own keys. */
export function errorShape(error: any) {
  const mask = (text: unknown) =>
    typeof text === "string"
      ? text
          .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, "<id>")
          .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?/g, "<time>")
          .replace(/\d{1,2}\/\d{1,2}\/\d{4} \d{1,2}:\d{2}:\d{2} [AP]M/g, "<time>")
      : text;
  return {
    constructor: error?.constructor?.name,
    name: error?.name,
    statusCode: error?.statusCode,
    code: error?.code,
    substatus: error?.substatus,
    detailsErrorCode: error?.details?.errorCode ?? error?.details?.error?.code,
    message: mask(error?.message),
    keys: Object.keys(error ?? {}).sort(),
    diagnosisProperty: error?.diagnosis,
  };
}

/** Downstream diagnoses in the log (the policy's "response" and zero-config's "observed"), not token checks. */
export function downstream(logs: DiagnosisLogEntry[]): DiagnosisLogEntry[] {
  return logs.filter((entry) => entry.source === "response" || entry.source === "observed");
}

/**
 * The test each service file has for the library in the client's pipeline: with zero-config observation active too,
 * one failure (`fail`, with an identity of its own) is reported once, by the pipeline (source "response").
 */
export function testReportedOnce(name: string, fail: (plan: TokenPlan) => Promise<{ logs: DiagnosisLogEntry[] }>): void {
  test(name, async () => {
    const { logs } = await fail({ identity: newIdentity() });
    expect((await settledDownstream(logs)).map((e) => e.source)).toEqual(["response"]);
  });
}

/** Waits until a downstream log entry shows up (zero-config waits a grace period; a challenged 401 waits for its retry). */
export async function downstreamLog(logs: DiagnosisLogEntry[], timeoutMs = 3_000): Promise<DiagnosisLogEntry> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = downstream(logs)[0];
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no downstream diagnosis logged within ${timeoutMs} ms (logs: ${JSON.stringify(logs.map((l) => l.message))})`);
    await sleep(20);
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Longer than zero-config's grace period and the policy's wait for a challenge retry: after it, nothing more comes. */
export const QUIET_MS = 1_300;

/** The downstream diagnoses once nothing more can come (after {@link QUIET_MS}); with `flush`, its folded lines written out first. */
export async function settledDownstream(logs: DiagnosisLogEntry[], flush?: DiagnosticCredential): Promise<DiagnosisLogEntry[]> {
  await sleep(QUIET_MS);
  flush?.flushLogs();
  return downstream(logs);
}

const STATUS_TEXT: Record<number, string> = { 401: "Unauthorized", 403: "Forbidden" };

/** The log line a user sees: `DiagnosticCredential [H2 RoleMissingOrWrongScope] 403 Forbidden from <host>`. */
export function expectLogLine(entry: DiagnosisLogEntry, expected: { hypothesis: string; code: string; status: number; host: string; source?: string }): void {
  expect(
    entry.message.startsWith(
      `DiagnosticCredential [${expected.hypothesis} ${expected.code}] ${expected.status} ${STATUS_TEXT[expected.status]} from ${expected.host}`,
    ),
    entry.message,
  ).toBe(true);
  expect(entry).toMatchObject({ hypothesis: expected.hypothesis, code: expected.code, status: expected.status, host: expected.host });
  if (expected.source) expect(entry.source).toBe(expected.source);
  // Never a token, whatever else is logged.
  expect(JSON.stringify(entry)).not.toMatch(/eyJ[\w-]{10,}\.[\w-]{10,}\./);
}

/** The diagnosis attached to the error, checked against what the test expects. */
export function expectDiagnosis(error: unknown, expected: Partial<Diagnosis>): Diagnosis {
  const diagnosis = getDiagnosis(error);
  expect(diagnosis, "getDiagnosis(error)").toBeDefined();
  expect(diagnosis).toMatchObject(expected);
  // Every command is ready to paste: no template placeholder left unfilled.
  expect(diagnosis!.nextSteps.join("\n")).not.toMatch(/\{(app|rg|name|principalId|scope|role|revision|host)\}/);
  return diagnosis!;
}

/** The H2 next steps name the role, the exact scope, and a ready command with the principal id filled in. */
export function expectRoleAdvice(diagnosis: Diagnosis, advice: { role: string; scope: string; principalId: string; command: RegExp }): void {
  const steps = diagnosis.nextSteps.join("\n");
  expect(steps).toContain(`"${advice.role}"`);
  expect(steps).toContain(advice.principalId);
  const command = diagnosis.nextSteps.find((step) => advice.command.test(step));
  expect(command, `a step matching ${advice.command} in:\n${steps}`).toBeDefined();
  // The command shares its step with the sentence that says what it grants ("Grant …: az role assignment create …").
  expect(command).toMatch(/^Grant .+: \S/);
  expect(command).toContain(advice.principalId);
  expect(command).toContain(advice.scope);
  expect(command).not.toMatch(/<principal|\{principalId\}|\$PRINCIPAL/i);
}

/**
 * Lets `fetch` (undici) reach the emulators with their real host names: trusts the CA and resolves the names to
 * 127.0.0.1 (the URL then names the emulator's port: `https://graph.microsoft.com:<port>/…`). Per test file process.
 */
export function routeFetchToEmulators(ca: string, hosts: readonly string[]): () => void {
  const names = new Set(hosts.map((h) => h.toLowerCase()));
  tls.setDefaultCACertificates([...tls.getCACertificates("default"), ca]);
  const original = dns.lookup;
  const patched = function (this: unknown, hostname: string, options: unknown, callback?: unknown) {
    const cb = (typeof options === "function" ? options : callback) as (...args: unknown[]) => void;
    const opts = (typeof options === "object" && options !== null ? options : {}) as { all?: boolean };
    if (names.has(String(hostname).toLowerCase())) {
      if (opts.all) return cb(null, [{ address: "127.0.0.1", family: 4 }]);
      return cb(null, "127.0.0.1", 4);
    }
    return (original as (...args: unknown[]) => unknown).call(this, hostname, options, callback);
  };
  (dns as { lookup: unknown }).lookup = patched;
  return () => {
    (dns as { lookup: unknown }).lookup = original;
  };
}
