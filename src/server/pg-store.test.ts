// The CLI and the headless server with QB_STORE_URL, as users run them (real processes), against a
// real PostgreSQL server this file starts: the CLI's exit codes when QB_STORE_URL is wrong or its
// server is down, and two headless servers sharing one connection and its health.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeLoopbackPort, PostgresServer } from '../core/testing/postgres-server';
import { startEmulator } from '../emulator';
import { emulatorEnv } from '../emulator/app-env';
import { HTTP_PATHS, type TokenStatus } from '../shared/contract';
import { cleanEnv, startServerProcess, type ServerProcess } from './process-support';

const KEY = 'server store key, 16+ characters';
const BIN = fileURLToPath(new URL('../../bin/qb-token.js', import.meta.url));
let server: PostgresServer;

beforeAll(async () => {
  server = await PostgresServer.start();
}, 60_000);
afterAll(async () => {
  await server?.close();
});

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
      const url = await server.createDatabase();
      const env = { ...emulatorEnv(emulator), QB_STORE_URL: url, QB_STORE_KEY: KEY };
      servers.push(await startServerProcess(env), await startServerProcess(env));
      const [a, b] = servers as [ServerProcess, ServerProcess];
      const refreshed = await a.api<TokenStatus>(HTTP_PATHS.refreshToken, { method: 'POST' });
      expect(refreshed.body.ok).toBe(true);
      const at = refreshed.body.ok ? refreshed.body.value.lastRefresh?.at : null;
      let seen = null as TokenStatus | null;
      for (let i = 0; i < 100 && seen?.lastRefresh?.at !== at; i += 1) {
        const { body } = await b.api<TokenStatus>(HTTP_PATHS.refreshToken);
        seen = body.ok ? body.value : null;
        if (seen?.lastRefresh?.at !== at) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(seen?.lastRefresh?.at).toBe(at);
      expect(seen?.store?.kind).toBe('postgres');
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
      for (let i = 0; i < 100 && seen?.state !== 'reauthorization_required'; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        const { body } = await b.api<TokenStatus>(HTTP_PATHS.refreshToken);
        seen = body.ok ? body.value : null;
      }
      expect(seen?.state).toBe('reauthorization_required');
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
      const url = await server.createDatabase();
      await server.stop();
      headless = await startServerProcess({ ...emulatorEnv(emulator), QB_STORE_URL: url, QB_STORE_KEY: KEY });
      const down = await headless.api<TokenStatus>(HTTP_PATHS.refreshToken);
      expect(down.body.ok && down.body.value.store?.reachable).toBe(false);
      const text = JSON.stringify(down.body) + headless.process.stderr();
      expect(text).toMatch(
        /PostgreSQL at postgres:\/\/qbtd:\*\*\*@127\.0\.0\.1:\d+\/\w+ \(QB_STORE_URL\) cannot be reached/,
      );
      expect(text).not.toContain(server.password);
      await server.restart();
      let back = null as TokenStatus | null;
      for (let i = 0; i < 300 && back?.store?.reachable !== true; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const { body } = await headless.api<TokenStatus>(HTTP_PATHS.refreshToken);
        back = body.ok ? body.value : null;
      }
      expect(back?.store?.reachable).toBe(true);
      const refreshed = await headless.api<TokenStatus>(HTTP_PATHS.refreshToken, { method: 'POST' });
      expect(refreshed.body.ok).toBe(true);
    } finally {
      if (!server.running) await server.restart();
      await headless?.stop();
      await emulator.close();
    }
  }, 90_000);
});
