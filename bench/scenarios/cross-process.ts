// Scenario 4, cross-process: N `qb-token token` processes start at once over one store whose access
// token has just expired. They share the store's refresh lock; the first refreshes, the others find
// its result in the store when they get the lock. Figure: token-endpoint calls (and every process
// must print the same, valid access token).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultProfile, newConnectionRecord } from '../../src/core/connection-record';
import { FileConnectionStore } from '../../src/core/file-connection-store';
import { fingerprintToken } from '../../src/core/token-store';
import { startEmulator } from '../../src/emulator';
import type { EmulatorHandle } from '../../src/emulator/types';
import { msSince, round } from '../stats';
import { emulatorEnv } from '../../src/emulator/app-env';

const CLI = fileURLToPath(new URL('../../bin/qb-token.js', import.meta.url));

export interface CrossProcessResult {
  scenario: 'cross-process';
  processes: number;
  tokenCalls: number;
  succeeded: number;
  distinctTokensPrinted: number;
  /** The last diagnostic line of each process that failed (no token values: the CLI redacts). */
  failures: string[];
  /** Processes that reported taking over a refresh lock they judged stale (its holder too slow). */
  lockTakeovers: number;
  /** Processes that used another process's refresh instead of calling the token endpoint. */
  adoptedOtherProcessResult: number;
  wallMs: number;
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(env: NodeJS.ProcessEnv, cwd: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'token', '--verbose'], {
      env,
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function cliEnv(emulator: EmulatorHandle, dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('QB_')) env[key] = value;
  return { ...env, ...emulatorEnv(emulator, dataDir) };
}

export async function runCrossProcess(processes = 20): Promise<CrossProcessResult> {
  const emulator = await startEmulator();
  const dataDir = await mkdtemp(join(tmpdir(), 'qbtd-bench-xproc-'));
  try {
    // The store as a previous run left it: a refresh token, and an access token that just expired.
    const issued = emulator.control.issueAuthorization(emulator.realmId);
    const now = Date.now();
    const store = new FileConnectionStore({ dataDir, storeKey: null });
    await store.open();
    const record = newConnectionRecord('default', defaultProfile('sandbox', emulator.realmId), {
      version: 1,
      refreshToken: issued.refreshToken,
      refreshTokenIssuedAt: now - 3_600_000,
      lastRotatedAt: null,
      refreshTokenExpiresAt: now + 100 * 86_400_000,
      refreshTokenHardExpiresAt: null,
      accessToken: issued.accessToken,
      accessTokenExpiresAt: now - 1000,
      refreshedAt: now - 3_601_000,
      realmId: emulator.realmId,
      origin: { envRefreshTokenSha256: fingerprintToken(emulator.refreshToken) },
    });
    await store.save({ ...record, revision: 1 });
    await store.close();
    emulator.control.resetCounters();
    const env = cliEnv(emulator, dataDir);
    const start = process.hrtime.bigint();
    const runs = await Promise.all(Array.from({ length: processes }, () => runCli(env, dataDir)));
    const wallMs = msSince(start);
    const tokens = runs.filter((run) => run.code === 0).map((run) => run.stdout.trim());
    return {
      scenario: 'cross-process',
      processes,
      tokenCalls: emulator.control.counters().tokenCalls.refresh_token,
      succeeded: tokens.length,
      distinctTokensPrinted: new Set(tokens).size,
      failures: runs
        .filter((run) => run.code !== 0)
        .map((run) => `exit ${run.code}: ${run.stderr.trim().split('\n').pop() ?? ''}`),
      lockTakeovers: runs.filter((run) => /lock was compromised/i.test(run.stderr)).length,
      adoptedOtherProcessResult: runs.filter((run) => /Another process refreshed/i.test(run.stderr)).length,
      wallMs: round(wallMs, 0),
    };
  } finally {
    await emulator.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
