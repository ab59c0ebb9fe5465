// `qb-token` over PostgreSQL (QB_STORE_URL) when the server goes away during the token call, as real
// processes against a real PostgreSQL server and the Intuit emulator: Intuit has rotated the chain,
// the store cannot take it, and the process is about to exit. The chain must outlive it (a rescue
// file under HOME), the message must say so truthfully, and the next run must go on from it.
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgConnectionStore } from '../core/pg/pg-connection-store';
import { LeakScan } from '../core/testing/leak-scan';
import { postgresForFile } from '../core/testing/postgres-for-file';
import { emulatorEnv } from '../emulator/app-env';
import { startEmulator } from '../emulator/index';
import type { EmulatorHandle } from '../emulator/types';
import { diagnosticsOf, runQbToken, type CliRun } from './testing/cli-process';

const KEY = 'cli rescue key, 16+ characters';
const pg = postgresForFile();
let emulator: EmulatorHandle;
let workDir: string;
const scan = new LeakScan();

beforeAll(async () => {
  // Intuit retires the old refresh token the moment it issues the new one.
  emulator = await startEmulator({ rotateAfterSeconds: 0, oldRefreshTokenPolicy: 'immediate' });
  workDir = await mkdtemp(join(tmpdir(), 'qbtd-cli-pg-rescue-'));
});

afterAll(async () => {
  scan.addEmulator(emulator);
  scan.assertClean();
  await emulator.close();
  await rm(workDir, { recursive: true, force: true });
});

async function qbToken(args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const run = await runQbToken(args, { env, cwd: env.HOME ?? workDir });
  for (const text of diagnosticsOf(args, run)) scan.collect(`qb-token ${args.join(' ')}`, text);
  return run;
}

/** The chain PostgreSQL holds for the default connection (read with the store, as the CLI would). */
async function storedChain(url: string) {
  const store = new PgConnectionStore({ url, storeKey: KEY, rescueDirs: [] });
  try {
    return (await store.load('default')).record?.tokens ?? null;
  } finally {
    await store.close();
  }
}

describe('qb-token over PostgreSQL, the server stopped during the token call', () => {
  it('refresh says where the rotated chain went (no token value); after the restart, token works without reconnecting', async () => {
    const url = await pg().createDatabase();
    const home = join(workDir, 'home');
    await mkdir(home, { mode: 0o700 });
    const env = {
      PATH: process.env.PATH,
      HOME: home,
      ...emulatorEnv(emulator, join(home, 'data')),
      QB_STORE_URL: url,
      QB_STORE_KEY: KEY,
    };
    expect((await qbToken(['token'], env)).code).toBe(0);
    const old = (await storedChain(url))?.refreshToken ?? '';
    expect(emulator.control.isRefreshTokenValid(old)).toBe(true);

    emulator.control.injectTokenFault({ kind: 'delay_after_processing', ms: 500 });
    const refreshCalls = () => emulator.control.counters().tokenCalls.refresh_token;
    const callsBefore = refreshCalls();
    const refreshing = qbToken(['refresh'], env);
    // Intuit has rotated the chain and holds its answer: PostgreSQL goes away meanwhile, for good.
    while (refreshCalls() === callsBefore) await new Promise((resolve) => setTimeout(resolve, 5));
    await pg().stop();
    const run = await refreshing;
    expect(run.code, run.stderr).toBe(4);
    expect(run.stdout).toBe('');
    const rescueDir = join(home, '.qb-token-desk', 'rescue');
    expect(run.stderr).toContain(`The new tokens were saved to ${rescueDir}/`);
    expect(run.stderr).toMatch(/puts them back in PostgreSQL \(127\.0\.0\.1:\d+\/\w+\) once it answers/);
    expect(run.stderr).toMatch(/the refresh token is kept, so running it again later can succeed/);
    expect(run.stderr).not.toMatch(/ends with this process/);
    expect(readdirSync(rescueDir)).toHaveLength(1);
    // Intuit rotated: the row's refresh token is dead; only the rescue file carries the chain.
    expect(emulator.control.isRefreshTokenValid(old)).toBe(false);

    await pg().restart();
    const next = await qbToken(['token'], env);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).not.toMatch(/invalid_grant|reconnect/i);
    const chain = await storedChain(url);
    expect(next.stdout.trim()).toBe(chain?.accessToken);
    expect(emulator.control.isRefreshTokenValid(chain?.refreshToken ?? '')).toBe(true);
    expect(existsSync(rescueDir) ? readdirSync(rescueDir) : []).toEqual([]);
  }, 120_000);
});
