// The headless server and the renderer's HTTP bridge in a real browser: sign-in through the
// start-up URL, the session cookie's attributes, the bridge's Results and live status (including
// reconnecting after a server restart), and a foreign page's attempts being refused.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import type { Page } from '@playwright/test';
import {
  REPO_ROOT,
  serverEnvFor,
  startServerProcess,
  type ServerProcess,
} from '../src/server/process-support';
import { HTTP_PATHS } from '../src/shared/contract';
import { expect, test } from './support/headless';

const TEST_MODULES = '/__bridge-under-test/';

/** Compiles a source file to plain ESM for the browser (types stripped, imports renamed). */
function compile(path: string, rewrite: Record<string, string> = {}): string {
  let source = readFileSync(join(REPO_ROOT, path), 'utf8');
  for (const [from, to] of Object.entries(rewrite)) source = source.split(`'${from}'`).join(`'${to}'`);
  return ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
}

/**
 * Serves the bridge source (and the shared modules it imports) from the server's own origin, so the
 * page's strict CSP (script-src 'self') allows importing it. Only these paths are intercepted.
 */
async function loadBridge(page: Page, baseUrl: string): Promise<void> {
  const modules: Record<string, string> = {
    'http-bridge.js': compile('src/renderer/src/bridge/http-bridge.ts', {
      '../../../shared/contract': './contract.js',
      '../../../shared/connections': './connections.js',
    }),
    'contract.js': compile('src/shared/contract.ts'),
    'connections.js': compile('src/shared/connections.ts', { './contract': './contract.js' }),
  };
  await page.route(`${baseUrl}${TEST_MODULES}*`, (route) => {
    const name = new URL(route.request().url()).pathname.slice(TEST_MODULES.length);
    const body = modules[name];
    return body === undefined
      ? route.fulfill({ status: 404 })
      : route.fulfill({ status: 200, contentType: 'text/javascript', body });
  });
  await page.evaluate(`(async () => {
    const { createHttpBridge } = await import('${TEST_MODULES}http-bridge.js');
    const bridge = createHttpBridge();
    const w = window;
    w.__bridge = bridge;
    w.__statuses = [];
    w.__unsubscribe = bridge.onStatusChanged((status) => w.__statuses.push(status));
  })()`);
}

const statusCount = (page: Page) => page.evaluate('window.__statuses.length') as Promise<number>;

test('the start-up URL signs the browser in with an HttpOnly SameSite=Strict cookie and a clean URL', async ({
  page,
  headlessServer,
}) => {
  const violations: string[] = [];
  page.on('console', (message) => {
    // Actual blocks only (Chromium also notes that a meta CSP cannot carry frame-ancestors).
    if (/Refused to .*Content Security Policy/i.test(message.text())) violations.push(message.text());
  });
  await page.goto(headlessServer.uiUrl);
  expect(page.url()).toBe(`${headlessServer.baseUrl}/`);
  const cookies = await page.context().cookies(headlessServer.baseUrl);
  expect(cookies).toHaveLength(1);
  expect(cookies[0]).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
  expect(cookies[0].value).not.toContain(headlessServer.adminToken);
  await expect(page.locator('#root')).not.toBeEmpty();
  expect(await page.evaluate('document.cookie')).toBe('');
  expect(violations).toEqual([]);
});

test('an unsigned browser sees how to sign in, not the UI', async ({ page, headlessServer }) => {
  const response = await page.goto(headlessServer.baseUrl);
  expect(response?.status()).toBe(401);
  await expect(page.locator('body')).toContainText('npm run serve');
});

test('the HTTP bridge answers every action as a Result and pushes status changes', async ({
  page,
  headlessServer,
}) => {
  const emulator = headlessServer.emulator;
  if (!emulator) throw new Error('this spec needs the emulator');
  await page.goto(headlessServer.uiUrl);
  await loadBridge(page, headlessServer.baseUrl);
  await expect.poll(() => statusCount(page), { message: 'the status sent on connect' }).toBeGreaterThan(0);

  const status = (await page.evaluate('window.__bridge.getStatus()')) as {
    ok: boolean;
    value: { realmId: string };
  };
  expect(status).toMatchObject({ ok: true, value: { realmId: emulator.realmId } });
  // Several companies: the list, and a connection named by id (the per-connection paths).
  expect(await page.evaluate('window.__bridge.listConnections()')).toMatchObject({
    ok: true,
    value: [{ id: 'default', isDefault: true, realmId: emulator.realmId }],
  });
  expect(await page.evaluate("window.__bridge.getStatus('default')")).toMatchObject({
    ok: true,
    value: { connection: { id: 'default' } },
  });
  expect(await page.evaluate("window.__bridge.getStatus('5550999')")).toMatchObject({
    ok: false,
    error: { code: 'unknown_connection' },
  });

  const before = await statusCount(page);
  const refreshed = (await page.evaluate('window.__bridge.refresh()')) as { ok: boolean };
  expect(refreshed.ok).toBe(true);
  await expect
    .poll(() => statusCount(page), { message: 'a pushed status after the refresh' })
    .toBeGreaterThan(before);

  expect(await page.evaluate('window.__bridge.clear()')).toMatchObject({
    ok: true,
    value: { accessToken: null },
  });
  expect(await page.evaluate('window.__bridge.testConnection()')).toMatchObject({
    ok: true,
    value: { realmId: emulator.realmId },
  });

  await emulator.injectTokenFault({ kind: 'invalid_grant' });
  expect(await page.evaluate('window.__bridge.refresh()')).toMatchObject({
    ok: false,
    error: { code: expect.stringMatching(/^(invalid_grant|reauthorization_required)$/) },
  });
});

test('the HTTP bridge reports an unreachable server as a network Result and reconnects its stream', async ({
  page,
  headlessServer,
}) => {
  const emulator = headlessServer.emulator;
  if (!emulator) throw new Error('this spec needs the emulator');
  // A server of our own with a fixed port and secret, so a restart keeps the browser's session valid.
  const adminToken = 'bridge-reconnect-admin-secret-0123456789';
  let server: ServerProcess = await startServerProcess({
    ...serverEnvFor(emulator),
    QB_ADMIN_TOKEN: adminToken,
  });
  const env = {
    ...serverEnvFor(emulator),
    QB_ADMIN_TOKEN: adminToken,
    QB_PORT: String(server.port),
    QB_DATA_DIR: server.dataDir,
  };
  try {
    await page.goto(server.url);
    await loadBridge(page, server.baseUrl);
    await expect.poll(() => statusCount(page)).toBeGreaterThan(0);

    await server.stop({ keepData: true });
    const down = (await page.evaluate('window.__bridge.getStatus()')) as {
      ok: boolean;
      error?: { code: string };
    };
    expect(down).toMatchObject({ ok: false, error: { code: 'network' } });

    const before = await statusCount(page);
    server = await startServerProcess(env);
    await expect
      .poll(() => statusCount(page), {
        message: 'the stream reconnected and sent the status',
        timeout: 30_000,
      })
      .toBeGreaterThan(before);
    expect(await page.evaluate('window.__bridge.getStatus()')).toMatchObject({ ok: true });
  } finally {
    await server.stop();
  }
});

test('a foreign page cannot change the token state, even though the browser sends the cookie', async ({
  page,
  headlessServer,
}) => {
  const emulator = headlessServer.emulator;
  if (!emulator) throw new Error('this spec needs the emulator');
  await page.goto(headlessServer.uiUrl);
  const callsBefore = (await emulator.counters()).tokenCalls.refresh_token;

  // Another loopback port is another origin but the same site: SameSite alone would not stop this.
  await page.goto(emulator.url);
  const target = headlessServer.baseUrl + HTTP_PATHS.refreshToken;
  const outcomes = (await page.evaluate(`(async () => {
    const tries = [
      fetch('${target}', { method: 'POST', mode: 'no-cors', credentials: 'include' }),
      fetch('${target}', { method: 'DELETE', credentials: 'include' }),
      fetch('${target}', { credentials: 'include' }),
    ];
    return Promise.all(tries.map((p) => p.then((r) => 'answered ' + r.type, (e) => 'failed ' + e.name)));
  })()`)) as string[];
  // Opaque or failed: the foreign page never reads an answer.
  for (const outcome of outcomes) expect(outcome).toMatch(/^(answered opaque|failed TypeError)$/);
  expect((await emulator.counters()).tokenCalls.refresh_token).toBe(callsBefore);
  const status = await headlessServer.api<{ accessToken: unknown }>(HTTP_PATHS.refreshToken);
  expect(status).toMatchObject({
    status: 200,
    body: { ok: true, value: { accessToken: { preview: expect.any(String) } } },
  });
});

test.describe('demo mode', () => {
  test.use({ headlessOptions: { demo: true } });

  test('with no QB_CLIENT_ID the server runs its own emulator and the UI shows the Demo badge', async ({
    page,
    headlessServer,
  }) => {
    expect(headlessServer.emulator).toBeNull();
    const status = await headlessServer.api<{ demo: boolean }>(HTTP_PATHS.refreshToken);
    expect(status).toMatchObject({ status: 200, body: { ok: true, value: { demo: true } } });
    await page.goto(headlessServer.uiUrl);
    await expect(page.getByTestId('demo-badge')).toBeVisible();
  });
});
