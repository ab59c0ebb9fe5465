// Store failures as the headless server's API answers them, over real HTTP against the real engine:
// a PostgreSQL server that stops, a file store holding a chain sealed with another QB_STORE_KEY, and
// a lock another holder keeps. Each answers its own code, an honest status (503 with Retry-After when
// trying again helps, 500 when the configuration must change) and the store's own sentence, which
// names what to do: never a token value, never QB_STORE_URL's password.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONNECTIONS_DIR_NAME, FileConnectionStore } from '../core/file-connection-store';
import { holdLock } from '../core/testing/held-lock';
import { LeakScan } from '../core/testing/leak-scan';
import { postgresForFile } from '../core/testing/postgres-for-file';
import { connectionPath } from '../shared/connections';
import { HTTP_PATHS, type Result, type TokenStatus } from '../shared/contract';
import { startStack, type Stack } from './test-support';

const KEY = 'store errors test key, 16+ characters';
const OTHER_KEY = 'another store key, also 16+ characters';
const pg = postgresForFile();

/** POSTs a refresh on both paths (the seed's and the connection's) and returns each answer. */
async function refreshBothWays(stack: Stack, scan: LeakScan) {
  const answers: Array<{
    status: number;
    retryAfter: string | null;
    body: Result<TokenStatus>;
    text: string;
  }> = [];
  for (const path of [HTTP_PATHS.refreshToken, connectionPath('default', 'refreshToken')]) {
    const response = await stack.call(path, { method: 'POST' });
    const text = await response.text();
    scan.collect(`POST ${path}`, text);
    answers.push({
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      body: JSON.parse(text) as Result<TokenStatus>,
      text,
    });
  }
  return answers;
}

/** A loopback port that was free a moment ago: nothing listens on it, so a connection is refused. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

type Answer = Awaited<ReturnType<typeof refreshBothWays>>[number];

/** 503 store_unavailable with Retry-After, naming QB_STORE_URL with its password masked. */
function expectUnavailable(answer: Answer, password: string): void {
  expect(answer.status).toBe(503);
  expect(answer.retryAfter).toBe('5');
  expect(answer.body).toMatchObject({
    ok: false,
    error: {
      code: 'store_unavailable',
      message: expect.stringMatching(
        /^PostgreSQL at postgres:\/\/[^:]+:\*\*\*@127\.0\.0\.1:\d+\/\w+ \(QB_STORE_URL\) cannot be reached/,
      ),
    },
  });
  expect(answer.text).not.toContain(password);
}

describe('store failures over HTTP', () => {
  it('QB_STORE_URL naming a closed loopback port from the start: 503 store_unavailable with Retry-After', async () => {
    const password = 'closed-port-db-password';
    const url = `postgres://qbtd:${password}@127.0.0.1:${await closedPort()}/qbtd`;
    // No start-up refresh can finish (nothing to read the chain from): do not wait for one.
    const stack = await startStack({ env: { QB_STORE_URL: url, QB_STORE_KEY: KEY }, settle: false });
    const scan = new LeakScan().addEmulator(stack.emulator).addSecrets(password);
    try {
      for (const answer of await refreshBothWays(stack, scan)) expectUnavailable(answer, password);
      scan.collect('log', stack.logLines);
      scan.assertClean();
    } finally {
      await stack.close();
    }
  });

  it('a PostgreSQL store that stopped: 503 store_unavailable with Retry-After, its password masked', async () => {
    const url = await pg().createDatabase();
    const password = decodeURIComponent(new URL(url).password);
    expect(password.length).toBeGreaterThan(3);
    const stack = await startStack({ env: { QB_STORE_URL: url, QB_STORE_KEY: KEY } });
    const scan = new LeakScan().addEmulator(stack.emulator).addSecrets(password);
    try {
      expect(stack.desk.getStatus().store).toMatchObject({ kind: 'postgres', reachable: true });
      await pg().stop();
      for (const answer of await refreshBothWays(stack, scan)) expectUnavailable(answer, password);
      // The status says the same, and the access token still valid is still served.
      const status = await stack.json<TokenStatus>(HTTP_PATHS.refreshToken);
      scan.collect('GET status', status.text);
      expect(status.body.ok && status.body.value.store?.reachable).toBe(false);
      expect(status.text).not.toContain(password);
      scan.collect('log', stack.logLines);
      scan.assertClean();
    } finally {
      await stack.close();
    }
  }, 60_000);

  it('a chain sealed with another QB_STORE_KEY: 500 store_misconfigured naming QB_STORE_KEY; the record stays as it is', async () => {
    const stack = await startStack({ env: { QB_STORE_KEY: KEY } });
    const scan = new LeakScan().addEmulator(stack.emulator);
    try {
      // The record is replaced by one sealed with another key (a backup restored from another setup),
      // written by a real file store under that key.
      const current = (
        await new FileConnectionStore({ dataDir: stack.dataDir, storeKey: KEY }).load('default')
      ).record;
      if (!current?.tokens) throw new Error('the start-up refresh left no chain in the store');
      const other = new FileConnectionStore({ dataDir: stack.dataDir, storeKey: OTHER_KEY });
      await other.withLock('default', () => other.save({ ...current, revision: current.revision + 1 }));
      const file = join(stack.dataDir, CONNECTIONS_DIR_NAME, 'default.json');
      const written = readFileSync(file, 'utf8');

      for (const answer of await refreshBothWays(stack, scan)) {
        expect(answer.status).toBe(500);
        expect(answer.retryAfter).toBeNull();
        expect(answer.body).toMatchObject({
          ok: false,
          error: {
            code: 'store_misconfigured',
            message: expect.stringMatching(
              /could not be decrypted with this QB_STORE_KEY.*Set QB_STORE_KEY to the key they were written with/,
            ),
          },
        });
      }
      // Not moved aside, not rewritten: the right key still opens it.
      expect(readFileSync(file, 'utf8')).toBe(written);
      const reopened = await new FileConnectionStore({ dataDir: stack.dataDir, storeKey: OTHER_KEY }).load(
        'default',
      );
      expect(reopened.record?.tokens).toEqual(current.tokens);
      scan.collect('log', stack.logLines);
      scan.assertClean();
    } finally {
      await stack.close();
    }
  });

  it('a lock another holder keeps past the wait: 503 store_busy with Retry-After, naming the holder', async () => {
    const stack = await startStack({ manager: { lockWaitMs: 300 } });
    const scan = new LeakScan().addEmulator(stack.emulator);
    try {
      const holder = new FileConnectionStore({ dataDir: stack.dataDir, storeKey: null });
      const held = await holdLock(holder, 'default');
      for (const answer of await refreshBothWays(stack, scan)) {
        expect(answer.status).toBe(503);
        expect(answer.retryAfter).toBe('5');
        expect(answer.body).toMatchObject({
          ok: false,
          error: {
            code: 'store_busy',
            message: expect.stringMatching(
              new RegExp(`^process ${process.pid} on \\S+ holds the refresh lock on .*; waited 0\\.3 s`),
            ),
          },
        });
      }
      await held.release();
      // Once the holder is done, the same request goes through.
      const retried = await stack.json<TokenStatus>(HTTP_PATHS.refreshToken, { method: 'POST' });
      scan.collect('POST retried', retried.text);
      expect(retried.status).toBe(200);
      expect(retried.body.ok && retried.body.value.lastRefresh?.ok).toBe(true);
      scan.collect('log', stack.logLines);
      scan.assertClean();
    } finally {
      await stack.close();
    }
  });
});
