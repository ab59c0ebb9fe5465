// The desktop store on Node: a real on-disk `conf` store (the class electron-store extends, so the
// same get/set/delete and atomic file writes) and a stand-in for Electron's safeStorage.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Conf from 'conf';
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredTokens } from '../core/token-store';
import { DESKTOP_STORE_NAME, DesktopTokenStore, TOKENS_KEY, type SafeStorageLike } from './store';

const REFRESH = 'RT-desktop-store-test-value-0001';
const ACCESS = 'AT-desktop-store-test-value-0002';

const tokens: StoredTokens = {
  version: 1,
  refreshToken: REFRESH,
  refreshTokenIssuedAt: 1_700_000_000_000,
  lastRotatedAt: null,
  refreshTokenExpiresAt: 1_708_640_000_000,
  refreshTokenHardExpiresAt: null,
  accessToken: ACCESS,
  accessTokenExpiresAt: 1_700_003_600_000,
  refreshedAt: 1_700_000_000_000,
  realmId: '9130350000000000',
  origin: { envRefreshTokenSha256: null },
};

/** Stand-in for safeStorage: a reversible transform with a per-"keychain" key; `broken` makes decryption fail. */
class SafeStorageStandIn implements SafeStorageLike {
  broken = false;
  constructor(
    private readonly available = true,
    private readonly backend = 'gnome_libsecret',
    private readonly key = 0x5a,
  ) {}
  isEncryptionAvailable(): boolean {
    return this.available;
  }
  getSelectedStorageBackend(): string {
    return this.backend;
  }
  encryptString(plainText: string): Buffer {
    return Buffer.from(Buffer.from(`v10${plainText}`, 'utf8').map((byte) => byte ^ this.key));
  }
  decryptString(encrypted: Buffer): string {
    const plain = Buffer.from(encrypted.map((byte) => byte ^ this.key)).toString('utf8');
    if (this.broken || !plain.startsWith('v10'))
      throw new Error('Error while decrypting the ciphertext provided');
    return plain.slice(3);
  }
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qb-desktop-store-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function openConf(directory: string) {
  return new Conf<Record<string, unknown>>({
    cwd: directory,
    configName: DESKTOP_STORE_NAME,
    clearInvalidConfig: false,
  });
}

function makeStore(directory: string, safeStorage: SafeStorageLike = new SafeStorageStandIn(), extra = {}) {
  const logs: string[] = [];
  const store = new DesktopTokenStore({
    directory,
    openStore: openConf,
    safeStorage,
    platform: 'linux',
    log: (line) => logs.push(line),
    now: () => new Date('2026-01-02T03:04:05.678Z'),
    ...extra,
  });
  return { store, logs };
}

describe('DesktopTokenStore with OS encryption', () => {
  it('round-trips the record through the file, encrypted: no token value on disk', async () => {
    const dir = tempDir();
    await makeStore(dir).store.save(tokens);
    const file = readFileSync(join(dir, `${DESKTOP_STORE_NAME}.json`), 'utf8');
    expect(file).not.toContain(REFRESH);
    expect(file).not.toContain(ACCESS);
    expect(file).not.toContain(REFRESH.slice(-8));
    // A new instance (a restart) reads it back.
    const { store } = makeStore(dir);
    expect(store.warnings).toEqual([]);
    await expect(store.load()).resolves.toEqual({ tokens, warnings: [] });
  });

  it('starts empty, and forget drops the record', async () => {
    const { store } = makeStore(tempDir());
    await expect(store.load()).resolves.toEqual({ tokens: null, warnings: [] });
    await store.save(tokens);
    await store.forget();
    await expect(store.load()).resolves.toEqual({ tokens: null, warnings: [] });
  });

  it('refuses to save an incomplete record', async () => {
    const { store } = makeStore(tempDir());
    await expect(store.save({ ...tokens, refreshToken: '' })).rejects.toThrow();
  });

  it('moves an undecryptable record aside under a corrupt-<timestamp> key, never deleting it', async () => {
    const dir = tempDir();
    await makeStore(dir).store.save(tokens);
    const before = openConf(dir).get(TOKENS_KEY);
    const keychain = new SafeStorageStandIn();
    keychain.broken = true;
    const { store, logs } = makeStore(dir, keychain);
    const result = await store.load();
    expect(result.tokens).toBeNull();
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatch(
      /could not be decrypted.*moved aside.*corrupt-2026-01-02T03-04-05-678Z/,
    );
    expect(logs).toEqual(result.warnings);
    const after = openConf(dir);
    expect(after.get(TOKENS_KEY)).toBeUndefined();
    expect(after.get('corrupt-2026-01-02T03-04-05-678Z')).toEqual(before);
    // A later save starts a fresh record; the moved-aside copy stays.
    keychain.broken = false;
    await store.save(tokens);
    expect(openConf(dir).get('corrupt-2026-01-02T03-04-05-678Z')).toEqual(before);
  });

  it('moves aside a record of an unknown layout', async () => {
    const dir = tempDir();
    openConf(dir).set(TOKENS_KEY, { format: 'something-else', data: 'x' });
    const result = await makeStore(dir).store.load();
    expect(result.tokens).toBeNull();
    expect(result.warnings[0]).toMatch(/not a token record of this version/);
  });

  it('moves a store file that is not JSON aside to a .corrupt-<timestamp> file and carries on', async () => {
    const dir = tempDir();
    const file = join(dir, `${DESKTOP_STORE_NAME}.json`);
    writeFileSync(file, '{"tokens": {"format": "qb-tok');
    const { store } = makeStore(dir);
    const result = await store.load();
    expect(result.tokens).toBeNull();
    expect(result.warnings[0]).toMatch(/not valid JSON.*moved aside/);
    const aside = readdirSync(dir).find((name) => name.includes('.corrupt-'));
    expect(aside).toBe(`${DESKTOP_STORE_NAME}.json.corrupt-2026-01-02T03-04-05-678Z`);
    expect(readFileSync(join(dir, aside ?? ''), 'utf8')).toBe('{"tokens": {"format": "qb-tok');
    await store.save(tokens);
    await expect(makeStore(dir).store.load()).resolves.toEqual({ tokens, warnings: [] });
  });
});

describe('DesktopTokenStore without OS encryption', () => {
  it.each([
    ['safeStorage unavailable', new SafeStorageStandIn(false), /no encryption/],
    ['Linux basic_text backend', new SafeStorageStandIn(true, 'basic_text'), /fixed key/],
  ])(
    '%s: keeps tokens in memory only, with a warning, and writes nothing',
    async (_label, safeStorage, reason) => {
      const dir = tempDir();
      const { store } = makeStore(dir, safeStorage);
      expect(store.warnings).toHaveLength(1);
      expect(store.warnings[0]).toMatch(/memory only/);
      expect(store.warnings[0]).toMatch(reason);
      await store.save(tokens);
      await expect(store.load()).resolves.toEqual({ tokens, warnings: [] });
      expect(readdirSync(dir)).toEqual([]);
      // A restart has nothing.
      await expect(makeStore(dir, safeStorage).store.load()).resolves.toEqual({ tokens: null, warnings: [] });
    },
  );

  it('hands out copies: changing a loaded record does not change the kept one', async () => {
    const { store } = makeStore(tempDir(), new SafeStorageStandIn(false));
    await store.save(tokens);
    const loaded = await store.load();
    if (loaded.tokens) loaded.tokens.refreshToken = 'changed';
    expect((await store.load()).tokens?.refreshToken).toBe(REFRESH);
  });

  it('basic_text is fine outside Linux', () => {
    const { store } = makeStore(tempDir(), new SafeStorageStandIn(true, 'basic_text'), {
      platform: 'darwin',
    });
    expect(store.warnings).toEqual([]);
  });

  it('leaves an encrypted record from an earlier run untouched, and says so', async () => {
    const dir = tempDir();
    await makeStore(dir).store.save(tokens);
    const before = readFileSync(join(dir, `${DESKTOP_STORE_NAME}.json`), 'utf8');
    const result = await makeStore(dir, new SafeStorageStandIn(false)).store.load();
    expect(result.tokens).toBeNull();
    expect(result.warnings[0]).toMatch(/left untouched/);
    expect(readFileSync(join(dir, `${DESKTOP_STORE_NAME}.json`), 'utf8')).toBe(before);
  });
});

describe('DesktopTokenStore refresh lock', () => {
  it('is shared by every store on the same directory (another process waits, or gives up)', async () => {
    const dir = tempDir();
    const first = makeStore(dir).store;
    const impatient = makeStore(dir, undefined, { lockWaitMs: 1 }).store;
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered: () => void = () => undefined;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const holding = first.withRefreshLock(async () => {
      entered();
      await held;
      return 'first';
    });
    await inside;
    await expect(impatient.withRefreshLock(async () => 'second')).rejects.toMatchObject({
      name: 'StoreLockTimeoutError',
      message: expect.stringMatching(new RegExp(`process ${process.pid} on .* holds the refresh lock`)),
    });
    release();
    await expect(holding).resolves.toBe('first');
    await expect(impatient.withRefreshLock(async () => 'second')).resolves.toBe('second');
  });

  it('serialises callers within one process and releases after a failure', async () => {
    const { store } = makeStore(tempDir());
    const order: string[] = [];
    const a = store.withRefreshLock(async () => {
      order.push('a-start');
      await Promise.resolve();
      order.push('a-end');
      throw new Error('refresh failed');
    });
    const b = store.withRefreshLock(async () => {
      order.push('b');
      return 2;
    });
    await expect(a).rejects.toThrow('refresh failed');
    await expect(b).resolves.toBe(2);
    expect(order).toEqual(['a-start', 'a-end', 'b']);
  });
});

describe('DesktopTokenStore refresh-in-flight note', () => {
  it('tells the next start that a refresh was interrupted, and forgets it once the refresh is handled', async () => {
    const directory = tempDir();
    const make = () =>
      new DesktopTokenStore({ directory, openStore: openConf, safeStorage: new SafeStorageStandIn() });
    const note = { startedAt: 1_700_000_000_000, refreshTokenSha256: 'a'.repeat(64) };
    make().beginRefresh(note);
    // A new process (the app restarted after being stopped mid-refresh) finds it.
    expect(await make().interruptedRefresh()).toEqual(note);
    const noteFile = readdirSync(directory).find((name) => name.endsWith('.refreshing')) ?? '';
    expect(readFileSync(join(directory, noteFile), 'utf8')).not.toContain(REFRESH);
    make().endRefresh();
    expect(await make().interruptedRefresh()).toBeNull();
  });
});
