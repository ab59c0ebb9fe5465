// startDesk end to end: demo mode (in-process emulator), and a configured desk.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startDesk, type StartedDesk } from './bootstrap';
import { ConfigError } from './errors';
import { LeakScan } from './testing/leak-scan';

let dir: string;
let started: StartedDesk | null = null;
const lines: string[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qbtd-bootstrap-'));
  lines.length = 0;
});
afterEach(async () => {
  await started?.close();
  started = null;
  await rm(dir, { recursive: true, force: true });
});

describe('startDesk', () => {
  it('demo mode starts the emulator in-process, marks the status demo, and works end to end', async () => {
    started = await startDesk({
      env: { QB_DEMO: '1', QB_DATA_DIR: dir },
      cwd: dir,
      log: (line) => lines.push(line),
    });
    const { desk, emulator } = started;
    expect(emulator).not.toBeNull();
    await started.manager.whenIdle();
    const token = await desk.getAccessToken();
    const status = desk.getStatus();
    expect(status.demo).toBe(true);
    expect(status.state).toBe('valid');
    expect(status.autoRefresh.skewSeconds).toBe(30);
    expect(Date.parse(status.accessToken?.expiresAt ?? '') - Date.now()).toBeLessThanOrEqual(120_000);
    const info = await desk.testConnection();
    expect(info.realmId).toBe(emulator?.realmId);
    expect(info.companyName.length).toBeGreaterThan(0);
    const scan = new LeakScan().addSecrets(token).addSecretSource(() => started?.secrets.values() ?? []);
    if (emulator) scan.addEmulator(emulator);
    scan.collect('status', desk.getStatus()).collect('info', info);
    for (const line of lines) scan.collect('log', line);
    scan.assertClean();
  });

  it("demo mode registers QB_REDIRECT_URI with its emulator, so Connect's consent page accepts it", async () => {
    const redirectUri = 'http://127.0.0.1:8765/oauth/intuit';
    started = await startDesk({
      env: { QB_DEMO: '1', QB_DATA_DIR: dir, QB_REDIRECT_URI: redirectUri },
      cwd: dir,
      log: (line) => lines.push(line),
    });
    const { authorizeUrl } = started.connectFlow.begin(redirectUri);
    const page = await fetch(authorizeUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<button id="connect"');
  });

  it('a bad variable stops start-up with a ConfigError naming it', async () => {
    await expect(
      startDesk({ env: { QB_ENVIRONMENT: 'prod' }, cwd: dir, log: () => undefined }),
    ).rejects.toThrow(ConfigError);
  });

  it('keys but no refresh token are not an error: the status is not_configured', async () => {
    started = await startDesk({
      env: {
        QB_CLIENT_ID: 'id-without-a-token',
        QB_CLIENT_SECRET: 'secret-without-a-token',
        QB_DATA_DIR: dir,
      },
      cwd: dir,
      log: () => undefined,
    });
    const status = started.desk.getStatus();
    expect(status.state).toBe('not_configured');
    expect(status.demo).toBe(false);
    expect(status.canConnect).toBe(true);
  });
});

describe('startDesk with half the client keys', () => {
  it('a client id without QB_CLIENT_SECRET stops start-up naming both (it is not demo mode)', async () => {
    const attempt = startDesk({
      env: { QB_CLIENT_ID: 'id-only', QB_REFRESH_TOKEN: 'a-refresh-token-value-1234', QB_DATA_DIR: dir },
      cwd: dir,
      log: () => undefined,
    });
    await expect(attempt).rejects.toThrow(ConfigError);
    await expect(attempt).rejects.toThrow(/QB_CLIENT_ID is set but QB_CLIENT_SECRET is not/);
    await expect(attempt).rejects.not.toThrow(/a-refresh-token-value-1234/);
  });
});
