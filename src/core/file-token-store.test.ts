import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileTokenStore, REFRESHING_NOTE_SUFFIX, STORE_FILE_NAME } from './file-token-store';
import { fingerprintToken, type StoredTokens } from './token-store';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'qbtd-store-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const tokens = (refreshToken = 'RT-value-0123456789-abcd'): StoredTokens => ({
  version: 1,
  refreshToken,
  refreshTokenIssuedAt: 1,
  lastRotatedAt: null,
  refreshTokenExpiresAt: 2,
  refreshTokenHardExpiresAt: null,
  accessToken: 'AT-value-0123456789-efgh',
  accessTokenExpiresAt: 3,
  refreshedAt: 1,
  realmId: '123',
  origin: { envRefreshTokenSha256: fingerprintToken(refreshToken) },
});

describe('FileTokenStore', () => {
  it('removes temp files orphaned by a crash mid-save (they hold token values), but not young ones', async () => {
    const orphan = join(dir, `.${STORE_FILE_NAME}.4242.abcdef.tmp`);
    const young = join(dir, `.${STORE_FILE_NAME}.4343.fedcba.tmp`);
    await writeFile(orphan, JSON.stringify(tokens()));
    await writeFile(young, JSON.stringify(tokens()));
    const old = new Date(Date.now() - 5 * 60_000);
    await utimes(orphan, old, old);
    await new FileTokenStore({ dataDir: dir, storeKey: null }).load();
    const left = await readdir(dir);
    expect(left).not.toContain(`.${STORE_FILE_NAME}.4242.abcdef.tmp`);
    expect(left).toContain(`.${STORE_FILE_NAME}.4343.fedcba.tmp`);
  });

  it('round-trips in plaintext with a warning, mode 0600, no temp files left', async () => {
    const store = new FileTokenStore({ dataDir: dir, storeKey: null });
    expect(store.warnings.join(' ')).toMatch(/unencrypted.*QB_STORE_KEY/);
    expect(await store.load()).toEqual({ tokens: null, warnings: [] });
    await store.save(tokens());
    expect((await store.load()).tokens).toEqual(tokens());
    expect((await stat(join(dir, STORE_FILE_NAME))).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual([STORE_FILE_NAME]);
  });

  it('encrypts with QB_STORE_KEY: no token value on disk, readable with the key', async () => {
    const store = new FileTokenStore({ dataDir: dir, storeKey: 'a-long-enough-store-key' });
    expect(store.warnings).toEqual([]);
    await store.save(tokens());
    const raw = await readFile(join(dir, STORE_FILE_NAME), 'utf8');
    expect(raw).not.toContain('RT-value');
    expect(raw).not.toContain('AT-value');
    expect(
      (await new FileTokenStore({ dataDir: dir, storeKey: 'a-long-enough-store-key' }).load()).tokens,
    ).toEqual(tokens());
  });

  it('encrypts a plaintext store as soon as a key is configured', async () => {
    await new FileTokenStore({ dataDir: dir, storeKey: null }).save(tokens());
    const keyed = new FileTokenStore({ dataDir: dir, storeKey: 'a-long-enough-store-key' });
    expect((await keyed.load()).tokens).toEqual(tokens());
    expect(await readFile(join(dir, STORE_FILE_NAME), 'utf8')).not.toContain('RT-value');
  });

  it.each([
    ['garbage', 'not json at all'],
    ['another format', '{"hello":"world"}'],
    ['an incomplete record', '{"format":"qb-token-desk/tokens-v1","encrypted":false,"tokens":{"version":1}}'],
  ])('moves %s aside, never deleting it', async (_label, content) => {
    await writeFile(join(dir, STORE_FILE_NAME), content);
    const store = new FileTokenStore({ dataDir: dir, storeKey: null });
    const { tokens: loaded, warnings } = await store.load();
    expect(loaded).toBeNull();
    expect(warnings.join(' ')).toMatch(/moved aside/);
    const files = await readdir(dir);
    const aside = files.find((name) => name.startsWith(`${STORE_FILE_NAME}.corrupt-`));
    expect(aside).toBeDefined();
    expect(await readFile(join(dir, aside ?? ''), 'utf8')).toBe(content);
    expect(files).not.toContain(STORE_FILE_NAME);
  });

  it('leaves a store it cannot decrypt in place (no key, wrong key): StoreKeyError names QB_STORE_KEY', async () => {
    await new FileTokenStore({ dataDir: dir, storeKey: 'a-long-enough-store-key' }).save(tokens());
    const before = await readFile(join(dir, STORE_FILE_NAME), 'utf8');
    await expect(new FileTokenStore({ dataDir: dir, storeKey: null }).load()).rejects.toMatchObject({
      name: 'StoreKeyError',
      message: expect.stringMatching(/encrypted and QB_STORE_KEY is not set.*left as it is/),
    });
    await expect(
      new FileTokenStore({ dataDir: dir, storeKey: 'another-long-enough-key' }).load(),
    ).rejects.toMatchObject({
      name: 'StoreKeyError',
      message: expect.stringMatching(/could not be decrypted with this QB_STORE_KEY/),
    });
    expect(await readdir(dir)).toEqual([STORE_FILE_NAME]);
    expect(await readFile(join(dir, STORE_FILE_NAME), 'utf8')).toBe(before);
    const right = new FileTokenStore({ dataDir: dir, storeKey: 'a-long-enough-store-key' });
    expect((await right.load()).tokens).toEqual(tokens());
  });

  it('serialises lock holders across store instances (as across processes)', async () => {
    const a = new FileTokenStore({ dataDir: dir, storeKey: null });
    const b = new FileTokenStore({ dataDir: dir, storeKey: null });
    const events: string[] = [];
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = a.withRefreshLock(async () => {
      events.push('a in');
      await held;
      events.push('a out');
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = b.withRefreshLock(async () => {
      events.push('b in');
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(events).toEqual(['a in']);
    release();
    await Promise.all([first, second]);
    expect(events).toEqual(['a in', 'a out', 'b in']);
  });

  it('takes over a stale lock left by a crashed holder', async () => {
    const { mkdir, utimes } = await import('node:fs/promises');
    const lockDir = join(dir, `${STORE_FILE_NAME}.lock`);
    await mkdir(lockDir);
    const old = new Date(Date.now() - 60_000);
    await utimes(lockDir, old, old);
    const store = new FileTokenStore({ dataDir: dir, storeKey: null, lockStaleMs: 5000 });
    expect(await store.withRefreshLock(async () => 'ran')).toBe('ran');
  });

  it('forget removes the file', async () => {
    const store = new FileTokenStore({ dataDir: dir, storeKey: null });
    await store.save(tokens());
    await store.forget();
    expect((await store.load()).tokens).toBeNull();
  });

  it('keeps a refresh-in-flight note (no token value) until the refresh ends; a garbled note reads as none', async () => {
    const store = new FileTokenStore({ dataDir: dir, storeKey: null });
    const note = {
      startedAt: 1_700_000_000_000,
      refreshTokenSha256: fingerprintToken('RT-value-0123456789-abcd'),
    };
    expect(await store.interruptedRefresh()).toBeNull();
    store.beginRefresh(note);
    const path = join(dir, STORE_FILE_NAME + REFRESHING_NOTE_SUFFIX);
    expect(await readFile(path, 'utf8')).not.toContain('RT-value');
    // What the next process finds after this one was killed mid-refresh.
    expect(await new FileTokenStore({ dataDir: dir, storeKey: null }).interruptedRefresh()).toEqual(note);
    store.endRefresh();
    expect(await store.interruptedRefresh()).toBeNull();
    await writeFile(path, '{"startedAt":');
    expect(await store.interruptedRefresh()).toBeNull();
  });
});
