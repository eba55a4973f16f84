/**
 * The doctor's human report: one screen, sections Environment, Identity endpoint, Tokens, Dependencies, then each
 * problem in the runbook's terms (hypothesis, evidence for and against, next steps), then a verdict line.
 * Every line goes through `redact`: no token, signature or IDENTITY_HEADER value can reach the terminal.
 */
import { STATUS_CODES } from "node:http";
import { redact } from "../util/redact.js";
import { hostOfUrl } from "./util.js";
import type { Diagnosis } from "../diagnosis/types.js";
import { RUNBOOK_HYPOTHESES } from "../report/runbook.js";
import type { SmokeTestDependencyResult, SmokeTestReport, SmokeTestToken } from "./smokeTest.js";
import type { SmokeTestEnvironment } from "./types.js";
import { PLATFORMS } from "../hosting/platforms.js";

/** Exit code of a report: 0 all good, 1 a problem found. (2, a usage error, never comes from a report.) */
export function exitCodeOf(report: SmokeTestReport): 0 | 1 {
  return report.ok ? 0 : 1;
}

/** The runbook's "Competing Hypotheses" table: typical evidence for and against each hypothesis (report/runbook.ts). */
export const RUNBOOK_EVIDENCE: Readonly<Record<string, { for: string; against: string }>> = RUNBOOK_HYPOTHESES;

export interface FormatOptions {
  /** ANSI colours. */
  color: boolean;
  /** Shown in the title line. */
  version?: string;
  /** "now" for relative expiry times; default Date.now(). */
  now?: number;
  /** Longest evidence / next-step line before it is cut (the JSON output has everything). Default 220. */
  maxLineLength?: number;
}

interface Paint {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

function paint(enabled: boolean): Paint {
  const wrap = (open: number, close: number) => (text: string) => (enabled ? `\u001b[${open}m${text}\u001b[${close}m` : text);
  return { bold: wrap(1, 22), dim: wrap(2, 22), red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), cyan: wrap(36, 39) };
}

/** The human report, ending with the verdict line and a newline. */
export function formatReport(report: SmokeTestReport, options: FormatOptions): string {
  const p = paint(options.color);
  const now = options.now ?? Date.now();
  const max = options.maxLineLength ?? 220;
  const ok = p.green("✓");
  const bad = p.red("✗");
  const lines: string[] = [];
  const cut = (text: string) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
  const label = (name: string, width = 18) => p.dim(name.padEnd(width));

  lines.push(
    `${p.bold("diagnostic-credential doctor")}${options.version ? ` ${options.version}` : ""} ${p.dim(`· ${report.startedAt} · ${report.durationMs} ms`)}`,
  );

  // Environment
  const env = report.environment;
  lines.push("", p.bold("Environment"));
  lines.push(`  ${label("identity source")}${env.source} ${p.dim(`— ${env.sourceReason}`)}`);
  lines.push(`  ${label("platform")}${platformLine(env)}`);
  const app = env.containerApp;
  if (app.name !== undefined || app.jobName !== undefined) {
    const parts = [app.jobName !== undefined ? `job ${app.jobName}` : app.name!];
    if (app.revision !== undefined) parts.push(`revision ${app.revision}`);
    if (app.replica !== undefined) parts.push(`replica ${app.replica}`);
    if (app.jobExecution !== undefined) parts.push(`execution ${app.jobExecution}`);
    lines.push(`  ${label("container app")}${parts.join(" · ")}`);
  } else if (env.appServiceName !== undefined) {
    lines.push(`  ${label("app service")}${env.appServiceName}`);
  } else {
    lines.push(`  ${label("container app")}${p.dim("not a Container App (CONTAINER_APP_NAME is not set)")}`);
  }
  lines.push(
    `  ${label("IDENTITY_ENDPOINT")}${env.identityEndpoint ?? p.dim("not set")}${env.identityEndpointMalformed ? ` ${p.red("(not a valid URL)")}` : ""}`,
  );
  lines.push(`  ${label("IDENTITY_HEADER")}${env.identityHeaderSet ? "set (value not shown)" : p.dim("not set")}`);
  if (env.msiEndpoint !== undefined && env.msiEndpoint !== env.identityEndpoint) lines.push(`  ${label("MSI_ENDPOINT")}${env.msiEndpoint}`);
  if (env.imdsHostOverride !== undefined) lines.push(`  ${label("IMDS host")}${env.imdsHostOverride} ${p.dim("(AZURE_POD_IDENTITY_AUTHORITY_HOST)")}`);
  const configured = env.configuredIdentity;
  const tested = configured.clientId
    ? `user-assigned, client id ${configured.clientId}`
    : configured.resourceId
      ? `user-assigned, resource id ${configured.resourceId}`
      : configured.objectId
        ? `user-assigned, object id ${configured.objectId}`
        : "system-assigned (no client id given)";
  lines.push(`  ${label("identity tested")}${tested}`);
  for (const note of env.notes) lines.push(`  ${p.yellow("!")} ${cut(note)}`);

  // Identity endpoint
  const endpoint = report.identityEndpoint;
  lines.push("", p.bold("Identity endpoint"));
  if (endpoint.skipped !== undefined) {
    lines.push(`  ${p.dim("–")} not probed: ${endpoint.skipped}`);
  } else if (endpoint.reachable) {
    lines.push(
      `  ${ok} reachable  ${endpoint.url ?? ""}  ${p.dim(`answered in ${endpoint.latencyMs ?? "?"} ms (HTTP ${endpoint.status ?? "?"} to a probe without credentials)`)}`,
    );
  } else if (endpoint.answeredBy === "something-else") {
    lines.push(`  ${bad} ${p.red("not the identity endpoint")}  ${endpoint.url ?? ""}  ${cut(endpoint.error ?? "")}`);
  } else {
    lines.push(`  ${bad} ${p.red("not reachable")}  ${endpoint.url ?? ""}  ${endpoint.error ?? ""}`);
  }
  if (endpoint.proxy !== undefined) lines.push(`  ${p.yellow("!")} proxy: ${cut(endpoint.proxy)}`);

  // Tokens
  lines.push("", p.bold("Tokens"));
  if (report.tokens.length === 0) lines.push(`  ${p.dim("none requested")}`);
  for (const token of report.tokens) lines.push(...tokenLines(token, { p, ok, bad, now, cut }));

  // Dependencies
  lines.push("", p.bold("Dependencies"));
  if (report.dependencies.length === 0) lines.push(`  ${p.dim("none given (--url URL)")}`);
  for (const dependency of report.dependencies) lines.push(...dependencyLines(dependency, { p, ok, bad, cut }));

  // Problems
  const problems = report.diagnoses;
  const unexplained = report.dependencies.filter((d) => !d.ok && d.diagnosis === undefined && d.failure !== "no-token");
  problems.forEach((diagnosis, index) => {
    lines.push("", ...problemLines(diagnosis, index + 1, problems.length, { p, cut }));
  });

  // Verified (--verify): what Resource Manager said about each H1/H2 finding
  if (report.verified !== undefined) {
    lines.push("", p.bold("Verified"));
    if (report.verified.length === 0) lines.push(`  ${p.dim("nothing to verify (no H1/H2 finding)")}`);
    for (const verified of report.verified) {
      const v = verified.verification;
      if (v === undefined) continue;
      const settled = v.outcome !== "unavailable" && v.outcome !== "not-permitted" && v.outcome !== "not-applicable";
      lines.push(`  ${settled ? ok : bad} [${verified.hypothesis} ${v.outcome}] ${cut(v.summary)}`);
      for (const need of v.needs ?? []) lines.push(`      ${p.dim(`needs ${need.permission} on ${need.scope}`)}`);
      if (!settled && verified.nextSteps[0] !== undefined) lines.push(`      ${cut(verified.nextSteps[0])}`);
      lines.push(`      ${p.dim(`${v.calls} Resource Manager call${v.calls === 1 ? "" : "s"}, ${v.durationMs} ms${v.endpoint ? `, ${v.endpoint}` : ""}`)}`);
    }
  }

  // Verdict
  lines.push("");
  if (report.ok) {
    const tokens = report.tokens.length;
    const dependencies = report.dependencies.length;
    lines.push(
      `${ok} ${p.green(p.bold("All good"))}: ${tokens} token${tokens === 1 ? "" : "s"} issued${dependencies > 0 ? `, ${dependencies} dependenc${dependencies === 1 ? "y" : "ies"} answered` : ""}. Exit code 0.`,
    );
  } else {
    const hypotheses = [...new Set(problems.map((d) => d.hypothesis))];
    const count = problems.length + unexplained.length + (problems.length === 0 && unexplained.length === 0 ? 1 : 0);
    const what = [
      ...hypotheses.map((h) => `${h} ${problems.find((d) => d.hypothesis === h)!.title}`),
      ...unexplained.map((d) =>
        `${d.failure === "network" || d.failure === "timeout" ? "network" : "dependency"}: ${hostOfUrl(d.url)} ${d.errorCode ?? d.status ?? ""}`.trim(),
      ),
    ];
    if (what.length === 0 && !report.identityEndpoint.reachable) what.push("identity endpoint not reachable");
    lines.push(`${bad} ${p.red(p.bold(`${count} problem${count === 1 ? "" : "s"} found`))}: ${what.join("; ")}. Exit code 1.`);
  }
  return `${lines.map(redact).join("\n")}\n`;
}

interface LineTools {
  p: Paint;
  ok: string;
  bad: string;
  cut: (text: string) => string;
}

function tokenLines(token: SmokeTestToken, tools: LineTools & { now: number }): string[] {
  const { p, ok, bad } = tools;
  const lines: string[] = [];
  const mark = token.ok ? ok : bad;
  const tag = token.diagnosis !== undefined ? `  ${p.red(`${token.diagnosis.hypothesis} ${token.diagnosis.code}`)}` : "";
  lines.push(`  ${mark} ${token.scope}${tag}  ${p.dim(`${token.durationMs} ms`)}`);
  const claims = token.claims;
  if (claims !== undefined) {
    const who = [`${claims.identityKind} identity`];
    if (claims.oid !== undefined) who.push(`oid ${claims.oid}`);
    if (claims.appid !== undefined) who.push(`appid ${claims.appid}`);
    lines.push(`      ${who.join(" · ")}`);
    const what: string[] = [];
    if (claims.aud !== undefined) what.push(`aud ${claims.aud}`);
    if (claims.tid !== undefined) what.push(`tid ${claims.tid}`);
    // The issuer is worth a place only when it is not the usual one of the tenant.
    if (claims.iss !== undefined && (claims.tid === undefined || !claims.iss.includes(claims.tid))) what.push(`iss ${claims.iss}`);
    if (what.length > 0) lines.push(`      ${what.join(" · ")}`);
    if (claims.xms_mirid !== undefined) lines.push(`      ${p.dim(`xms_mirid ${claims.xms_mirid}`)}`);
    const when: string[] = [];
    if (claims.issuedAt !== undefined) when.push(`issued ${shortIso(claims.issuedAt)}`);
    const expiry = claims.expiresAt ?? token.expiresAt;
    if (expiry !== undefined) when.push(`expires ${shortIso(expiry)} (${relative(expiry, tools.now)})`);
    if (when.length > 0) lines.push(`      ${p.dim(when.join(" · "))}`);
  } else if (token.ok || token.expiresAt !== undefined) {
    lines.push(`      ${p.dim(`not a JWT: no claims to show${token.expiresAt ? ` · expires ${token.expiresAt}` : ""}`)}`);
  }
  if (token.error !== undefined) lines.push(`      ${p.red(tools.cut(token.error))}`);
  return lines;
}

function dependencyLines(dependency: SmokeTestDependencyResult, tools: LineTools): string[] {
  const { p, ok, bad } = tools;
  const lines: string[] = [];
  const mark = dependency.ok ? ok : bad;
  let outcome: string;
  if (dependency.status !== undefined) {
    const reason = STATUS_CODES[dependency.status];
    const text = `${dependency.status}${reason ? ` ${reason}` : ""}`;
    outcome = dependency.ok ? p.green(text) : p.red(text);
    if (dependency.diagnosis !== undefined) {
      outcome += ` ${p.red(`${dependency.diagnosis.hypothesis} ${dependency.diagnosis.code}`)}${dependency.diagnosis.errorCode ? p.dim(` (${dependency.diagnosis.errorCode})`) : ""}`;
    }
  } else {
    outcome = p.red(dependency.failure === "no-token" ? "not called" : dependency.failure === "no-scope" ? "no scope" : (dependency.errorCode ?? "failed"));
  }
  lines.push(`  ${mark} ${dependency.method} ${dependency.url} → ${outcome}  ${p.dim(`${dependency.durationMs} ms`)}`);
  const detail: string[] = [];
  if (dependency.scope !== undefined) detail.push(`token for ${dependency.scope}`);
  if (dependency.expectedScope !== undefined) detail.push(p.yellow(`the catalog's scope for this host is ${dependency.expectedScope}`));
  if (dependency.notes !== undefined) detail.push(...dependency.notes);
  if (detail.length > 0) lines.push(`      ${p.dim(detail.join(" · "))}`);
  if (dependency.error !== undefined && dependency.diagnosis === undefined)
    lines.push(`      ${dependency.ok ? dependency.error : p.red(tools.cut(dependency.error))}`);
  return lines;
}

const MAX_EVIDENCE = 8;
const MAX_STEPS = 6;

function problemLines(diagnosis: Diagnosis, index: number, total: number, tools: Pick<LineTools, "p" | "cut">): string[] {
  const { p, cut } = tools;
  const lines: string[] = [];
  const facts: string[] = [`${diagnosis.confidence} confidence`];
  if (diagnosis.service !== undefined) facts.push(diagnosis.service);
  if (diagnosis.status !== undefined) facts.push(`HTTP ${diagnosis.status}`);
  if (diagnosis.errorCode !== undefined) facts.push(diagnosis.errorCode);
  lines.push(
    `${p.red(p.bold(`Problem ${index}/${total}`))} ${p.bold(`${diagnosis.hypothesis} ${diagnosis.title}`)} ${p.dim(`[${diagnosis.code}] · ${facts.join(" · ")}`)}`,
  );
  lines.push(`  ${oneLine(diagnosis.summary)}`);
  if (diagnosis.evidence.length > 0) {
    lines.push(`  ${p.bold("Evidence")}`);
    for (const line of diagnosis.evidence.slice(0, MAX_EVIDENCE)) lines.push(`    • ${cut(oneLine(line))}`);
    if (diagnosis.evidence.length > MAX_EVIDENCE) lines.push(`    ${p.dim(`… ${diagnosis.evidence.length - MAX_EVIDENCE} more (--json)`)}`);
  }
  // Commands are never cut (they are pasted); "run the doctor" is left out (this is the doctor).
  const steps = diagnosis.nextSteps.filter((step) => !/diagnostic-credential doctor/.test(step));
  if (steps.length > 0) {
    lines.push(`  ${p.bold("Next steps")}`);
    steps.slice(0, MAX_STEPS).forEach((step, i) => lines.push(`    ${i + 1}. ${p.cyan(oneLine(step))}`));
    if (steps.length > MAX_STEPS) lines.push(`    ${p.dim(`… ${steps.length - MAX_STEPS} more (--json)`)}`);
  }
  const runbook = RUNBOOK_EVIDENCE[diagnosis.hypothesis];
  if (runbook !== undefined) {
    lines.push(`  ${p.dim(`Runbook ${diagnosis.hypothesis}  for: ${runbook.for}`)}`);
    lines.push(`  ${p.dim(`${" ".repeat(`Runbook ${diagnosis.hypothesis}`.length)}  against: ${runbook.against}`)}`);
  }
  return lines;
}

function oneLine(text: string): string {
  return text
    .replace(/[\r\n]+/g, " ⏎ ")
    .replace(/\s+/g, " ")
    .trim();
}

function shortIso(iso: string): string {
  return iso.replace(/\.000Z$/, "Z");
}

function relative(iso: string, now: number): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return "?";
  const seconds = Math.round((at - now) / 1000);
  const span = Math.abs(seconds);
  const text = span >= 3600 ? `${Math.floor(span / 3600)} h ${Math.floor((span % 3600) / 60)} min` : span >= 60 ? `${Math.floor(span / 60)} min` : `${span} s`;
  return seconds >= 0 ? `in ${text}` : `${text} ago`;
}

/** The platform line: `Azure Functions (azure.functions) · function app orders · instance 1a2b`, or unknown with why. */
function platformLine(env: SmokeTestEnvironment): string {
  const entry = PLATFORMS.find((candidate) => candidate.key === env.platformKey);
  if (entry === undefined) return `unknown — ${env.platformReason}`;
  const names = entry.instanceNames.flatMap((name) => (env.instance[name.field] !== undefined ? [`${name.label} ${env.instance[name.field]}`] : []));
  return [`${entry.displayName} (${entry.platform})`, ...names].join(" · ");
}
