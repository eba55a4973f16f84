/**
 * No raw token, JWT signature or IDENTITY_HEADER reaches a log line, an error message or a Diagnosis: proven with
 * tokens the emulator generates, across healthy calls and every fault that quotes claims or bodies.
 */
import { describe, expect, it } from "vitest";
import { runCredentialScenario } from "../helpers/credentialScenario.js";

const VAULT = "https://vault.azure.net/.default";

describe("secrets never leave the library", () => {
  it.each([
    ["healthy", {}],
    ["wrong audience", { fault: { kind: "wrong-audience", audience: "https://management.azure.com" } }],
    ["expired", { fault: { kind: "expired" } }],
    ["wrong tenant", { fault: { kind: "wrong-tenant" } }],
    ["unknown client id", {}],
  ])("%s", async (name, emulator) => {
    const r = await runCredentialScenario({
      emulator: { ...emulator, identityHeader: "ih-0123456789abcdef0123456789abcdef" },
      constructorArg: name === "unknown client id" ? { clientId: "12345678-aaaa-bbbb-cccc-123456789012", retryOptions: { maxRetries: 0 } } : {},
      calls: [VAULT, "https://storage.azure.com/.default", [VAULT, "https://x/.default"]],
      defaultLogger: false,
    });
    const tokens = r.calls.map((c) => c.token).filter((t): t is string => typeof t === "string");
    if (name !== "unknown client id") expect(tokens.length).toBeGreaterThan(0);
    const published = JSON.stringify({
      logs: r.logs,
      errors: r.calls.map((c) => c.error),
      diagnoses: r.calls.map((c) => c.diagnosis),
      stderr: r.process.stderr,
    });
    for (const token of tokens) {
      const [header, payload, signature] = token.split(".");
      expect(published).not.toContain(token);
      expect(published).not.toContain(signature!);
      expect(published).not.toContain(payload!.slice(0, 40));
      expect(header!.length).toBeGreaterThan(10);
    }
    expect(published).not.toContain("ih-0123456789abcdef0123456789abcdef");
    expect(published).not.toContain(r.identityHeader!);
  });
});
