#!/usr/bin/env node
// Builds src/catalog/graphPermissions.ts: which Microsoft Graph application permission each path and method needs,
// least privileged first, from the `permissions/` folder of github.com/microsoftgraph/msgraph-metadata.
//
// Default input: scripts/data/graph-permissions/*.json, the facts this script reads, committed (README.md there says
// where each came from); CI runs `node scripts/generate-graph-permissions.mjs --check` against them.
// A real checkout works too:
//   git clone --depth 1 https://github.com/microsoftgraph/msgraph-metadata /tmp/msgraph-metadata
//   node scripts/generate-graph-permissions.mjs --source /tmp/msgraph-metadata/permissions \
//     --commit "$(git -C /tmp/msgraph-metadata rev-parse HEAD)" --date "$(git -C /tmp/msgraph-metadata log -1 --format=%cs)"
//   npm run format && npm test
// Check mode (`--check`): exit 1 when the committed file differs from what the script makes from the same source.
//
// Input: every *.json under --source (per-family files `beta/User.json`, … or the single `new/permissions.json`):
// { permissions: { "<Name>": { pathSets: [{ schemeKeys (older files: schemes): ["Application", …], methods: ["GET", …],
// paths: { "/users/{id}": {} | "least=Application;…" | { leastPrivilegePermission: ["Application"] } } }] } } }. Only the
// Application scheme counts (a managed identity has no signed-in user). The least-privileged permission of a path and
// method is the one the source marks `least=Application`; without a mark: a permission whose name says it reads is
// not offered for a POST/PUT/PATCH/DELETE (the metadata lists some, e.g. Application.Read.All for POST
// …/appRoleAssignedTo) unless the call is a read sent as POST (getMemberGroups, checkMemberGroups…); then a read
// permission before a write one, then the one granting the fewest (method, path) pairs of the input, then the shorter
// name. App role ids come from scripts/data/graph-app-role-ids.json.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUTPUT = join(root, "src/catalog/graphPermissions.ts");
const IDS = join(root, "scripts/data/graph-app-role-ids.json");
const FACTS = join(root, "scripts/data/graph-permissions");
/** The paths managed identities call (directory objects, mail, sites and files); `/me` has no meaning without a user. */
const COVERED =
  /^\/(users|groups|applications|serviceprincipals|approleassignments|invitations|directoryobjects|directory\/deleteditems|sites|drives|devices|auditlogs|organization|subscribedskus|domains)(\/|$)/;
/**
 * Sub-resources an app seldom calls with an application permission: left out to keep the shipped table small. Drives
 * and drive items too: their least-privileged permission is in the Files family, whose facts are not committed yet.
 */
const LEFT_OUT =
  /\/(owneddevices|registereddevices|ownedobjects|createdobjects|usagerights|joinedteams|licensedetails|delegatedpermissionclassifications|synchronization|claimsmappingpolicies|homerealmdiscoverypolicies|tokenlifetimepolicies|tokenissuancepolicies|transitivereports|checkmemberobjects|getmemberobjects|translateexchangeids|exportpersonaldata|inferenceclassification|childfolders|(add|remove)(key|password|tokensigningcertificate)|\w*passwordsinglesignoncredentials|extensionproperties|permissiongrants|reprocesslicenseassignment|revokesigninsessions|assignlicense|getmailtips|copy|move|create(forward|reply|replyall)|unsubscribe|attachments)(\/|$)|\/delta$|microsoft\.graph\.|\/drives?(\/|$)/;

function parseArgs(argv) {
  const args = { check: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === "--check") args.check = true;
    else if (arg === "--source" || arg === "--commit" || arg === "--date" || arg === "--repository") args[arg.slice(2)] = argv[(i += 1)];
    else throw new Error(`unknown argument ${arg}`);
  }
  args.source ??= FACTS;
  return args;
}

function jsonFiles(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? jsonFiles(path) : name.endsWith(".json") ? [path] : [];
    });
}

/** A path as the table keys it: lower case, no trailing slash, `{anything}` as `{id}`; undefined for elided forms. */
export function normalizePath(path) {
  if (typeof path !== "string" || path.includes("...") || !path.startsWith("/")) return undefined;
  const normalized = path
    .toLowerCase()
    .replace(/\{[^}/]*\}?/g, "{id}")
    .replace(/\/+$/, "");
  return normalized.length > 0 ? normalized : undefined;
}

function marksLeast(value) {
  if (typeof value === "string")
    return (
      /(^|;)\s*least=([^;]*)/i
        .exec(value)?.[2]
        ?.split(",")
        .some((s) => s.trim() === "Application") ?? false
    );
  return Array.isArray(value?.leastPrivilegePermission) && value.leastPrivilegePermission.includes("Application");
}

/** (method path) → { candidates: Set<permission>, marked: Set<permission> }, and each permission's granted pairs. */
export function collect(documents) {
  const pairs = new Map();
  const grantedBy = new Map();
  for (const document of documents) {
    for (const [permission, definition] of Object.entries(document?.permissions ?? {})) {
      for (const pathSet of definition?.pathSets ?? []) {
        const schemes = pathSet?.schemeKeys ?? pathSet?.schemes;
        if (!Array.isArray(schemes) || !schemes.includes("Application")) continue;
        for (const [rawPath, value] of Object.entries(pathSet.paths ?? {})) {
          const path = normalizePath(rawPath);
          if (path === undefined) continue;
          // Every pair counts for the ranking (how much a permission grants); only covered paths reach the table.
          const listed = COVERED.test(path) && !LEFT_OUT.test(path);
          for (const method of pathSet.methods ?? []) {
            const key = `${String(method).toUpperCase()} ${path}`;
            const granted = grantedBy.get(permission) ?? new Set();
            granted.add(key);
            grantedBy.set(permission, granted);
            if (!listed) continue;
            const entry = pairs.get(key) ?? { candidates: new Set(), marked: new Set() };
            entry.candidates.add(permission);
            if (marksLeast(value)) entry.marked.add(permission);
            pairs.set(key, entry);
          }
        }
      }
    }
  }
  return { pairs, grantedBy };
}

const READS_BY_NAME = /\.Read(Basic)?(\.|$)/;
const WRITES_BY_NAME = /ReadWrite|Manage|FullControl|Invite|Send|Create/;

/**
 * For reads, the family the call names comes first: without it a narrow permission of another family that happens to
 * list the path (Device.Read.All lists POST /users/{id}/getMemberGroups) would outrank the one made for it.
 */
const READ_FAMILIES = [
  [/\/(get|check)member(groups|objects)$/, ["GroupMember"]],
  [/^\/users(\/|$)/, ["User"]],
  [/^\/groups(\/|$)/, ["GroupMember", "Group"]],
  [/^\/(serviceprincipals|applications)(\/|$)/, ["Application"]],
  [/^\/devices(\/|$)/, ["Device"]],
];

export function leastPrivileged({ candidates, marked }, grantedBy, key = "") {
  const [method = "", path = ""] = key.split(" ");
  // A read sent as POST: getMemberGroups, checkMemberObjects, getByIds…
  const readAction = method === "GET" || /\/(get|check)[a-z]+$/.test(path);
  const plausible = [...candidates].filter((name) => readAction || !READS_BY_NAME.test(name) || WRITES_BY_NAME.test(name));
  const pool = marked.size > 0 ? [...marked] : plausible.length > 0 ? plausible : [...candidates];
  const writes = (name) => (WRITES_BY_NAME.test(name) ? 1 : 0);
  const families = readAction ? (READ_FAMILIES.find(([pattern]) => pattern.test(path))?.[1] ?? []) : [];
  const foreign = (name) => (families.length > 0 && !families.includes(name.split(".")[0]) ? 1 : 0);
  return pool.sort(
    (a, b) => foreign(a) - foreign(b) || writes(a) - writes(b) || grantedBy.get(a).size - grantedBy.get(b).size || a.length - b.length || a.localeCompare(b),
  )[0];
}

export function buildTable(documents) {
  const { pairs, grantedBy } = collect(documents);
  const byPath = new Map();
  for (const key of [...pairs.keys()].sort()) {
    const [method, path] = key.split(" ");
    const entry = byPath.get(path) ?? {};
    entry[method] = leastPrivileged(pairs.get(key), grantedBy, key);
    byPath.set(path, entry);
  }
  return byPath;
}

function render(byPath, ids, provenance) {
  const used = new Set([...byPath.values()].flatMap((entry) => Object.values(entry)));
  const lines = [
    "// Generated by scripts/generate-graph-permissions.mjs: do not edit. Facts from microsoftgraph/msgraph-metadata",
    "// (`permissions/`): which application permission Microsoft Graph accepts for each path and method, least privileged.",
    "",
    "/** Where the table comes from. */",
    `export const GRAPH_PERMISSIONS_PROVENANCE = ${JSON.stringify(provenance)} as const;`,
    "",
    '/** Path template (lower case, `{id}` for a key) → "METHOD=Permission" pairs, `;`-separated. */',
    "export const GRAPH_PERMISSIONS: Readonly<Record<string, string>> = {",
    ...[...byPath.entries()].map(
      ([path, entry]) =>
        `  ${JSON.stringify(path)}: ${JSON.stringify(
          Object.entries(entry)
            .map(([method, permission]) => `${method}=${permission}`)
            .join(";"),
        )},`,
    ),
    "};",
    "",
    "/** App role ids of the permissions above (Microsoft Graph permissions reference); absent: looked up by name. */",
    "export const GRAPH_APP_ROLE_IDS: Readonly<Record<string, string>> = {",
    ...Object.entries(ids)
      .filter(([name]) => used.has(name))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, id]) => `  ${JSON.stringify(name)}: ${JSON.stringify(id)},`),
    "};",
    "",
  ];
  return lines.join("\n");
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const source = resolve(args.source);
  if (!existsSync(source)) throw new Error(`no such folder: ${source}`);
  const files = jsonFiles(source);
  const hash = createHash("sha256");
  const documents = files.map((file) => {
    const text = readFileSync(file, "utf8");
    hash.update(relative(source, file)).update("\0").update(text);
    return JSON.parse(text);
  });
  const byPath = buildTable(documents);
  const ids = JSON.parse(readFileSync(IDS, "utf8")).ids;
  // Committed facts name their own origin (`source`: repository path and commit, or the reference a correction cites).
  const commits = [...new Set(documents.map((document) => document?.source?.commit).filter((commit) => typeof commit === "string"))].sort();
  const dates = [...new Set(documents.map((document) => document?.source?.read).filter((date) => typeof date === "string"))].sort();
  const provenance = {
    repository: args.repository ?? "https://github.com/microsoftgraph/msgraph-metadata",
    commit: args.commit ?? (commits.length > 0 ? commits.join(", ") : "unknown"),
    date: args.date ?? (dates.length > 0 ? `read ${dates.join(", ")}` : "unknown"),
    files: files.map((file) => relative(source, file)).join(", "),
    sha256: hash.digest("hex"),
    paths: byPath.size,
  };
  // Formatted as the repository formats it, so that `npm run format` and check mode agree.
  const prettier = await import("prettier");
  const text = await prettier.format(render(byPath, ids, provenance), { ...((await prettier.resolveConfig(OUTPUT)) ?? {}), filepath: OUTPUT });
  if (args.check) {
    const committed = existsSync(OUTPUT) ? readFileSync(OUTPUT, "utf8") : "";
    if (committed !== text) {
      console.error(`${relative(root, OUTPUT)} differs from what ${relative(root, fileURLToPath(import.meta.url))} makes from ${source}`);
      process.exit(1);
    }
    console.log(`${relative(root, OUTPUT)} is up to date (${byPath.size} paths)`);
    return;
  }
  writeFileSync(OUTPUT, text);
  console.log(`wrote ${relative(root, OUTPUT)}: ${byPath.size} paths from ${files.length} files`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
