// Playwright fixture for browser e2e: a real emulator and the real headless server, each a child
// process, a fresh data dir per test, everything stopped at teardown.
//
//   import { test, expect } from './support/headless';
//   test.use({ headlessOptions: { emulator: { accessTokenTtlSeconds: 120 }, env: { QB_REFRESH_SKEW_SECONDS: '30' } } });
//   test('shows the status', async ({ page, headlessServer }) => {
//     await page.goto(headlessServer.uiUrl);            // signs the browser in (cookie), lands on the UI
//     await headlessServer.emulator?.injectTokenFault({ kind: 'invalid_grant' });
//   });
//
// Demo mode (`{ demo: true }`): no QB_CLIENT_ID; the server runs its own emulator in-process and
// `emulator` is null. The UI must have been built (`npm run build`; `npm test` builds first).
import { test as base, expect } from '@playwright/test';
import type { Result } from '../../src/shared/contract';
import {
  EmulatorControlClient,
  serverEnvFor,
  startEmulatorProcess,
  startServerProcess,
  type EmulatorFlags,
  type EmulatorLine,
  type EmulatorProcess,
  type ServerProcess,
} from '../../src/server/process-support';

export { expect };
export type { EmulatorFlags };

export interface HeadlessOptions {
  /** Demo mode: no client id; the server starts the emulator in-process. */
  demo?: boolean;
  /** Emulator options, passed to `src/emulator/cli.ts` as flags (ignored in demo mode). */
  emulator?: EmulatorFlags;
  /**
   * Extra server environment, applied last: QB_ACCESS_TOKEN, QB_REFRESH_SKEW_SECONDS, QB_ADMIN_TOKEN,
   * or an override of what the fixture sets (e.g. QB_REFRESH_TOKEN: '' to start unconfigured).
   */
  env?: Record<string, string>;
}

/** The emulator's URLs and demo credentials, with its control endpoint as async helpers. */
export type HeadlessEmulator = EmulatorLine & EmulatorControlClient;

export interface Headless {
  /** The UI's URL with the admin secret in it: `page.goto(uiUrl)` signs the browser in. */
  uiUrl: string;
  /** http://127.0.0.1:PORT */
  baseUrl: string;
  port: number;
  adminToken: string;
  /** The server's QB_DATA_DIR (the token store lives here). */
  dataDir: string;
  /** Null in demo mode. */
  emulator: HeadlessEmulator | null;
  /** fetch against the server with `Authorization: Bearer <adminToken>`; parses the Result body. */
  api<T>(path: string, init?: RequestInit): Promise<{ status: number; body: Result<T> }>;
  /** The server's log so far (stderr): attach it when a test fails. */
  serverLog(): string;
  /** Stops the server (SIGTERM) and the emulator; idempotent. The fixture calls it at teardown. */
  stop(): Promise<void>;
}

export async function startHeadless(options: HeadlessOptions = {}): Promise<Headless> {
  let emulator: EmulatorProcess | null = null;
  let server: ServerProcess;
  try {
    if (options.demo) {
      server = await startServerProcess({ QB_DEMO: '1', ...options.env });
    } else {
      emulator = await startEmulatorProcess(options.emulator ?? {});
      server = await startServerProcess({ ...serverEnvFor(emulator), ...options.env });
    }
  } catch (err) {
    await emulator?.stop();
    throw err;
  }
  let stopped: Promise<void> | null = null;
  const emulatorAccess = emulator ? Object.assign(emulator.control, emulator.process.line) : null;
  return {
    uiUrl: server.url,
    baseUrl: server.baseUrl,
    port: server.port,
    adminToken: server.adminToken,
    dataDir: server.dataDir,
    emulator: emulatorAccess,
    api: (path, init) => server.api(path, init),
    serverLog: () => server.process.stderr(),
    stop() {
      stopped ??= (async () => {
        await server.stop();
        await emulator?.stop();
      })();
      return stopped;
    },
  };
}

// Not named `headless`: that is Playwright's own browser option.
export const test = base.extend<{ headlessOptions: HeadlessOptions; headlessServer: Headless }>({
  headlessOptions: [{} as HeadlessOptions, { option: true }],
  headlessServer: async ({ headlessOptions }, use, testInfo) => {
    const headless = await startHeadless(headlessOptions);
    try {
      await use(headless);
    } finally {
      if (testInfo.status !== testInfo.expectedStatus) {
        await testInfo.attach('headless-server.log', {
          body: headless.serverLog(),
          contentType: 'text/plain',
        });
      }
      await headless.stop();
    }
  },
});
