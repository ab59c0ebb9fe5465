import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import react from '@vitejs/plugin-react';

// electron-vite 6 (Vite 8) reads `rolldownOptions`; a `rollupOptions` block is overwritten by its presets.
export default defineConfig({
  main: {
    build: {
      outDir: resolve(__dirname, 'out/main'),
      // package.json says "type": "module", so main is built as ESM (Electron >= 28 loads it).
      rolldownOptions: { input: { index: resolve(__dirname, 'src/main/index.ts') } },
    },
  },
  preload: {
    build: {
      outDir: resolve(__dirname, 'out/preload'),
      // A sandboxed preload cannot load ES modules or anything but a few built-ins: one CommonJS
      // file with the shared contract bundled in.
      rolldownOptions: {
        input: { index: resolve(__dirname, 'src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    // Relative asset URLs: the same build is loaded from file:// (Electron) and http:// (headless server).
    base: './',
    build: {
      outDir: resolve(__dirname, 'out/renderer'),
      // electron-vite leaves the renderer unminified; the headless server ships it over HTTP too.
      minify: true,
      rolldownOptions: { input: { index: resolve(__dirname, 'src/renderer/index.html') } },
    },
    plugins: [react()],
  },
});
