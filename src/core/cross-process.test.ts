// One refresh at a time across processes: several real Node processes share one QB_DATA_DIR and
// wake up past expiry together. With rotation on every refresh, a second refresh with the same
// token would fail with invalid_grant; the lock and the re-read inside it make it one token call.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintToken } from './token-store';
import { EngineHarness } from './testing/engine-harness';

const run = promisify(execFile);
let bundleDir = '';
let worker = '';

// One bundle (esbuild, already here for tsx and vite) instead of a TypeScript loader per process.
beforeAll(async () => {
  bundleDir = await mkdtemp(join(tmpdir(), 'qbtd-worker-'));
  worker = join(bundleDir, 'refresh-worker.cjs');
  await build({
    entryPoints: [join(import.meta.dirname, 'testing', 'refresh-worker.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: worker,
    logLevel: 'warning',
  });
});
afterAll(async () => {
  await rm(bundleDir, { recursive: true, force: true });
});

let harness: EngineHarness | null = null;
afterEach(async () => {
  await harness?.close();
  harness = null;
});

describe('across processes', () => {
  it('three processes waking up past expiry make exactly one token call and share its result', async () => {
    const h = (harness = await EngineHarness.start({ rotateAfterSeconds: 0 }));
    const seed = await h.manager();
    await seed.getAccessToken();
    await seed.dispose();
    h.emulator.control.advanceClock(3601);
    h.emulator.control.resetCounters();
    const env = {
      ...process.env,
      QB_CLIENT_ID: h.emulator.clientId,
      QB_CLIENT_SECRET: h.emulator.clientSecret,
      QB_REFRESH_TOKEN: h.emulator.refreshToken,
      QB_REALM_ID: h.emulator.realmId,
      QB_TOKEN_URL: h.emulator.tokenUrl,
      QB_DATA_DIR: h.dataDir,
      QBTD_CLOCK_OFFSET_MS: String(3601_000),
    };
    const outputs = await Promise.all(
      Array.from({ length: 3 }, () =>
        run(process.execPath, [worker], { env, timeout: 60_000 }).then(({ stdout }) => {
          h.scan.collect('worker stdout', stdout);
          return JSON.parse(stdout) as {
            fingerprint: string;
            client: string;
            lastRefreshClient: string | null;
            state: string;
          };
        }),
      ),
    );
    expect(h.emulator.control.counters().tokenCalls.refresh_token).toBe(1);
    expect(new Set(outputs.map((output) => output.fingerprint)).size).toBe(1);
    // One of them refreshed, and every one of them says which (the record is shared).
    const clients = outputs.map((output) => output.client);
    const refresher = outputs[0]?.lastRefreshClient ?? '';
    expect(clients).toContain(refresher);
    expect(outputs.map((output) => output.lastRefreshClient)).toEqual([refresher, refresher, refresher]);
    const record = await h.readRecord();
    const refreshedBy = (record?.health.history ?? [])
      .filter((event) => event.type === 'refreshed' && event.client?.startsWith('worker-'))
      .map((event) => event.client);
    expect(refreshedBy).toEqual([refresher]);
    const stored = record?.tokens;
    expect(fingerprintToken(stored?.accessToken ?? '')).toBe(outputs[0]?.fingerprint);
    expect(h.emulator.control.isRefreshTokenValid(stored?.refreshToken ?? '')).toBe(true);
    h.assertNoLeaks();
  }, 90_000);
});
