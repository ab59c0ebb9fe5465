// The refresh-in-flight note explains an invalid_grant only when a process was stopped mid-refresh
// (refresh-attempt.test.ts, the kill -9 suite). A desk that starts while another LIVE desk is
// mid-refresh finds that desk's note too: a later refusal for another reason (the authorization
// revoked elsewhere) must keep Intuit's plain reconnect message, not blame a stop that never happened.
// The same over PostgreSQL: src/core/pg/pg-shared-desks.test.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../emulator';
import { emulatorEnv } from '../emulator/app-env';
import type { EmulatorHandle } from '../emulator/types';
import { DEFAULT_CONNECTION_ID } from '../shared/contract';
import { startDesk, type StartedDesk } from './bootstrap';
import type { ConnectionStore } from './connection-store';
import { TokenError } from './errors';
import { FileConnectionStore } from './file-connection-store';
import { LeakScan } from './testing/leak-scan';
import { holdableSaves } from './testing/store-wrapper';

let emulator: EmulatorHandle;
let dir: string;
const desks: StartedDesk[] = [];
const scan = new LeakScan();

beforeEach(async () => {
  // Default rotation (a value lives a day): the refresh in flight keeps the refresh token, as Intuit does.
  emulator = await startEmulator();
  dir = await mkdtemp(join(tmpdir(), 'qbtd-note-live-'));
});

afterEach(async () => {
  for (const started of desks.splice(0)) {
    scan.collect('final status', started.desk.getStatus());
    await started.close();
  }
  scan.addEmulator(emulator);
  scan.assertClean();
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});

async function desk(store?: ConnectionStore): Promise<StartedDesk> {
  const started = await startDesk({
    env: emulatorEnv(emulator, dir),
    cwd: dir,
    log: (line) => scan.collect('log line', line),
    manager: { refreshOnStart: false, retry: { maxAttempts: 1 } },
    ...(store ? { store: () => store } : {}),
  });
  started.desk.onStatusChanged((status) => scan.collect('status event', status));
  desks.push(started);
  return started;
}

describe('a desk started while another live desk is mid-refresh', () => {
  it('a later invalid_grant (authorization revoked elsewhere) keeps the plain reconnect message', async () => {
    const held = holdableSaves(
      new FileConnectionStore({ dataDir: dir, storeKey: null, environment: 'sandbox' }),
    );
    const a = await desk(held.store);
    // A's refresh: note left, Intuit answered, the save not done yet.
    held.hold();
    const refreshing = a.desk.refresh('manual');
    await held.saveAsked();
    expect(await a.store.interruptedRefresh?.(DEFAULT_CONNECTION_ID)).not.toBeNull();

    const b = await desk();
    held.release();
    await refreshing;
    expect(a.desk.getStatus().lastRefresh?.ok).toBe(true);
    expect(await b.store.interruptedRefresh?.(DEFAULT_CONNECTION_ID)).toBeNull();

    // The authorization is revoked elsewhere (the company disconnected the app in QuickBooks).
    const { record } = await b.store.load(DEFAULT_CONNECTION_ID);
    expect(await a.oauth?.revoke(record?.tokens?.refreshToken ?? '')).toMatchObject({ outcome: 'revoked' });

    const refused = await b.desk.refresh('manual').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(TokenError);
    expect((refused as TokenError).kind).toBe('invalid_grant');
    const status = b.desk.getStatus();
    expect(status.state).toBe('reauthorization_required');
    expect(status.lastRefresh?.error?.kind).toBe('invalid_grant');
    expect(status.lastRefresh?.error?.message).toMatch(
      /^HTTP 400 invalid_grant: the refresh token expired, was revoked, or was rotated away .*reconnect to QuickBooks/,
    );
    expect(status.lastRefresh?.error?.message).not.toMatch(/stopped during a refresh/);
    expect(status.warnings).toContain(
      'QuickBooks no longer accepts the refresh token: reconnect to QuickBooks.',
    );
    expect(status.warnings.join(' ')).not.toMatch(/stopped during a refresh/);
    expect(status.history[0]?.message).not.toMatch(/stopped during a refresh/);
  });
});
