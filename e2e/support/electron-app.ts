// Playwright fixtures for the Electron specs: the built app launched through `_electron` with an
// explicit executable (never the electron package's download-on-require), its own QB_DATA_DIR per
// test, a clean QB_* environment, and a private X display where none exists.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { _electron, test as base, type ElectronApplication, type Page } from '@playwright/test';
import { projectRoot, resolveElectronRuntime } from '../../scripts/electron-path.mjs';
import { needsVirtualDisplay, startVirtualDisplay } from './electron-display';

export const electronRuntime = resolveElectronRuntime();

/** The skip reason every Electron spec shows where no runtime exists. */
export const NO_ELECTRON_REASON =
  `No Electron runtime (looked for ${electronRuntime.tried.join(', ')}): set ELECTRON_OVERRIDE_DIST_PATH ` +
  'to a directory holding an unpacked Electron 45 build, or let the electron package download its binary ' +
  '(`node node_modules/electron/install.js`) where GitHub is reachable.';

/** What each launched app's main process wrote: stdout's chunks, then stderr's (kept apart, so no line is cut). */
const outputs = new WeakMap<ElectronApplication, [Buffer[], Buffer[]]>();

/**
 * What the app's main process has written (stdout and stderr, its log), for leak scans. Read from
 * the moment `_electron.launch` returned: lines written while it was launching went to Playwright's
 * own launch log only.
 */
export function mainOutput(app: ElectronApplication): string {
  return (outputs.get(app) ?? []).map((chunks) => Buffer.concat(chunks).toString('utf8')).join('\n');
}

export interface ElectronFixtures {
  /** Extra environment for the app (e.g. { QB_DEMO: '1' }); QB_* from the outer environment is dropped. */
  appEnv: Record<string, string>;
  /** A fresh QB_DATA_DIR (and working directory, so no .env is picked up) for this test. */
  dataDir: string;
  electronApp: ElectronApplication;
  /** The app's first window, loaded. */
  appWindow: Page;
}

interface WorkerFixtures {
  display: string | undefined;
}

function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key.startsWith('QB_') || key === 'ELECTRON_RUN_AS_NODE') continue;
    env[key] = value;
  }
  return env;
}

export const test = base.extend<ElectronFixtures, WorkerFixtures>({
  display: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      if (!electronRuntime.executablePath || !needsVirtualDisplay()) return use(process.env.DISPLAY);
      const display = await startVirtualDisplay();
      try {
        await use(display.display);
      } finally {
        await display.stop();
      }
    },
    { scope: 'worker' },
  ],

  appEnv: [{}, { option: true }],

  // eslint-disable-next-line no-empty-pattern
  dataDir: async ({}, use) => {
    const dir = mkdtempSync(join(tmpdir(), 'qb-e2e-electron-'));
    try {
      await use(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },

  electronApp: async ({ appEnv, dataDir, display }, use) => {
    const executablePath = electronRuntime.executablePath;
    if (!executablePath) throw new Error(NO_ELECTRON_REASON);
    const args = [projectRoot];
    // Chromium will not start as root with its OS sandbox (CI containers).
    if (process.platform === 'linux' && process.getuid?.() === 0) args.push('--no-sandbox');
    const app = await _electron.launch({
      executablePath,
      args,
      cwd: dataDir,
      env: { ...cleanEnv(), ...(display ? { DISPLAY: display } : {}), QB_DATA_DIR: dataDir, ...appEnv },
      timeout: 30_000,
    });
    const [stdout, stderr]: [Buffer[], Buffer[]] = [[], []];
    outputs.set(app, [stdout, stderr]);
    app.process().stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    app.process().stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    try {
      await use(app);
    } finally {
      await app.close();
    }
  },

  appWindow: async ({ electronApp }, use) => {
    const page = await electronApp.firstWindow();
    await page.waitForLoadState('domcontentloaded');
    await use(page);
  },
});

export { expect } from '@playwright/test';
