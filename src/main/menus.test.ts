import type { MenuItem, MenuItemConstructorOptions } from 'electron';
import { describe, expect, it } from 'vitest';
import { SHORTCUTS } from '../shared/shortcuts';
import { applicationMenuTemplate, trayMenuTemplate, type MenuActions, type MenuState } from './menus';

function recorder() {
  const calls: string[] = [];
  const actions: MenuActions = {
    run: (command) => calls.push(`run ${command}`),
    openDashboard: () => calls.push('open'),
    setStartAtLogin: (on) => calls.push(`login ${on}`),
    setCloseToTray: (on) => calls.push(`tray ${on}`),
    setNotifications: (on) => calls.push(`notifications ${on}`),
    quit: () => calls.push('quit'),
  };
  return { calls, actions };
}

const state = (overrides: Partial<MenuState> = {}): MenuState => ({
  platform: 'linux',
  appName: 'QB Token Desk',
  startAtLogin: false,
  closeToTray: false,
  notifications: true,
  isPackaged: true,
  ...overrides,
});

function flatten(items: MenuItemConstructorOptions[]): MenuItemConstructorOptions[] {
  return items.flatMap((item) => [item, ...(Array.isArray(item.submenu) ? flatten(item.submenu) : [])]);
}

const click = (item: MenuItemConstructorOptions | undefined, checked = false) =>
  item?.click?.({ checked } as MenuItem, undefined, {} as never);

describe('application menu', () => {
  it('offers the three token actions with the shared shortcuts and no reload', () => {
    const { calls, actions } = recorder();
    const items = flatten(applicationMenuTemplate(state(), actions));
    for (const [command, accelerator] of Object.entries(SHORTCUTS)) {
      const item = items.find((i) => i.id === `command-${command}`);
      expect(item?.accelerator).toBe(accelerator);
      click(item);
    }
    expect(calls).toEqual(['run refresh', 'run clear', 'run testConnection']);
    expect(items.some((i) => i.role === 'reload' || i.role === 'forceReload')).toBe(false);
    expect(items.some((i) => i.role === 'toggleDevTools')).toBe(false);
    expect(
      flatten(applicationMenuTemplate(state({ isPackaged: false }), actions)).some(
        (i) => i.role === 'toggleDevTools',
      ),
    ).toBe(true);
  });

  it('follows each platform: an app menu on macOS, no tray choice there', () => {
    const { actions } = recorder();
    const mac = applicationMenuTemplate(state({ platform: 'darwin' }), actions);
    expect(mac[0]?.label).toBe('QB Token Desk');
    expect(flatten(mac).some((i) => i.label?.startsWith('Keep running'))).toBe(false);
    expect(
      flatten(applicationMenuTemplate(state({ platform: 'win32' }), actions)).some((i) =>
        i.label?.startsWith('Keep running'),
      ),
    ).toBe(true);
  });
});

describe('tray menu', () => {
  it('shows the status, then Refresh now, Open dashboard, the settings and Quit', () => {
    const { calls, actions } = recorder();
    const items = trayMenuTemplate(state({ startAtLogin: true }), ['Access token 30 min left'], actions);
    expect(items.map((i) => i.label ?? i.type)).toEqual([
      'Access token 30 min left',
      'separator',
      'Refresh now',
      'Open dashboard',
      'separator',
      'Start at login',
      'Keep running in the tray when the window is closed',
      'Notifications',
      'separator',
      'Quit QB Token Desk',
    ]);
    expect(items[0]?.enabled).toBe(false);
    expect(items.find((i) => i.label === 'Start at login')).toMatchObject({
      type: 'checkbox',
      checked: true,
    });
    for (const label of ['Refresh now', 'Open dashboard', 'Quit QB Token Desk'])
      click(items.find((i) => i.label === label));
    click(
      items.find((i) => i.label === 'Start at login'),
      false,
    );
    click(
      items.find((i) => i.label === 'Notifications'),
      false,
    );
    click(
      items.find((i) => i.label?.startsWith('Keep running')),
      true,
    );
    expect(calls).toEqual(['run refresh', 'open', 'quit', 'login false', 'notifications false', 'tray true']);
  });
});
