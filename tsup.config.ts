import { defineConfig } from "tsup";

// Declarations are not made here: `scripts/build.mjs` emits them with tsc and rolls them up with API Extractor,
// which also writes the public API report (review/*.api.md). The bin is an ESM entry of the same build as the
// library, so it shares its chunks instead of bundling a copy; build.mjs adds its `#!` line.
// No source maps in the package: they pointed at src/, which is not shipped, and were most of its weight.
// One build only: the CommonJS entries (dist/*.cjs) are one-line `require()`s of the ESM ones, written by build.mjs
// (Node.js >= 22.12 loads ES modules with require()), so the package ships each module once, not twice.
export default defineConfig([
  {
    entry: { index: "src/index.ts", testing: "src/testing.ts", cli: "src/cli.ts" },
    format: ["esm"],
    target: "node22",
    platform: "node",
    dts: false,
    clean: true,
    sourcemap: false,
    splitting: true,
    outDir: "dist",
  },
]);
