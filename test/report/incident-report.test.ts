/**
 * renderIncidentReport on diagnoses shaped as the classifiers make them (one per hypothesis, and a healthy run's
 * steps): the Mermaid flowchart parsed by Mermaid's own parser, with the path this run took; the Markdown parsed by
 * `marked` (tables, cells, verdicts); no token, signature or IDENTITY_HEADER anywhere, also when they are planted in
 * every field; cells that hold pipes, newlines and backticks stay one cell.
 */
import { marked, type Tokens } from "marked";
import { describe, expect, it } from "vitest";
import { renderIncidentReport, type Diagnosis, type IncidentReportStep } from "../../src/index.js";
import { registerSecret } from "../../src/util/redact.js";
import { createTokenSigner } from "../../src/testing.js";
import { classesOf, highlightedPath, mermaidBlock, parseFlowchart } from "../helpers/mermaid.js";

const ENV = {
  source: "AppService",
  sourceReason: "IDENTITY_ENDPOINT and IDENTITY_HEADER are set",
  hostKind: "container-apps",
  containerApp: { name: "ca-orders", revision: "ca-orders--rev1", replica: "ca-orders--rev1-abc" },
  configuredIdentity: {},
} as const;

const OID = "11111111-1111-4111-8111-111111111111";

function diagnosis(partial: Partial<Diagnosis> & Pick<Diagnosis, "hypothesis" | "code">): Diagnosis {
  return { title: `${partial.code} title`, confidence: "high", summary: `${partial.code} summary`, evidence: [], nextSteps: [], ...partial };
}

const tokenPass = [
  { kind: "audience", expected: "https://vault.azure.net/.default", actual: "https://vault.azure.net", verdict: "pass", confirmedBy: "token" },
  { kind: "lifetime", expected: "valid at t", actual: "expires t+1h", verdict: "pass", confirmedBy: "token" },
] as const;

/** One diagnosis per hypothesis, with the checks the classifiers give it (see docs/incident-reports). */
const CASES: Record<string, { diagnoses: Diagnosis[]; path: string[]; fail: string[]; fix: string[]; pass: string[]; unchecked: string[] }> = {
  H1: {
    diagnoses: [
      diagnosis({
        hypothesis: "H1",
        code: "IdentityNotAssigned",
        checks: [
          { kind: "identity-endpoint", expected: "HTTP 200", actual: "HTTP 400", verdict: "fail", confirmedBy: "answer" },
          {
            kind: "identity-assignment",
            expected: "system-assigned identity",
            actual: "not found by the identity endpoint",
            verdict: "fail",
            confirmedBy: "answer",
          },
        ],
      }),
    ],
    path: ["A", "B", "C"],
    fail: ["B"],
    fix: ["C"],
    pass: ["L"],
    unchecked: [],
  },
  H2: {
    diagnoses: [
      diagnosis({
        hypothesis: "H2",
        code: "RoleMissingOrWrongScope",
        status: 403,
        identity: { kind: "system-assigned", objectId: OID },
        checks: [
          { kind: "service-code", expected: "ForbiddenByRbac", actual: "ForbiddenByRbac", verdict: "fail", confirmedBy: "answer" },
          ...tokenPass,
          { kind: "role", expected: "Key Vault Secrets User", actual: "no role assignment", verdict: "fail", confirmedBy: "answer" },
        ],
      }),
    ],
    path: ["A", "B", "D", "F", "G"],
    fail: ["F"],
    fix: ["G"],
    pass: ["B", "D", "H", "J", "L"],
    unchecked: [],
  },
  H3: {
    diagnoses: [
      diagnosis({
        hypothesis: "H3",
        code: "WrongAudience",
        status: 401,
        checks: [
          { kind: "lifetime", expected: "valid at t", actual: "expires t+1h", verdict: "pass", confirmedBy: "token" },
          { kind: "audience", expected: "https://vault.azure.net/.default", actual: "https://management.azure.com", verdict: "fail", confirmedBy: "token" },
        ],
      }),
    ],
    path: ["A", "B", "D", "F", "H", "I"],
    fail: ["H"],
    fix: ["I"],
    pass: ["B", "D", "J", "L"],
    unchecked: ["F"],
  },
  H4: {
    diagnoses: [
      diagnosis({
        hypothesis: "H4",
        code: "StaleTokenOrIdentityMixup",
        checks: [{ kind: "lifetime", expected: "valid at t", actual: "expired at t-1h", verdict: "fail", confirmedBy: "token" }],
      }),
    ],
    path: ["A", "B", "D", "F", "H", "J", "K"],
    fail: ["J"],
    fix: ["K"],
    pass: ["B", "D", "L"],
    unchecked: ["F", "H"],
  },
  H5: {
    diagnoses: [
      diagnosis({
        hypothesis: "H5",
        code: "IdentityEndpointUnreachable",
        checks: [{ kind: "identity-endpoint", expected: "HTTP 200", actual: "ECONNREFUSED", verdict: "fail", confirmedBy: "answer" }],
      }),
    ],
    path: ["A", "B", "D", "F", "H", "J", "L", "M"],
    fail: ["L"],
    fix: ["M"],
    pass: [],
    unchecked: ["B", "D", "F", "H", "J"],
  },
};

const HEALTHY_STEPS: IncidentReportStep[] = [
  {
    name: "identity endpoint probe",
    outcome: "pass",
    checks: [{ kind: "identity-endpoint", expected: "an answer", actual: "HTTP 401 to a probe", verdict: "pass", confirmedBy: "answer" }],
  },
  { name: "token", target: "https://vault.azure.net/.default", outcome: "pass", checks: [...tokenPass], identity: { kind: "system-assigned", objectId: OID } },
  {
    name: "dependency",
    target: "GET https://orders-kv.vault.azure.net/secrets/x",
    outcome: "pass",
    checks: [{ kind: "role", expected: "a role", actual: "HTTP 200", verdict: "pass", confirmedBy: "answer" }],
  },
];

function tables(markdown: string): Tokens.Table[] {
  return marked.lexer(markdown).filter((t): t is Tokens.Table => t.type === "table");
}

/** What a reader sees of inline Markdown: rendered by marked, tags dropped (`<br>` as a newline), entities decoded. */
function rendered(tokens: Tokens.TableCell["tokens"]): string {
  return marked.Parser.parseInline(tokens)
    .replace(/<br>/g, "\n")
    .replace(/<[^>]+>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}

/** The table whose first header cell is `first`, as rows of rendered cell texts keyed by the first cell. */
function table(markdown: string, first: string): Map<string, string[]> {
  const found = tables(markdown).find((t) => t.header[0]!.text === first);
  if (found === undefined) throw new Error(`no table "${first}"`);
  for (const row of found.rows) expect(row).toHaveLength(found.header.length);
  return new Map(found.rows.map((row) => [rendered(row[0]!.tokens), row.map((cell) => rendered(cell.tokens))]));
}

describe("the decision flow, parsed by Mermaid", () => {
  for (const [hypothesis, expected] of Object.entries(CASES)) {
    it(`${hypothesis}: the path to its failing check and remedy, passed checks green, the rest not checked or not reached`, async () => {
      const markdown = renderIncidentReport(expected.diagnoses, { environment: ENV });
      const chart = await parseFlowchart(mermaidBlock(markdown));
      expect(chart.diagramType).toBe("flowchart-v2");
      expect(chart.nodes.size).toBe(14);
      expect(chart.edges).toHaveLength(13);
      const classes = classesOf(chart);
      expect(highlightedPath(chart)).toEqual(expected.path);
      expect(classes.fail).toEqual(expected.fail);
      expect(classes.fix).toEqual(expected.fix);
      expect(classes.pass ?? []).toEqual(expected.pass);
      expect(classes.unchecked ?? []).toEqual(expected.unchecked);
      // Everything after the failure that nothing checked is "not reached"; every node has exactly one class.
      const after = ["B", "D", "F", "H", "J", "L"].slice(["B", "D", "F", "H", "J", "L"].indexOf(expected.fail[0]!) + 1);
      for (const id of after) expect(classes.pass?.includes(id) || classes.unreached?.includes(id), id).toBe(true);
      for (const [id, node] of chart.nodes) expect(node.classes, id).toHaveLength(1);
      // The failing edge is red, labelled with the runbook's answer.
      const failing = chart.edges.find((e) => e.from === expected.fail[0] && e.to === expected.fix[0])!;
      expect(failing.style.join(";")).toContain("stroke:#c62828");
      expect(failing.label).toBe(hypothesis === "H4" ? "Yes" : "No");
    });
  }

  it("a healthy run (the doctor's steps, no diagnosis): every question passed, the path ends at N", async () => {
    const markdown = renderIncidentReport([], { environment: ENV, steps: HEALTHY_STEPS });
    const chart = await parseFlowchart(mermaidBlock(markdown));
    const classes = classesOf(chart);
    expect(highlightedPath(chart)).toEqual(["A", "B", "D", "F", "H", "J", "L", "N"]);
    expect(classes.pass).toEqual(["B", "D", "F", "H", "J", "L", "N"]);
    expect(classes.fail).toBeUndefined();
    expect(classes.unreached).toEqual(["C", "E", "G", "I", "K", "M"]);
    expect(chart.edges.some((e) => e.style.join(";").includes("#c62828"))).toBe(false);
    const hypotheses = table(markdown, "Hypothesis");
    for (const h of ["H1", "H2", "H3", "H4", "H5"]) expect([...hypotheses.entries()].find(([k]) => k.startsWith(h))![1][1]).toBe("ruled out");
  });

  it("two failures (H2 and H3 from one run): both questions red, the path stops at the first", async () => {
    const markdown = renderIncidentReport([...CASES.H2!.diagnoses, ...CASES.H3!.diagnoses], { environment: ENV });
    const chart = await parseFlowchart(mermaidBlock(markdown));
    expect(classesOf(chart).fail).toEqual(["F", "H"]);
    expect(highlightedPath(chart)).toEqual(["A", "B", "D", "F", "G"]);
    expect(markdown.split("\n")[0]).toBe(
      "# Managed identity incident: H2 WrongAudience title".replace("H2 WrongAudience", "H2 RoleMissingOrWrongScope title; H3 WrongAudience"),
    );
  });

  it("not-identity: every layer fine, the runbook's last box (inspect the target service) is the outcome", async () => {
    const d = diagnosis({ hypothesis: "not-identity", code: "NotAnIdentityProblem", status: 403, checks: [...tokenPass] });
    const chart = await parseFlowchart(mermaidBlock(renderIncidentReport(d, { environment: false })));
    expect(classesOf(chart).fix).toEqual(["N"]);
    expect(highlightedPath(chart)).toEqual(["A", "B", "D", "F", "H", "J", "L", "N"]);
  });
});

describe("the tables, parsed by marked", () => {
  it("H2: the evidence rows, the verdict of each hypothesis with its evidence, the next steps with their commands", () => {
    const d = {
      ...CASES.H2!.diagnoses[0]!,
      evidence: ['least-privilege role for this operation: "Key Vault Secrets User" at /subscriptions/0/vaults/kv'],
      nextSteps: [
        `Grant the role: az role assignment create --assignee-object-id ${OID} --role "Key Vault Secrets User" --scope "/subscriptions/0/vaults/kv"`,
        "Propagation delay: up to ~10 minutes.",
        'Check from inside the container: az containerapp exec --name "ca-orders" --resource-group "$RG" --command "npx diagnostic-credential doctor"',
      ],
    };
    const markdown = renderIncidentReport(d, { environment: ENV, omitDoctorSteps: true });
    const evidence = table(markdown, "Evidence");
    expect([...evidence.keys()]).toEqual([
      "Identity source and platform",
      "Identity asked for and token identity",
      "Principal ID",
      "Role assignments (role and scope advice)",
      "Audience and scope",
      "Token lifetime, tenant and cache",
      "Identity endpoint exchanges",
      "Target-service answer",
    ]);
    expect(evidence.get("Identity source and platform")![1]).toContain("platform container-apps");
    expect(evidence.get("Principal ID")![1]).toBe(`objectId ${OID}`);
    expect(evidence.get("Role assignments (role and scope advice)")!.slice(2, 4)).toEqual(["✗ fail", "answer"]);
    expect(evidence.get("Role assignments (role and scope advice)")![4]).toBe(`az role assignment list --assignee "${OID}" --all --output table`);
    expect(evidence.get("Audience and scope")![2]).toBe("✓ pass");
    expect(evidence.get("Identity endpoint exchanges")!.slice(1, 3)).toEqual(["not checked: no check of this kind ran", "not checked"]);
    const hypotheses = table(markdown, "Hypothesis");
    const verdicts = [...hypotheses.values()].map((row) => [row[0], row[1]]);
    expect(verdicts).toEqual([
      ["H1 Identity not assigned", "ruled out"],
      ["H2 RBAC role missing or wrong scope", "supported (high confidence)"],
      ["H3 Wrong token audience/scope", "ruled out"],
      ["H4 Token caching issues", "ruled out"],
      ["H5 IMDS endpoint unreachable", "ruled out"],
    ]);
    expect(hypotheses.get("H3 Wrong token audience/scope")![2]).toContain("audience: expected https://vault.azure.net/.default, found https://vault.azure.net");
    // Next steps: a numbered list, each sentence with its command in a fenced block; the doctor's own step left out.
    const list = marked.lexer(markdown).find((t): t is Tokens.List => t.type === "list" && t.ordered)!;
    expect(list.items).toHaveLength(2);
    const code = list.items[0]!.tokens.find((t): t is Tokens.Code => t.type === "code")!;
    expect(code.lang).toBe("sh");
    expect(code.text).toBe(`az role assignment create --assignee-object-id ${OID} --role "Key Vault Secrets User" --scope "/subscriptions/0/vaults/kv"`);
    expect(rendered(list.items[1]!.tokens.flatMap((t) => ("tokens" in t && t.tokens ? t.tokens : [])))).toBe("Propagation delay: up to ~10 minutes.");
    expect(markdown).not.toContain('diagnostic-credential doctor"');
  });

  it("H5 with nothing else checked: each row that needs a token says so; H2–H4 not checked", () => {
    const markdown = renderIncidentReport(CASES.H5!.diagnoses, { environment: ENV });
    const evidence = table(markdown, "Evidence");
    expect(evidence.get("Audience and scope")![1]).toBe("not checked: no token was issued or read");
    expect(evidence.get("Role assignments (role and scope advice)")![1]).toBe("not checked: no dependency answer was diagnosed");
    const hypotheses = [...table(markdown, "Hypothesis").values()].map((row) => row[1]);
    expect(hypotheses).toEqual(["not checked", "not checked", "not checked", "not checked", "supported (high confidence)"]);
  });

  it("H1: after the failing check, the hypotheses are 'not reached' with where the run stopped", () => {
    const hypotheses = table(renderIncidentReport(CASES.H1!.diagnoses, { environment: ENV }), "Hypothesis");
    expect(hypotheses.get("H2 RBAC role missing or wrong scope")!.slice(1, 3)).toEqual([
      "not checked",
      'not reached: the run stopped at "Identity assigned to the app?"',
    ]);
    expect(hypotheses.get("H5 IMDS endpoint unreachable")!.slice(1, 3)).toEqual(["ruled out", "the identity endpoint answered"]);
  });

  it("a check kind no row knows, a platform on the diagnosis and checks verified by ARM show up without a code change", () => {
    const d = {
      ...CASES.H2!.diagnoses[0]!,
      platform: { name: "azure.container_apps" as const, key: "container-apps-job" as const, instance: { app: "nightly", execution: "nightly-x1" } },
      checks: [
        ...CASES.H2!.diagnoses[0]!.checks!,
        { kind: "role-assignment-age" as never, expected: "older than 10 min", actual: "2 min", verdict: "fail" as const, confirmedBy: "arm" as const },
      ],
    };
    const markdown = renderIncidentReport(d, { environment: false });
    expect(table(markdown, "Evidence").get("Other checks")!.slice(1, 4)).toEqual([
      "role-assignment-age: expected older than 10 min, found 2 min",
      "✗ fail",
      "arm",
    ]);
    expect(table(markdown, "Evidence").get("Identity source and platform")![1]).toBe(
      "platform azure.container_apps (container-apps-job)\ninstance: app nightly, execution nightly-x1",
    );
    expect(table(markdown, "Check").get("role-assignment-age")).toEqual(["role-assignment-age", "older than 10 min", "2 min", "✗ fail"]);
  });

  it("never throws: junk in, a report out", () => {
    expect(renderIncidentReport(undefined, { environment: false })).toContain("# Managed identity check: no failure");
    expect(renderIncidentReport([null, 42, {}] as never, { environment: false })).toContain("no failure");
    expect(renderIncidentReport({ hypothesis: "H2" } as never, { environment: false })).toContain("could not be rendered");
  });
});

describe("secrets and escaping", () => {
  it("no token, signature or IDENTITY_HEADER reaches the report, wherever they are planted", async () => {
    const signer = await createTokenSigner();
    const token = await signer.sign({ aud: "https://vault.azure.net", oid: OID });
    const [, payload, signature] = token.split(".");
    const header = "identity-header-value-0123456789";
    registerSecret(header);
    const planted = `token ${token} header ${header} bearer Bearer ${signature}`;
    const d = diagnosis({
      hypothesis: "H3",
      code: "WrongAudience",
      summary: planted,
      title: planted,
      evidence: [planted, `IDENTITY_HEADER=${header}`],
      nextSteps: [`Run it: az rest --headers "Authorization=Bearer ${token}"`, planted],
      errorCode: planted,
      service: planted,
      identity: { kind: "user-assigned", objectId: planted, clientId: planted },
      checks: [{ kind: "audience", expected: planted, actual: token, verdict: "fail", confirmedBy: "token" }],
    });
    const markdown = renderIncidentReport(d, {
      environment: { ...ENV, sourceReason: planted, identityEndpoint: planted, configuredIdentity: { clientId: planted } },
      steps: [{ name: planted, target: planted, outcome: "fail", detail: planted, checks: [{ kind: "identity", actual: planted, verdict: "fail" }] }],
      subtitle: planted,
    });
    for (const secret of [token, payload!, signature!, header, payload!.slice(0, 30), signature!.slice(0, 30)]) expect(markdown).not.toContain(secret);
    expect(markdown).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    expect(markdown).toContain("[redacted");
  });

  it("pipes, newlines, backticks and HTML in values stay inside their cell; commands are quoted as elsewhere", () => {
    const nasty = "a|b\nc`d``e <script>x</script> *f* _g_ [h](i)";
    const d = diagnosis({
      hypothesis: "H2",
      code: "RoleMissingOrWrongScope",
      status: 403,
      errorCode: nasty,
      evidence: [`least-privilege role ${nasty}`, `service message: ${nasty}`],
      checks: [{ kind: "role", expected: nasty, actual: nasty, verdict: "fail", confirmedBy: "answer" }],
      identity: { kind: "system-assigned", objectId: `${OID}"; rm -rf / #` },
    });
    const markdown = renderIncidentReport(d, { environment: { ...ENV, containerApp: { name: 'ca"$(reboot)', revision: "r`x`" } } });
    for (const t of tables(markdown)) for (const row of t.rows) expect(row).toHaveLength(t.header.length);
    const evidence = table(markdown, "Evidence");
    expect(evidence.get("Role assignments (role and scope advice)")![1]).toContain(
      "role: expected a|b c`d``e <script>x</script> *f* _g_ [h](i), found a|b c`d``e",
    );
    expect(evidence.get("Target-service answer")![1]).toContain("HTTP 403 a|b c`d``e <script>x</script> *f* _g_ [h](i)");
    expect(marked.parse(markdown)).not.toMatch(/<script>|<em>|<a /);
    // An invalid app name or principal id never reaches a command: the placeholder stays.
    expect(evidence.get("Identity source and platform")![4]).toBe(
      'az containerapp show --name "$APP_NAME" --resource-group "$RG" --query identity --output json',
    );
    expect(evidence.get("Role assignments (role and scope advice)")![4]).toBe('az role assignment list --assignee "$PRINCIPAL_ID" --all --output table');
    expect(evidence.get("Token lifetime, tenant and cache")![4]).toContain('--revision "$REVISION_NAME"');
  });
});
