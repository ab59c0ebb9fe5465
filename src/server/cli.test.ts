// `npm run serve` as a real child process: the start-up line, demo mode, and shutdown in the
// middle of a refresh. The emulator runs in this process so the test can inspect its state.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultRecordPath, readStoredRecord } from '../core/testing/stored-chain';
import { startEmulator } from '../emulator';
import type { EmulatorHandle } from '../emulator/types';
import { emulatorEnv } from '../emulator/app-env';
import { HTTP_PATHS, type ConnectionTestResult, type TokenStatus } from '../shared/contract';
import { previewToken } from '../shared/preview';
import { readStatusEvents } from './test-support';
import { cleanEnv, REPO_ROOT, serverEnvFor, startServerProcess, type ServerProcess } from './process-support';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function emulator(): Promise<EmulatorHandle> {
  const emu = await startEmulator({ rotateAfterSeconds: 0 });
  cleanups.push(() => emu.close());
  return emu;
}

async function server(env: Record<string, string>): Promise<ServerProcess> {
  const proc = await startServerProcess(env);
  cleanups.push(() => proc.stop({ signal: 'SIGKILL' }));
  return proc;
}

describe('npm run serve', () => {
  it('--json prints one line {url, port, adminToken}; the four endpoints answer with the Bearer secret', async () => {
    const emu = await emulator();
    const proc = await server(serverEnvFor(emu));
    expect(Object.keys(proc.process.line).sort()).toEqual(['adminToken', 'port', 'url']);
    expect(proc.port).toBeGreaterThan(0);
    expect(proc.url.startsWith(`http://127.0.0.1:${proc.port}/?`)).toBe(true);
    expect(proc.url).toContain(encodeURIComponent(proc.adminToken));
    expect(proc.process.stdout().trim().split('\n')).toHaveLength(1);

    const status = await proc.api<TokenStatus>(HTTP_PATHS.refreshToken);
    expect(status).toMatchObject({ status: 200, body: { ok: true } });
    const refreshed = await proc.api<TokenStatus>(HTTP_PATHS.refreshToken, { method: 'POST' });
    expect(refreshed).toMatchObject({
      status: 200,
      body: { ok: true, value: { lastRefresh: { ok: true } } },
    });
    const company = await proc.api<ConnectionTestResult>(HTTP_PATHS.companyInfo);
    expect(company).toMatchObject({ status: 200, body: { ok: true, value: { realmId: emu.realmId } } });
    const cleared = await proc.api<TokenStatus>(HTTP_PATHS.refreshToken, { method: 'DELETE' });
    expect(cleared).toMatchObject({ status: 200, body: { ok: true, value: { accessToken: null } } });

    const unauthorized = await fetch(proc.baseUrl + HTTP_PATHS.refreshToken);
    expect(unauthorized.status).toBe(401);
    // The admin secret appears in the start-up line only, never in the log.
    expect(proc.process.stderr()).not.toContain(proc.adminToken);
    expect(proc.process.stderr()).not.toContain(emu.clientSecret);
  });

  it('QB_ADMIN_TOKEN sets the secret', async () => {
    const emu = await emulator();
    const adminToken = 'a-fixed-admin-secret-for-tests-0123456789';
    const proc = await server({ ...serverEnvFor(emu), QB_ADMIN_TOKEN: adminToken });
    expect(proc.adminToken).toBe(adminToken);
    const wrong = await fetch(proc.baseUrl + HTTP_PATHS.refreshToken, {
      headers: { authorization: `Bearer ${adminToken}x` },
    });
    expect(wrong.status).toBe(401);
  });

  it('names the port and QB_PORT when the port is taken, and rejects unknown arguments', async () => {
    const emu = await emulator();
    const first = await server(serverEnvFor(emu));
    const second = await spawnToExit(['--json'], { ...serverEnvFor(emu), QB_PORT: String(first.port) });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`127.0.0.1:${first.port}`);
    expect(second.stderr).toContain('QB_PORT');
    expect(second.stdout).toBe('');
    const bad = await spawnToExit(['--jsno'], serverEnvFor(emu));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--jsno');
  });

  it('demo mode (no QB_CLIENT_ID) starts its own emulator and says demo in the status', async () => {
    const proc = await server({});
    const status = await proc.api<TokenStatus>(HTTP_PATHS.refreshToken);
    expect(status).toMatchObject({ status: 200, body: { ok: true, value: { demo: true } } });
    const company = await proc.api<ConnectionTestResult>(HTTP_PATHS.companyInfo);
    expect(company).toMatchObject({ status: 200, body: { ok: true } });
  });

  it("a refresh qb-token makes on the server's data directory shows on the server's event stream", async () => {
    const emu = await emulator();
    const proc = await server(serverEnvFor(emu));
    await waitFor(async () => {
      const { body } = await proc.api<TokenStatus>(HTTP_PATHS.refreshToken);
      return body.ok && body.value.lastRefresh?.ok === true && body.value.state === 'valid';
    });
    const stream = await fetch(proc.baseUrl + HTTP_PATHS.events, {
      headers: { authorization: `Bearer ${proc.adminToken}` },
    });
    const calls = emu.control.counters().tokenCalls.refresh_token;
    const cli = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'qb-token.js'), 'refresh'], {
      env: cleanEnv(emulatorEnv(emu, proc.dataDir)),
      cwd: proc.dataDir,
      stdio: 'ignore',
    });
    const cliExit = new Promise<number | null>((resolve) => cli.on('exit', resolve));
    let pushed: TokenStatus | null = null;
    for await (const event of readStatusEvents(stream)) {
      const status = event as TokenStatus;
      if (status.lastRefresh?.client === 'qb-token') {
        pushed = status;
        break;
      }
    }
    expect(await cliExit).toBe(0);
    expect(pushed?.lastRefresh).toMatchObject({ ok: true, trigger: 'manual', client: 'qb-token' });
    expect(pushed?.history[0]).toMatchObject({ type: 'refreshed', client: 'qb-token' });
    // The CLI's rotated chain is the server's now: the same refresh token, one token call in all.
    const stored = await readStoredRecord(proc.dataDir);
    expect(pushed?.refreshToken?.preview).toBe(previewToken(stored.tokens?.refreshToken ?? ''));
    expect(emu.control.counters().tokenCalls.refresh_token).toBe(calls + 1);
  });

  it('SIGTERM during a refresh exits cleanly and leaves a readable store whose refresh token works', async () => {
    const emu = await emulator();
    const proc = await server(serverEnvFor(emu));
    // Let the start-up refresh settle, then make the next token call slow.
    await waitFor(async () => {
      const { body } = await proc.api<TokenStatus>(HTTP_PATHS.refreshToken);
      return body.ok && body.value.lastRefresh !== null && body.value.state !== 'refreshing';
    });
    const callsBefore = emu.control.counters().tokenCalls.refresh_token;
    emu.control.injectTokenFault({ kind: 'delay', ms: 1500 });
    const stream = await fetch(proc.baseUrl + HTTP_PATHS.events, {
      headers: { authorization: `Bearer ${proc.adminToken}` },
    });
    const streamEnded = stream.text().then(
      () => 'ended',
      () => 'ended',
    );
    const pending = proc
      .api<TokenStatus>(HTTP_PATHS.refreshToken, { method: 'POST' })
      .catch((err: unknown) => err);
    await waitFor(async () => emu.control.counters().tokenCalls.refresh_token > callsBefore);

    const exit = await proc.stop({ signal: 'SIGTERM', keepData: true });
    cleanups.push(() => rm(proc.dataDir, { recursive: true, force: true }));
    expect(exit).toEqual({ code: 0, signal: null });
    await pending;
    expect(await streamEnded).toBe('ended');

    const raw = await readFile(defaultRecordPath(proc.dataDir), 'utf8');
    expect(() => JSON.parse(raw)).not.toThrow();
    const { tokens, warnings } = await readStoredRecord(proc.dataDir);
    expect(warnings.filter((w) => /moved aside|could not be read/i.test(w))).toEqual([]);
    expect(tokens).not.toBeNull();
    expect(emu.control.isRefreshTokenValid(tokens?.refreshToken ?? '')).toBe(true);
  });
});

/** Runs the server CLI to completion (for start-up failures). */
async function spawnToExit(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'qbtd-cli-test-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/server/cli.ts'), ...args], {
    cwd: REPO_ROOT,
    env: cleanEnv({ ...env, QB_DATA_DIR: dataDir }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, stdout, stderr };
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
