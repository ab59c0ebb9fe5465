// The Node artefacts of `npm run build` (the Electron app is electron-vite's, in out/):
// dist/lib: the `qb-token-desk` and `qb-token-desk/next` entries, ESM with bundled .d.ts. Runtime
// dependencies (package.json `dependencies`) stay imports, resolved from the user's node_modules.
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
]);
