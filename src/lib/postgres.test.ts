// QB_STORE_URL reaches the library through the desk's own store selection: an app and a desk
// process on one PostgreSQL database share the chain and its history, with no file store involved;
// a QB_STORE_URL the server refuses is the library's ConfigError naming it.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { postgresForFile } from '../core/testing/postgres-for-file';
import { startEmulator } from '../emulator';
import { emulatorEnv } from '../emulator/app-env';
import type { EmulatorHandle } from '../emulator/types';
import { startServerProcess } from '../server/process-support';
import type { TokenStatus } from '../shared/contract';
import { StoreConfigError } from '../core/errors';
import { ConfigError, createQuickBooks } from './index';

const KEY = 'library store key, 16+ characters';
const pg = postgresForFile();
let emulator: EmulatorHandle;

beforeAll(async () => {
  emulator = await startEmulator();
});

afterAll(async () => {
  await emulator?.close();
});

it('with QB_STORE_URL the app and a headless server share one PostgreSQL record: one token call, the app named in the server’s history', async () => {
  const url = await pg().createDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'qb-lib-pg-'));
  const env = { ...emulatorEnv(emulator, dataDir), QB_STORE_URL: url, QB_STORE_KEY: KEY };
  const server = await startServerProcess({ ...env, QB_PORT: '0' });
  const quickbooks = createQuickBooks({ env, cwd: dataDir, clientName: 'pg-app' });
  try {
    const serverStatus = async () => {
      const { body } = await server.api<TokenStatus>('/api/integrations/quickbooks/refresh-token');
      if (!body.ok) throw new Error(body.error.message);
      return body.value;
    };
    await expect.poll(async () => (await serverStatus()).state, { timeout: 15_000 }).toBe('valid');
    const calls = emulator.control.counters().tokenCalls.refresh_token;

    const ready = await quickbooks.ready();
    expect(ready.store).toMatchObject({ kind: 'postgres', encrypted: true, reachable: true });
    expect(ready.accessToken?.preview).toBe((await serverStatus()).accessToken?.preview);
    await quickbooks.getAccessToken();
    expect(emulator.control.counters().tokenCalls.refresh_token).toBe(calls);

    const forced = await quickbooks.refresh();
    expect(emulator.control.counters().tokenCalls.refresh_token).toBe(calls + 1);
    await expect
      .poll(async () => (await serverStatus()).history.find((event) => event.type === 'refreshed')?.client, {
        timeout: 15_000,
      })
      .toBe('pg-app');
    expect((await serverStatus()).accessToken?.preview).toBe(forced.accessToken?.preview);
    // Nothing went to a file store: the record lives only in PostgreSQL.
    expect((await readdir(dataDir)).filter((name) => name === 'connections')).toEqual([]);
  } finally {
    await quickbooks.close();
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

it('a QB_STORE_URL naming a database the server does not have is a ConfigError naming QB_STORE_URL, with the server’s reason', async () => {
  const url = new URL(await pg().createDatabase());
  url.pathname = '/qbtd_no_such_database';
  const dataDir = await mkdtemp(join(tmpdir(), 'qb-lib-pg-'));
  const quickbooks = createQuickBooks({
    env: { ...emulatorEnv(emulator, dataDir), QB_STORE_URL: url.href, QB_STORE_KEY: KEY },
    cwd: dataDir,
    clientName: 'pg-app',
  });
  try {
    const calls = emulator.control.counters().tokenCalls.refresh_token;
    const error = await quickbooks.ready().then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ variable: 'QB_STORE_URL' });
    expect((error as Error).message).toMatch(/the database "qbtd_no_such_database" does not exist/);
    expect((error as Error).cause).toBeInstanceOf(StoreConfigError);
    // The URL's password is masked in the sentence.
    expect(url.password).not.toBe('');
    expect((error as Error).message).not.toContain(decodeURIComponent(url.password));
    expect(emulator.control.counters().tokenCalls.refresh_token).toBe(calls);
  } finally {
    await quickbooks.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
