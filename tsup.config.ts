import { defineConfig } from "tsup";

// Declarations are not made here: `scripts/build.mjs` emits them with tsc and rolls them up with API Extractor,
// which also writes the public API report (review/*.api.md). The bin is an ESM entry of the same build as the
// library, so it shares its chunks instead of bundling a copy; build.mjs adds its `#!` line.
// No source maps in the package: they pointed at src/, which is not shipped, and were most of its weight.
// Whitespace is minified (identifiers and syntax are not: stack traces keep their function names): with verification
// (issue 17) the package weighed 423 kB packed against its 400 kB budget; without the whitespace it weighs 383 kB.
export default defineConfig([
  {
    entry: { index: "src/index.ts", testing: "src/testing.ts", cli: "src/cli.ts" },
    format: ["esm"],
    target: "node22",
    platform: "node",
    dts: false,
    clean: true,
    sourcemap: false,
    minifyWhitespace: true,
    splitting: true,
    outDir: "dist",
  },
  {
    entry: { index: "src/index.ts", testing: "src/testing.ts" },
    format: ["cjs"],
    target: "node22",
    platform: "node",
    dts: false,
    sourcemap: false,
    minifyWhitespace: true,
    splitting: true,
    outDir: "dist",
  },
]);
