import { redact } from "../util/redact.js";
import { DIAGNOSIS_CODES } from "./codes.js";
import type { Diagnosis, DiagnosisCheck, DiagnosisCode, DiagnosisRule } from "./types.js";

export type DiagnosisInput = Omit<Diagnosis, "hypothesis" | "title"> & { title?: string };

/** Makes a Diagnosis from a code: hypothesis and title come from the code table, never by hand. */
export function makeDiagnosis(code: DiagnosisCode, input: Omit<DiagnosisInput, "code">): Diagnosis {
  const { hypothesis, title } = DIAGNOSIS_CODES[code];
  const diagnosis: Diagnosis = {
    hypothesis,
    code,
    title: input.title ?? title,
    confidence: input.confidence,
    summary: input.summary,
    evidence: dedupe(input.evidence),
    nextSteps: dedupe(selfContained(input.nextSteps)),
  };
  if (input.service !== undefined) diagnosis.service = input.service;
  if (input.status !== undefined) diagnosis.status = input.status;
  if (input.errorCode !== undefined) diagnosis.errorCode = input.errorCode;
  if (input.identity !== undefined) diagnosis.identity = input.identity;
  if (input.token !== undefined) diagnosis.token = input.token;
  if (input.rule !== undefined) diagnosis.rule = cleanRule(input.rule);
  const checks = input.checks !== undefined ? cleanChecks(input.checks) : [];
  if (checks.length > 0) diagnosis.checks = checks;
  if (input.platform !== undefined) diagnosis.platform = input.platform;
  return diagnosis;
}

/** Longest `expected`/`actual` kept: a value (audience, time, id, code), not prose. */
const MAX_CHECK_VALUE = 300;

/** A check's value as evidence is: redacted, one line, bounded. */
function checkValue(value: string): string {
  const one = redact(String(value))
    .replace(/[\u0000-\u001f\u007f]+/g, " ")
    .trim();
  return one.length > MAX_CHECK_VALUE ? `${one.slice(0, MAX_CHECK_VALUE - 1)}…` : one;
}

function cleanRule(rule: DiagnosisRule): DiagnosisRule {
  return { id: checkValue(rule.id), source: checkValue(rule.source) };
}

/** Redacted copies, the same check made twice (same kind, values and verdict) kept once. */
function cleanChecks(checks: readonly DiagnosisCheck[]): DiagnosisCheck[] {
  const out: DiagnosisCheck[] = [];
  for (const check of checks) {
    // In the order of the type (kind, expected, actual, verdict): how the JSON reads.
    const clean: DiagnosisCheck = {
      kind: check.kind,
      ...(check.expected !== undefined ? { expected: checkValue(check.expected) } : {}),
      ...(check.actual !== undefined ? { actual: checkValue(check.actual) } : {}),
      verdict: check.verdict,
      ...(check.confirmedBy !== undefined ? { confirmedBy: check.confirmedBy } : {}),
    };
    const same = out.some((c) => c.kind === clean.kind && c.verdict === clean.verdict && c.expected === clean.expected && c.actual === clean.actual);
    if (!same) out.push(clean);
  }
  return out;
}

function dedupe(lines: string[]): string[] {
  // A handful of lines: comparing them beats hashing each (long, freshly built) string into a Set.
  return lines.filter((line, index) => line.length > 0 && lines.indexOf(line) === index);
}

/**
 * Every next step is one string, a sentence with its command. A step that ends in ":" announces the next one (a
 * catalog entry of the `services` option written as sentence, then command): the two are joined.
 */
function selfContained(steps: string[]): string[] {
  if (!steps.some((step) => step.trimEnd().endsWith(":"))) return steps;
  const out: string[] = [];
  for (let i = 0; i < steps.length; i++) {
    let step = steps[i]!;
    while (step.trimEnd().endsWith(":") && i + 1 < steps.length && steps[i + 1]!.length > 0) step = `${step.trimEnd()} ${steps[++i]}`;
    out.push(step);
  }
  return out;
}
