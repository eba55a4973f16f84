/**
 * Assertions on a Diagnosis's structured findings (`rule`, `checks`): what tests check instead of parsing the
 * evidence lines.
 */
import { expect } from "vitest";
import type { CheckKind, Diagnosis, DiagnosisCheck, DiagnosisLogEntry } from "../../src/index.js";

/** A check to find: its kind and verdict, and any of the other fields to match exactly (or with `expect.*`). */
export type ExpectedCheck = { kind: CheckKind; verdict: DiagnosisCheck["verdict"] } & { [K in "expected" | "actual" | "confirmedBy"]?: unknown };

/** The diagnosis (or log line) has a check matching each of `checks`; returns the first match of the first. */
export function expectChecks(diagnosis: Pick<Diagnosis | DiagnosisLogEntry, "checks"> | undefined, ...checks: ExpectedCheck[]): DiagnosisCheck {
  const found = diagnosis?.checks ?? [];
  for (const check of checks)
    expect(found, `a ${check.kind} check (${check.verdict}) in ${JSON.stringify(found)}`).toContainEqual(expect.objectContaining(check));
  return found.find((c) => c.kind === checks[0]?.kind && c.verdict === checks[0]?.verdict)!;
}

/** The diagnosis has no check of this kind. */
export function expectNoCheck(diagnosis: Pick<Diagnosis, "checks"> | undefined, kind: CheckKind): void {
  expect(
    (diagnosis?.checks ?? []).filter((check) => check.kind === kind),
    `no ${kind} check`,
  ).toEqual([]);
}

/** The failing checks' kinds, in order: what a diagnosis blames. */
export function failedKinds(diagnosis: Pick<Diagnosis, "checks"> | undefined): string[] {
  return (diagnosis?.checks ?? []).filter((check) => check.verdict === "fail").map((check) => check.kind);
}
