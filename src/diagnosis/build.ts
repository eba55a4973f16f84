import { DIAGNOSIS_CODES } from "./codes.js";
import type { Diagnosis, DiagnosisCode } from "./types.js";

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
  return diagnosis;
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
