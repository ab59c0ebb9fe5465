// Main's wiring on Node, with real parts: startDesk in demo mode (the in-process Intuit emulator
// over loopback HTTP), the desktop store on a real `conf` file with a safeStorage stand-in, and
// the IPC layer through an ipcMain stand-in, exactly as index.ts connects them.
import { lstatSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Conf from 'conf';
import { afterEach, describe, expect, it } from 'vitest';
import { startDesk } from '../core/bootstrap';
import type { EngineKnobs } from '../core/connection-registry';
import { toResultError } from '../core/errors';
import { holdLock } from '../core/testing/held-lock';
import { IPC_CHANNELS, type Result, type TokenStatus } from '../shared/contract';
import { startDeskHost, type DeskHost, type DeskHostOptions } from './desk-host';
import { registerIpcHandlers, trustedSenderFor } from './ipc';
import { DESKTOP_STORE_NAME, DesktopConnectionStore, type SafeStorageLike } from './store';
import { frameEvent, IpcMainStandIn } from './testing/stand-ins';

const APP_URL = 'file:///opt/qb/out/renderer/index.html';
const fromApp = frameEvent(APP_URL);

const safeStorage: SafeStorageLike = {
  isEncryptionAvailable: () => true,
  getSelectedStorageBackend: () => 'gnome_libsecret',
  encryptString: (text) => Buffer.from(text, 'utf8').reverse(),
  decryptString: (data) => Buffer.from(data).reverse().toString('utf8'),
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qb-desk-host-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function host(
  env: Record<string, string>,
  dir: string,
  extras: {
    connectActions?: DeskHostOptions['connectActions'];
    keychain?: SafeStorageLike;
    manager?: EngineKnobs;
  } = {},
) {
  const { connectActions, keychain = safeStorage, manager } = extras;
  const pushes: TokenStatus[] = [];
  const logs: string[] = [];
  const deskHost: DeskHost = startDeskHost({
    start: () =>
      startDesk({
        env: { QB_DATA_DIR: dir, ...env },
        cwd: dir,
        log: (line) => logs.push(line),
        manager,
        store: (config) =>
          new DesktopConnectionStore({
            directory: config.dataDir ?? dir,
            openStore: (directory) =>
              new Conf({ cwd: directory, configName: DESKTOP_STORE_NAME, clearInvalidConfig: false }),
            safeStorage: keychain,
          }),
      }),
    push: (status) => pushes.push(status),
    log: (line) => logs.push(line),
    connectActions,
  });
  cleanups.push(() => deskHost.close());
  const ipcMain = new IpcMainStandIn();
  registerIpcHandlers(ipcMain, deskHost.handlers, trustedSenderFor(APP_URL), { toError: toResultError });
  const call = async <T>(channel: string, ...args: unknown[]) =>
    (await ipcMain.invoke(channel, fromApp, ...args)) as Result<T>;
  return { deskHost, call, pushes, logs };
}

/** A demo desk in `dir` that refreshed once and closed: returns its store file. */
async function demoStoreRefreshedOnce(dir: string): Promise<string> {
  const first = host({ QB_DEMO: '1' }, dir);
  expect(value(await first.call<TokenStatus>(IPC_CHANNELS.refresh)).lastRefresh?.ok).toBe(true);
  await first.deskHost.close();
  return join(dir, 'demo', `${DESKTOP_STORE_NAME}.json`);
}

function value<T>(result: Result<T>): T {
  if (!result.ok) throw new Error(`expected ok, got ${result.error.code}: ${result.error.message}`);
  return result.value;
}

describe('main process wiring (demo mode, real engine and emulator)', () => {
  it('answers status, refresh and clear over IPC and pushes every change', async () => {
    const dir = tempDir();
    const { deskHost, call, pushes } = host({ QB_DEMO: '1' }, dir);

    const first = value(await call<TokenStatus>(IPC_CHANNELS.getStatus));
    expect(first.demo).toBe(true);
    expect(first.state).not.toBe('not_configured');
    const { started } = await deskHost.ready;
    expect(started).not.toBeNull();
    expect(pushes.length).toBeGreaterThan(0);

    const refreshed = value(await call<TokenStatus>(IPC_CHANNELS.refresh));
    expect(refreshed.lastRefresh).toMatchObject({ ok: true, trigger: 'manual' });
    expect(refreshed.accessToken?.preview).toMatch(/^…|^\.\.\./);
    expect(pushes.at(-1)).toEqual(value(await call<TokenStatus>(IPC_CHANNELS.getStatus)));

    const pushesBefore = pushes.length;
    const cleared = value(await call<TokenStatus>(IPC_CHANNELS.clear));
    expect(cleared.accessToken).toBeNull();
    expect(cleared.refreshToken).not.toBeNull();
    expect(pushes.length).toBeGreaterThan(pushesBefore);

    const connection = value(await call<{ companyName: string }>(IPC_CHANNELS.testConnection));
    expect(connection.companyName.length).toBeGreaterThan(0);

    await expect(call(IPC_CHANNELS.connect)).resolves.toEqual({
      ok: false,
      error: { code: 'internal', message: 'not available yet' },
    });

    // The demo chain is in the desktop store (its demo folder), encrypted: no token value on disk.
    const file = readFileSync(join(dir, 'demo', `${DESKTOP_STORE_NAME}.json`), 'utf8');
    const demoRefreshToken = started?.emulator?.refreshToken ?? '';
    expect(demoRefreshToken.length).toBeGreaterThan(8);
    expect(file).not.toContain(demoRefreshToken);
    // ...and none in anything the renderer was sent.
    expect(JSON.stringify(pushes)).not.toContain(demoRefreshToken);
  });

  it('a configuration error shows as not_configured with the variable named; nothing crashes', async () => {
    const dir = tempDir();
    const { deskHost, call, pushes } = host(
      {
        QB_CLIENT_ID: 'client-id',
        QB_CLIENT_SECRET: 'client-secret-value',
        QB_REFRESH_TOKEN: 'RT-value-0001',
        QB_ENVIRONMENT: 'staging',
      },
      dir,
    );
    const status = value(await call<TokenStatus>(IPC_CHANNELS.getStatus));
    expect(status.state).toBe('not_configured');
    expect(status.warnings.join(' ')).toMatch(/QB_ENVIRONMENT/);
    expect(JSON.stringify(status)).not.toContain('client-secret-value');
    expect(pushes).toEqual([status]);
    await expect(call(IPC_CHANNELS.refresh)).resolves.toMatchObject({
      ok: false,
      error: { code: 'not_configured' },
    });
    expect((await deskHost.ready).started).toBeNull();
  });

  it('a keychain that no longer opens the stored chain: the window says why and what to do, nothing is touched', async () => {
    const dir = tempDir();
    const file = await demoStoreRefreshedOnce(dir);
    const before = readFileSync(file, 'utf8');

    // The keyring was reset: its new key "decrypts" the chain to garbage (no integrity check in AES-CBC).
    const resetKeychain: SafeStorageLike = {
      ...safeStorage,
      decryptString: () => '\u0003\u00e9\u0012garbage',
    };
    const { deskHost, call } = host({ QB_DEMO: '1' }, dir, { keychain: resetKeychain });
    const status = value(await call<TokenStatus>(IPC_CHANNELS.getStatus));
    expect(status.state).toBe('not_configured');
    expect(status.warnings.join(' ')).toMatch(
      /could not be decrypted by the operating system's keychain: it is locked.*Unlock the keychain/,
    );
    await expect(call(IPC_CHANNELS.refresh)).resolves.toMatchObject({
      ok: false,
      error: { code: 'not_configured', message: expect.stringContaining('keychain') },
    });
    expect((await deskHost.ready).started).toBeNull();
    // Left exactly as it was: not moved aside, not rewritten.
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('a store file that is a symbolic link: the window says so and names QB_DATA_DIR; the link and its target are left alone', async () => {
    const dir = tempDir();
    const file = await demoStoreRefreshedOnce(dir);
    const target = join(dir, 'kept-elsewhere.json');
    renameSync(file, target);
    symlinkSync(target, file);
    const before = readFileSync(target, 'utf8');

    const { deskHost, call } = host({ QB_DEMO: '1' }, dir);
    const status = value(await call<TokenStatus>(IPC_CHANNELS.getStatus));
    expect(status.state).toBe('not_configured');
    expect(status.warnings.join(' ')).toMatch(/is a symbolic link.*Move the real file into QB_DATA_DIR/);
    await expect(call(IPC_CHANNELS.refresh)).resolves.toMatchObject({
      ok: false,
      error: { message: expect.stringContaining('symbolic link') },
    });
    expect((await deskHost.ready).started).toBeNull();
    expect(lstatSync(file).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe(before);
  });

  it('a store error reaches the window with its own code and sentence (the lock held past the wait)', async () => {
    const dir = tempDir();
    const { deskHost, call } = host({ QB_DEMO: '1' }, dir, { manager: { lockWaitMs: 200 } });
    expect((await deskHost.ready).started).not.toBeNull();
    // Another holder (a second store on the same directory, as another process would be) keeps the lock.
    const other = new DesktopConnectionStore({
      directory: join(dir, 'demo'),
      openStore: (directory) =>
        new Conf({ cwd: directory, configName: DESKTOP_STORE_NAME, clearInvalidConfig: false }),
      safeStorage,
    });
    const held = await holdLock(other, 'default');
    await expect(call(IPC_CHANNELS.refresh)).resolves.toEqual({
      ok: false,
      error: {
        code: 'store_busy',
        message: expect.stringMatching(/^process \d+ on \S+ holds the refresh lock on .*Try again later\.$/),
      },
    });
    await held.release();
    expect(value(await call<TokenStatus>(IPC_CHANNELS.refresh)).lastRefresh?.ok).toBe(true);
  });

  it('hands connect/disconnect to the Connect flow and cancels a waiting attempt on close', async () => {
    const dir = tempDir();
    const calls: string[] = [];
    const { deskHost, call } = host({ QB_DEMO: '1' }, dir, {
      connectActions: (started) => ({
        connect: async () => (calls.push('connect'), started.desk.getStatus()),
        disconnect: async (options) => (
          calls.push(`disconnect:${JSON.stringify(options)}`),
          started.desk.getStatus()
        ),
        cancel: async () => void calls.push('cancel'),
      }),
    });
    await expect(call(IPC_CHANNELS.connect)).resolves.toMatchObject({ ok: true });
    await expect(call(IPC_CHANNELS.disconnect, { force: true })).resolves.toMatchObject({ ok: true });
    await deskHost.close();
    await deskHost.close();
    expect(calls).toEqual(['connect', 'disconnect:{"force":true}', 'cancel']);
  });
});
