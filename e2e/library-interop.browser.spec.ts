// The desk and the user's own app on one store: the headless server (a child process) and a
// separate app process that imports the built `qb-token-desk` package share QB_DATA_DIR. When the
// access token expires, the app's calls and the server's schedule together make one token call,
// and the server's dashboard shows that refresh in its history under the app's client name. The
// same holds per company when the store holds a second one and the app serves both.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectionPath } from '../src/shared/connections';
import { HTTP_PATHS, type TokenStatus } from '../src/shared/contract';
import {
  cleanEnv,
  REPO_ROOT,
  serverEnvFor,
  startEmulatorProcess,
  startServerProcess,
  type EmulatorProcess,
  type ServerProcess,
} from '../src/server/process-support';
import type { Page, TestInfo } from '@playwright/test';
import { cliAddCompany } from './support/cli-add';
import { expect, test } from './support/headless';

const TTL_SECONDS = 20;
const CLIENT_NAME = 'billing-app';

test.describe.configure({ timeout: 120_000 });

interface AppLine {
  ready?: boolean;
  connection?: string;
  call?: string;
  status?: number;
  error?: string;
  preview?: string;
}

interface LibraryApp {
  lines: AppLine[];
  stderr: string;
  stop(): Promise<void>;
}

/** e2e/support/library-app.mjs in its own process, in `cwd`, with `env`; one parsed JSON line per output line. */
function startApp(env: Record<string, string>, cwd: string): LibraryApp {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'e2e', 'support', 'library-app.mjs')], {
    cwd,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const app: LibraryApp = {
    lines: [],
    stderr: '',
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let end: number;
    while ((end = buffer.indexOf('\n')) >= 0) {
      app.lines.push(JSON.parse(buffer.slice(0, end)) as AppLine);
      buffer = buffer.slice(end + 1);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (app.stderr += chunk.toString()));
  return app;
}

/** The app's settings: the server's QB_* (same store) without its port, and its own skew and name. */
function appEnvFor(emulator: EmulatorProcess, dataDir: string, extra: Record<string, string>) {
  const env: Record<string, string> = {
    ...serverEnvFor(emulator, dataDir),
    LIB_CLIENT_NAME: CLIENT_NAME,
    ...extra,
  };
  delete env.QB_PORT;
  return env;
}

interface Interop {
  emulator: EmulatorProcess;
  desk: ServerProcess;
  dataDir: string;
  /** Starts the app on the desk's store with these settings over appEnvFor's; stopped at the end. */
  startApp(extra: Record<string, string>): LibraryApp;
}

/**
 * An emulator whose access tokens live TTL_SECONDS and a headless server refreshing 2 s before
 * expiry, on a fresh store; the app, the server and the emulator stop at the end (their logs
 * attached when the test failed).
 */
async function interop(testInfo: TestInfo, run: (setup: Interop) => Promise<void>): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'qb-interop-'));
  let emulator: EmulatorProcess | null = null;
  let server: ServerProcess | null = null;
  let app: LibraryApp | null = null;
  try {
    const started = await startEmulatorProcess({ accessTokenTtlSeconds: TTL_SECONDS });
    emulator = started;
    server = await startServerProcess({ ...serverEnvFor(started, dataDir), QB_REFRESH_SKEW_SECONDS: '2' });
    await run({
      emulator: started,
      desk: server,
      dataDir,
      startApp: (extra) => (app = startApp(appEnvFor(started, dataDir, extra), dataDir)),
    });
  } finally {
    const ran = app as LibraryApp | null;
    await ran?.stop();
    if (ran && testInfo.status !== testInfo.expectedStatus) {
      await testInfo.attach('app.log', { body: `${JSON.stringify(ran.lines, null, 1)}\n${ran.stderr}` });
      if (server) await testInfo.attach('server.log', { body: server.process.stderr() });
    }
    await server?.stop();
    await emulator?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

test('at expiry the app and the server make one token call, and the dashboard names the app that made it', async ({
  page,
}, testInfo) =>
  interop(testInfo, async ({ emulator, desk, startApp }) => {
    // The server's schedule refreshes 2 s before expiry, the app's 6 s before (and its next one 14 s
    // later, after the test): the app gets there first, and the server's schedule then finds the
    // app's new token in the store.
    const settled = async () => {
      const { body } = await desk.api<TokenStatus>('/api/integrations/quickbooks/refresh-token');
      return body.ok && body.value.state === 'valid' ? body.value : null;
    };
    await expect.poll(settled).not.toBeNull();
    const first = (await settled()) as TokenStatus;
    await emulator.control.resetCounters();

    // The app: another process, the built package, the same QB_* settings and store.
    const app = startApp({ QB_REFRESH_SKEW_SECONDS: '6' });
    const lines = app.lines;
    await expect.poll(() => lines.some((line) => line.ready), { timeout: 20_000 }).toBe(true);
    // It found the server's token in the store: no token call of its own to start with.
    expect(lines.find((line) => line.ready)).toMatchObject({
      accessToken: { preview: first.accessToken?.preview },
    });

    // Past the expiry and past the server's own refresh time: the server must have moved to a new token.
    const expiresAt = Date.parse(first.accessToken?.expiresAt ?? '');
    await expect
      .poll(
        async () => {
          const { body } = await desk.api<TokenStatus>('/api/integrations/quickbooks/refresh-token');
          return body.ok && Date.now() > expiresAt + 1000 ? body.value.accessToken?.preview : null;
        },
        { timeout: (TTL_SECONDS + 20) * 1000 },
      )
      .not.toMatch(new RegExp(`^(${first.accessToken?.preview}|null|undefined)$`));
    await app.stop();

    const counters = await emulator.control.counters();
    expect(counters.tokenCalls.refresh_token).toBe(1);
    const calls = lines.filter((line) => line.call);
    expect(calls.length).toBeGreaterThan(10);
    expect(calls.filter((line) => line.error)).toEqual([]);

    // The server's status comes from the shared record: the refresh is the app's, under its name.
    const { body } = await desk.api<TokenStatus>('/api/integrations/quickbooks/refresh-token');
    if (!body.ok) throw new Error(body.error.message);
    expect(body.value.lastRefresh).toMatchObject({ ok: true, trigger: 'scheduled', client: CLIENT_NAME });

    // And the dashboard says so in its history.
    await page.goto(desk.url);
    const refreshed = page.getByTestId('history-list').locator('li[data-type="refreshed"]');
    await expect(refreshed.first().getByTestId('history-client')).toHaveText(`· by ${CLIENT_NAME}`);
    await expect(refreshed.filter({ hasText: `by ${CLIENT_NAME}` })).toHaveCount(1);
    await page.screenshot({ path: testInfo.outputPath('dashboard-history.png'), fullPage: true });
  }));

const COMPANY_B = '5550102';

/** The dashboard's history of one company, chosen in the list of companies. */
async function historyOf(page: Page, url: string, connectionId: string) {
  await page.goto(url);
  await page.locator(`[data-testid="connection-item"][data-connection-id="${connectionId}"]`).click();
  await expect(page.getByTestId('realm-id')).toHaveText(connectionId === 'default' ? /\d+/ : connectionId);
  return page.getByTestId('history-list').locator('li[data-type="refreshed"]');
}

test('with a second company in the store, at expiry the app and the server make one token call per company, and the dashboard names the app on each company’s history', async ({
  page,
}, testInfo) =>
  interop(testInfo, async ({ emulator, desk, dataDir, startApp }) => {
    // The second company, added by the CLI in its own process; the server picks it up from the store.
    await cliAddCompany(emulator, dataDir, 'Beta Bikes', COMPANY_B);
    const statusOf = async (id: string) => {
      const path = id === 'default' ? HTTP_PATHS.refreshToken : connectionPath(id, 'refreshToken');
      const { body } = await desk.api<TokenStatus>(path);
      return body.ok ? body.value : null;
    };
    const valid = async (id: string) => {
      const status = await statusOf(id);
      return status?.state === 'valid' && status.lastRefresh?.ok ? status : null;
    };
    await expect.poll(() => valid('default')).not.toBeNull();
    await expect.poll(() => valid(COMPANY_B)).not.toBeNull();
    const first = {
      default: (await valid('default')) as TokenStatus,
      [COMPANY_B]: (await valid(COMPANY_B)) as TokenStatus,
    };
    await emulator.control.resetCounters();

    // The app serves both companies: the default connection's handle, and the company's from it.
    const app = startApp({ QB_REFRESH_SKEW_SECONDS: '6', LIB_CONNECTIONS: `default,${COMPANY_B}` });
    const lines = app.lines;
    await expect.poll(() => lines.filter((line) => line.ready).length, { timeout: 20_000 }).toBe(2);
    // Each company's token came from the store: no token call of the app's own to start with.
    for (const id of ['default', COMPANY_B] as const) {
      expect(lines.find((line) => line.ready && line.connection === id)).toMatchObject({
        accessToken: { preview: first[id].accessToken?.preview },
      });
    }

    // Past both expiries: the server must show a new token for each company.
    const latest = Math.max(
      ...Object.values(first).map((status) => Date.parse(status.accessToken?.expiresAt ?? '')),
    );
    for (const id of ['default', COMPANY_B] as const) {
      await expect
        .poll(async () => (Date.now() > latest + 1000 ? (await statusOf(id))?.accessToken?.preview : null), {
          timeout: (TTL_SECONDS + 20) * 1000,
        })
        .not.toMatch(new RegExp(`^(${first[id].accessToken?.preview}|null|undefined)$`));
    }
    await app.stop();

    // Each company's token moved on at least once, and there were two token calls in all: one each.
    const counters = await emulator.control.counters();
    expect(counters.tokenCalls.refresh_token).toBe(2);
    const calls = lines.filter((line) => line.call);
    expect(calls.filter((line) => line.connection === COMPANY_B).length).toBeGreaterThan(5);
    expect(calls.filter((line) => line.connection === 'default').length).toBeGreaterThan(5);
    expect(calls.filter((line) => line.error)).toEqual([]);

    for (const id of ['default', COMPANY_B]) {
      const status = await statusOf(id);
      expect(status?.connection.id).toBe(id);
      expect(status?.lastRefresh).toMatchObject({ ok: true, trigger: 'scheduled', client: CLIENT_NAME });
    }

    // The dashboard: the company's own history names the app, once.
    const refreshedB = await historyOf(page, desk.url, COMPANY_B);
    await expect(refreshedB.first().getByTestId('history-client')).toHaveText(`· by ${CLIENT_NAME}`);
    await expect(refreshedB.filter({ hasText: `by ${CLIENT_NAME}` })).toHaveCount(1);
    await page.screenshot({ path: testInfo.outputPath('company-history.png'), fullPage: true });
    const refreshedDefault = await historyOf(page, desk.url, 'default');
    await expect(refreshedDefault.filter({ hasText: `by ${CLIENT_NAME}` })).toHaveCount(1);
  }));
