// Runs the suites that touch the peers (credential, lifecycle, integration) against other versions of the peer
// dependencies than the lockfile's: a copy of the repository, its peers pinned, installed afresh.
//
//   node scripts/peer-matrix.mjs [set...]        sets: oldest, node20 (default: both)
//
// "oldest" is the floor of every peer range in package.json; "node20" is what `npm install` resolves for a user on
// Node.js 20 (older than the lockfile: @azure/identity 4.13, @azure/core-rest-pipeline 1.24, ts-http-runtime 0.3.6,
// whose request timer outlived failed requests). A supported version that fails here means the range is narrowed,
// or the code is fixed.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
if (!existsSync(path.join(root, "dist", "index.js"))) throw new Error("build first (npm run build)");
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));

/** The lowest version a `^x.y.z` range allows. */
const floorOf = (range) => {
  const match = /^\^?(\d+\.\d+\.\d+)$/.exec(range);
  if (!match) throw new Error(`peer range ${range} is not ^x.y.z: teach scripts/peer-matrix.mjs its floor`);
  return match[1];
};

export const PEER_SETS = {
  oldest: Object.fromEntries(Object.entries(pkg.peerDependencies).map(([name, range]) => [name, floorOf(range)])),
  node20: {
    "@azure/identity": "4.13.1",
    "@azure/core-rest-pipeline": "1.24.0",
    "@azure/core-auth": "1.10.1",
    "@opentelemetry/api": "1.9.0",
    "@typespec/ts-http-runtime": "0.3.6",
  },
};

const SUITES = ["test/credential", "test/lifecycle", "test/integration", "test/workload"];

function run(cmd, args, cwd, env = {}) {
  execFileSync(cmd, args, { cwd, stdio: "inherit", env: { ...process.env, ...env } });
}

function prepare(name, pins) {
  const dir = path.join(root, "build", `peers-${name}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const tracked = execFileSync("git", ["ls-files", "-z"], { cwd: root, encoding: "utf8" }).split("\0").filter(Boolean);
  for (const file of tracked) {
    if (!existsSync(path.join(root, file))) continue;
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    cpSync(path.join(root, file), path.join(dir, file));
  }
  // The build under test is the one users get: made against the lockfile's versions, by `npm test` before this.
  cpSync(path.join(root, "dist"), path.join(dir, "dist"), { recursive: true });
  const copy = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
  // The peers the app would have, at the top of node_modules; SDK clients that need newer ones get nested copies, as
  // they would in a user's install. ts-http-runtime is a transitive dependency: pinned through overrides.
  for (const [peer, version] of Object.entries(pins)) {
    if (peer in copy.devDependencies) copy.devDependencies[peer] = version;
    else copy.overrides = { ...(copy.overrides ?? {}), [peer]: version };
  }
  writeFileSync(path.join(dir, "package.json"), JSON.stringify(copy, null, 2));
  return dir;
}

function installed(dir, names) {
  return names.map((name) => {
    try {
      return `${name}@${JSON.parse(readFileSync(path.join(dir, "node_modules", name, "package.json"), "utf8")).version}`;
    } catch {
      return `${name}@(absent)`;
    }
  });
}

const wanted = process.argv.slice(2).filter((arg) => !arg.startsWith("-"));
const sets = wanted.length > 0 ? wanted : Object.keys(PEER_SETS);
for (const name of sets) {
  const pins = PEER_SETS[name];
  if (!pins) throw new Error(`unknown peer set ${name}; known: ${Object.keys(PEER_SETS).join(", ")}`);
  const dir = prepare(name, pins);
  console.log(`\n== peer set ${name}: ${JSON.stringify(pins)}`);
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], dir);
  const report = installed(dir, [...Object.keys(pins), "@typespec/ts-http-runtime", "@azure/msal-node"]);
  console.log(`== installed: ${[...new Set(report)].join(" ")}`);
  // Node 22 from the copy's own `node` devDependency, as npm scripts get it.
  const bin = path.join(dir, "node_modules", ".bin");
  run(path.join(bin, "vitest"), ["run", ...SUITES.filter((suite) => existsSync(path.join(dir, suite)))], dir, {
    PATH: `${bin}${path.delimiter}${process.env.PATH}`,
    PEER_SET: name,
  });
}
