// The application menu and the tray menu, as templates for Menu.buildFromTemplate. Pure: the
// actions and the settings' current values come in, so each template is tested on Node. The
// shortcuts are src/shared/shortcuts.ts, the same the page shows beside its buttons.
import type { MenuItemConstructorOptions } from 'electron';
import { SHORTCUTS, type DesktopCommand } from '../shared/shortcuts';

export const COMMAND_LABELS: Record<DesktopCommand, string> = {
  refresh: 'Refresh now',
  clear: 'Clear cache',
  testConnection: 'Test connection',
};

export interface MenuActions {
  run(command: DesktopCommand): void;
  openDashboard(): void;
  setStartAtLogin(enabled: boolean): void;
  setCloseToTray(enabled: boolean): void;
  setNotifications(enabled: boolean): void;
  quit(): void;
}

export interface MenuState {
  platform: NodeJS.Platform;
  appName: string;
  startAtLogin: boolean;
  closeToTray: boolean;
  notifications: boolean;
  /** Developer tools only in an unpackaged build. */
  isPackaged: boolean;
}

function settingsItems(state: MenuState, actions: MenuActions): MenuItemConstructorOptions[] {
  const items: MenuItemConstructorOptions[] = [
    {
      label: 'Start at login',
      type: 'checkbox',
      checked: state.startAtLogin,
      click: (item) => actions.setStartAtLogin(item.checked),
    },
  ];
  // macOS never quits when its window closes; the choice exists on Windows and Linux only.
  if (state.platform !== 'darwin') {
    items.push({
      label: 'Keep running in the tray when the window is closed',
      type: 'checkbox',
      checked: state.closeToTray,
      click: (item) => actions.setCloseToTray(item.checked),
    });
  }
  items.push({
    label: 'Notifications',
    type: 'checkbox',
    checked: state.notifications,
    click: (item) => actions.setNotifications(item.checked),
  });
  return items;
}

function commandItem(command: DesktopCommand, actions: MenuActions): MenuItemConstructorOptions {
  return {
    id: `command-${command}`,
    label: COMMAND_LABELS[command],
    accelerator: SHORTCUTS[command],
    click: () => actions.run(command),
  };
}

export function applicationMenuTemplate(
  state: MenuState,
  actions: MenuActions,
): MenuItemConstructorOptions[] {
  const mac = state.platform === 'darwin';
  const template: MenuItemConstructorOptions[] = [];
  if (mac) {
    template.push({
      label: state.appName,
      submenu: [
        { role: 'about' },
        { type: 'separator' },
        { role: 'hide' },
        { role: 'hideOthers' },
        { role: 'unhide' },
        { type: 'separator' },
        { role: 'quit' },
      ],
    });
  } else {
    template.push({
      label: '&File',
      submenu: [
        { role: 'close', label: 'Close window' },
        { type: 'separator' },
        { label: 'Quit', accelerator: 'CmdOrCtrl+Q', click: () => actions.quit() },
      ],
    });
  }
  template.push({ role: 'editMenu' });
  template.push({
    label: '&Tokens',
    submenu: [
      commandItem('refresh', actions),
      commandItem('clear', actions),
      commandItem('testConnection', actions),
    ],
  });
  template.push({ label: '&Settings', submenu: settingsItems(state, actions) });
  // No reload: the page holds no state worth reloading for. Without this item Ctrl/Cmd+R does nothing
  // in the app (Electron reloads only through a menu role); the actions take Ctrl+Alt instead.
  const view: MenuItemConstructorOptions[] = [
    { role: 'resetZoom' },
    { role: 'zoomIn' },
    { role: 'zoomOut' },
    { type: 'separator' },
    { role: 'togglefullscreen' },
  ];
  if (!state.isPackaged) view.push({ type: 'separator' }, { role: 'toggleDevTools' });
  template.push({ label: '&View', submenu: view });
  template.push({ role: 'windowMenu' });
  return template;
}

export function trayMenuTemplate(
  state: MenuState,
  statusLines: readonly string[],
  actions: MenuActions,
): MenuItemConstructorOptions[] {
  return [
    // Linux trays show no tooltip: the status is the menu's first lines.
    ...statusLines.map((label): MenuItemConstructorOptions => ({ label, enabled: false })),
    { type: 'separator' },
    { id: 'tray-refresh', label: COMMAND_LABELS.refresh, click: () => actions.run('refresh') },
    { id: 'tray-open', label: 'Open dashboard', click: () => actions.openDashboard() },
    { type: 'separator' },
    ...settingsItems(state, actions),
    { type: 'separator' },
    { id: 'tray-quit', label: `Quit ${state.appName}`, click: () => actions.quit() },
  ];
}
