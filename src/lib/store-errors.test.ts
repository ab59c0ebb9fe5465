// A store the library cannot use because of its configuration (a wrong or missing QB_STORE_KEY, an
// unsafe QB_DATA_DIR) reaches the app as the library's ConfigError naming the variable, with the
// store's own sentence and error as `cause`; the record is left exactly as it was and nothing is
// refreshed. Real file store, real emulator; the PostgreSQL case is in postgres.test.ts.
import { chmod, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { StoreConfigError, StoreKeyError } from '../core/errors';
import { emulatorEnv } from '../emulator/app-env';
import { HTTP_PATHS, type Result, type TokenStatus } from '../shared/contract';
import { ConfigError, type QuickBooks } from './index';
import { createRouteHandlers } from './next';
import { createQuickBooksWith, type InternalOptions } from './quickbooks';
import { libraryTestBed } from './testing/test-bed';

const FAST: InternalOptions = {
  manager: { retry: { maxAttempts: 1, baseDelayMs: 5, maxDelayMs: 20, cooldownMs: 50 }, random: () => 0.5 },
};
const KEY = 'the key the chain was sealed with';

const bed = libraryTestBed({ prefix: 'qb-lib-store-errors' });
const { rejection, tokenCalls } = bed;

/** A library handle on the emulator and this test's store with `env` over the emulator's settings. */
function open(env: Record<string, string | undefined>): QuickBooks {
  return bed.track(
    createQuickBooksWith(
      {
        env: { ...emulatorEnv(bed.emulator, bed.dataDir), ...env },
        cwd: bed.dataDir,
        clientName: 'billing-app',
        log: (line) => bed.scan.collect('log line', line),
      },
      FAST,
    ),
  );
}

/** Every file under the store's directory and its bytes. */
async function storeFiles(): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const entry of await readdir(bed.dataDir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files[path] = (await readFile(path)).toString('base64');
  }
  return files;
}

it('a chain sealed with another QB_STORE_KEY, or with none set, is a ConfigError naming QB_STORE_KEY; the record is untouched and the right key carries on', async () => {
  const sealing = open({ QB_STORE_KEY: KEY });
  const sealed = await sealing.refresh();
  await sealing.close();
  const before = await storeFiles();
  const calls = tokenCalls();

  const wrongKey = await rejection(
    open({ QB_STORE_KEY: 'another key, also 16+ characters' }).getAccessToken(),
  );
  expect(wrongKey).toBeInstanceOf(ConfigError);
  expect(wrongKey).toMatchObject({ name: 'ConfigError', variable: 'QB_STORE_KEY' });
  expect(wrongKey.message).toMatch(/could not be decrypted with this QB_STORE_KEY/);
  expect(wrongKey.cause).toBeInstanceOf(StoreKeyError);

  const noKey = await rejection(open({ QB_STORE_KEY: undefined }).ready());
  expect(noKey).toMatchObject({ name: 'ConfigError', variable: 'QB_STORE_KEY' });
  expect(noKey.message).toMatch(/encrypted and QB_STORE_KEY is not set/);

  // The app's route answers the store's sentence as the desk's server would, not "not configured".
  const handlers = createRouteHandlers({
    quickbooks: open({ QB_STORE_KEY: 'another key, also 16+ characters' }),
    authorize: () => true,
  });
  const response = await handlers.GET(
    new Request(`http://localhost:3000${HTTP_PATHS.refreshToken}`, { method: 'GET' }),
  );
  const text = await response.text();
  bed.scan.collect('GET body', text);
  expect(response.status).toBe(500);
  const body = JSON.parse(text) as Result<TokenStatus>;
  expect(body.ok).toBe(false);
  if (!body.ok) expect(body.error.message).toMatch(/QB_STORE_KEY/);

  // Nothing was refreshed, rewritten or moved aside; with the right key the same chain carries on.
  expect(tokenCalls()).toBe(calls);
  expect(await storeFiles()).toEqual(before);
  const right = await open({ QB_STORE_KEY: KEY }).ready();
  expect(right.refreshToken?.preview).toBe(sealed.refreshToken?.preview);
  expect(right.accessToken?.preview).toBe(sealed.accessToken?.preview);
  expect(tokenCalls()).toBe(calls);
});

it('a QB_DATA_DIR others can write to is a ConfigError naming QB_DATA_DIR, with the store’s reason', async () => {
  await chmod(bed.dataDir, 0o777);
  const quickbooks = open({});
  const error = await rejection(quickbooks.getAccessToken());
  expect(error).toMatchObject({ name: 'ConfigError', variable: 'QB_DATA_DIR' });
  expect(error.message).toMatch(/QB_DATA_DIR \(.+\) can be written by every user/);
  expect(error.cause).toBeInstanceOf(StoreConfigError);
  expect(await rejection(quickbooks.listConnections())).toMatchObject({
    name: 'ConfigError',
    variable: 'QB_DATA_DIR',
  });
  expect(tokenCalls()).toBe(0);

  // Fixed, the same handle starts: a configuration error is not remembered.
  await chmod(bed.dataDir, 0o700);
  await expect(quickbooks.getAccessToken()).resolves.toMatch(/\S{20,}/);
});
