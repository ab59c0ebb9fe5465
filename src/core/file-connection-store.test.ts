// The connection-keyed file store on a real disk: layout, atomic writes, encryption, what it does
// with files it cannot read, the lock and in-flight note per connection, watching for other
// processes' writes, and the upgrade of a store written by the single-connection version (0.1).
import { cpSync, readFileSync, realpathSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultProfile, newConnectionRecord, type ConnectionRecord } from './connection-record';
import type { RecordChange } from './connection-store';
import { StoreKeyError, StoreLockTimeoutError } from './errors';
import {
  CONNECTIONS_DIR_NAME,
  FileConnectionStore,
  LEGACY_STORE_FILE_NAME,
  REFRESHING_NOTE_SUFFIX,
} from './file-connection-store';
import { SaveRescue } from './fs/save-rescue';
import { fingerprintToken, type StoredTokens } from './token-store';
import { fixtureTokens } from './testing/stored-chain';

let dir: string;
const opened: FileConnectionStore[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qbtd-store-'));
});
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
  await rm(dir, { recursive: true, force: true });
});

function store(storeKey: string | null = null, extra: { lockWaitMs?: number; lockStaleMs?: number } = {}) {
  const made = new FileConnectionStore({ dataDir: dir, storeKey, ...extra });
  opened.push(made);
  return made;
}

const KEY = 'a-long-enough-store-key';
const FIXTURES = join(import.meta.dirname, 'testing', 'fixtures', 'store-v0.1');
const connectionsDir = () => join(dir, CONNECTIONS_DIR_NAME);

const tokens = fixtureTokens;

function record(id = 'default', revision = 1, chain: StoredTokens | null = tokens()): ConnectionRecord {
  return { ...newConnectionRecord(id, defaultProfile('sandbox', '123'), chain), revision };
}

describe('FileConnectionStore layout', () => {
  it('keeps one record file per connection, mode 0600, plaintext with a warning, no temp files left', async () => {
    const s = store();
    expect(s.warnings.join(' ')).toMatch(/unencrypted.*QB_STORE_KEY/);
    expect(await s.load('default')).toEqual({ record: null, warnings: [] });
    await s.save(record('default'));
    await s.save(record('9130350000000042', 1, tokens('RT-other-company-0123456789')));
    expect((await s.load('default')).record).toEqual(record('default'));
    expect((await s.load('9130350000000042')).record?.tokens?.refreshToken).toBe(
      'RT-other-company-0123456789',
    );
    expect(await s.list()).toEqual(['9130350000000042', 'default']);
    expect((await readdir(connectionsDir())).sort()).toEqual(['9130350000000042.json', 'default.json']);
    expect((await stat(join(connectionsDir(), 'default.json'))).mode & 0o777).toBe(0o600);
    expect((await stat(connectionsDir())).mode & 0o777).toBe(0o700);
  });

  it('refuses a connection id that is not a plain name (no path can be smuggled in)', async () => {
    const s = store();
    for (const id of ['../escape', 'a/b', '', 'x'.repeat(65), 'has space']) {
      expect(() => s.recordPath(id)).toThrow(/connection id/);
      await expect(s.save(record(id))).rejects.toThrow();
    }
  });

  it('encrypts the chain with QB_STORE_KEY, keeps the health readable, and opens with the key only', async () => {
    const s = store(KEY);
    expect(s.warnings).toEqual([]);
    const written = record();
    written.health.history = [
      { at: '2026-11-30T10:00:00.000Z', type: 'refreshed', message: 'Access token refreshed (…efgh).' },
    ];
    await s.save(written);
    const raw = await readFile(join(connectionsDir(), 'default.json'), 'utf8');
    expect(raw).not.toContain('RT-value');
    expect(raw).not.toContain('AT-value');
    expect(raw).toContain('Access token refreshed');
    expect((await store(KEY).load('default')).record).toEqual(written);
    await expect(store('another-long-enough-key').load('default')).rejects.toThrow(StoreKeyError);
    await expect(store(null).load('default')).rejects.toThrow(/encrypted and QB_STORE_KEY is not set/);
    // A refused key moves nothing and changes nothing.
    expect(await readFile(join(connectionsDir(), 'default.json'), 'utf8')).toBe(raw);
  });

  it('a sealed chain copied into another connection does not open there', async () => {
    await store(KEY).save(record('default'));
    const raw = await readFile(join(connectionsDir(), 'default.json'), 'utf8');
    await writeFile(join(connectionsDir(), 'other.json'), raw.replace('"id":"default"', '"id":"other"'));
    await expect(store(KEY).load('other')).rejects.toThrow(StoreKeyError);
  });

  it('seals plaintext records as soon as a key is configured', async () => {
    await store().save(record());
    const keyed = store(KEY);
    await keyed.open();
    expect(await readFile(join(connectionsDir(), 'default.json'), 'utf8')).not.toContain('RT-value');
    expect((await keyed.load('default')).record?.tokens).toEqual(tokens());
    expect((await keyed.load('default')).record?.revision).toBe(2);
  });

  it('keeps fields a newer version added inside profile, health and history events', async () => {
    const s = store();
    const newer = record() as ConnectionRecord & Record<string, unknown>;
    const extended = {
      ...newer,
      profile: { ...newer.profile, color: 'teal' },
      health: {
        ...newer.health,
        webhooks: { lastDelivery: 'ok' },
        history: [{ at: '2026-11-30T10:00:00.000Z', type: 'renamed', message: 'Renamed.', by: 'admin' }],
      },
    };
    await s.save(extended as unknown as ConnectionRecord);
    const { record: loaded } = await store().load('default');
    expect(loaded?.profile).toMatchObject({ color: 'teal' });
    expect(loaded?.health).toMatchObject({ webhooks: { lastDelivery: 'ok' } });
    expect(loaded?.health.history[0]).toMatchObject({ type: 'renamed', by: 'admin' });
    // And an older writer's next write (a spread of what it read) keeps them.
    await store().save({ ...(loaded as ConnectionRecord), revision: 2 });
    expect(readFileSync(join(connectionsDir(), 'default.json'), 'utf8')).toMatch(
      /"color":"teal".*"webhooks"/s,
    );
  });

  it.each([
    ['garbage', 'not json at all'],
    ['another shape', '{"hello":"world"}'],
    ['an incomplete record', '{"format":"qb-token-desk/connection-v2","record":{"version":2},"tokens":null}'],
  ])('moves %s aside, never deleting it, and says so', async (_label, content) => {
    await mkdir(connectionsDir(), { recursive: true });
    await writeFile(join(connectionsDir(), 'default.json'), content);
    const { record: loaded, warnings } = await store().load('default');
    expect(loaded).toBeNull();
    expect(warnings.join(' ')).toMatch(/could not be read.*moved aside/);
    const files = await readdir(connectionsDir());
    const aside = files.find((name) => name.startsWith('default.json.corrupt-'));
    expect(await readFile(join(connectionsDir(), aside ?? ''), 'utf8')).toBe(content);
    expect(files).not.toContain('default.json');
  });

  it('leaves a record written in another layout of this app exactly where it is', async () => {
    await mkdir(connectionsDir(), { recursive: true });
    const newer = '{"format":"qb-token-desk/connection-v3","record":{}}';
    await writeFile(join(connectionsDir(), 'default.json'), newer);
    await expect(store().load('default')).rejects.toThrow(/another version of QB Token Desk/);
    expect(await readFile(join(connectionsDir(), 'default.json'), 'utf8')).toBe(newer);
  });

  it('removes temp files orphaned by a crash mid-save (they hold token values), but not young ones', async () => {
    await mkdir(connectionsDir(), { recursive: true });
    const orphan = join(connectionsDir(), '.default.json.4242.abcdef.tmp');
    const young = join(connectionsDir(), '.default.json.4343.fedcba.tmp');
    await writeFile(orphan, JSON.stringify(tokens()));
    await writeFile(young, JSON.stringify(tokens()));
    const old = new Date(Date.now() - 5 * 60_000);
    await utimes(orphan, old, old);
    await store().open();
    const left = await readdir(connectionsDir());
    expect(left).not.toContain('.default.json.4242.abcdef.tmp');
    expect(left).toContain('.default.json.4343.fedcba.tmp');
  });
});

describe('FileConnectionStore lock and in-flight note', () => {
  it('serialises lock holders of one connection across store instances (as across processes)', async () => {
    const events: string[] = [];
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered: () => void = () => undefined;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const first = store().withLock('default', async () => {
      events.push('a in');
      entered();
      await held;
      events.push('a out');
    });
    await inside;
    const second = store().withLock('default', async () => {
      events.push('b in');
    });
    // Another connection's lock is independent.
    await store().withLock('other', async () => {
      events.push('other');
    });
    expect(events).toEqual(['a in', 'other']);
    release();
    await Promise.all([first, second]);
    expect(events).toEqual(['a in', 'other', 'a out', 'b in']);
  });

  it('gives up after the wait with StoreLockTimeoutError, running nothing', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered: () => void = () => undefined;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const holding = store().withLock('default', async () => {
      entered();
      await held;
    });
    await inside;
    let ran = false;
    const error = await store()
      .withLock('default', async () => (ran = true), { waitMs: 50 })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(StoreLockTimeoutError);
    expect(ran).toBe(false);
    release();
    await holding;
  });

  it('takes over a stale lock left by a crashed holder', async () => {
    const lockDir = join(connectionsDir(), 'default.json.lock');
    await mkdir(lockDir, { recursive: true });
    const old = new Date(Date.now() - 60_000);
    await utimes(lockDir, old, old);
    expect(await store(null, { lockStaleMs: 5000 }).withLock('default', async () => 'ran')).toBe('ran');
  });

  it('keeps a refresh-in-flight note per connection (no token value) until the refresh ends', async () => {
    const s = store();
    const note = {
      startedAt: 1_700_000_000_000,
      refreshTokenSha256: fingerprintToken('RT-value-0123456789-abcd'),
    };
    expect(await s.interruptedRefresh('default')).toBeNull();
    s.beginRefresh('default', note);
    const path = join(connectionsDir(), `default.json${REFRESHING_NOTE_SUFFIX}`);
    expect(await readFile(path, 'utf8')).not.toContain('RT-value');
    // What the next process finds after this one was killed mid-refresh; other connections have none.
    expect(await store().interruptedRefresh('default')).toEqual(note);
    expect(await store().interruptedRefresh('other')).toBeNull();
    s.endRefresh('default');
    expect(await s.interruptedRefresh('default')).toBeNull();
    await writeFile(path, '{"startedAt":');
    expect(await s.interruptedRefresh('default')).toBeNull();
  });
});

describe('FileConnectionStore watch', () => {
  it("reports another instance's writes with the connection id and revision, never its own", async () => {
    const watching = store();
    await watching.open();
    const changes: RecordChange[] = [];
    let heard: () => void = () => undefined;
    const unsubscribe = watching.watch((change) => {
      changes.push(change);
      heard();
    });
    await watching.save(record('default', 1));
    const other = new Promise<void>((resolve) => (heard = resolve));
    await store().save(record('default', 2));
    await other;
    expect(changes).toEqual([{ id: 'default', revision: 2 }]);
    unsubscribe();
    await store().save(record('default', 3));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(changes).toHaveLength(1);
  });
});

describe('upgrade from the single-connection store of 0.1', () => {
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as {
    tokens: StoredTokens;
  };
  const FIXTURE_KEY = 'fixture-store-key-0123456789';

  it.each([
    ['plaintext', 'plain', null],
    ['encrypted', 'encrypted', FIXTURE_KEY],
  ])(
    'a %s qb-tokens.json opens as the default connection with its chain intact',
    async (_label, fixture, key) => {
      cpSync(join(FIXTURES, fixture, LEGACY_STORE_FILE_NAME), join(dir, LEGACY_STORE_FILE_NAME));
      const s = store(key);
      const { record: upgraded, warnings } = await s.load('default');
      expect(warnings).toEqual([]);
      expect(upgraded).toMatchObject({ id: 'default', revision: 1, tokens: expected.tokens });
      expect(upgraded?.profile).toMatchObject({ realmId: expected.tokens.realmId });
      // The old file is gone only now that the new one is there; the new one is sealed with the same key.
      expect(await readdir(dir)).toEqual([CONNECTIONS_DIR_NAME]);
      const raw = await readFile(join(connectionsDir(), 'default.json'), 'utf8');
      expect(raw.includes(expected.tokens.refreshToken)).toBe(key === null);
      expect((await store(key).load('default')).record?.tokens).toEqual(expected.tokens);
    },
  );

  it('a plaintext 0.1 store comes out sealed when a key is configured', async () => {
    cpSync(join(FIXTURES, 'plain', LEGACY_STORE_FILE_NAME), join(dir, LEGACY_STORE_FILE_NAME));
    expect((await store(KEY).load('default')).record?.tokens).toEqual(expected.tokens);
    expect(await readFile(join(connectionsDir(), 'default.json'), 'utf8')).not.toContain(
      expected.tokens.refreshToken,
    );
  });

  it.each([
    ['a wrong key', 'a-wrong-but-long-enough-key'],
    ['no key', null],
  ])(
    'an encrypted 0.1 store with %s stays exactly as it was (StoreKeyError naming QB_STORE_KEY)',
    async (_label, key) => {
      cpSync(join(FIXTURES, 'encrypted', LEGACY_STORE_FILE_NAME), join(dir, LEGACY_STORE_FILE_NAME));
      const before = await readFile(join(dir, LEGACY_STORE_FILE_NAME), 'utf8');
      const error = await store(key)
        .open()
        .catch((err: unknown) => err);
      expect(error).toBeInstanceOf(StoreKeyError);
      expect((error as Error).message).toMatch(/QB_STORE_KEY/);
      expect(await readFile(join(dir, LEGACY_STORE_FILE_NAME), 'utf8')).toBe(before);
      expect(await readdir(connectionsDir())).toEqual([]);
      // The right key then upgrades it.
      expect((await store(FIXTURE_KEY).load('default')).record?.tokens).toEqual(expected.tokens);
    },
  );

  it('an interrupted upgrade (new record written, old file still there) finishes without touching the new record', async () => {
    cpSync(join(FIXTURES, 'plain', LEGACY_STORE_FILE_NAME), join(dir, LEGACY_STORE_FILE_NAME));
    await store().save(record('default', 7, tokens('RT-written-after-the-upgrade-0123')));
    expect((await store().load('default')).record).toMatchObject({ revision: 7 });
    expect(await readdir(dir)).toEqual([CONNECTIONS_DIR_NAME]);
  });

  it('moves the 0.1 refresh-in-flight note along, so the next start can still explain an invalid_grant', async () => {
    cpSync(join(FIXTURES, 'plain', LEGACY_STORE_FILE_NAME), join(dir, LEGACY_STORE_FILE_NAME));
    const note = {
      startedAt: 1_795_770_000_000,
      refreshTokenSha256: fingerprintToken(expected.tokens.refreshToken),
    };
    await writeFile(join(dir, `${LEGACY_STORE_FILE_NAME}${REFRESHING_NOTE_SUFFIX}`), JSON.stringify(note));
    const s = store();
    await s.open();
    expect(await s.interruptedRefresh('default')).toEqual(note);
  });

  it('moves an unreadable 0.1 store aside, as 0.1 did, and says so', async () => {
    await writeFile(join(dir, LEGACY_STORE_FILE_NAME), '{"format":"qb-token-desk/tokens-v1","encr');
    const { record: loaded, warnings } = await store().load('default');
    expect(loaded).toBeNull();
    expect(warnings.join(' ')).toMatch(/could not be read.*moved aside/);
    expect((await readdir(dir)).some((name) => name.startsWith(`${LEGACY_STORE_FILE_NAME}.corrupt-`))).toBe(
      true,
    );
  });
});

describe('rescue files', () => {
  /** A record another setup wrote (plaintext), planted where this store looks for its rescued copy. */
  async function plantRescue(rescueDir: string, revision: number): Promise<void> {
    const otherDir = await mkdtemp(join(tmpdir(), 'qbtd-store-other-'));
    try {
      const other = new FileConnectionStore({ dataDir: otherDir, storeKey: null });
      await other.save(record('default', revision, tokens('RT-planted-by-someone-else-0123')));
      await other.close();
      const body = await readFile(join(otherDir, CONNECTIONS_DIR_NAME, 'default.json'));
      const [target] = new SaveRescue(realpathSync(connectionsDir()), 'default.json', [rescueDir]).candidates;
      await writeFile(target ?? '', body, { mode: 0o600 });
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  }

  it('a rescue directory others can write to is not trusted: a record planted there never replaces the store’s', async () => {
    const rescueDir = join(dir, 'shared-rescue');
    await mkdir(rescueDir);
    await chmod(rescueDir, 0o777);
    const s = new FileConnectionStore({ dataDir: dir, storeKey: KEY, rescueDirs: [rescueDir] });
    opened.push(s);
    await s.withLock('default', () => s.save(record('default', 1)));
    await plantRescue(rescueDir, 99);

    const loaded = await s.withLock('default', () => s.load('default'));
    expect(loaded.record?.revision).toBe(1);
    expect(loaded.record?.tokens?.refreshToken === tokens().refreshToken).toBe(true);
  });

  it('a rescued copy in a private rescue directory is taken back (the mechanism the check guards)', async () => {
    const rescueDir = join(dir, 'own-rescue');
    await mkdir(rescueDir, { mode: 0o700 });
    const s = new FileConnectionStore({ dataDir: dir, storeKey: null, rescueDirs: [rescueDir] });
    opened.push(s);
    await s.withLock('default', () => s.save(record('default', 1)));
    await plantRescue(rescueDir, 5);
    const loaded = await s.withLock('default', () => s.load('default'));
    expect(loaded.record?.revision).toBe(5);
  });
});
