/**
 * runSmokeTest: the runbook's "deployment smoke test that acquires a token and calls each dependency", as one call.
 * It reads the environment the Azure SDK reads, probes the identity endpoint, requests a token per scope through a
 * DiagnosticCredential and calls each dependency with it, and explains every failure with a Diagnosis.
 *
 * Never throws for a failing step; every step has its own time limit. Never puts a token or IDENTITY_HEADER in the
 * report: claims only.
 *
 * This module runs the steps in order; each step lives in its own module: environment.ts, identityEndpoint.ts,
 * credential.ts and token.ts, dependency.ts (with probeRequest.ts, which applies the catalog's per-service probe
 * rules, and sender.ts). The public shapes are in types.ts.
 */
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { proxyBypassed, proxyHostOf } from "../environment/proxy.js";
import { catalogFor } from "../catalog/resolve.js";
import type { Diagnosis } from "../diagnosis/types.js";
import { readHostEnvironment, type HostEnvironment } from "../environment/hostEnvironment.js";
import { verifyDiagnosis } from "../credential/verification.js";
import { isVerifiable } from "../verify/verifier.js";
import { makeCredential } from "./credential.js";
import { callDependency, normalizeDependency, type NormalizedDependency } from "./dependency.js";
import { describeEnvironment } from "./environment.js";
import { MAX_PROBE_MS, probeIdentityEndpoint, probeTarget } from "./identityEndpoint.js";
import { makeSender } from "./sender.js";
import { requestToken } from "./token.js";
import type { SmokeTestDependencyResult, SmokeTestIdentityEndpoint, SmokeTestOptions, SmokeTestProgress, SmokeTestReport, SmokeTestToken } from "./types.js";
import { safeCall } from "./util.js";

export type {
  SmokeTestContainerApp,
  SmokeTestDependency,
  SmokeTestDependencyResult,
  SmokeTestEnvironment,
  SmokeTestIdentityEndpoint,
  SmokeTestOptions,
  SmokeTestProgress,
  SmokeTestReport,
  SmokeTestToken,
  SmokeTestTokenClaims,
} from "./types.js";

/** The scope tested when neither scopes nor dependencies are given: Resource Manager's, which any identity gets a token for. */
export const DEFAULT_SMOKE_TEST_SCOPE = "https://management.azure.com/.default";
/** Default time limit of one step (probe, token, dependency call), in milliseconds. */
export const DEFAULT_SMOKE_TEST_TIMEOUT_MS = 10_000;

/**
 * Runs the smoke test: environment, identity-endpoint probe, one token per scope (claims only), one authenticated
 * call per dependency, a Diagnosis for every failure. Resolves with the report; never rejects for a failing step.
 *
 * @example
 * ```ts
 * const report = await runSmokeTest({ dependencies: ["https://myvault.vault.azure.net/secrets/db-password"] });
 * if (!report.ok) for (const d of report.diagnoses) console.error(d.hypothesis, d.summary);
 * ```
 */
export async function runSmokeTest(options: SmokeTestOptions = {}): Promise<SmokeTestReport> {
  const started = Date.now();
  const startedPerf = performance.now();
  const timeoutMs = validTimeout(options.timeoutMs);
  const services = Array.isArray(options.services) ? options.services : [];
  const catalog = safeCall(() => catalogFor(services), catalogFor());
  const progress = (p: SmokeTestProgress) => safeCall(() => options.onProgress?.(p), undefined);
  /** Runs one step between its `start` and `end` progress events. */
  const step = async <T>(what: Omit<SmokeTestProgress, "phase" | "durationMs">, run: () => Promise<T> | T): Promise<T> => {
    const began = performance.now();
    progress({ ...what, phase: "start" });
    try {
      return await run();
    } finally {
      progress({ ...what, phase: "end", durationMs: Math.round(performance.now() - began) });
    }
  };

  const { hostEnvironment, credential, configured, credentialName, environment } = await step({ step: "environment" }, () => {
    const hostEnvironment = readHostEnvironment();
    const made = makeCredential(options, timeoutMs);
    return { hostEnvironment, ...made, environment: describeEnvironment(hostEnvironment, made.configured) };
  });

  const identityEndpoint = await probeStep(options, hostEnvironment, timeoutMs, step);

  const dependencies = (Array.isArray(options.dependencies) ? options.dependencies : []).map((d) => normalizeDependency(d, catalog));
  const scopes = scopesToRequest(options, dependencies);

  // Tokens, one scope after the other (as an app asks for them).
  const tokens: SmokeTestToken[] = [];
  const issued = new Map<string, AccessToken>();
  const tokenProblems: Diagnosis[] = [];
  for (const scope of scopes) {
    const result = await step({ step: "token", target: scope, limitMs: timeoutMs }, () =>
      requestToken(credential, scope, { timeoutMs, configured, hostEnvironment, catalog, credentialName }),
    );
    tokens.push(result.entry);
    tokenProblems.push(...result.problems);
    if (result.token !== undefined) issued.set(scope, result.token);
  }

  // Dependencies, concurrently.
  const send = makeSender(options);
  const dependencyResults = await Promise.all(
    dependencies.map((dependency) =>
      step({ step: "dependency", target: dependency.url, limitMs: timeoutMs }, () =>
        callDependency(dependency, {
          token: dependency.scope !== undefined ? issued.get(dependency.scope) : undefined,
          timeoutMs,
          send,
          services,
          configured,
          hostEnvironment,
        }),
      ),
    ),
  );

  const diagnoses = distinctDiagnoses([...tokens.map((t) => t.diagnosis), ...tokenProblems, ...dependencyResults.map((d) => d.diagnosis)]);
  const verified = options.verify !== undefined && options.verify !== false ? await verifyAll(credential, diagnoses, dependencyResults) : undefined;
  const endpointOk = identityEndpoint.reachable || identityEndpoint.skipped !== undefined || tokens.some((t) => t.ok);
  return {
    ok: endpointOk && tokens.every((t) => t.ok) && dependencyResults.every((d) => d.ok),
    startedAt: new Date(started).toISOString(),
    durationMs: Math.round(performance.now() - startedPerf),
    environment,
    identityEndpoint,
    tokens,
    dependencies: dependencyResults,
    diagnoses,
    ...(verified !== undefined ? { verified } : {}),
  };
}

/** The verified copy of each H1/H2 diagnosis (the credential started them as it reported; this waits for them). */
async function verifyAll(credential: TokenCredential, diagnoses: Diagnosis[], dependencies: SmokeTestDependencyResult[]): Promise<Diagnosis[]> {
  const verified = await Promise.all(
    diagnoses
      .filter((d) => isVerifiable(d))
      .map((d) => {
        const url = dependencies.find((r) => r.diagnosis === d)?.url;
        return verifyDiagnosis(d, { credential, ...(url !== undefined ? { url } : {}) });
      }),
  );
  return verified.filter((d): d is Diagnosis => d !== undefined);
}

/** The identity-endpoint probe, unless turned off; it never waits longer than MAX_PROBE_MS. */
async function probeStep(
  options: SmokeTestOptions,
  hostEnvironment: HostEnvironment,
  timeoutMs: number,
  step: <T>(what: Omit<SmokeTestProgress, "phase" | "durationMs">, run: () => Promise<T>) => Promise<T>,
): Promise<SmokeTestIdentityEndpoint> {
  if (options.probeIdentityEndpoint === false) return { reachable: false, skipped: "probe turned off" };
  const target = probeTarget(hostEnvironment);
  const limitMs = Math.min(timeoutMs, MAX_PROBE_MS);
  const probed =
    target.url === undefined
      ? await probeIdentityEndpoint(target, limitMs)
      : await step({ step: "identity-endpoint", target: target.url, limitMs }, () => probeIdentityEndpoint(target, limitMs));
  const proxy = hostEnvironment.proxy;
  const host = target.url !== undefined ? proxyHostOf(target.url) : undefined;
  if (proxy !== undefined && host !== undefined && !proxyBypassed(proxy, host)) {
    probed.proxy = `${proxy.variable}=${proxy.url} (NO_PROXY does not list ${host}): the Azure SDK sends the token request through it, and the identity endpoint refuses proxied calls; add ${host} to NO_PROXY`;
  }
  return probed;
}

/** The scopes to request, each once, in order: the given scopes, then the dependencies' scopes; Resource Manager's when there is nothing at all. */
function scopesToRequest(options: SmokeTestOptions, dependencies: NormalizedDependency[]): string[] {
  const scopes: string[] = [];
  const addScope = (scope: string | undefined) => {
    if (typeof scope === "string" && scope.length > 0 && !scopes.includes(scope)) scopes.push(scope);
  };
  for (const scope of Array.isArray(options.scopes) ? options.scopes : []) addScope(scope);
  for (const dependency of dependencies) addScope(dependency.scope);
  if (scopes.length === 0 && dependencies.length === 0) scopes.push(DEFAULT_SMOKE_TEST_SCOPE);
  return scopes;
}

/** Every distinct diagnosis (by code and summary), in the order found. */
function distinctDiagnoses(found: Array<Diagnosis | undefined>): Diagnosis[] {
  const diagnoses: Diagnosis[] = [];
  const seen = new Set<string>();
  for (const diagnosis of found) {
    if (diagnosis === undefined) continue;
    const key = `${diagnosis.code}\u0000${diagnosis.summary}`;
    if (seen.has(key)) continue;
    seen.add(key);
    diagnoses.push(diagnosis);
  }
  return diagnoses;
}

function validTimeout(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.round(value) : DEFAULT_SMOKE_TEST_TIMEOUT_MS;
}
