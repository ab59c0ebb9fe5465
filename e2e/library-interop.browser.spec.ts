// The desk and the user's own app on one store: the headless server (a child process) and a
// separate app process that imports the built `qb-token-desk` package share QB_DATA_DIR. When the
// access token expires, the app's calls and the server's schedule together make one token call,
// and the server's dashboard shows that refresh in its history under the app's client name.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TokenStatus } from '../src/shared/contract';
import {
  cleanEnv,
  REPO_ROOT,
  serverEnvFor,
  startEmulatorProcess,
  startServerProcess,
  type EmulatorProcess,
  type ServerProcess,
} from '../src/server/process-support';
import { expect, test } from './support/headless';

const TTL_SECONDS = 20;
const CLIENT_NAME = 'billing-app';

test.describe.configure({ timeout: 120_000 });

interface AppLine {
  ready?: boolean;
  call?: string;
  status?: number;
  error?: string;
  preview?: string;
}

test('at expiry the app and the server make one token call, and the dashboard names the app that made it', async ({
  page,
}, testInfo) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'qb-interop-'));
  let emulator: EmulatorProcess | null = null;
  let server: ServerProcess | null = null;
  const app = { lines: [] as AppLine[], stderr: '', stop: async () => {} };
  try {
    emulator = await startEmulatorProcess({ accessTokenTtlSeconds: TTL_SECONDS });
    // The server's schedule refreshes 2 s before expiry, the app's 6 s before (and its next one 14 s
    // later, after the test): the app gets there first, and the server's schedule then finds the
    // app's new token in the store.
    const desk = await startServerProcess({
      ...serverEnvFor(emulator, dataDir),
      QB_REFRESH_SKEW_SECONDS: '2',
    });
    server = desk;
    const settled = async () => {
      const { body } = await desk.api<TokenStatus>('/api/integrations/quickbooks/refresh-token');
      return body.ok && body.value.state === 'valid' ? body.value : null;
    };
    await expect.poll(settled).not.toBeNull();
    const first = (await settled()) as TokenStatus;
    await emulator.control.resetCounters();

    // The app: another process, the built package, the same QB_* settings and store.
    const appEnv = {
      ...serverEnvFor(emulator, dataDir),
      QB_REFRESH_SKEW_SECONDS: '6',
      LIB_CLIENT_NAME: CLIENT_NAME,
    };
    delete (appEnv as Record<string, string | undefined>).QB_PORT;
    const child = spawn(process.execPath, [join(REPO_ROOT, 'e2e', 'support', 'library-app.mjs')], {
      cwd: dataDir,
      env: cleanEnv(appEnv),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
    app.stop = async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    };
    await expect.poll(() => app.lines.some((line) => line.ready), { timeout: 20_000 }).toBe(true);
    // It found the server's token in the store: no token call of its own to start with.
    expect(app.lines.find((line) => line.ready)).toMatchObject({
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
    const calls = app.lines.filter((line) => line.call);
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
  } finally {
    await app.stop();
    if (testInfo.status !== testInfo.expectedStatus) {
      await testInfo.attach('app.log', { body: `${JSON.stringify(app.lines, null, 1)}\n${app.stderr}` });
      if (server) await testInfo.attach('server.log', { body: server.process.stderr() });
    }
    await server?.stop();
    await emulator?.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});
