/**
 * docs/alerts: the scheduled query rules in Bicep and their KQL. No Bicep compiler runs here (none is on npm), so the
 * template is checked by structure: a small parser (strings, interpolation, objects, arrays, decorators) reads it,
 * every identifier it uses is declared, every property is one of `Microsoft.Insights/scheduledQueryRules@2021-08-01`
 * (names and enum values from the resource's reference), every dimension is a column the query outputs. The KQL is
 * checked against the log line the library writes: each field it reads exists on a real line (`toLogEntry`), so a
 * renamed field fails here; the metric's name and attributes are the library's constants. The README's blocks are
 * the template's queries.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { makeDiagnosis } from "../../src/diagnosis/build.js";
import { METRIC_DIAGNOSES, TELEMETRY_ATTRIBUTES } from "../../src/index.js";
import { formatLogMessage, toLogEntry } from "../../src/logging/logEntry.js";
import { REPO_ROOT } from "../helpers/childScenario.js";

const BICEP = readFileSync(path.join(REPO_ROOT, "docs", "alerts", "identity-failures.bicep"), "utf8");
const README = readFileSync(path.join(REPO_ROOT, "docs", "alerts", "README.md"), "utf8");

// ── A small Bicep reader ─────────────────────────────────────────────────────────────────────────────────────────

type Token = { kind: "nl" | "ident" | "number" | "punct" | "string"; text: string; parts?: string[] };
type Value = { object: Map<string, Value> } | { array: Value[] } | { expr: Token[] };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === "\n") (tokens.push({ kind: "nl", text: "\n" }), i++);
    else if (/\s/.test(c)) i++;
    else if (source.startsWith("//", i)) i = source.indexOf("\n", i) < 0 ? source.length : source.indexOf("\n", i);
    else if (source.startsWith("/*", i)) i = source.indexOf("*/", i) + 2;
    else if (source.startsWith("'''", i)) {
      const end = source.indexOf("'''", i + 3);
      if (end < 0) throw new Error("unclosed ''' string");
      tokens.push({ kind: "string", text: source.slice(i + 3, end), parts: [] });
      i = end + 3;
    } else if (c === "'") {
      let text = "";
      const parts: string[] = [];
      i++;
      for (;;) {
        if (i >= source.length || source[i] === "\n") throw new Error(`unclosed string at ${i}`);
        const ch = source[i]!;
        if (ch === "'") break;
        if (ch === "\\") {
          const next = source[i + 1]!;
          if (!"'\\nrt$".includes(next)) throw new Error(`bad escape \\${next}`);
          text += next === "n" ? "\n" : next;
          i += 2;
        } else if (source.startsWith("${", i)) {
          let depth = 1;
          let j = i + 2;
          while (depth > 0) {
            if (j >= source.length) throw new Error("unclosed interpolation");
            if (source[j] === "{") depth++;
            if (source[j] === "}") depth--;
            if (source[j] === "'") j = skipString(source, j);
            else j++;
          }
          parts.push(source.slice(i + 2, j - 1));
          text += "${…}";
          i = j;
        } else ((text += ch), i++);
      }
      tokens.push({ kind: "string", text, parts });
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_]\w*/.exec(source.slice(i))![0];
      tokens.push({ kind: "ident", text: m });
      i += m.length;
    } else if (/\d/.test(c)) {
      const m = /^\d+/.exec(source.slice(i))![0];
      tokens.push({ kind: "number", text: m });
      i += m.length;
    } else {
      const two = source.slice(i, i + 2);
      const op = ["==", "!=", "||", "&&", ">=", "<=", "??"].includes(two) ? two : c;
      if (!"{}[]():,.=?!@<>".includes(op[0]!)) throw new Error(`unexpected '${c}' at ${i}`);
      tokens.push({ kind: "punct", text: op });
      i += op.length;
    }
  }
  return tokens;
}

function skipString(source: string, at: number): number {
  let j = at + 1;
  while (source[j] !== "'") j += source[j] === "\\" ? 2 : 1;
  return j + 1;
}

interface Declaration {
  keyword: "param" | "var" | "resource" | "output";
  name: string;
  type?: string;
  decorators: string[];
  condition?: Token[];
  value?: Value;
}

function parseBicep(source: string): Declaration[] {
  const tokens = tokenize(source);
  let at = 0;
  const peek = () => tokens[at];
  const next = () => tokens[at++]!;
  const skipNl = () => {
    while (peek()?.kind === "nl") at++;
  };
  const expect_ = (text: string) => {
    const t = next();
    if (t.text !== text) throw new Error(`expected '${text}', got '${t.text}'`);
  };
  const parseValue = (): Value => {
    const t = peek()!;
    if (t.text === "{") {
      at++;
      const object = new Map<string, Value>();
      for (;;) {
        skipNl();
        if (peek()!.text === "}") break;
        const key = next();
        if (key.kind !== "ident" && key.kind !== "string") throw new Error(`bad key '${key.text}'`);
        if (object.has(key.text)) throw new Error(`duplicate key ${key.text}`);
        expect_(":");
        object.set(key.text, parseValue());
        if (peek()!.kind !== "nl" && peek()!.text !== "}") throw new Error(`one property per line, after ${key.text}`);
      }
      at++;
      return { object };
    }
    if (t.text === "[") {
      at++;
      const array: Value[] = [];
      for (;;) {
        skipNl();
        if (peek()!.text === "]") break;
        array.push(parseValue());
        if (peek()!.text === ",") at++;
      }
      at++;
      return { array };
    }
    const expr: Token[] = [];
    let depth = 0;
    while (at < tokens.length) {
      const u = peek()!;
      if (depth === 0 && (u.kind === "nl" || u.text === "}" || u.text === "]")) break;
      if ("([{".includes(u.text)) depth++;
      if (")]}".includes(u.text)) depth--;
      expr.push(next());
    }
    if (depth !== 0 || expr.length === 0) throw new Error("unbalanced or empty expression");
    return { expr };
  };
  const declarations: Declaration[] = [];
  let decorators: string[] = [];
  for (;;) {
    skipNl();
    if (at >= tokens.length) return declarations;
    const t = next();
    if (t.text === "@") {
      const name = next().text;
      expect_("(");
      let depth = 1;
      while (depth > 0) {
        const u = next();
        if (u.text === "(") depth++;
        if (u.text === ")") depth--;
      }
      decorators.push(name);
      continue;
    }
    if (!["param", "var", "resource", "output"].includes(t.text)) throw new Error(`unexpected '${t.text}' at statement level`);
    const declaration: Declaration = { keyword: t.text as Declaration["keyword"], name: next().text, decorators };
    decorators = [];
    if (declaration.keyword === "param" || declaration.keyword === "output" || declaration.keyword === "resource") declaration.type = next().text;
    if (declaration.keyword === "var") expect_("=");
    else if (peek()?.text === "=") at++;
    else if (declaration.keyword !== "param") throw new Error(`${declaration.name}: '=' expected`);
    if (declaration.keyword === "resource" && peek()?.text === "if") {
      at++;
      expect_("(");
      const condition: Token[] = [];
      for (let depth = 1; ;) {
        const u = next();
        if (u.text === "(") depth++;
        if (u.text === ")" && --depth === 0) break;
        condition.push(u);
      }
      declaration.condition = condition;
    }
    if (peek() !== undefined && peek()!.kind !== "nl") declaration.value = parseValue();
    declarations.push(declaration);
  }
}

/** Every identifier an expression reads (not a property after `.`), also inside string interpolations. */
function identifiersOf(value: Value | undefined, out: string[] = []): string[] {
  if (value === undefined) return out;
  if ("object" in value) for (const v of value.object.values()) identifiersOf(v, out);
  else if ("array" in value) for (const v of value.array) identifiersOf(v, out);
  else
    value.expr.forEach((t, i) => {
      if (t.kind === "ident" && value.expr[i - 1]?.text !== ".") out.push(t.text);
      for (const part of t.parts ?? []) identifiersOf({ expr: tokenize(part) }, out);
    });
  return out;
}

// ── The resource's schema (Microsoft.Insights/scheduledQueryRules@2021-08-01) ────────────────────────────────────

const ALLOWED: Record<string, readonly string[]> = {
  "": ["name", "location", "tags", "kind", "properties"],
  properties: [
    "actions",
    "autoMitigate",
    "checkWorkspaceAlertsStorageConfigured",
    "criteria",
    "description",
    "displayName",
    "enabled",
    "evaluationFrequency",
    "muteActionsDuration",
    "overrideQueryTimeRange",
    "scopes",
    "severity",
    "skipQueryValidation",
    "targetResourceTypes",
    "windowSize",
  ],
  "properties.actions": ["actionGroups", "customProperties"],
  "properties.criteria": ["allOf"],
  "properties.criteria.allOf[]": [
    "dimensions",
    "failingPeriods",
    "metricMeasureColumn",
    "metricName",
    "operator",
    "query",
    "resourceIdColumn",
    "threshold",
    "timeAggregation",
  ],
  "properties.criteria.allOf[].dimensions[]": ["name", "operator", "values"],
  "properties.criteria.allOf[].failingPeriods": ["minFailingPeriodsToAlert", "numberOfEvaluationPeriods"],
};
const ENUMS: Record<string, readonly string[]> = {
  kind: ["'LogAlert'", "'LogToMetric'"],
  "properties.criteria.allOf[].operator": ["'Equals'", "'GreaterThan'", "'GreaterThanOrEqual'", "'LessThan'", "'LessThanOrEqual'"],
  "properties.criteria.allOf[].timeAggregation": ["'Average'", "'Count'", "'Maximum'", "'Minimum'", "'Total'"],
  "properties.criteria.allOf[].dimensions[].operator": ["'Include'", "'Exclude'"],
  "properties.severity": ["0", "1", "2", "3", "4"],
  "properties.enabled": ["true", "false"],
  "properties.autoMitigate": ["true", "false"],
};

function checkSchema(value: Value, at: string, problems: string[]): void {
  if ("object" in value) {
    const allowed = ALLOWED[at];
    for (const [key, child] of value.object) {
      const where = at === "" ? key : `${at}.${key}`;
      if (allowed !== undefined && !allowed.includes(key)) problems.push(`${where}: not a property of the resource`);
      checkSchema(child, where, problems);
    }
  } else if ("array" in value) {
    for (const child of value.array) checkSchema(child, `${at}[]`, problems);
  } else {
    const enumValues = ENUMS[at];
    const literal = value.expr.length === 1 ? (value.expr[0]!.kind === "string" ? `'${value.expr[0]!.text}'` : value.expr[0]!.text) : undefined;
    if (enumValues !== undefined && (literal === undefined || !enumValues.includes(literal)))
      problems.push(`${at}: ${literal} is not one of ${enumValues.join(", ")}`);
    if (/(evaluationFrequency|windowSize)$/.test(at) && !/^PT\d+[MH]$/.test(value.expr[0]!.text)) problems.push(`${at}: not an ISO 8601 duration`);
  }
}

const get = (value: Value | undefined, ...keys: string[]): Value | undefined => {
  let v = value;
  for (const key of keys) v = v !== undefined && "object" in v ? v.object.get(key) : undefined;
  return v;
};

// ── KQL ──────────────────────────────────────────────────────────────────────────────────────────────────────────

const declarations = parseBicep(BICEP);
const queries = new Map(
  declarations.flatMap((d) =>
    d.keyword === "var" && d.value && "expr" in d.value && d.value.expr[0]!.kind === "string" && d.value.expr.length === 1 && /Query$/.test(d.name)
      ? [[d.name, d.value.expr[0]!.text]]
      : [],
  ),
);

/** The log line the library writes for a diagnosed 403, with every optional field set: what the queries read. */
function realLogLine(): Record<string, unknown> {
  const diagnosis = makeDiagnosis("RoleMissingOrWrongScope", {
    confidence: "high",
    summary: "403",
    evidence: ["x"],
    nextSteps: ["y"],
    service: "keyvault",
    status: 403,
    errorCode: "ForbiddenByRbac",
    identity: { kind: "system-assigned", objectId: "11111111-1111-4111-8111-111111111111" },
    rule: { id: "keyvault.forbidden-by-rbac", source: "catalog:keyvault" },
  });
  const entry = toLogEntry(
    diagnosis,
    { level: "error", source: "response", url: "https://kv.vault.azure.net/secrets/x", containerApp: { name: "ca", revision: "ca--1", replica: "ca--1-x" } },
    3,
    0,
  );
  return JSON.parse(JSON.stringify(entry)) as Record<string, unknown>;
}

/** The fields of the parsed log line a query reads: `d.a.b` and `d["a"]`. */
function logFieldsOf(query: string): string[][] {
  return [...query.matchAll(/\bd((?:\.[A-Za-z_]\w*|\["[^"]+"\])+)/g)].map((m) => [...m[1]!.matchAll(/\.(\w+)|\["([^"]+)"\]/g)].map((p) => p[1] ?? p[2]!));
}

function summarizeColumns(query: string): string[] {
  const summarize = /\|\s*summarize\s+(.*)$/m.exec(query)![1]!;
  return [...summarize.matchAll(/(?:^|,|\bby)\s*(\w+)\s*=/g)].map((m) => m[1]!);
}

describe("docs/alerts/identity-failures.bicep", () => {
  it("parses: declarations, balanced strings and interpolations, one property per line", () => {
    expect(declarations.filter((d) => d.keyword === "param").map((d) => [d.name, d.type])).toEqual([
      ["workspaceId", "string"],
      ["appInsightsId", "string"],
      ["appName", "string"],
      ["actionGroupId", "string"],
      ["burstThreshold", "int"],
      ["location", "string"],
    ]);
    expect(declarations.filter((d) => d.keyword === "resource").map((d) => [d.name, d.type])).toEqual([
      ["burst", "Microsoft.Insights/scheduledQueryRules@2021-08-01"],
      ["getTokenFailures", "Microsoft.Insights/scheduledQueryRules@2021-08-01"],
      ["metricBurst", "Microsoft.Insights/scheduledQueryRules@2021-08-01"],
    ]);
    for (const d of declarations.filter((d) => d.keyword === "param")) expect(d.decorators, d.name).toContain("description");
  });

  it("uses only what it declares (and Bicep's functions)", () => {
    const declared = new Set(declarations.map((d) => d.name));
    const builtins = new Set(["resourceGroup", "replace", "concat", "empty", "true", "false", "null", "if"]);
    const used = declarations.flatMap((d) => [...identifiersOf(d.value), ...identifiersOf(d.condition ? { expr: d.condition } : undefined)]);
    expect(used.filter((name) => !declared.has(name) && !builtins.has(name))).toEqual([]);
    // Every parameter is used.
    for (const d of declarations.filter((d) => d.keyword === "param")) expect(used, d.name).toContain(d.name);
  });

  it("each rule has the resource's properties only, its enum values, and dimensions that are columns its query outputs", () => {
    for (const rule of declarations.filter((d) => d.keyword === "resource")) {
      const problems: string[] = [];
      checkSchema(rule.value!, "", problems);
      expect(problems, rule.name).toEqual([]);
      for (const required of [
        ["name"],
        ["location"],
        ["kind"],
        ["properties", "scopes"],
        ["properties", "evaluationFrequency"],
        ["properties", "windowSize"],
        ["properties", "severity"],
      ])
        expect(get(rule.value, ...required), `${rule.name}.${required.join(".")}`).toBeDefined();
      const conditions = get(rule.value, "properties", "criteria", "allOf") as { array: Value[] };
      expect(conditions.array).toHaveLength(1);
      const condition = conditions.array[0]!;
      const queryExpr = (get(condition, "query") as { expr: Token[] }).expr[0]!;
      const queryName = [queryExpr.text, ...(queryExpr.parts ?? [])].map((p) => /(\w+Query)/.exec(p)?.[1]).find(Boolean)!;
      const columns = summarizeColumns(queries.get(queryName)!);
      expect((get(condition, "metricMeasureColumn") as { expr: Token[] }).expr[0]!.text).toBe("failures");
      expect(columns).toContain("failures");
      const dimensions = (get(condition, "dimensions") as { array: Value[] }).array.map((d) => (get(d, "name") as { expr: Token[] }).expr[0]!.text);
      expect(dimensions.length).toBeGreaterThan(0);
      for (const dimension of dimensions) expect(columns, `${rule.name}: dimension ${dimension}`).toContain(dimension);
      for (const [key, value] of [
        ["operator", "GreaterThan"],
        ["timeAggregation", "Total"],
      ])
        expect((get(condition, key!) as { expr: Token[] }).expr[0]!.text).toBe(value);
    }
  });

  it("the KQL reads fields the library's log line has (a renamed field fails here) and the metric's own names", () => {
    const line = realLogLine();
    const log = [queries.get("burstQuery")!, queries.get("getTokenQuery")!];
    const fields = log.flatMap(logFieldsOf);
    expect(fields.map((f) => f.join("."))).toEqual(
      expect.arrayContaining(["hypothesis", "host", "containerApp.revision", "containerApp.replica", "status", "source", "message", "count", "level", "code"]),
    );
    for (const field of fields) {
      let value: unknown = line;
      for (const key of field) value = (value as Record<string, unknown> | undefined)?.[key];
      expect(value, `log line field ${field.join(".")}`).toBeDefined();
    }
    // The message prefix the queries filter on, and the sources they compare with.
    expect(formatLogMessage(makeDiagnosis("WrongAudience", { confidence: "high", summary: "s", evidence: [], nextSteps: [] }), {})).toMatch(
      /^DiagnosticCredential \[/,
    );
    for (const query of log) expect(query).toContain('startswith "DiagnosticCredential ["');
    const credentialSource = readFileSync(path.join(REPO_ROOT, "src", "credential", "diagnosticCredential.ts"), "utf8");
    expect(credentialSource).toContain('level: "error", source: "getToken"');
    expect(readFileSync(path.join(REPO_ROOT, "src", "logging", "logEntry.ts"), "utf8")).toContain('source: "recovery"');

    const metric = queries.get("metricQuery")!;
    expect(metric).toContain(`where name == "${METRIC_DIAGNOSES}"`);
    const attributes = [...metric.matchAll(/customDimensions\["([^"]+)"\]/g)].map((m) => m[1]!);
    expect(attributes.length).toBeGreaterThan(3);
    for (const attribute of attributes) expect(Object.values(TELEMETRY_ATTRIBUTES), attribute).toContain(attribute);
  });

  it("the README's KQL blocks are the template's queries", () => {
    const blocks = [...README.matchAll(/```kql\n([\s\S]*?)\n```/g)].map((m) => m[1]);
    expect(blocks).toEqual([...queries.values()].map((q) => q.replace(/\n$/, "").replace(/^\n/, "")));
  });
});
