// The desktop store on Node: a real on-disk `conf` store (the class electron-store extends, so the
// same get/set/delete and atomic file writes) and a stand-in for Electron's safeStorage.
import { createCipheriv, createDecipheriv, pbkdf2Sync } from 'node:crypto';
import {
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Conf from 'conf';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultProfile, newConnectionRecord, type ConnectionRecord } from '../core/connection-record';
import { StoreConfigError, StoreKeyError, StoreLockTimeoutError } from '../core/errors';
import type { StoredTokens } from '../core/token-store';
import { DESKTOP_STORE_NAME, DesktopConnectionStore, LEGACY_TOKENS_KEY, type SafeStorageLike } from './store';

const REFRESH = 'RT-desktop-store-test-value-0001';
const ACCESS = 'AT-desktop-store-test-value-0002';
const STORE_KEY = 'desktop-fallback-store-key-0123';

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

const record = (revision = 1, chain: StoredTokens | null = tokens): ConnectionRecord => ({
  ...newConnectionRecord('default', defaultProfile('sandbox', chain?.realmId ?? null), chain),
  revision,
});

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

/**
 * safeStorage as Chromium's OSCrypt does it on Linux with a secret service: "v11" + AES-128-CBC under a
 * key derived (PBKDF2-SHA1, salt "saltysalt", one iteration, IV of 16 spaces) from a password the
 * keychain keeps. CBC carries no integrity check: under another password decryption fails on the
 * padding or, about once in 256 passwords, "succeeds" with garbage, which Electron then returns.
 */
class OsCryptStandIn implements SafeStorageLike {
  private static readonly IV = Buffer.alloc(16, ' ');
  constructor(private readonly password: string) {}
  isEncryptionAvailable(): boolean {
    return true;
  }
  getSelectedStorageBackend(): string {
    return 'gnome_libsecret';
  }
  encryptString(plainText: string): Buffer {
    const cipher = createCipheriv('aes-128-cbc', this.key(), OsCryptStandIn.IV);
    return Buffer.concat([Buffer.from('v11'), cipher.update(plainText, 'utf8'), cipher.final()]);
  }
  decryptString(encrypted: Buffer): string {
    const decipher = createDecipheriv('aes-128-cbc', this.key(), OsCryptStandIn.IV);
    try {
      return Buffer.concat([decipher.update(encrypted.subarray(3)), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.');
    }
  }
  private key(): Buffer {
    return pbkdf2Sync(this.password, 'saltysalt', 1, 16, 'sha1');
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

/** As main opens electron-store: the file is mode 0600. */
function openConf(directory: string) {
  return new Conf<Record<string, unknown>>({
    cwd: directory,
    configName: DESKTOP_STORE_NAME,
    clearInvalidConfig: false,
    configFileMode: 0o600,
  });
}

function makeStore(
  directory: string,
  safeStorage: SafeStorageLike = new SafeStorageStandIn(),
  extra: Partial<ConstructorParameters<typeof DesktopConnectionStore>[0]> = {},
) {
  const logs: string[] = [];
  const store = new DesktopConnectionStore({
    directory,
    openStore: openConf,
    safeStorage,
    platform: 'linux',
    log: (line: string) => logs.push(line),
    now: () => new Date('2026-01-02T03:04:05.678Z'),
    ...extra,
  });
  return { store, logs };
}

const fileOf = (dir: string) => join(dir, `${DESKTOP_STORE_NAME}.json`);

describe('DesktopConnectionStore with OS encryption', () => {
  it('round-trips the record through the file, encrypted: no token value on disk', async () => {
    const dir = tempDir();
    const { store } = makeStore(dir);
    expect(store.protection).toBe('safeStorage');
    await store.save(record());
    const file = readFileSync(fileOf(dir), 'utf8');
    expect(file).not.toContain(REFRESH);
    expect(file).not.toContain(ACCESS);
    expect(file).not.toContain(REFRESH.slice(-8));
    // A new instance (a restart) reads it back.
    const restarted = makeStore(dir).store;
    expect(restarted.warnings).toEqual([]);
    await expect(restarted.load('default')).resolves.toEqual({ record: record(), warnings: [] });
    expect(await restarted.list()).toEqual(['default']);
  });

  it('starts empty, and remove drops the record', async () => {
    const { store } = makeStore(tempDir());
    await expect(store.load('default')).resolves.toEqual({ record: null, warnings: [] });
    await store.save(record());
    await store.remove('default');
    await expect(store.load('default')).resolves.toEqual({ record: null, warnings: [] });
  });

  it('refuses to save an incomplete record', async () => {
    const { store } = makeStore(tempDir());
    await expect(store.save(record(1, { ...tokens, refreshToken: '' }))).rejects.toThrow();
  });

  it('a keychain that cannot decrypt the chain is a key error: nothing is moved or rewritten', async () => {
    const dir = tempDir();
    await makeStore(dir).store.save(record());
    const before = readFileSync(fileOf(dir), 'utf8');
    const keychain = new SafeStorageStandIn();
    keychain.broken = true;
    const error = await makeStore(dir, keychain)
      .store.load('default')
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(StoreKeyError);
    expect((error as Error).message).toMatch(/keychain.*nothing was changed/);
    expect(readFileSync(fileOf(dir), 'utf8')).toBe(before);
  });

  it('a reset keychain that "decrypts" the chain to garbage is a key error too: nothing is moved', async () => {
    const dir = tempDir();
    const keychain = new OsCryptStandIn('login keyring password');
    await makeStore(dir, keychain).store.save(record());
    const before = readFileSync(fileOf(dir), 'utf8');
    const saved = openConf(dir).get('connection:default') as { tokens: { data: string } };
    const sealed = Buffer.from(saved.tokens.data, 'base64');
    // The keyring was reset under a new password: one of those under which the padding happens to check out.
    const reset = Array.from({ length: 4096 }, (_, i) => new OsCryptStandIn(`new keyring ${i}`)).find(
      (candidate) => {
        try {
          candidate.decryptString(sealed);
          return true;
        } catch {
          return false;
        }
      },
    );
    expect(reset, 'a password under which decryption "succeeds"').toBeDefined();
    const error = await makeStore(dir, reset)
      .store.load('default')
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(StoreKeyError);
    expect((error as Error).message).toMatch(
      /keychain: it is locked, or it \(or the user account\) changed.*nothing was changed and nothing is refreshed\. Unlock the keychain/,
    );
    expect(readFileSync(fileOf(dir), 'utf8')).toBe(before);
    expect(Object.keys(openConf(dir).store)).toEqual(['connection:default']);
    // With the keychain's own password back, the chain opens as it was.
    expect((await makeStore(dir, keychain).store.load('default')).record?.tokens).toEqual(tokens);
  });

  it('moves aside a record of an unknown layout', async () => {
    const dir = tempDir();
    openConf(dir).set('connection:default', { format: 'something-else', data: 'x' });
    const { record: loaded, warnings } = await makeStore(dir).store.load('default');
    expect(loaded).toBeNull();
    expect(warnings[0]).toMatch(/not a connection record of this version.*corrupt-2026-01-02T03-04-05-678Z/);
    expect(openConf(dir).get('corrupt-2026-01-02T03-04-05-678Z')).toEqual({
      format: 'something-else',
      data: 'x',
    });
  });

  it('a store file that cannot be read (EIO) is left in place and the error says so; nothing is moved aside', async () => {
    const dir = tempDir();
    const { store: writer } = makeStore(dir);
    await writer.save(record());
    const before = readFileSync(fileOf(dir), 'utf8');
    const { store } = makeStore(dir, new SafeStorageStandIn(), {
      openStore: () => {
        throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
      },
    });
    await expect(store.load('default')).rejects.toThrow(/QB_DATA_DIR .* failed \(EIO\)/);
    expect(readdirSync(dir).some((name) => name.includes('.corrupt-'))).toBe(false);
    expect(readFileSync(fileOf(dir), 'utf8')).toBe(before);
  });

  it('moves a store file that is not JSON aside to a .corrupt-<timestamp> file and carries on', async () => {
    const dir = tempDir();
    writeFileSync(fileOf(dir), '{"connection:default": {"format": "qb-tok');
    const { store } = makeStore(dir);
    const result = await store.load('default');
    expect(result.record).toBeNull();
    expect(result.warnings[0]).toMatch(/not valid JSON.*moved aside/);
    const aside = readdirSync(dir).find((name) => name.includes('.corrupt-'));
    expect(aside).toBe(`${DESKTOP_STORE_NAME}.json.corrupt-2026-01-02T03-04-05-678Z`);
    expect(readFileSync(join(dir, aside ?? ''), 'utf8')).toBe('{"connection:default": {"format": "qb-tok');
    await store.save(record());
    await expect(makeStore(dir).store.load('default')).resolves.toEqual({ record: record(), warnings: [] });
  });
});

describe('DesktopConnectionStore and a store file that is a symbolic link', () => {
  /** A real store with a record in `elsewhere`, and `dir` whose store file is a link to it. */
  async function linkedStore() {
    const root = tempDir();
    const elsewhere = join(root, 'elsewhere');
    const dir = join(root, 'data');
    mkdirSync(elsewhere, { mode: 0o700 });
    mkdirSync(dir, { mode: 0o700 });
    await makeStore(elsewhere).store.save(record());
    return { elsewhere, dir, target: fileOf(elsewhere), before: readFileSync(fileOf(elsewhere), 'utf8') };
  }

  const refused = {
    name: 'StoreConfigError',
    message: expect.stringMatching(
      new RegExp(`${DESKTOP_STORE_NAME}\\.json is a symbolic link.*Move the real file into QB_DATA_DIR`),
    ),
  };

  it('is refused, as the file store refuses one: not read through, not written through, not replaced', async () => {
    const { dir, target, before } = await linkedStore();
    symlinkSync(target, fileOf(dir));
    const { store } = makeStore(dir);
    await expect(store.load('default')).rejects.toMatchObject(refused);
    await expect(store.list()).rejects.toMatchObject(refused);
    await expect(store.save(record(2))).rejects.toBeInstanceOf(StoreConfigError);
    await expect(store.remove('default')).rejects.toBeInstanceOf(StoreConfigError);
    expect(lstatSync(fileOf(dir)).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe(before);
  });

  it('is refused when the link replaces the file after the store was opened', async () => {
    const { dir, target, before } = await linkedStore();
    const { store } = makeStore(dir);
    await store.save(record());
    renameSync(fileOf(dir), join(dir, 'moved-away.json'));
    symlinkSync(target, fileOf(dir));
    await expect(store.load('default')).rejects.toMatchObject(refused);
    await expect(store.save(record(2))).rejects.toBeInstanceOf(StoreConfigError);
    expect(lstatSync(fileOf(dir)).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe(before);
  });
});

describe('DesktopConnectionStore never keeps the chain in memory only', () => {
  const backends: Array<[string, () => SafeStorageStandIn]> = [
    ['real OS encryption', () => new SafeStorageStandIn()],
    ['the Linux basic_text backend', () => new SafeStorageStandIn(true, 'basic_text')],
    ['no OS encryption', () => new SafeStorageStandIn(false)],
  ];

  for (const [backend, keychain] of backends) {
    for (const storeKey of [null, STORE_KEY]) {
      it(`${backend}, QB_STORE_KEY ${storeKey ? 'set' : 'unset'}: a restart finds the chain`, async () => {
        const dir = tempDir();
        const first = makeStore(dir, keychain(), { storeKey }).store;
        await first.save(record());
        // The app restarts: a new store over the same directory, nothing carried in memory.
        const restarted = makeStore(dir, keychain(), { storeKey }).store;
        expect((await restarted.load('default')).record?.tokens).toEqual(tokens);
        const raw = readFileSync(fileOf(dir), 'utf8');
        expect(statSync(fileOf(dir)).mode & 0o777).toBe(0o600);
        const real = backend === 'real OS encryption';
        expect(restarted.protection).toBe(real ? 'safeStorage' : storeKey ? 'storeKey' : 'plaintext');
        expect(restarted.description.encrypted).toBe(real || storeKey !== null);
        if (real || storeKey) {
          expect(raw).not.toContain(REFRESH);
          expect(restarted.warnings).toEqual([]);
        } else {
          expect(raw).toContain(REFRESH);
          expect(restarted.warnings.join(' ')).toMatch(
            /stored unencrypted.*set QB_STORE_KEY to encrypt them/,
          );
        }
      });
    }
  }

  it('basic_text is real encryption outside Linux', () => {
    const { store } = makeStore(tempDir(), new SafeStorageStandIn(true, 'basic_text'), {
      platform: 'darwin',
    });
    expect(store.protection).toBe('safeStorage');
  });

  it('a chain the keychain wrote, with the keychain gone, stays untouched and says why', async () => {
    const dir = tempDir();
    await makeStore(dir).store.save(record());
    const before = readFileSync(fileOf(dir), 'utf8');
    const error = await makeStore(dir, new SafeStorageStandIn(false), { storeKey: STORE_KEY })
      .store.load('default')
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(StoreKeyError);
    expect((error as Error).message).toMatch(/keychain, which is not available now/);
    expect(readFileSync(fileOf(dir), 'utf8')).toBe(before);
  });

  it('a chain written without the keychain is read once it is back, and sealed by it at the next write', async () => {
    const dir = tempDir();
    await makeStore(dir, new SafeStorageStandIn(false)).store.save(record());
    const { store } = makeStore(dir);
    expect((await store.load('default')).record?.tokens).toEqual(tokens);
    await store.save(record(2));
    expect(readFileSync(fileOf(dir), 'utf8')).not.toContain(REFRESH);
  });
});

describe('DesktopConnectionStore lock and in-flight note', () => {
  it('is shared by every store on the same directory (another process waits, or gives up)', async () => {
    const dir = tempDir();
    const first = makeStore(dir).store;
    const impatient = makeStore(dir).store;
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered: () => void = () => undefined;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const holding = first.withLock('default', async () => {
      entered();
      await held;
      return 'first';
    });
    await inside;
    await expect(impatient.withLock('default', async () => 'second', { waitMs: 1 })).rejects.toBeInstanceOf(
      StoreLockTimeoutError,
    );
    // Another connection is not held up.
    await expect(impatient.withLock('other', async () => 'other', { waitMs: 1 })).resolves.toBe('other');
    release();
    await expect(holding).resolves.toBe('first');
    await expect(impatient.withLock('default', async () => 'second')).resolves.toBe('second');
  });

  it('serialises callers within one process and releases after a failure', async () => {
    const { store } = makeStore(tempDir());
    const order: string[] = [];
    const a = store.withLock('default', async () => {
      order.push('a-start');
      await Promise.resolve();
      order.push('a-end');
      throw new Error('refresh failed');
    });
    const b = store.withLock('default', async () => {
      order.push('b');
      return 2;
    });
    await expect(a).rejects.toThrow('refresh failed');
    await expect(b).resolves.toBe(2);
    expect(order).toEqual(['a-start', 'a-end', 'b']);
  });

  it('tells the next start that a refresh was interrupted, and forgets it once the refresh is handled', async () => {
    const directory = tempDir();
    const make = () => makeStore(directory).store;
    const note = { startedAt: 1_700_000_000_000, refreshTokenSha256: 'a'.repeat(64) };
    make().beginRefresh('default', note);
    // A new process (the app restarted after being stopped mid-refresh) finds it.
    expect(await make().interruptedRefresh('default')).toEqual(note);
    expect(await make().interruptedRefresh('other')).toBeNull();
    const noteFile = readdirSync(directory).find((name) => name.endsWith('.refreshing')) ?? '';
    expect(readFileSync(join(directory, noteFile), 'utf8')).not.toContain(REFRESH);
    make().endRefresh('default');
    expect(await make().interruptedRefresh('default')).toBeNull();
  });
});

describe('DesktopConnectionStore upgrade from 0.1', () => {
  const FIXTURES = join(import.meta.dirname, '..', 'core', 'testing', 'fixtures', 'store-v0.1');
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as {
    tokens: StoredTokens;
  };

  it("0.1's record (safeStorage) opens as the default connection with its chain intact", async () => {
    const dir = tempDir();
    cpSync(join(FIXTURES, 'desktop', `${DESKTOP_STORE_NAME}.json`), fileOf(dir));
    writeFileSync(
      `${fileOf(dir)}.refreshing`,
      JSON.stringify({ startedAt: 1, refreshTokenSha256: 'b'.repeat(64) }),
    );
    const { store } = makeStore(dir);
    const { record: upgraded, warnings } = await store.load('default');
    expect(warnings).toEqual([]);
    expect(upgraded).toMatchObject({ id: 'default', revision: 1, tokens: expected.tokens });
    expect(openConf(dir).get(LEGACY_TOKENS_KEY)).toBeUndefined();
    expect(readFileSync(fileOf(dir), 'utf8')).not.toContain(expected.tokens.refreshToken);
    expect(await store.interruptedRefresh('default')).toEqual({
      startedAt: 1,
      refreshTokenSha256: 'b'.repeat(64),
    });
    // And again after a restart: nothing left to upgrade, the record stays.
    expect((await makeStore(dir).store.load('default')).record?.tokens).toEqual(expected.tokens);
  });

  it('without the keychain, 0.1 record stays as it was (StoreKeyError)', async () => {
    const dir = tempDir();
    cpSync(join(FIXTURES, 'desktop', `${DESKTOP_STORE_NAME}.json`), fileOf(dir));
    const before = readFileSync(fileOf(dir), 'utf8');
    await expect(makeStore(dir, new SafeStorageStandIn(false)).store.open()).rejects.toBeInstanceOf(
      StoreKeyError,
    );
    expect(readFileSync(fileOf(dir), 'utf8')).toBe(before);
  });
});
