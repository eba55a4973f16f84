/**
 * renderIncidentReport: one or more diagnoses as a Markdown incident report to paste into a ticket. The runbook's
 * decision flow as a Mermaid flowchart with the path this run took, its "Evidence to collect" table filled in, each
 * hypothesis H1–H5 with its verdict and evidence, the next steps with their commands. Text only (no Mermaid or
 * Markdown library); every value is redacted and escaped (markdown.ts). Never throws.
 */
import { commandContextOf } from "../diagnosis/commands.js";
import type { Diagnosis, DiagnosisCheck, Hypothesis } from "../diagnosis/types.js";
import { readHostEnvironment, type HostEnvironment } from "../environment/hostEnvironment.js";
import { recordInternalFault } from "../util/safe.js";
import { mdCode, mdFence, mdTable, mdText, mermaidLabel } from "./markdown.js";
import { DECISION_FLOW, EVIDENCE_ROWS, RUNBOOK_HYPOTHESES, type FlowQuestion } from "./runbook.js";
import type { IncidentReportEnvironment, IncidentReportOptions, ReportedDiagnosis, ReportFacts } from "./types.js";

/** A check with where it came from: a diagnosis (its hypothesis) or a step of the run (`undefined`). */
interface Seen {
  check: DiagnosisCheck;
  hypothesis: ReportedDiagnosis["hypothesis"] | undefined;
}

/** The state of a question of the flow: answered fine, the broken layer, not checked before the failure, never reached after it. */
type QuestionState = "pass" | "fail" | "unchecked" | "unreached";

const HYPOTHESES: readonly Hypothesis[] = ["H1", "H2", "H3", "H4", "H5"];

/**
 * Renders diagnoses (one, several, or none for a healthy run) as a Markdown incident report. Pure but for reading
 * this process's environment when `options.environment` is not given; never throws.
 *
 * @example
 * ```ts
 * try { await client.getSecret("db-password"); }
 * catch (error) { const d = getDiagnosis(error); if (d) await postToIncidentTool(renderIncidentReport(d)); }
 * ```
 */
export function renderIncidentReport(diagnoses: Diagnosis | readonly Diagnosis[] | undefined, options: IncidentReportOptions = {}): string {
  try {
    const given: readonly ReportedDiagnosis[] = Array.isArray(diagnoses) ? diagnoses : diagnoses ? [diagnoses as Diagnosis] : [];
    const list = given.filter((d): d is ReportedDiagnosis => typeof d === "object" && d !== null && typeof d.hypothesis === "string");
    return render(list, options);
  } catch (error) {
    recordInternalFault(error);
    return `# Managed identity incident\n\n${mdText("The report could not be rendered; the diagnoses' JSON has every detail.")}\n`;
  }
}

function render(diagnoses: readonly ReportedDiagnosis[], options: IncidentReportOptions): string {
  const environment = options.environment === false ? undefined : (options.environment ?? currentEnvironment());
  const steps = options.steps ?? [];
  const seen: Seen[] = [
    ...diagnoses.flatMap((d) => (d.checks ?? []).map((check) => ({ check, hypothesis: d.hypothesis }))),
    ...steps.flatMap((s) => (s.checks ?? []).map((check) => ({ check, hypothesis: undefined }))),
  ];
  const tokenRead = seen.some((s) => s.check.confirmedBy === "token");
  const flow = flowStates(diagnoses, seen, tokenRead);
  const lines: string[] = [];

  const named = [...new Set(diagnoses.map((d) => `${d.hypothesis} ${d.title}`))];
  lines.push(`# ${mdText(options.title ?? (named.length > 0 ? `Managed identity incident: ${named.join("; ")}` : "Managed identity check: no failure"))}`);
  if (options.subtitle !== undefined) lines.push("", mdText(options.subtitle));
  lines.push("", ...verdictLines(diagnoses, steps));

  lines.push("", "## Decision flow", "", ...mdFence("mermaid", flowchart(flow, diagnoses).join("\n")));
  lines.push(
    "",
    mdText("Green: passed. Red: the failing check and its remedy. Amber, dashed: not checked. Grey: not reached. The thick line is the path this run took."),
  );

  if (steps.length > 0) {
    lines.push("", "## Steps", "");
    lines.push(
      ...mdTable(
        ["Step", "Target", "Outcome", "Time", "Detail"],
        steps.map((s) => [
          mdText(s.name),
          s.target ? mdCode(s.target) : "",
          OUTCOME_TEXT[s.outcome],
          s.durationMs !== undefined ? `${Math.round(s.durationMs)} ms` : "",
          s.detail ? mdText(s.detail) : "",
        ]),
      ),
    );
  }

  const identities = [...diagnoses.map((d) => d.identity), ...steps.map((s) => s.identity)].filter((i) => i !== undefined);
  lines.push("", "## Evidence", "", ...evidenceTable({ environment, diagnoses, identities }, seen, tokenRead, steps.length > 0));
  const verified = seen.filter((s) => s.check.confirmedBy === "arm");
  if (verified.length > 0) {
    lines.push(
      "",
      "## Verified",
      "",
      ...mdTable(
        ["Check", "Expected", "Found", "Verdict"],
        verified.map((s) => checkCells(s.check)),
      ),
    );
  }
  lines.push("", "## Hypotheses", "", ...hypothesisTable(diagnoses, seen, flow, tokenRead));
  lines.push(...findingLines(diagnoses, options));
  return `${lines.join("\n")}\n`;
}

// ── The flow ───────────────────────────────────────────────────────────────────────────────────────────────────

interface Flow {
  states: Map<string, QuestionState>;
  /** The first broken question: where the path leaves for its remedy. */
  stop: FlowQuestion | undefined;
}

function flowStates(diagnoses: readonly ReportedDiagnosis[], seen: readonly Seen[], tokenRead: boolean): Flow {
  const primary = new Set(diagnoses.map((d) => primaryQuestion(d)?.id).filter((id) => id !== undefined));
  const states = new Map<string, QuestionState>();
  let stop: FlowQuestion | undefined;
  for (const question of DECISION_FLOW) {
    const mine = seen.filter((s) => question.kinds.includes(s.check.kind));
    const passes = mine.some((s) => s.check.verdict === "pass" || question.passesWhen?.(s.check)) || (question.answeredByToken === true && tokenRead);
    // A failed check counts against its own question only when it comes from a step or from a diagnosis of that question's hypothesis.
    const fails =
      primary.has(question.id) ||
      mine.some((s) => s.check.verdict === "fail" && !question.passesWhen?.(s.check) && (s.hypothesis === undefined || s.hypothesis === question.hypothesis));
    const state: QuestionState = fails ? "fail" : passes ? "pass" : stop !== undefined ? "unreached" : "unchecked";
    states.set(question.id, state);
    if (fails && stop === undefined) stop = question;
  }
  return { states, stop };
}

/** The question a diagnosis answers "broken": of its hypothesis, the one a failed check names, else the first. */
function primaryQuestion(diagnosis: ReportedDiagnosis): FlowQuestion | undefined {
  const candidates = DECISION_FLOW.filter((q) => q.hypothesis === diagnosis.hypothesis);
  return candidates.find((q) => (diagnosis.checks ?? []).some((c) => c.verdict === "fail" && q.kinds.includes(c.kind))) ?? candidates[0];
}

const STATE_MARK: Record<QuestionState, string> = { pass: "✓", fail: "✗", unchecked: "? not checked", unreached: "· not reached" };

/** The runbook's `graph TD`, its nodes classed by state, the path taken drawn thick. */
function flowchart(flow: Flow, diagnoses: readonly ReportedDiagnosis[]): string[] {
  const failed = diagnoses.length > 0;
  const out: string[] = ["flowchart TD", `  A[${mermaidLabel(failed ? "Managed identity call fails" : "Managed identity checked")}]`];
  const edges: Array<{ from: string; to: string; label?: string; onPath: boolean; broken: boolean }> = [];
  const classes: Record<string, string[]> = { start: ["A"], pass: [], fail: [], fix: [], unchecked: [], unreached: [] };
  let onPath = true;
  edges.push({ from: "A", to: DECISION_FLOW[0]!.id, onPath: true, broken: false });
  DECISION_FLOW.forEach((question, index) => {
    const state = flow.states.get(question.id)!;
    const okAnswer = question.failAnswer === "No" ? "Yes" : "No";
    const answer =
      state === "pass"
        ? ` ${STATE_MARK.pass} ${okAnswer}`
        : state === "fail"
          ? ` ${STATE_MARK.fail} ${question.failAnswer} (${question.hypothesis})`
          : ` ${STATE_MARK[state]}`;
    out.push(`  ${question.id}{${mermaidLabel(`${question.question}${answer}`)}}`);
    out.push(`  ${question.fix.id}[${mermaidLabel(question.fix.text)}]`);
    classes[state]!.push(question.id);
    classes[state === "fail" ? "fix" : "unreached"]!.push(question.fix.id);
    const next = DECISION_FLOW[index + 1]?.id ?? "N";
    const stops = onPath && flow.stop === question;
    edges.push({ from: question.id, to: question.fix.id, label: question.failAnswer, onPath: stops, broken: state === "fail" });
    edges.push({ from: question.id, to: next, label: okAnswer, onPath: onPath && !stops, broken: false });
    if (stops) onPath = false;
  });
  const cause = diagnoses.some((d) => d.hypothesis === "not-identity" || d.hypothesis === "unknown");
  out.push(`  N[${mermaidLabel("Inspect target-service logs and retry headers")}]`);
  classes[!onPath ? "unreached" : cause ? "fix" : "pass"]!.push("N");
  for (const edge of edges) out.push(`  ${edge.from} -->${edge.label ? `|${edge.label}|` : ""} ${edge.to}`);
  out.push(
    "  classDef start fill:#e8eaf6,stroke:#3949ab,color:#1a237e",
    "  classDef pass fill:#e6f4ea,stroke:#1e7e34,color:#1e4620",
    "  classDef fail fill:#fde8e8,stroke:#c62828,stroke-width:3px,color:#7f1d1d",
    "  classDef fix fill:#fff1e6,stroke:#c62828,stroke-width:2px,color:#7f1d1d",
    "  classDef unchecked fill:#fff8e1,stroke:#b7791f,stroke-dasharray:5 3,color:#5f370e",
    "  classDef unreached fill:#f5f5f5,stroke:#9e9e9e,stroke-dasharray:2 2,color:#757575",
  );
  for (const [name, ids] of Object.entries(classes)) if (ids.length > 0) out.push(`  class ${ids.join(",")} ${name}`);
  const pathEdges = edges.flatMap((e, i) => (e.onPath && !e.broken ? [i] : []));
  const brokenEdges = edges.flatMap((e, i) => (e.broken ? [i] : []));
  if (pathEdges.length > 0) out.push(`  linkStyle ${pathEdges.join(",")} stroke:#1e7e34,stroke-width:3px`);
  if (brokenEdges.length > 0) out.push(`  linkStyle ${brokenEdges.join(",")} stroke:#c62828,stroke-width:3px`);
  return out;
}

// ── The tables ─────────────────────────────────────────────────────────────────────────────────────────────────

const OUTCOME_TEXT = { pass: "✓ passed", fail: "✗ failed", unknown: "? unknown", skipped: "– skipped" } as const;
const VERDICT_TEXT = { pass: "✓ pass", fail: "✗ fail", unknown: "? unknown" } as const;

function describeCheck(check: DiagnosisCheck): string {
  const parts = [check.expected !== undefined ? `expected ${check.expected}` : "", check.actual !== undefined ? `found ${check.actual}` : ""].filter(Boolean);
  return `${check.kind}: ${parts.join(", ") || check.verdict}`;
}

function checkCells(check: DiagnosisCheck): string[] {
  return [
    mdText(check.kind),
    check.expected !== undefined ? mdCode(check.expected) : "",
    check.actual !== undefined ? mdCode(check.actual) : "",
    VERDICT_TEXT[check.verdict],
  ];
}

/** Distinct checks (the same check seen in two diagnoses once). */
function distinct(seen: readonly Seen[]): DiagnosisCheck[] {
  const out: DiagnosisCheck[] = [];
  for (const { check } of seen) {
    if (!out.some((c) => c.kind === check.kind && c.expected === check.expected && c.actual === check.actual && c.verdict === check.verdict)) out.push(check);
  }
  return out;
}

function worst(checks: readonly DiagnosisCheck[]): DiagnosisCheck["verdict"] | undefined {
  if (checks.some((c) => c.verdict === "fail")) return "fail";
  if (checks.some((c) => c.verdict === "pass")) return "pass";
  return checks.length > 0 ? "unknown" : undefined;
}

function evidenceTable(facts: ReportFacts, seen: readonly Seen[], tokenRead: boolean, fromRun: boolean): string[] {
  const { environment, diagnoses } = facts;
  const refused = diagnoses.some((d) => d.status !== undefined);
  // A step's passing role check: a dependency answered as expected.
  const answeredWell = seen.some((s) => s.hypothesis === undefined && s.check.kind === "role" && s.check.verdict === "pass");
  const principalId = facts.identities.find((i) => i.objectId !== undefined)?.objectId;
  // The fields commands are filled from; a partial environment (the option is loose) gets the defaults of "unknown".
  const host = {
    containerApp: environment?.containerApp ?? {},
    hostKind: environment?.hostKind ?? "unknown",
    appServiceName: environment?.appServiceName,
    platformKey: environment?.platformKey,
    platformCandidates: environment?.platformCandidates ?? [],
    platformReason: environment?.platformReason,
    instance: environment?.instance ?? {},
  } as HostEnvironment;
  const context = commandContextOf(host, principalId !== undefined ? { principalId } : {});
  const evidence = diagnoses.flatMap((d) => d.evidence);
  const rows = EVIDENCE_ROWS.map((row) => {
    const checks = distinct(seen.filter((s) => row.kinds.includes(s.check.kind)));
    const found = [
      ...(row.facts?.(facts) ?? []),
      ...checks.map(describeCheck),
      ...evidence.filter((line) => row.lines.some((start) => line.startsWith(start))).slice(0, 2),
    ].filter((line, i, all) => line.length > 0 && all.indexOf(line) === i);
    const verdict = worst(checks);
    const why =
      row.needs === "token" && !tokenRead
        ? "no token was issued or read"
        : row.needs === "answer" && !refused
          ? answeredWell
            ? "every dependency answered as expected"
            : fromRun
              ? "no dependency answered (the doctor calls one with --url URL)"
              : "no dependency answer was diagnosed"
          : "no check of this kind ran";
    const confirmed = [...new Set(checks.map((c) => c.confirmedBy).filter((c) => c !== undefined))];
    return [
      mdText(row.label),
      found.length > 0 ? found.map(mdText).join("<br>") : `not checked: ${mdText(why)}`,
      verdict !== undefined ? VERDICT_TEXT[verdict] : found.length > 0 ? "recorded" : "not checked",
      mdText(confirmed.join(", ")),
      commandCell(row.command?.(context, principalId)),
    ];
  });
  // Kinds no row knows (a new check kind): shown, not dropped.
  const known = new Set(EVIDENCE_ROWS.flatMap((row) => row.kinds));
  const other = distinct(seen.filter((s) => !known.has(s.check.kind)));
  if (other.length > 0) {
    const confirmed = [...new Set(other.map((c) => c.confirmedBy).filter((c) => c !== undefined))];
    rows.push([mdText("Other checks"), other.map((c) => mdText(describeCheck(c))).join("<br>"), VERDICT_TEXT[worst(other)!], mdText(confirmed.join(", ")), ""]);
  }
  return mdTable(["Evidence", "Found", "Verdict", "Confirmed by", "Command to collect it"], rows);
}

function commandCell(command: string | undefined): string {
  return command !== undefined && command.length > 0 ? mdCode(command) : "";
}

function hypothesisTable(diagnoses: readonly ReportedDiagnosis[], seen: readonly Seen[], flow: Flow, tokenRead: boolean): string[] {
  const rows = HYPOTHESES.map((hypothesis) => {
    const runbook = RUNBOOK_HYPOTHESES[hypothesis];
    const supporting = diagnoses.filter((d) => d.hypothesis === hypothesis);
    const questions = DECISION_FLOW.filter((q) => q.hypothesis === hypothesis);
    const states = questions.map((q) => flow.states.get(q.id)!);
    let verdict: string;
    let because: string[];
    if (supporting.length > 0) {
      verdict = `**supported** (${[...new Set(supporting.map((d) => d.confidence))].join(", ")} confidence)`;
      because = supporting.flatMap((d) => [d.summary, ...(d.checks ?? []).filter((c) => c.verdict === "fail").map(describeCheck)]);
    } else if (states.includes("pass") && !states.includes("fail")) {
      verdict = "ruled out";
      const kinds = questions.flatMap((q) => q.kinds);
      because = distinct(seen.filter((s) => kinds.includes(s.check.kind) && s.check.verdict === "pass")).map(describeCheck);
      if (questions.some((q) => q.answeredByToken) && tokenRead) because.push("a token was issued");
      else if (because.length === 0) because.push("the identity endpoint answered");
    } else {
      verdict = "not checked";
      because = [
        states.includes("unreached") && flow.stop !== undefined ? `not reached: the run stopped at "${flow.stop.question}"` : "no check of this kind ran",
      ];
    }
    return [
      `${hypothesis} ${mdText(runbook.title)}`,
      verdict,
      [...new Set(because)].map(mdText).join("<br>"),
      `for: ${mdText(runbook.for)}<br>against: ${mdText(runbook.against)}`,
    ];
  });
  const out = mdTable(["Hypothesis", "Verdict", "Evidence from this run", "Runbook: typical evidence"], rows);
  for (const d of diagnoses.filter((d) => d.hypothesis === "not-identity" || d.hypothesis === "unknown")) {
    out.push("", mdText(`${d.hypothesis === "not-identity" ? "Not an identity problem" : "Not decided"}: ${d.summary}`));
  }
  return out;
}

// ── Findings and next steps ────────────────────────────────────────────────────────────────────────────────────

/** A next step's command: what follows the sentence's colon, when it starts like a command. */
const COMMAND = /^(.*?):\s+((?:az|kubectl|curl|date|npx|node|export|printf|systemctl|[A-Z_]+=)\s.*|credential\.\S.*|new [A-Z]\w*\(.*)$/s;

function verdictLines(diagnoses: readonly ReportedDiagnosis[], steps: NonNullable<IncidentReportOptions["steps"]>): string[] {
  const failed = steps.filter((s) => s.outcome === "fail").length;
  if (diagnoses.length === 0)
    return [
      mdText(
        failed > 0 ? `No identity diagnosis, but ${failed} step${failed === 1 ? "" : "s"} failed: see Steps.` : "No failure: every check that ran passed.",
      ),
    ];
  return diagnoses.map((d) => `- **${d.hypothesis} ${mdText(d.title)}** (${d.confidence} confidence): ${mdText(d.summary)}`);
}

function findingLines(diagnoses: readonly ReportedDiagnosis[], options: IncidentReportOptions): string[] {
  const lines: string[] = [];
  diagnoses.forEach((d, index) => {
    const facts = [
      `${d.confidence} confidence`,
      d.service,
      d.status !== undefined ? `HTTP ${d.status}` : undefined,
      d.errorCode,
      d.rule ? `rule ${d.rule.id}` : undefined,
    ];
    lines.push("", `## ${diagnoses.length > 1 ? `Finding ${index + 1}: ` : "Finding: "}${d.hypothesis} ${mdText(d.title)}`, "");
    lines.push(`${mdText(facts.filter(Boolean).join(" · "))} · code ${mdCode(d.code)}`, "", mdText(d.summary));
    if (d.evidence.length > 0) lines.push("", "Evidence:", "", ...d.evidence.map((line) => `- ${mdText(line)}`));
    const steps = d.nextSteps.filter((step) => !(options.omitDoctorSteps === true && /diagnostic-credential doctor/.test(step)));
    if (steps.length > 0) {
      lines.push("", "Next steps:", "");
      steps.forEach((step, i) => {
        const match = COMMAND.exec(step.replace(/\s+/g, " ").trim());
        if (match === null) lines.push(`${i + 1}. ${mdText(step)}`);
        else lines.push(`${i + 1}. ${mdText(match[1])}:`, "", ...mdFence("sh", match[2]!).map((line) => `   ${line}`), "");
      });
      while (lines.at(-1) === "") lines.pop();
    }
  });
  return lines;
}

function currentEnvironment(): IncidentReportEnvironment | undefined {
  try {
    return readHostEnvironment();
  } catch (error) {
    recordInternalFault(error);
    return undefined;
  }
}
