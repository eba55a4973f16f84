/**
 * The doctor's report as a Markdown incident report (`doctor --format markdown`): its diagnoses rendered by
 * renderIncidentReport, with its steps (probe, tokens, dependencies) as the run's steps, whose passing results
 * (a token issued, a dependency answering) count as evidence.
 */
import { CHECK_KINDS } from "../diagnosis/findings.js";
import type { DiagnosisCheck, DiagnosisIdentity } from "../diagnosis/types.js";
import { renderIncidentReport } from "../report/incidentReport.js";
import type { IncidentReportStep } from "../report/types.js";
import type { SmokeTestDependencyResult, SmokeTestReport, SmokeTestToken } from "./types.js";
import { hostOfUrl } from "./util.js";

/** The report's steps as the incident report shows them. */
export function reportSteps(report: SmokeTestReport): IncidentReportStep[] {
  const steps: IncidentReportStep[] = [];
  const env = report.environment;
  steps.push({
    name: "environment",
    outcome: "pass",
    detail: `identity source ${env.source}; IDENTITY_ENDPOINT ${env.identityEndpoint !== undefined ? "set" : "not set"}; IDENTITY_HEADER ${env.identityHeaderSet ? "set" : "not set"}`,
  });
  const probe = report.identityEndpoint;
  if (probe.skipped !== undefined) {
    steps.push({ name: "identity endpoint probe", outcome: "skipped", detail: probe.skipped });
  } else if (probe.answeredBy === "something-else" || probe.errorCode === "NOT_IDENTITY_ENDPOINT" || probe.proxy !== undefined) {
    steps.push(interceptedProbeStep(probe));
  } else {
    const actual = probe.status !== undefined ? `HTTP ${probe.status} to a probe without credentials` : (probe.errorCode ?? probe.error ?? "no answer");
    steps.push({
      name: "identity endpoint probe",
      ...(probe.url !== undefined ? { target: probe.url } : {}),
      outcome: probe.reachable ? "pass" : "fail",
      detail: probe.reachable ? actual : (probe.error ?? actual),
      ...(probe.latencyMs !== undefined ? { durationMs: probe.latencyMs } : {}),
      checks: [{ kind: CHECK_KINDS.identityEndpoint, expected: "an answer", actual, verdict: probe.reachable ? "pass" : "fail", confirmedBy: "answer" }],
    });
  }
  for (const token of report.tokens) steps.push(tokenStep(token, env.configuredIdentity));
  for (const dependency of report.dependencies) steps.push(dependencyStep(dependency));
  return steps;
}

/**
 * A probe answered by something other than the identity endpoint, or an endpoint the SDK reaches only through a
 * proxy: a failed step naming who answered and the proxy, never "reachable" (issue 14: a firewall's 403 read as one).
 */
function interceptedProbeStep(probe: SmokeTestReport["identityEndpoint"]): IncidentReportStep {
  const answer = probe.status !== undefined ? `HTTP ${probe.status}` : (probe.errorCode ?? "no answer");
  const foreign = probe.answeredBy === "something-else" || probe.errorCode === "NOT_IDENTITY_ENDPOINT";
  const viaProxy = probe.proxy !== undefined ? `the token request goes through the proxy ${probe.proxy}` : undefined;
  const actual = foreign
    ? `${answer} from something other than the identity endpoint${viaProxy !== undefined ? `; ${viaProxy}` : " (a firewall, a proxy or a sidecar)"}`
    : `the identity endpoint answers a direct probe (${answer}), but ${viaProxy}`;
  const detail = foreign && probe.error !== undefined ? `${probe.error}${viaProxy !== undefined ? `; ${viaProxy}` : ""}` : actual;
  return {
    name: "identity endpoint probe",
    ...(probe.url !== undefined ? { target: probe.url } : {}),
    outcome: "fail",
    detail,
    ...(probe.latencyMs !== undefined ? { durationMs: probe.latencyMs } : {}),
    checks: [
      {
        kind: CHECK_KINDS.identityEndpoint,
        expected: "an answer of the identity endpoint itself, reached directly",
        actual,
        verdict: "fail",
        confirmedBy: "answer",
      },
    ],
  };
}

function tokenStep(token: SmokeTestToken, configured: SmokeTestReport["environment"]["configuredIdentity"]): IncidentReportStep {
  const claims = token.claims;
  const checks: DiagnosisCheck[] = [];
  if (token.ok && claims !== undefined) {
    const asked = configured.clientId
      ? `clientId=${configured.clientId}`
      : configured.resourceId
        ? `resourceId=${configured.resourceId}`
        : configured.objectId
          ? `objectId=${configured.objectId}`
          : "system-assigned";
    checks.push({
      kind: CHECK_KINDS.identityAssignment,
      expected: asked,
      actual: `a token for the ${claims.identityKind} identity`,
      verdict: "pass",
      confirmedBy: "token",
    });
    if (claims.aud !== undefined) checks.push({ kind: CHECK_KINDS.audience, expected: token.scope, actual: claims.aud, verdict: "pass", confirmedBy: "token" });
    const expiry = claims.expiresAt ?? token.expiresAt;
    if (expiry !== undefined)
      checks.push({ kind: CHECK_KINDS.lifetime, expected: "valid when issued", actual: `expires ${expiry}`, verdict: "pass", confirmedBy: "token" });
  }
  const detail =
    token.diagnosis !== undefined
      ? `${token.diagnosis.hypothesis} ${token.diagnosis.code}`
      : token.ok
        ? `issued${claims?.aud ? ` for ${claims.aud}` : ""}`
        : (token.error ?? "no token");
  return {
    name: "token",
    target: token.scope,
    outcome: token.ok ? "pass" : "fail",
    detail,
    durationMs: token.durationMs,
    ...(checks.length > 0 ? { checks } : {}),
  };
}

function dependencyStep(dependency: SmokeTestDependencyResult): IncidentReportStep {
  const answer = dependency.status !== undefined ? `HTTP ${dependency.status}` : undefined;
  const detail =
    dependency.diagnosis !== undefined
      ? `${answer ?? ""} ${dependency.diagnosis.hypothesis} ${dependency.diagnosis.code}`.trim()
      : (dependency.error ?? answer ?? dependency.failure ?? "");
  const checks: DiagnosisCheck[] =
    dependency.ok && answer !== undefined && dependency.scope !== undefined
      ? [
          {
            kind: CHECK_KINDS.role,
            expected: `a role that allows ${dependency.method} ${hostOfUrl(dependency.url)}`,
            actual: answer,
            verdict: "pass",
            confirmedBy: "answer",
          },
        ]
      : [];
  return {
    name: "dependency",
    target: `${dependency.method} ${dependency.url}`,
    outcome: dependency.ok ? "pass" : "fail",
    detail,
    durationMs: dependency.durationMs,
    ...(checks.length > 0 ? { checks } : {}),
  };
}

/** `doctor --format markdown`: the incident report of a smoke test run. */
export function formatMarkdownReport(report: SmokeTestReport, options: { version?: string; exitCode: number }): string {
  const steps = reportSteps(report);
  const failedSteps = steps.filter((s) => s.outcome === "fail").length;
  return renderIncidentReport(report.diagnoses, {
    environment: report.environment,
    steps,
    omitDoctorSteps: true,
    ...(report.diagnoses.length === 0
      ? {
          title: report.ok
            ? "Managed identity check: all good"
            : `Managed identity check: ${failedSteps} step${failedSteps === 1 ? "" : "s"} failed, no identity diagnosis`,
        }
      : {}),
    subtitle: `diagnostic-credential doctor${options.version ? ` ${options.version}` : ""} · ${report.startedAt} · ${report.durationMs} ms · exit code ${options.exitCode}`,
  });
}
