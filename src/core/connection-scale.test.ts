// A hundred companies in one desk, in real time against the real emulator with short lifetimes:
// every connection's own schedule refreshes it inside its skew window (after the window opens,
// before its access token lapses), none is skipped, no refresh fails, and the log redactor still
// knows every live token (its bound grows with the connections in use).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../emulator';
import { emulatorEnv } from '../emulator/app-env';
import type { EmulatorHandle } from '../emulator/types';
import { DEFAULT_CONNECTION_ID, type HistoryEvent } from '../shared/contract';
import { previewToken } from '../shared/preview';
import { startDesk, type StartedDesk } from './bootstrap';

const COUNT = 100;
const TTL_SECONDS = 20;
const SKEW_SECONDS = 8;

let emulator: EmulatorHandle;
let dir: string;
let started: StartedDesk;

beforeAll(async () => {
  emulator = await startEmulator({ accessTokenTtlSeconds: TTL_SECONDS });
  dir = await mkdtemp(join(tmpdir(), 'qbtd-hundred-'));
  started = await startDesk({
    env: { ...emulatorEnv(emulator, dir), QB_REFRESH_SKEW_SECONDS: String(SKEW_SECONDS) },
    cwd: dir,
    log: () => undefined,
  });
  await started.manager.whenIdle();
});

afterAll(async () => {
  await started?.close();
  await emulator?.close();
  await rm(dir, { recursive: true, force: true });
});

const realmOf = (i: number) => String(7_000_000 + i);

/** The `refreshed` events of a connection, oldest first. */
function refreshes(id: string): HistoryEvent[] {
  return started.connections
    .desk(id)
    .getStatus()
    .history.filter((event) => event.type === 'refreshed')
    .reverse();
}

describe(`${COUNT} connections`, () => {
  it(
    'each one is refreshed by its own schedule inside its skew window',
    async () => {
      for (let i = 0; i < COUNT; i += 1) {
        const issued = emulator.control.issueAuthorization(realmOf(i));
        await started.connections.add({
          name: `Company ${i}`,
          realmId: realmOf(i),
          environment: 'sandbox',
          refreshToken: issued.refreshToken,
        });
      }
      const ids = started.connections.ids().filter((id) => id !== DEFAULT_CONNECTION_ID);
      expect(ids).toHaveLength(COUNT);
      // The first access token of each (on demand, all at once); from then on only the schedules act.
      await Promise.all(ids.map((id) => started.connections.desk(id).getAccessToken()));

      await expect
        .poll(() => ids.filter((id) => refreshes(id).length < 2).length, {
          timeout: (TTL_SECONDS + 15) * 1000,
          interval: 500,
        })
        .toBe(0);

      const late: string[] = [];
      for (const id of ids) {
        const [first, second] = refreshes(id);
        const expiredAt = Date.parse(first.accessTokenExpiresAt ?? '');
        const at = Date.parse(second.at);
        expect(second.trigger).toBe('scheduled');
        // Inside the window: not before it opens, and before the token it replaces lapsed.
        if (at < expiredAt - SKEW_SECONDS * 1000 || at >= expiredAt) late.push(`${id}: ${second.at}`);
      }
      expect(late).toEqual([]);
      const summaries = started.connections.list();
      expect(summaries.filter((c) => c.lastRefresh?.ok === false)).toEqual([]);
      expect(summaries.filter((c) => !c.isDefault && c.state !== 'valid' && c.state !== 'expiring')).toEqual(
        [],
      );

      // A log line carrying any connection's live token would still be redacted.
      const forgotten: string[] = [];
      for (const id of ids) {
        const tokens = (await started.store.load(id)).record?.tokens;
        for (const value of [tokens?.accessToken, tokens?.refreshToken]) {
          if (value && started.secrets.redact(`sent ${value}`) !== `sent ${previewToken(value)}`)
            forgotten.push(`${id}: ${previewToken(value)}`);
        }
      }
      expect(forgotten).toEqual([]);
    },
    (TTL_SECONDS + 120) * 1000,
  );
});
