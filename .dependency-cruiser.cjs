// Layers of src/, lowest first: a folder may import from its own layer and the layers below it, never from above.
// Enforced in `npm test` (pretest: `npm run lint:deps`). docs/architecture.md says what each layer holds and why.
const LAYERS = [
  ["util"], // guarded readers, header helpers, redaction, process-wide state, the fault counter, version
  ["hosting"], // host knowledge as data: identity sources and hosting platforms (detection, instance names, commands)
  ["environment"], // what the host's environment says (identity variables, platform)
  ["diagnosis"], // the Diagnosis shape, its codes, builders and commands; diagnoses attached to objects
  ["jwt"], // token claims (never the token)
  ["catalog"], // service knowledge as data, and its resolver
  ["classify"], // pure classifiers: answers and errors in, Diagnosis out
  ["registry"], // process-wide registries: tokens issued, answers handled, challenged 401s waiting
  ["telemetry"], // OpenTelemetry spans, metrics, recovery tracking
  ["logging"], // the log line and its folding
  ["observe"], // zero-config observation (node:diagnostics_channel), talks to credentials through the registry
  ["verify"], // verification of H1/H2 against Azure Resource Manager: reads with the wrapped credential's token, pure verdicts
  ["credential"], // DiagnosticCredential, its calls, deadlines, identity-endpoint recording, its internals registry
  ["pipeline"], // the policy and the HttpClient wrapper, through the credential's internals
  ["doctor"], // the smoke test and its report
  ["testing"], // emulators (beside the library: only src/testing.ts loads them)
];

const index = new Map(LAYERS.flatMap((names, i) => names.map((name) => [name, i])));
const folders = [...index.keys()];

const layerRules = folders.flatMap((from) => {
  const above = folders.filter((to) => index.get(to) > index.get(from));
  return above.length === 0
    ? []
    : [
        {
          name: `layer-${from}`,
          comment: `src/${from} may not import from a higher layer (${above.join(", ")})`,
          severity: "error",
          from: { path: `^src/${from}/` },
          to: { path: `^src/(${above.join("|")})/` },
        },
      ];
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "No import cycles, between files or folders.",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "library-never-loads-testing",
      comment: "The main entry and the bin never load the emulators (or jose, which only they use).",
      severity: "error",
      from: { path: "^src/(?!testing)", pathNot: "^src/testing\\.ts$" },
      to: { path: "^src/testing(/|\\.ts$)|node_modules/jose/" },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    // TypeScript 7 has no JavaScript API (dependency-cruiser says so in a warning): swc parses the sources instead,
    // type-only imports included.
    parser: "swc",
    exclude: { path: "^(test|bench|dist|build)/" },
  },
};
