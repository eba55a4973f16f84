/**
 * The log line against its documentation (docs/observability.md): every field a real line has is documented with
 * its type, every always-present field is there, the example lines parse and hold no token, and every field the KQL
 * queries read (`tostring(d.<field>)`, `toint(d.<field>)`, …) exists in a real log entry. Also the names of the
 * span attributes, events, metrics, units and `error.type` values the docs list.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { DiagnosticCredential, TELEMETRY_ATTRIBUTES, type DiagnosisLogEntry } from "../../src/index.js";
import {
  ERROR_TYPES,
  EVENT_DIAGNOSIS,
  EVENT_RECOVERED,
  METRIC_DIAGNOSES,
  METRIC_GET_TOKEN_DURATION,
  METRIC_RECOVERY_DURATION,
  SPAN_GET_TOKEN,
} from "../../src/telemetry/telemetry.js";
import { REPO_ROOT } from "../helpers/childScenario.js";
import { createSdk, enableContext } from "../telemetry/otel.js";
import {
  accessToken,
  CONTAINER_APP,
  identityNotFound,
  networkUnreachable,
  PRINCIPAL,
  scriptedCredential,
  setContainerAppEnv,
  sleep,
  startVault,
  vaultClient,
} from "../telemetry/fixtures.js";

setContainerAppEnv();
enableContext();

const DOC = readFileSync(path.join(REPO_ROOT, "docs", "observability.md"), "utf8");

/** The rows of the markdown table that follows `heading` (first column without backticks). */
function tableAfter(heading: string): string[][] {
  const start = DOC.indexOf(heading);
  expect(start, `heading ${heading}`).toBeGreaterThanOrEqual(0);
  const lines = DOC.slice(start).split("\n");
  const first = lines.findIndex((l) => l.startsWith("|"));
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(
      line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  }
  return rows;
}

function codeBlocks(language: string): string[] {
  return [...DOC.matchAll(new RegExp("```" + language + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
}

function valueAt(entry: unknown, dotted: string): unknown {
  return dotted
    .split(".")
    .reduce<unknown>((value, key) => (value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined), entry);
}

function typeOf(value: unknown): string {
  return Array.isArray(value) ? "array" : value === null ? "null" : typeof value;
}

/** Real log entries: a downstream H2 and its recovery (Key Vault emulator, policy), getToken H1 and H5, a token-check H3, inside a trace. */
const entries: DiagnosisLogEntry[] = [];
beforeAll(async () => {
  const vault = await startVault();
  const sdk = createSdk();
  try {
    const { client, logs, credential } = vaultClient(
      vault,
      {},
      { credentialOptions: { tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider } },
    );
    await sdk.tracerProvider.getTracer("app").startActiveSpan("request", async (span) => {
      await client.getSecret("db-password").catch(() => undefined);
      vault.kv.rbac.grant({ principalId: PRINCIPAL, role: "Key Vault Secrets User", scope: vault.kv.resourceId }, { propagationDelayMs: 0 });
      await client.getSecret("db-password");
      span.end();
    });
    await sleep(150);
    credential.flushLogs();
    entries.push(...logs);
  } finally {
    await vault.close();
  }
  for (const outcomes of [[identityNotFound()], [networkUnreachable()]]) {
    const credential = new DiagnosticCredential({
      credential: scriptedCredential(outcomes),
      logger: (e) => entries.push(e),
      tracerProvider: sdk.tracerProvider,
    });
    await credential.getToken("https://vault.azure.net/.default").catch(() => undefined);
  }
  const header = Buffer.from('{"alg":"none"}').toString("base64url");
  const payload = Buffer.from(
    JSON.stringify({ aud: "https://storage.azure.com", oid: PRINCIPAL, tid: "t", exp: Math.floor(Date.now() / 1000) + 3600 }),
  ).toString("base64url");
  const credential = new DiagnosticCredential({ credential: scriptedCredential([accessToken(`${header}.${payload}.sig`)]), logger: (e) => entries.push(e) });
  await credential.getToken("https://vault.azure.net/.default");
});

describe("the captured lines", () => {
  it("cover a downstream failure, a recovery, getToken failures and a token warning", () => {
    expect(entries.map((e) => `${e.source}:${e.hypothesis}`)).toEqual(
      expect.arrayContaining(["response:H2", "recovery:H2", "getToken:H1", "getToken:H5", "token-check:H3"]),
    );
    for (const entry of entries) expect(entry.containerApp).toEqual(CONTAINER_APP);
    expect(entries.find((e) => e.source === "response")!.traceId).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe("docs/observability.md: the log schema", () => {
  const rows = tableAfter("## Log line");
  const documented = new Map(rows.map((r) => [r[0]!, { type: r[1]!, always: r[2] === "yes" }]));
  const names = (cell: string) => [...cell.matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]!);
  const fields = new Map<string, { type: string; always: boolean }>();
  for (const [cell, info] of documented) for (const name of names(cell)) fields.set(name, info);

  it("documents every field a real line has, with its type", () => {
    for (const entry of entries) {
      for (const [key, value] of Object.entries(entry)) {
        const doc = fields.get(key);
        expect(doc, `field ${key} is documented`).toBeDefined();
        const t = typeOf(value);
        const documentedType = doc!.type;
        const ok =
          (t === "string" && /string|"/.test(documentedType)) ||
          (t === "number" && /number|int/.test(documentedType)) ||
          (t === "array" && /\[\]/.test(documentedType)) ||
          (t === "object" && /object/.test(documentedType));
        expect(ok, `${key}: ${t} vs documented ${documentedType}`).toBe(true);
      }
    }
  });

  it("every field documented as always present is in every line; the documented fields are the API.md ones and more", () => {
    const always = [...fields].filter(([, info]) => info.always).map(([name]) => name);
    expect(always).toEqual(
      expect.arrayContaining(["time", "level", "message", "hypothesis", "code", "confidence", "evidence", "nextSteps", "containerApp", "count"]),
    );
    for (const entry of entries) for (const name of always) expect(entry, `${name} in ${entry.message}`).toHaveProperty(name);
    for (const apiField of ["service", "status", "errorCode", "identity"]) expect(fields.has(apiField)).toBe(true);
  });

  it("the example lines are real lines: valid JSON, documented fields only, no token", () => {
    const examples = codeBlocks("json").map((block) => block.trim());
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const text of examples) {
      expect(text.split("\n")).toHaveLength(1);
      const entry = JSON.parse(text) as Record<string, unknown>;
      for (const key of Object.keys(entry)) expect(fields.has(key), `example field ${key}`).toBe(true);
      expect(String(entry.message)).toMatch(/^DiagnosticCredential \[/);
      expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    }
    expect(examples.some((t) => /"source":"recovery"/.test(t) && /recovered after [\d.]+ min"/.test(t))).toBe(true);
  });
});

describe("docs/observability.md: the KQL", () => {
  const queries = codeBlocks("kql");
  const refs = new Set(queries.flatMap((q) => [...q.matchAll(/\bd\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)/g)].map((m) => m[1]!)));

  it("reads Log_s of ContainerAppConsoleLogs_CL through parse_json", () => {
    const console = queries.filter((q) => q.includes("ContainerAppConsoleLogs_CL"));
    expect(console.length).toBeGreaterThanOrEqual(7);
    for (const q of console) if (/\bd\./.test(q)) expect(q).toMatch(/extend d = parse_json\(Log_s\)/);
    expect(refs.size).toBeGreaterThanOrEqual(10);
  });

  it("every field a query reads exists in a real log entry", () => {
    for (const ref of refs) {
      expect(
        entries.some((entry) => valueAt(entry, ref) !== undefined),
        `d.${ref}`,
      ).toBe(true);
    }
  });

  it("the queries the runbook asks for are there: by hypothesis, revision, replica, after a deploy, recovery times, an alert", () => {
    const all = queries.join("\n");
    for (const needle of [
      "by hypothesis = tostring(d.hypothesis)",
      "by revision = tostring(d.containerApp.revision)",
      "replica = tostring(d.containerApp.replica)",
      "minutesAfterDeploy",
      "d.recovery.afterMinutes",
      "toint(d.status) in (401, 403)",
    ]) {
      expect(all).toContain(needle);
    }
    expect(DOC).toMatch(/az monitor scheduled-query create/);
  });
});

describe("docs/observability.md: telemetry names", () => {
  it("lists every error.type value, in order", () => {
    expect(tableAfter("## `error.type`").map((r) => r[0]!.replace(/`/g, ""))).toEqual([...ERROR_TYPES]);
  });

  it("lists every span attribute the library sets, with the span and event names", () => {
    const documented = new Set(tableAfter("## Spans").map((r) => r[0]!.replace(/`/g, "")));
    const eventsText = DOC.slice(DOC.indexOf("### Events"), DOC.indexOf("## Metrics"));
    for (const name of Object.values(TELEMETRY_ATTRIBUTES)) {
      const short = name.replace(/^diagnostic_credential/, "");
      expect(documented.has(name) || eventsText.includes(`\`${name}\``) || eventsText.includes(`\`${short}\``), name).toBe(true);
    }
    expect(DOC).toContain(`\`${SPAN_GET_TOKEN}\``);
    expect(eventsText).toContain(`\`${EVENT_DIAGNOSIS}\``);
    expect(eventsText).toContain(`\`${EVENT_RECOVERED}\``);
  });

  it("lists every metric with its unit", async () => {
    const rows = tableAfter("## Metrics").map((r) => [r[0]!.replace(/`/g, ""), r[1], r[2]!.replace(/`/g, "")]);
    expect(rows).toEqual([
      [METRIC_GET_TOKEN_DURATION, "histogram", "s"],
      [METRIC_DIAGNOSES, "counter", "{diagnosis}"],
      [METRIC_RECOVERY_DURATION, "histogram", "s"],
    ]);
    // …and the units are the ones the SDK sees.
    const sdk = createSdk();
    const credential = new DiagnosticCredential({ credential: scriptedCredential([identityNotFound()]), meterProvider: sdk.meterProvider, logger: false });
    await credential.getToken("https://vault.azure.net/.default").catch(() => undefined);
    const units = Object.fromEntries((await sdk.metrics()).map((m) => [m.name, m.unit]));
    expect(units).toMatchObject({ [METRIC_GET_TOKEN_DURATION]: "s", [METRIC_DIAGNOSES]: "{diagnosis}" });
  });
});
