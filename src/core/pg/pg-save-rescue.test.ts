// The PostgreSQL store's rescue files, against a real PostgreSQL server this file starts and stops:
// a rotated chain the server cannot take goes to a rescue file (encrypted with QB_STORE_KEY), is
// served while the server is away, and is put back into its row under the lock once it answers;
// an older copy, one written before the connection was removed, or one in a rescue directory others
// can write to never replaces what PostgreSQL holds. The first test is the whole story as a desk
// sees it, with Intuit's emulator rotating the chain while PostgreSQL is down.
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../emulator';
import { emulatorEnv } from '../../emulator/app-env';
import type { EmulatorHandle } from '../../emulator/types';
import { previewToken } from '../../shared/preview';
import { startDesk, type StartedDesk } from '../bootstrap';
import { defaultProfile, newConnectionRecord, type ConnectionRecord } from '../connection-record';
import type { RecordChange } from '../connection-store';
import { StoreUnavailableError } from '../errors';
import { StoreSaveRescuedError } from '../fs/save-rescue';
import { StoreCipher } from '../store-crypto';
import { fingerprintToken } from '../token-store';
import { LeakScan } from '../testing/leak-scan';
import { postgresForFile } from '../testing/postgres-for-file';
import { fixtureTokens } from '../testing/stored-chain';
import { PgConnectionStore, type PgConnectionStoreOptions } from './pg-connection-store';
import { PgSaveRescue } from './pg-save-rescue';
import { CONNECTIONS_TABLE } from './schema';

const KEY = 'rescue files key, 16+ characters';
const pg = postgresForFile();
let rescueDir = '';
let stores: PgConnectionStore[] = [];
let desks: StartedDesk[] = [];
let emulator: EmulatorHandle | null = null;
let scan = new LeakScan();
const logged: string[] = [];

beforeEach(async () => {
  // mkdtemp makes it 0700: a private rescue directory, as SaveRescue requires.
  rescueDir = realpathSync(await mkdtemp(join(tmpdir(), 'qbtd-pg-rescue-')));
  scan = new LeakScan();
  logged.length = 0;
});

afterEach(async () => {
  for (const desk of desks) {
    scan.collect('final status', desk.desk.getStatus());
    await desk.close();
  }
  desks = [];
  await Promise.all(stores.map((store) => store.close()));
  stores = [];
  scan.collect('log lines', logged);
  if (emulator) {
    scan.addEmulator(emulator);
    await emulator.close();
    emulator = null;
  }
  scan.assertClean();
  await rm(rescueDir, { recursive: true, force: true });
});

function options(url: string, extra: Partial<PgConnectionStoreOptions> = {}): PgConnectionStoreOptions {
  return {
    url,
    storeKey: KEY,
    lockWaitMs: 5000,
    saveRetryMs: 300,
    rescueDirs: [rescueDir],
    log: (line) => logged.push(line),
    ...extra,
  };
}

function store(url: string, extra: Partial<PgConnectionStoreOptions> = {}): PgConnectionStore {
  const created = new PgConnectionStore(options(url, extra));
  stores.push(created);
  return created;
}

function record(id: string, revision: number): ConnectionRecord {
  const unique = `${id}-${revision}-${Math.random().toString(36).slice(2)}`;
  const tokens = { ...fixtureTokens(`RT-rescue-${unique}`), accessToken: `AT-rescue-${unique}` };
  scan.addSecrets(tokens.refreshToken, tokens.accessToken);
  return { ...newConnectionRecord(id, defaultProfile('sandbox', tokens.realmId), tokens), revision };
}

const dbName = (url: string) => new URL(url).pathname.slice(1);
const location = (url: string) => `127.0.0.1:${pg().port}/${dbName(url)}`;

async function rowRevision(url: string, id: string): Promise<number | null> {
  const { rows } = await pg().query<{ revision: string }>(
    `SELECT revision FROM ${CONNECTIONS_TABLE} WHERE id = $1`,
    [id],
    dbName(url),
  );
  return rows[0] ? Number(rows[0].revision) : null;
}

/** Leaves `record` in `dir` as a failed save of this store would have (same encoding, same name). */
function plantRescue(url: string, rescued: ConnectionRecord, dir = rescueDir): string {
  const error = new PgSaveRescue(location(url), new StoreCipher(KEY), () => undefined, [dir]).rescue(
    rescued,
    new StoreUnavailableError('planted by the test.'),
  );
  if (!(error instanceof StoreSaveRescuedError)) throw error;
  return error.rescuePath;
}

/** Saves `next` under the lock with the server stopped for good: what a refresh's save meets. */
async function saveWhileDown(s: PgConnectionStore, next: ConnectionRecord): Promise<Error> {
  try {
    await s.withLock(next.id, async () => {
      await pg().stop();
      await s.save(next);
    });
  } catch (err) {
    return err as Error;
  }
  throw new Error('the save was expected to fail');
}

describe('a refresh whose answer arrives while PostgreSQL is down', () => {
  it('leaves the rotated chain in a rescue file (sealed), and the next desk puts it back and goes on from it', async () => {
    // Intuit retires the old refresh token the moment it issues the new one.
    const intuit = await startEmulator({ rotateAfterSeconds: 0, oldRefreshTokenPolicy: 'immediate' });
    emulator = intuit;
    const url = await pg().createDatabase();
    // The store is passed in (no QB_STORE_URL), so this test's rescue directory and retry bound apply.
    const env = { ...emulatorEnv(intuit), QB_STORE_KEY: KEY, QB_DATA_DIR: '/nonexistent-qbtd' };
    const desk = async () => {
      const started = await startDesk({
        env,
        store: () => new PgConnectionStore(options(url)),
        log: (line) => logged.push(line),
        manager: { refreshOnStart: false },
      });
      started.desk.onStatusChanged((status) => scan.collect('status event', status));
      desks.push(started);
      return started;
    };
    const a = await desk();
    await a.desk.getAccessToken();
    const old = (await store(url).load('default')).record?.tokens?.refreshToken ?? '';
    expect(intuit.control.isRefreshTokenValid(old)).toBe(true);

    intuit.control.injectTokenFault({ kind: 'delay_after_processing', ms: 400 });
    const refreshCalls = () => intuit.control.counters().tokenCalls.refresh_token;
    const callsBefore = refreshCalls();
    const refreshing = a.desk.refresh('manual').then(
      () => null,
      (err: unknown) => err as Error,
    );
    // Intuit has the refresh (rotated at once, the answer held back): PostgreSQL goes away meanwhile.
    while (refreshCalls() === callsBefore) await new Promise((resolve) => setTimeout(resolve, 5));
    await pg().stop();
    const error = await refreshing;
    expect(error).toBeInstanceOf(StoreSaveRescuedError);
    const rescuePath = (error as StoreSaveRescuedError).rescuePath;
    expect(dirname(rescuePath)).toBe(rescueDir);
    expect(error?.message).toContain(rescuePath);
    expect(error?.message).toMatch(/puts them back in PostgreSQL \(127\.0\.0\.1:\d+\/\w+\) once it answers/);
    scan.collect('refresh error', error?.message);
    const body = readFileSync(rescuePath, 'utf8');
    expect(body).toContain('"encrypted":true');
    scan.collect('rescue file', body);
    expect(intuit.control.isRefreshTokenValid(old)).toBe(false);
    await a.close();
    desks = desks.filter((each) => each !== a);

    await pg().restart();
    const b = await desk();
    // b's start read the rescue file under the lock and wrote it into the row.
    expect(existsSync(rescuePath)).toBe(false);
    const back = (await store(url, { rescueDirs: [] }).load('default')).record;
    const rotated = back?.tokens?.refreshToken ?? '';
    expect(rotated).not.toBe(old);
    expect(intuit.control.isRefreshTokenValid(rotated)).toBe(true);
    expect(await rowRevision(url, 'default')).toBe(back?.revision);
    expect(b.desk.getStatus().refreshToken?.preview).toBe(previewToken(rotated));
    expect(logged.join('\n')).toMatch(/they are back in PostgreSQL \(revision \d+\)/);
    // And the chain goes on: no reconnect needed.
    await b.desk.refresh('manual');
    expect(b.desk.getStatus().state).toBe('valid');
  });
});

describe('rescue files of the PostgreSQL store', () => {
  it('a save past the retry bound is rescued; served while the server is down; put back (and announced) once it answers', async () => {
    const url = await pg().createDatabase();
    const s = store(url);
    await s.save(record('default', 1));
    const rotated = record('default', 2);
    const error = await saveWhileDown(s, rotated);
    expect(error).toBeInstanceOf(StoreSaveRescuedError);
    const rescuePath = (error as StoreSaveRescuedError).rescuePath;
    expect(readdirSync(rescueDir)).toEqual([rescuePath.slice(rescueDir.length + 1)]);

    // A process started during the outage has the newest chain, and is told where it is.
    const during = await store(url).load('default');
    expect(during.record).toEqual(rotated);
    expect(during.warnings.join(' ')).toMatch(/are in .* they are put back in PostgreSQL once it answers/);

    await pg().restart();
    const watcher = store(url, { rescueDirs: [] });
    const changes: RecordChange[] = [];
    watcher.watch((change) => changes.push(change));
    await until(() => watcher.listening);
    const after = await store(url).load('default');
    expect(after.record).toEqual(rotated);
    expect(after.warnings.join(' ')).toMatch(
      /had been saved to .* they are back in PostgreSQL \(revision 2\)/,
    );
    expect(await rowRevision(url, 'default')).toBe(2);
    expect(await readdir(rescueDir)).toEqual([]);
    await until(() => changes.some((change) => change.revision === 2));
    scan.collect('warnings', [during.warnings, after.warnings, error.message]);
  });

  it('without QB_STORE_KEY the rescue file is plaintext, as the row would be; with it, sealed', async () => {
    const url = await pg().createDatabase();
    const plain = record('default', 3);
    const sealed = record('other', 3);
    const readable = readFileSync(
      (
        new PgSaveRescue(location(url), null, () => undefined, [rescueDir]).rescue(
          plain,
          new StoreUnavailableError('x'),
        ) as StoreSaveRescuedError
      ).rescuePath,
      'utf8',
    );
    expect(readable).toContain(plain.tokens?.refreshToken);
    const body = readFileSync(plantRescue(url, sealed), 'utf8');
    expect(body).not.toContain(sealed.tokens?.refreshToken);
    expect(body).not.toContain(sealed.tokens?.accessToken);
    scan.collect('sealed rescue file', body);
  });

  it('an older rescued copy never overwrites a newer row: it is dropped under the lock', async () => {
    const url = await pg().createDatabase();
    const s = store(url, { rescueDirs: [] });
    await s.save(record('default', 1));
    const newest = record('default', 3);
    await s.withLock('default', async () => {
      await s.save(record('default', 2));
      await s.save(newest);
    });
    const stale = plantRescue(url, record('default', 2));
    expect((await store(url).load('default')).record).toEqual(newest);
    expect(existsSync(stale)).toBe(false);
    expect(await rowRevision(url, 'default')).toBe(3);
  });

  it('a row that moved on only because another machine was refused the retired token takes the rescued chain; a rescued chain that was refused itself does not', async () => {
    const url = await pg().createDatabase();
    // What machine B writes after Intuit refused the refresh token it read (invalid_grant).
    const refused = (base: ConnectionRecord, revision: number): ConnectionRecord => ({
      ...base,
      revision,
      health: {
        ...base.health,
        rejection: {
          refreshTokenSha256: fingerprintToken(base.tokens?.refreshToken ?? ''),
          at: Date.now(),
          error: { kind: 'invalid_grant', message: 'Intuit refused the refresh token.', intuitTid: null },
        },
      },
    });
    const b = store(url, { rescueDirs: [] });
    const first = record('default', 1);
    await b.save(first);
    // This machine rotated it (revision 2) while the server was away: the chain is in its rescue file.
    const rescued = record('default', 2);
    const path = plantRescue(url, rescued);
    // Machine B, once the server is back, refreshes with the retired token and records Intuit's refusal.
    await b.withLock('default', () => b.save(refused(first, 2)));

    const loaded = await store(url).load('default');
    expect(loaded.record?.tokens?.refreshToken === rescued.tokens?.refreshToken).toBe(true);
    expect(loaded.record?.revision).toBe(3);
    expect(await rowRevision(url, 'default')).toBe(3);
    expect(existsSync(path)).toBe(false);

    // A rescued chain the row shows refused (its own token) is dropped: nothing live to put back.
    const again = record('default', 4);
    const stalePath = plantRescue(url, again);
    await b.withLock('default', async () => {
      const current = (await b.load('default')).record;
      if (!current) throw new Error('no row');
      await b.save(refused({ ...current, tokens: again.tokens }, 4));
    });
    expect((await store(url).load('default')).record?.revision).toBe(4);
    expect(existsSync(stalePath)).toBe(false);
  });

  it('a rescue directory others can write to is not trusted: a newer record planted there is ignored', async () => {
    const url = await pg().createDatabase();
    const shared = join(rescueDir, 'shared');
    await mkdir(shared, { mode: 0o700 });
    const saved = record('default', 1);
    await store(url, { rescueDirs: [] }).save(saved);
    // Written as this store would, then the directory opened to everyone (as /tmp is).
    const planted = plantRescue(url, record('default', 9), shared);
    await chmod(shared, 0o777);
    expect((await store(url, { rescueDirs: [shared] }).load('default')).record).toEqual(saved);
    expect(await rowRevision(url, 'default')).toBe(1);
    expect(existsSync(planted)).toBe(true);
  });

  it('a connection removed after its chain was rescued stays removed; one whose row never landed is put back', async () => {
    const url = await pg().createDatabase();
    const s = store(url, { rescueDirs: [] });
    await s.save(record('default', 1));
    // Rescued at revision 2 (on top of 1); then removed elsewhere, where PostgreSQL answered.
    const rescued = plantRescue(url, record('default', 2));
    await s.withLock('default', () => s.remove('default'));
    expect((await store(url).load('default')).record).toBeNull();
    expect(await rowRevision(url, 'default')).toBeNull();
    expect(existsSync(rescued)).toBe(false);
    // A first save that never reached the server (or a database recreated empty): nothing says it
    // was removed, so the rescued chain is the only one there is.
    const first = record('other', 1);
    plantRescue(url, first);
    expect((await store(url).load('other')).record).toEqual(first);
    expect(await rowRevision(url, 'other')).toBe(1);
  });

  it('a later write of the chain under the same lock drops the rescued copy it supersedes', async () => {
    const url = await pg().createDatabase();
    const s = store(url);
    await s.save(record('default', 1));
    const rotated = record('default', 2);
    await s.withLock('default', async () => {
      await pg().stop();
      await expect(s.save(rotated)).rejects.toBeInstanceOf(StoreSaveRescuedError);
      expect(await readdir(rescueDir)).toHaveLength(1);
      // The engine writes the chain again once it can; the server is back by then.
      await pg().restart();
      await s.save(rotated);
      expect(await readdir(rescueDir)).toEqual([]);
    });
    expect(await rowRevision(url, 'default')).toBe(2);
  });
});

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
