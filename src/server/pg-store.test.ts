// The CLI and the headless server with QB_STORE_URL, as users run them (real processes), against a
// real PostgreSQL server this file starts: the CLI's exit codes when QB_STORE_URL is wrong or its
// server is down, and two headless servers sharing one connection and its health.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { postgresForFile } from '../core/testing/postgres-for-file';
import { freeLoopbackPort } from '../core/testing/postgres-server';
import { startEmulator } from '../emulator';
import { emulatorEnv } from '../emulator/app-env';
import { HTTP_PATHS, type TokenStatus } from '../shared/contract';
import { cleanEnv, startServerProcess, type ServerProcess } from './process-support';
import { readStatusEvents } from './test-support';

const KEY = 'server store key, 16+ characters';
const BIN = fileURLToPath(new URL('../../bin/qb-token.js', import.meta.url));
const pg = postgresForFile();

/** The first status `server`'s event stream (SSE) shows that passes `accept`: its current one, or a later one. */
async function streamedStatus(
  server: ServerProcess,
  accept: (status: TokenStatus) => boolean,
  timeoutMs = 10_000,
): Promise<TokenStatus> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const response = await fetch(server.baseUrl + HTTP_PATHS.events, {
      headers: { authorization: `Bearer ${server.adminToken}` },
      signal: abort.signal,
    });
    for await (const status of readStatusEvents(response)) {
      if (accept(status as TokenStatus)) return status as TokenStatus;
    }
    throw new Error('the event stream ended');
  } catch (err) {
    if (abort.signal.aborted) {
      throw new Error(`the event stream showed no such status in ${timeoutMs} ms`, { cause: err });
    }
    throw err;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

describe('the CLI and the headless server with QB_STORE_URL', () => {
  function qbToken(
    args: string[],
    env: NodeJS.ProcessEnv,
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], { env, cwd: '/tmp' });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('exits 2 for a malformed QB_STORE_URL and 4 for a server that does not answer, the password masked', async () => {
    const emulator = await startEmulator();
    try {
      const base = { ...cleanEnv(), ...emulatorEnv(emulator, '/nonexistent-qbtd') };
      const malformed = await qbToken(['status'], {
        ...base,
        QB_STORE_URL: 'postgres://qbtd:pw-malformed-9@127.0.0.1:5432',
      });
      expect(malformed.code).toBe(2);
      expect(malformed.stderr).toMatch(/QB_STORE_URL must name one database/);
      expect(malformed.stderr).not.toContain('pw-malformed-9');
      const port = await freeLoopbackPort();
      const down = await qbToken(['status'], {
        ...base,
        QB_STORE_URL: `postgres://qbtd:pw-down-9@127.0.0.1:${port}/qb`,
      });
      expect(down.code).toBe(4);
      expect(down.stderr).toMatch(
        new RegExp(
          `PostgreSQL at postgres://qbtd:\\*\\*\\*@127.0.0.1:${port}/qb \\(QB_STORE_URL\\) cannot be reached`,
        ),
      );
      expect(down.stderr).not.toContain('pw-down-9');
    } finally {
      await emulator.close();
    }
  }, 60_000);

  it('two headless servers on one database share the chain and its health (invalid_grant too); qb-token status agrees', async () => {
    const emulator = await startEmulator({ rotateAfterSeconds: 0 });
    const servers: ServerProcess[] = [];
    try {
      const url = await pg().createDatabase();
      const env = { ...emulatorEnv(emulator), QB_STORE_URL: url, QB_STORE_KEY: KEY };
      servers.push(await startServerProcess(env), await startServerProcess(env));
      const [a, b] = servers as [ServerProcess, ServerProcess];
      const refreshed = await a.api<TokenStatus>(HTTP_PATHS.refreshToken, { method: 'POST' });
      expect(refreshed.body.ok).toBe(true);
      const at = refreshed.body.ok ? refreshed.body.value.lastRefresh?.at : null;
      const seen = await streamedStatus(b, (status) => status.lastRefresh?.at === at);
      expect(seen.store?.kind).toBe('postgres');
      const status = await qbToken(['status', '--json'], {
        ...cleanEnv(),
        ...env,
        QB_DATA_DIR: '/nonexistent-qbtd',
      });
      expect(status.code).toBe(0);
      expect((JSON.parse(status.stdout) as TokenStatus).lastRefresh?.at).toBe(at);

      // Intuit refuses the chain on A: B says so, and so does a qb-token run afterwards (exit 3).
      emulator.control.injectTokenFault({ kind: 'invalid_grant' });
      const refused = await a.api<TokenStatus>(HTTP_PATHS.refreshToken, { method: 'POST' });
      expect(refused.body.ok).toBe(false);
      await streamedStatus(b, (status) => status.state === 'reauthorization_required');
      const after = await qbToken(['status'], { ...cleanEnv(), ...env, QB_DATA_DIR: '/nonexistent-qbtd' });
      expect(after.code).toBe(3);
    } finally {
      for (const s of servers) await s.stop();
      await emulator.close();
    }
  }, 90_000);

  it('npm run serve with PostgreSQL down at start: says so (QB_STORE_URL, password masked), then carries on by itself once it is up', async () => {
    const emulator = await startEmulator();
    let headless: ServerProcess | null = null;
    try {
      const url = await pg().createDatabase();
      await pg().stop();
      headless = await startServerProcess({ ...emulatorEnv(emulator), QB_STORE_URL: url, QB_STORE_KEY: KEY });
      const down = await headless.api<TokenStatus>(HTTP_PATHS.refreshToken);
      expect(down.body.ok && down.body.value.store?.reachable).toBe(false);
      const text = JSON.stringify(down.body) + headless.process.stderr();
      expect(text).toMatch(
        /PostgreSQL at postgres:\/\/qbtd:\*\*\*@127\.0\.0\.1:\d+\/\w+ \(QB_STORE_URL\) cannot be reached/,
      );
      expect(text).not.toContain(pg().password);
      await pg().restart();
      await streamedStatus(headless, (status) => status.store?.reachable === true, 30_000);
      const refreshed = await headless.api<TokenStatus>(HTTP_PATHS.refreshToken, { method: 'POST' });
      expect(refreshed.body.ok).toBe(true);
    } finally {
      if (!pg().running) await pg().restart();
      await headless?.stop();
      await emulator.close();
    }
  }, 90_000);
});
