import { defineConfig } from "tsup";

// Declarations are not made here: `scripts/build.mjs` emits them with tsc and rolls them up with API Extractor,
// which also writes the public API report (review/*.api.md).
export default defineConfig([
  {
    entry: { index: "src/index.ts", testing: "src/testing.ts" },
    format: ["esm", "cjs"],
    target: "node22",
    platform: "node",
    dts: false,
    clean: true,
    sourcemap: true,
    splitting: true,
    outDir: "dist",
  },
  {
    entry: { cli: "src/cli.ts" },
    format: ["esm"],
    target: "node22",
    platform: "node",
    dts: false,
    sourcemap: true,
    outDir: "dist",
    banner: { js: "#!/usr/bin/env node" },
  },
]);
