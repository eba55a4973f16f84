import { defineConfig } from "tsup";

// Declarations are not made here: `scripts/build.mjs` emits them with tsc and rolls them up with API Extractor,
// which also writes the public API report (review/*.api.md). The bin is an ESM entry of the same build as the
// library, so it shares its chunks instead of bundling a copy; build.mjs adds its `#!` line.
// No source maps in the package: they pointed at src/, which is not shipped, and were most of its weight.
// Whitespace is minified (names and syntax are kept, so stack traces still name our functions): about 10% of the
// packed weight, which the 400 kB budget (test/package/consumer.test.ts) needs once platforms and their commands ship.
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
