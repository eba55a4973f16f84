import { describe, expect, it } from "vitest";
import type { Diagnosis } from "../../src/diagnosis/types.js";
import { SERVICE_CATALOG } from "../../src/catalog/services.js";
import { CHECK_KINDS } from "../../src/diagnosis/findings.js";
import { SHAPES, classifyShape } from "./fixtures.js";

describe("classifyResponse over the documented failure shapes", () => {
  it.each(SHAPES.map((shape) => [shape.name, shape] as const))("%s", async (_name, shape) => {
    const { diagnosis } = await classifyShape(shape);
    const want = shape.expect;
    if (want.hypothesis === undefined) {
      expect(diagnosis).toBeUndefined();
      return;
    }
    expect(diagnosis, "a diagnosis").toBeDefined();
    const d = diagnosis as Diagnosis;
    const context = `\n${JSON.stringify(d, null, 2)}`;
    expect(d.hypothesis, context).toBe(want.hypothesis);
    if (want.confidence) expect(d.confidence, context).toBe(want.confidence);
    if ("service" in want) expect(d.service, context).toBe(want.service);
    if (want.errorCode) expect(d.errorCode, context).toBe(want.errorCode);
    if (want.fingerprint) expect(d.rule?.id, context).toBe(want.fingerprint);
    if (want.rule) expect(d.rule?.id, context).toBe(want.rule);
    for (const check of want.checks ?? []) expect(d.checks, `a ${check.kind} check${context}`).toContainEqual(expect.objectContaining(check));
    for (const part of want.summary ?? []) expect(d.summary, context).toContain(part);
    for (const part of want.steps ?? [])
      expect(
        d.nextSteps.some((step) => step.includes(part)),
        `step containing ${part}${context}`,
      ).toBe(true);
    for (const part of want.absentFromSteps ?? [])
      expect(
        d.nextSteps.filter((step) => step.includes(part)),
        `no step containing ${part}${context}`,
      ).toEqual([]);
    for (const part of want.evidence ?? [])
      expect(
        d.evidence.some((line) => line.includes(part)),
        `evidence containing ${part}${context}`,
      ).toBe(true);
    // Every diagnosis is well formed.
    expect(d.summary).toMatch(new RegExp(`^${d.status ?? ""}`));
    expect(d.summary).not.toMatch(/[\r\n]/);
    expect(d.evidence.length).toBeGreaterThan(0);
    expect(d.nextSteps.length).toBeGreaterThan(0);
    // Every diagnosis names its rule, from the documented rule sets, and every check line has its structured twin.
    expect(d.rule?.source, context).toMatch(/^(catalog:[\w-]+|services:[\w-]+|claims|challenge|status)$/);
    if (!d.rule!.source.includes(":")) expect(d.rule!.id.startsWith(`${d.rule!.source}.`), context).toBe(true);
    for (const check of d.checks ?? []) expect(Object.values(CHECK_KINDS), context).toContain(check.kind);
    const kinds = (d.checks ?? []).map((check) => check.kind);
    for (const [prefix, kind] of [
      ["audience check:", "audience"],
      ["lifetime check:", "lifetime"],
      ["tenant check:", "tenant"],
      ["identity check:", "identity"],
      ["service error code:", "service-code"],
    ] as const) {
      if (d.evidence.some((line) => line.startsWith(prefix))) expect(kinds, `"${prefix}" has a ${kind} check${context}`).toContain(kind);
    }
    // Every step is self-contained: it starts with a sentence (never a bare command) and does not announce the next one.
    for (const step of d.nextSteps) {
      expect(step, `a step that starts with a sentence${context}`).toMatch(/^[A-Z"]/);
      expect(step, `a step that is not a bare command${context}`).not.toMatch(/^(az |PRINCIPAL_ID=|GRAPH_SP_ID=|CREATE |select )/);
      expect(step.trimEnd(), `a step that does not end with a colon${context}`).not.toMatch(/:$/);
    }
    if (d.hypothesis === "H2" && d.service !== undefined) {
      const steps = d.nextSteps.join("\n");
      expect(steps, `H2 names the propagation delay${context}`).toMatch(/^Propagation delay: .+\. Retry after that/m);
      const role = /lacks "([^"]+)"/.exec(d.summary)?.[1];
      if (role !== undefined) {
        // A role-based H2: the role, a command with the principal filled in (or set first), the control-plane warning.
        expect(steps, `names the role${context}`).toContain(role);
        const principal = d.identity?.objectId ?? "$PRINCIPAL_ID";
        // One step holds the grant sentence and its command: "Grant …: az role assignment create … <principal> …".
        expect(
          d.nextSteps.some((step) => /^[A-Z][a-z]/.test(step) && /: (az |CREATE |select |GRAPH_SP_ID=)/.test(step) && step.includes(principal)),
          `a sentence with its command and the principal${context}`,
        ).toBe(true);
        const service = SERVICE_CATALOG.find((s) => s.name === d.service);
        if (service !== undefined && service.controlPlaneRoles.length > 0) expect(steps, `control-plane warning${context}`).toContain("control-plane role");
      }
    }
  });
});
