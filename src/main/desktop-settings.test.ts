// Settings, window state and start-at-login on Node: a real `conf` file (the library electron-store
// extends) and a real XDG autostart file in a temp directory.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Conf from 'conf';
import { afterEach, describe, expect, it } from 'vitest';
import { autostartEntry, autostartPath, loginItem, quoteExecArgument } from './login-item';
import { SETTINGS_STORE_NAME, SettingsStore } from './settings';
import { DEFAULT_WINDOW_SIZE, restoreBounds, trackWindowState, type TrackedWindow } from './window-state';

const temps: string[] = [];
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qb-desktop-settings-'));
  temps.push(dir);
  return dir;
}
const conf = (cwd: string) =>
  new Conf<Record<string, unknown>>({
    cwd,
    configName: SETTINGS_STORE_NAME,
    projectName: 'qb-token-desk-test',
  });

describe('SettingsStore', () => {
  it('defaults by platform convention and keeps what is set across a restart', () => {
    const dir = tempDir();
    expect(new SettingsStore(conf(dir), 'win32').get()).toEqual({
      closeToTray: true,
      notifications: true,
      window: null,
    });
    expect(new SettingsStore(conf(dir), 'linux').get().closeToTray).toBe(false);
    const first = new SettingsStore(conf(dir), 'linux');
    first.set('notifications', false);
    first.set('window', { x: 10, y: 20, width: 900, height: 700, maximized: true });
    expect(new SettingsStore(conf(dir), 'linux').get()).toEqual({
      closeToTray: false,
      notifications: false,
      window: { x: 10, y: 20, width: 900, height: 700, maximized: true },
    });
  });

  it('falls back field by field when the file holds nonsense', () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, `${SETTINGS_STORE_NAME}.json`),
      JSON.stringify({ notifications: 'yes', window: { width: -5 }, closeToTray: true }),
    );
    expect(new SettingsStore(conf(dir), 'linux').get()).toEqual({
      closeToTray: true,
      notifications: true,
      window: null,
    });
  });
});

describe('restoreBounds', () => {
  const screen = { x: 0, y: 0, width: 1920, height: 1040 };
  it('restores a window that a display still shows', () => {
    expect(restoreBounds({ x: 100, y: 50, width: 900, height: 700, maximized: false }, [screen])).toEqual({
      x: 100,
      y: 50,
      width: 900,
      height: 700,
      maximized: false,
    });
  });

  it('lets the window manager place a window left on an unplugged monitor, and fits it to the screen', () => {
    expect(restoreBounds({ x: 2500, y: 100, width: 2400, height: 700, maximized: false }, [screen])).toEqual({
      width: 1920,
      height: 700,
      maximized: false,
    });
    expect(restoreBounds(null, [screen])).toEqual({ ...DEFAULT_WINDOW_SIZE, maximized: false });
  });
});

describe('trackWindowState', () => {
  it('saves the normal bounds once the window settles, and at once on close', async () => {
    const listeners = new Map<string, () => void>();
    let bounds = { x: 1, y: 2, width: 800, height: 600 };
    const window: TrackedWindow = {
      on: (event, listener) => listeners.set(event, listener),
      getNormalBounds: () => bounds,
      isMaximized: () => false,
      isDestroyed: () => false,
    };
    const saved: unknown[] = [];
    trackWindowState(window, (b) => saved.push(b), 5);
    listeners.get('move')?.();
    listeners.get('resize')?.();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(saved).toEqual([{ ...bounds, maximized: false }]);
    bounds = { x: 5, y: 6, width: 700, height: 500 };
    listeners.get('close')?.();
    expect(saved.at(-1)).toEqual({ ...bounds, maximized: false });
  });
});

describe('loginItem', () => {
  it('uses app.setLoginItemSettings on macOS and Windows', () => {
    const calls: unknown[] = [];
    let openAtLogin = false;
    const app = {
      setLoginItemSettings: (s: { openAtLogin?: boolean }) =>
        void (calls.push(s), (openAtLogin = Boolean(s.openAtLogin))),
      getLoginItemSettings: () => ({ openAtLogin }) as ReturnType<Electron.App['getLoginItemSettings']>,
    };
    const item = loginItem({
      platform: 'win32',
      app,
      env: {},
      command: ['C:\\qb.exe'],
      name: 'QB Token Desk',
      id: 'qb',
    });
    item.setEnabled(true);
    expect(item.isEnabled()).toBe(true);
    expect(calls).toEqual([{ openAtLogin: true }]);
  });

  it('writes and removes an XDG autostart entry on Linux', () => {
    const configHome = tempDir();
    const app = {
      setLoginItemSettings: () => {
        throw new Error('not on Linux');
      },
      getLoginItemSettings: () => {
        throw new Error('not on Linux');
      },
    };
    const item = loginItem({
      platform: 'linux',
      app,
      env: { XDG_CONFIG_HOME: configHome },
      command: ['/opt/QB Token Desk/qb-token-desk', '--flag=%u'],
      name: 'QB Token Desk',
      id: 'com.qbtokendesk.app',
    });
    expect(item.isEnabled()).toBe(false);
    item.setEnabled(true);
    const path = autostartPath({ XDG_CONFIG_HOME: configHome }, 'com.qbtokendesk.app');
    expect(path).toBe(join(configHome, 'autostart', 'com.qbtokendesk.app.desktop'));
    expect(readFileSync(path, 'utf8')).toBe(
      autostartEntry('QB Token Desk', ['/opt/QB Token Desk/qb-token-desk', '--flag=%u']),
    );
    expect(readFileSync(path, 'utf8')).toContain('Exec="/opt/QB Token Desk/qb-token-desk" "--flag=%%u"\n');
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(item.isEnabled()).toBe(true);
    item.setEnabled(false);
    expect(item.isEnabled()).toBe(false);
    expect(quoteExecArgument('/usr/bin/plain')).toBe('/usr/bin/plain');
  });
});
