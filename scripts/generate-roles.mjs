// Generates src/catalog/builtin-roles.json, the built-in Azure role definitions the least-privilege computation reads
// (src/catalog/roleDefinitions.ts), from a dump in the shape of `az role definition list --output json`.
//
//   node scripts/generate-roles.mjs [input.json] [--date YYYY-MM-DD] [--check]
//
// input: default ../shared/data/azure-builtin-roles.json (beside the repository). A fresh dump:
//   az role definition list --output json > roles.json && node scripts/generate-roles.mjs roles.json --date "$(date -u +%F)"
// --check: exit 1 when the committed file differs from what this script makes (CI, and a test in `npm test`).
// --date: the snapshot's date, written as its provenance; default the committed file's when the input is the same
//   (same sha256), else today's. Custom roles in a dump are dropped: only built-in roles are facts for everyone.
//
// Facts only: role names, ids and permissions. Compact: every action string is stored once, in a sorted list written
// front-coded (each entry: how many leading characters it shares with the previous one in base 36, a space, the
// rest); a role's permission lists are the indexes of its strings, ascending, as base-36 gaps joined by ",".
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const OUTPUT = path.join(root, "src", "catalog", "builtin-roles.json");
const DEFAULT_INPUT = path.join(root, "..", "shared", "data", "azure-builtin-roles.json");
const LISTS = ["actions", "notActions", "dataActions", "notDataActions"];

const args = process.argv.slice(2);
const check = args.includes("--check");
const dateAt = args.indexOf("--date");
const dateArg = dateAt >= 0 ? args[dateAt + 1] : undefined;
const input = args.find((arg, i) => !arg.startsWith("--") && args[i - 1] !== "--date") ?? DEFAULT_INPUT;
if (dateArg !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(dateArg)) throw new Error(`--date takes YYYY-MM-DD, not ${dateArg}`);

const raw = readFileSync(input);
const sha256 = createHash("sha256").update(raw).digest("hex");
const committed = existsSync(OUTPUT) ? JSON.parse(readFileSync(OUTPUT, "utf8")) : undefined;
const date = dateArg ?? (committed?.source?.sha256 === sha256 ? committed.source.date : new Date().toISOString().slice(0, 10));

const definitions = JSON.parse(raw.toString("utf8"))
  .filter((role) => (role.roleType ?? role.properties?.roleType) === "BuiltInRole")
  .map((role) => ({ name: String(role.roleName), id: String(role.name), permissions: role.permissions ?? [] }))
  .sort((a, b) => compare(a.name, b.name) || compare(a.id, b.id));

function compare(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

const strings = [...new Set(definitions.flatMap((role) => role.permissions.flatMap((block) => LISTS.flatMap((list) => block[list] ?? []))))].sort(compare);
const indexOf = new Map(strings.map((value, i) => [value, i]));

let previous = "";
const actions = strings
  .map((value) => {
    let shared = 0;
    while (shared < previous.length && shared < value.length && previous[shared] === value[shared]) shared++;
    previous = value;
    return `${shared.toString(36)} ${value.slice(shared)}`;
  })
  .join("\n");

const gaps = (values) => {
  let last = -1;
  return [...new Set(values.map((value) => indexOf.get(value)))]
    .sort((a, b) => a - b)
    .map((index) => {
      const gap = index - last;
      last = index;
      return gap.toString(36);
    })
    .join(",");
};

// One row per role: name, id, then four lists per permission block (empty trailing blocks dropped).
const roles = definitions.map((role) => {
  const blocks = role.permissions.map((block) => LISTS.map((list) => gaps(block[list] ?? [])));
  while (blocks.length > 1 && blocks[blocks.length - 1].every((list) => list === "")) blocks.pop();
  return [role.name, role.id, ...blocks.flat()];
});

const data = {
  source: {
    what: "Azure built-in role definitions: names, ids, Actions, NotActions, DataActions, NotDataActions",
    file: path.basename(input),
    sha256,
    date,
    generator: "scripts/generate-roles.mjs",
    roles: roles.length,
    actions: strings.length,
  },
  format:
    "actions: sorted, front-coded (base-36 shared length, space, rest; newline-separated); roles: [name, id, (actions, notActions, dataActions, notDataActions) per permission block], each list base-36 index gaps joined by ','",
  actions,
  roles,
};
const text = `${JSON.stringify(data)}\n`;

if (check) {
  const current = existsSync(OUTPUT) ? readFileSync(OUTPUT, "utf8") : "";
  if (current !== text) {
    console.error(`${path.relative(root, OUTPUT)} is not what scripts/generate-roles.mjs makes from ${input}: run it and commit the result.`);
    process.exit(1);
  }
  console.log(`${path.relative(root, OUTPUT)} is up to date (${roles.length} roles, ${strings.length} action strings).`);
} else {
  writeFileSync(OUTPUT, text);
  console.log(
    `wrote ${path.relative(root, OUTPUT)}: ${roles.length} roles, ${strings.length} action strings, ${text.length} bytes (source ${sha256.slice(0, 12)}…, ${date}).`,
  );
}
