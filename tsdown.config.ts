// The Node artefacts of `npm run build` (the Electron app is electron-vite's, in out/):
// dist/lib: the `qb-token-desk` and `qb-token-desk/next` entries, ESM with bundled .d.ts. Runtime
// dependencies (package.json `dependencies`) stay imports, resolved from the user's node_modules.
// dist/cli: the `qb-token` CLI (bin/qb-token.js runs it), one file with its dependencies bundled in:
// scripts call `qb-token token` once per request, and resolving and loading ~20 packages from
// node_modules costs about as much CPU again as the command itself.
import { defineConfig } from 'tsdown';

export default defineConfig([
  {
    entry: { index: 'src/lib/index.ts', next: 'src/lib/next.ts' },
    outDir: 'dist/lib',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    tsconfig: 'tsconfig.node.json',
    dts: true,
    // package.json says "type": "module": plain .js / .d.ts, no .mjs.
    fixedExtension: false,
    clean: true,
    // The .d.ts pass dominates the build's time by design; rolldown's timing note is noise here.
    inputOptions: { checks: { pluginTimings: false } },
  },
  {
    entry: { main: 'src/cli/main.ts' },
    outDir: 'dist/cli',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    tsconfig: 'tsconfig.node.json',
    dts: false,
    fixedExtension: false,
    clean: true,
    noExternal: [/./],
    // Demo mode's emulator stays a separate chunk, loaded only with QB_DEMO=1.
    inputOptions: { checks: { pluginTimings: false } },
  },
]);
