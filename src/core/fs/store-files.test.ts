// The file store's defences against a hostile or broken data directory (issue 17, items 3, 4, 5
// and 10): links planted where it writes, a directory others can write to, a store file that is a
// link, and a refresh lock left by a process that was killed.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { defaultProfile, newConnectionRecord, type ConnectionRecord } from '../connection-record';
import { CONNECTIONS_DIR_NAME, FileConnectionStore, REFRESHING_NOTE_SUFFIX } from '../file-connection-store';
import { fingerprintToken } from '../token-store';
import { fixtureTokens } from '../testing/stored-chain';
import { LOCK_OWNER_FILE, readLockOwner } from './owned-lock';

let root: string;
let dir: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'qbtd-fs-'));
  dir = join(root, 'data');
  await mkdir(dir, { mode: 0o700 });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const tokens = fixtureTokens;

const STORE_FILE_NAME = 'default.json';
const record = (chain = tokens()): ConnectionRecord => ({
  ...newConnectionRecord('default', defaultProfile('sandbox', '123'), chain),
  revision: 1,
});
/** The records' directory of a data directory. */
const records = (dataDir: string) => join(dataDir, CONNECTIONS_DIR_NAME);

const note = {
  startedAt: 1_700_000_000_000,
  refreshTokenSha256: fingerprintToken('RT-value-0123456789-abcd'),
};

describe('files the store writes', () => {
  it('a link planted at <store>.refreshing is replaced, and the file it points to is not touched', async () => {
    const victim = join(root, 'victim.txt');
    await writeFile(victim, 'precious');
    const notePath = join(records(dir), STORE_FILE_NAME + REFRESHING_NOTE_SUFFIX);
    await mkdir(records(dir), { mode: 0o700 });
    await symlink(victim, notePath);
    const store = new FileConnectionStore({ dataDir: dir, storeKey: null });
    await store.save(record());
    await store.withLock('default', async () => {
      store.beginRefresh('default', note);
      store.endRefresh('default');
    });
    expect(await readFile(victim, 'utf8')).toBe('precious');
    store.beginRefresh('default', note);
    expect((await lstat(notePath)).isSymbolicLink()).toBe(false);
    expect(await store.interruptedRefresh('default')).toEqual(note);
    store.endRefresh('default');
  });

  it('refuses a data directory that group or others can write to, naming QB_DATA_DIR', async () => {
    await chmod(dir, 0o777);
    const store = new FileConnectionStore({ dataDir: dir, storeKey: null });
    await expect(store.load('default')).rejects.toMatchObject({
      name: 'StoreConfigError',
      message: expect.stringMatching(
        /QB_DATA_DIR \(.*\) can be written by every user \(mode 0777\).*chmod 700/,
      ),
    });
    await chmod(dir, 0o770);
    await expect(store.load('default')).rejects.toThrow(/can be written by its group/);
    await chmod(dir, 0o700);
    expect((await store.load('default')).record).toBeNull();
  });

  it('refuses a store file that is a symbolic link (it does not follow it, nor replace it)', async () => {
    const elsewhere = join(root, 'elsewhere');
    await mkdir(elsewhere, { mode: 0o700 });
    await new FileConnectionStore({ dataDir: elsewhere, storeKey: null }).save(record());
    const real = join(records(elsewhere), STORE_FILE_NAME);
    const before = readFileSync(real, 'utf8');
    await mkdir(records(dir), { mode: 0o700 });
    await symlink(real, join(records(dir), STORE_FILE_NAME));
    const store = new FileConnectionStore({ dataDir: dir, storeKey: null });
    await expect(store.load('default')).rejects.toMatchObject({
      name: 'StoreConfigError',
      message: expect.stringMatching(/default\.json is a symbolic link.*QB_DATA_DIR/),
    });
    await expect(store.withLock('default', async () => store.beginRefresh('default', note))).rejects.toThrow(
      /symbolic link/,
    );
    expect((await lstat(join(records(dir), STORE_FILE_NAME))).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, 'utf8')).toBe(before);
  });

  it('reads a record followed by the zeros of its reservation (a kill between the rename and the truncate)', async () => {
    const store = new FileConnectionStore({ dataDir: dir, storeKey: 'a-long-enough-store-key' });
    await store.save(record());
    const path = join(records(dir), STORE_FILE_NAME);
    await writeFile(path, Buffer.concat([await readFile(path), Buffer.alloc(65_536)]));
    const again = new FileConnectionStore({ dataDir: dir, storeKey: 'a-long-enough-store-key' });
    expect((await again.load('default')).record).toEqual(record());
    expect((await readdir(records(dir))).filter((name) => name.includes('corrupt'))).toEqual([]);
  });

  it('the space reserved before a token call is released once the record is saved', async () => {
    const store = new FileConnectionStore({ dataDir: dir, storeKey: null });
    await store.withLock('default', async () => {
      store.beginRefresh('default', note);
      expect((await readdir(records(dir))).filter((name) => name.endsWith('.tmp'))).toHaveLength(1);
      await store.save(record());
      store.endRefresh('default');
    });
    expect(await readdir(records(dir))).toEqual([STORE_FILE_NAME]);
    expect((await lstat(join(records(dir), STORE_FILE_NAME))).size).toBeLessThan(4096);
  });

  it('resolves a data directory reached through a link: one real file, one lock', async () => {
    const link = join(root, 'via-link');
    await symlink(dir, link);
    const a = new FileConnectionStore({ dataDir: link, storeKey: null });
    await a.withLock('default', async () => {
      await a.save(record());
      expect(await readdir(records(dir))).toContain(`${STORE_FILE_NAME}.lock`);
    });
    expect((await lstat(join(records(dir), STORE_FILE_NAME))).isFile()).toBe(true);
    expect((await new FileConnectionStore({ dataDir: dir, storeKey: null }).load('default')).record).toEqual(
      record(),
    );
  });
});

describe('the refresh lock', () => {
  it('records its holder (pid and host) while held, and nothing once released', async () => {
    const store = new FileConnectionStore({ dataDir: dir, storeKey: null });
    const lockDir = join(records(dir), `${STORE_FILE_NAME}.lock`);
    await store.withLock('default', async () => {
      expect(readLockOwner(lockDir)).toMatchObject({ pid: process.pid });
    });
    expect(existsSync(lockDir)).toBe(false);
  });

  it('is taken over at once when its holder was killed (kill -9) on this host', async () => {
    // A real process takes the lock, reports it holds it, and is SIGKILLed while holding it.
    const script = `
      import { FileConnectionStore } from ${JSON.stringify(new URL('../file-connection-store.ts', import.meta.url).pathname)};
      const store = new FileConnectionStore({ dataDir: ${JSON.stringify(dir)}, storeKey: null });
      // A ref'd timer keeps it running (and holding) until the kill: an empty event loop would exit cleanly.
      setInterval(() => {}, 60_000);
      await store.withLock('default', async () => { process.stdout.write('holding\\n'); await new Promise(() => {}); });
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    onTestFinished(() => void child.kill('SIGKILL'));
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('holding') && resolve()),
    );
    const lockDir = join(records(dir), `${STORE_FILE_NAME}.lock`);
    const ownerText = existsSync(join(lockDir, LOCK_OWNER_FILE))
      ? readFileSync(join(lockDir, LOCK_OWNER_FILE), 'utf8')
      : 'none';
    expect(readLockOwner(lockDir)?.pid, ownerText).toBe(child.pid);
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(await readdir(lockDir)).toEqual([LOCK_OWNER_FILE]);

    // Its heartbeat is fresh (a stale period of an hour has not passed) and the wait is short:
    // only knowing the holder is gone lets the next refresh in.
    const lines: string[] = [];
    const store = new FileConnectionStore({
      dataDir: dir,
      storeKey: null,
      lockWaitMs: 1_000,
      lockStaleMs: 3_600_000,
      log: (line) => lines.push(line),
    });
    const started = performance.now();
    expect(await store.withLock('default', async () => 'ran')).toBe('ran');
    console.info(
      `[figures] refresh lock left by kill -9: taken over in ${(performance.now() - started).toFixed(1)} ms`,
    );
    expect(lines.join('\n')).toMatch(
      new RegExp(`Took over the refresh lock .* from process ${child.pid} on .*, which is no longer running`),
    );
  });

  it('never exists without its owner record: a taker frozen, then killed, while taking it holds nobody up', async () => {
    // A real process is stopped (SIGSTOP) right after the first directory it makes on the lock's path:
    // for a lock made by mkdir and filled afterwards, the moment the lock exists and its holder is not
    // recorded yet. There it is killed.
    const lockDir = join(records(dir), `${STORE_FILE_NAME}.lock`);
    const freeze = join(root, 'freeze-at-mkdir.mjs');
    await writeFile(
      freeze,
      `import fs from 'node:fs';
      import { syncBuiltinESMExports } from 'node:module';
      const mkdirSync = fs.mkdirSync;
      let frozen = false;
      fs.mkdirSync = function (path, options) {
        const made = mkdirSync.call(this, path, options);
        if (!frozen && String(path).startsWith(process.env.FREEZE_AT)) {
          frozen = true;
          process.stdout.write('frozen\\n');
          process.kill(process.pid, 'SIGSTOP');
        }
        return made;
      };
      syncBuiltinESMExports();`,
    );
    const script = `
      import { FileConnectionStore } from ${JSON.stringify(new URL('../file-connection-store.ts', import.meta.url).pathname)};
      setInterval(() => {}, 60_000);
      await new FileConnectionStore({ dataDir: ${JSON.stringify(dir)}, storeKey: null }).withLock('default', async () => {
        process.stdout.write('holding\\n');
        await new Promise(() => {});
      });
    `;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--import', freeze, '--input-type=module', '-e', script],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, FREEZE_AT: lockDir } },
    );
    onTestFinished(() => void child.kill('SIGKILL'));
    let output = '';
    await new Promise<void>((resolve) =>
      child.stdout.on(
        'data',
        (chunk: Buffer) => (output += chunk.toString()).includes('frozen') && resolve(),
      ),
    );
    // What any other process sees meanwhile: no lock, or a lock that names its holder.
    expect(existsSync(lockDir) ? readLockOwner(lockDir)?.pid : 'no lock yet').toBeDefined();

    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(output).not.toContain('holding');
    // The next refresh gets in at once: no stale period (an hour here) to sit out, nothing to guess.
    const store = new FileConnectionStore({
      dataDir: dir,
      storeKey: null,
      lockWaitMs: 1_000,
      lockStaleMs: 3_600_000,
    });
    expect(await store.withLock('default', async () => 'ran')).toBe('ran');
    // And what the killed taker had started is swept away.
    expect((await readdir(records(dir))).filter((name) => name.includes('.lock'))).toEqual([]);
  });

  it('a fresh empty lock directory (what proper-lockfile, the lock of 0.1, holds) is waited for; a stale one is replaced at once', async () => {
    const lockDir = join(records(dir), `${STORE_FILE_NAME}.lock`);
    await mkdir(lockDir, { recursive: true, mode: 0o700 });
    const options = { dataDir: dir, storeKey: null, lockStaleMs: 10_000 };
    const waiting = new FileConnectionStore({ ...options, lockWaitMs: 300 });
    let ran = false;
    await expect(waiting.withLock('default', async () => (ran = true))).rejects.toMatchObject({
      name: 'StoreLockTimeoutError',
    });
    expect(ran).toBe(false);
    expect(readdirSync(lockDir)).toEqual([]);
    // Not touched for longer than the stale period: its holder is gone.
    const old = new Date(Date.now() - 60_000);
    await utimes(lockDir, old, old);
    const store = new FileConnectionStore({ ...options, lockWaitMs: 1_000 });
    expect(await store.withLock('default', async () => readLockOwner(lockDir)?.pid)).toBe(process.pid);
    expect(existsSync(lockDir)).toBe(false);
  });

  it('waits for a live holder and names it when the wait runs out', async () => {
    const a = new FileConnectionStore({ dataDir: dir, storeKey: null });
    const b = new FileConnectionStore({
      dataDir: dir,
      storeKey: null,
      lockWaitMs: 300,
      lockStaleMs: 3_600_000,
    });
    await a.withLock('default', async () => {
      await expect(b.withLock('default', async () => 'b')).rejects.toMatchObject({
        name: 'StoreLockTimeoutError',
        message: expect.stringContaining(`process ${process.pid} on`),
      });
    });
  });
});
