/**
 * Each identity source says its fingerprints (src/hosting/identitySources.ts `fingerprints`): the ids of the
 * token-failure table's entries specific to it (src/catalog/tokenFailures.ts, those whose `sources` name it). The
 * list is data below the catalog's layer, so this test keeps the two in agreement, both ways.
 */
import { describe, expect, it } from "vitest";
import { TOKEN_FAILURES } from "../../src/catalog/tokenFailures.js";
import { IDENTITY_SOURCES } from "../../src/hosting/identitySources.js";

describe("identity sources ↔ the token-failure table", () => {
  const byId = new Map(TOKEN_FAILURES.map((f) => [f.id, f]));

  it.each(IDENTITY_SOURCES.map((s) => [s.id, s] as const))("%s: every id it lists exists and applies to it, in table order", (id, source) => {
    for (const fingerprint of source.fingerprints) {
      const entry = byId.get(fingerprint);
      expect(entry, `${id} lists ${fingerprint}, which is not in TOKEN_FAILURES`).toBeDefined();
      expect(entry!.sources, `${fingerprint} does not name ${id} in its sources`).toContain(id);
    }
    const positions = source.fingerprints.map((f) => TOKEN_FAILURES.findIndex((entry) => entry.id === f));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(new Set(source.fingerprints).size).toBe(source.fingerprints.length);
  });

  it("every source-specific entry of the table is listed by each source it names", () => {
    for (const entry of TOKEN_FAILURES) {
      for (const sourceId of entry.sources ?? []) {
        const source = IDENTITY_SOURCES.find((s) => s.id === sourceId);
        expect(source, `${entry.id} names ${sourceId}, which is no identity source`).toBeDefined();
        expect(source!.fingerprints, `${sourceId} does not list ${entry.id}`).toContain(entry.id);
      }
    }
  });

  it("the sources with failures of their own: workload identity (Entra's exchange), Arc, IMDS on a platform without its variables", () => {
    const listed = Object.fromEntries(IDENTITY_SOURCES.map((s) => [s.id, s.fingerprints.length]));
    expect(listed.WorkloadIdentity).toBeGreaterThanOrEqual(15);
    expect(IDENTITY_SOURCES.find((s) => s.id === "AzureArc")!.fingerprints).toContain("arc-identity-not-confirmed");
    expect(IDENTITY_SOURCES.find((s) => s.id === "DefaultToImds")!.fingerprints).toContain("identity-variables-missing");
  });
});
