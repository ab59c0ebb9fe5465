// Electron main: lifecycle, the window, the tray, menus, notifications and the IPC answers. The
// only main-process module that imports `electron`; everything it wires is injected, so the pieces
// are unit-tested on Node, and the desktop-host Playwright project runs this very bundle.
import { join } from 'node:path';
import {
  app,
  BrowserWindow,
  ipcMain,
  Menu,
  nativeImage,
  Notification,
  safeStorage,
  screen,
  session,
  shell,
  Tray,
  type NativeImage,
} from 'electron';
import ElectronStore from 'electron-store';
import { startDesk } from '../core/bootstrap';
import { toResultError } from '../core/errors';
import {
  COMMAND_CHANNEL,
  CONNECTIONS_CHANGED_CHANNEL,
  STATUS_CHANGED_CHANNEL,
  type ConnectionSummary,
  type Result,
  type TokenStatus,
} from '../shared/contract';
import type { DesktopCommand } from '../shared/shortcuts';
import { dataDirFromEnv, locateApp } from './app-location';
import type { Notice } from './condition-notifier';
import { desktopConnectActions } from './connect-desktop';
import { startDeskHost, type DeskHost } from './desk-host';
import { DesktopIndicators } from './desktop-indicators';
import { registerIpcHandlers, trustedSenderFor } from './ipc';
import { loginItem } from './login-item';
import { createMainLog } from './main-log';
import {
  applicationMenuTemplate,
  COMMAND_LABELS,
  trayMenuTemplate,
  type MenuActions,
  type MenuState,
} from './menus';
import {
  externalHostsFor,
  hardenSession,
  hardenWebContents,
  installContentSecurityPolicy,
  isSameDocument,
  sandboxRefusal,
  urlForLog,
} from './security';
import { SETTINGS_STORE_NAME, SettingsStore } from './settings';
import { DESKTOP_STORE_NAME, DesktopConnectionStore } from './store';
import type { HealthLevel, TrayPresentation } from './tray-presentation';
import { createMainWindow } from './window';
import { restoreBounds, trackWindowState } from './window-state';

const APP_NAME = 'QB Token Desk';
/** The packaged app's id (electron-builder.yml appId): the Linux autostart entry is named after it. */
const APP_ID = 'com.qbtokendesk.app';
/** How often the tray's countdown and the time-based conditions are re-evaluated. */
const TICK_MS = 30_000;

const mainLog = createMainLog(process.env);

// A packaged build never runs without Chromium's sandbox, whoever starts it with what.
const refusal = sandboxRefusal({
  isPackaged: app.isPackaged,
  noSandbox: app.commandLine.hasSwitch('no-sandbox'),
});
if (!refusal) app.enableSandbox();

// Before anything reads userData (the single-instance lock included): tests run side by side,
// each in its own QB_DATA_DIR.
const dataDir = dataDirFromEnv(process.env, process.cwd());
if (dataDir) app.setPath('userData', dataDir);

const location = locateApp({
  mainDir: import.meta.dirname,
  devServerUrl: process.env.ELECTRON_RENDERER_URL,
  isPackaged: app.isPackaged,
});
const trayIconDir = join(import.meta.dirname, '..', '..', 'resources', 'tray');

let mainWindow: BrowserWindow | null = null;
let deskHost: DeskHost | null = null;
let settings: SettingsStore | null = null;
let indicators: DesktopIndicators | null = null;
let tray: Tray | null = null;
let quitting = false;
/** The newest status of each connection, so a window opened later (macOS activate, from the tray) starts from them. */
const lastStatuses = new Map<string, TokenStatus>();
/** Shown notifications, kept referenced until dismissed: one collected early loses its click handler. */
const liveNotifications = new Set<Notification>();

const startAtLogin = loginItem({
  platform: process.platform,
  app,
  env: process.env,
  command: app.isPackaged ? [process.env.APPIMAGE ?? process.execPath] : [process.execPath, app.getAppPath()],
  name: APP_NAME,
  id: APP_ID,
});

function openMainWindow(): BrowserWindow {
  const saved = settings?.get().window ?? null;
  const bounds = restoreBounds(
    saved,
    screen.getAllDisplays().map((display) => display.workArea),
  );
  const window = createMainWindow(BrowserWindow, {
    ...location,
    bounds: { x: bounds.x, y: bounds.y, width: bounds.width, height: bounds.height },
    onLoadError: (error) => mainLog.error(`[main] the app page failed to load: ${describe(error)}`),
  });
  mainWindow = window;
  if (bounds.maximized) window.maximize();
  trackWindowState(window, (next) => settings?.set('window', next));
  // A push sent before the page listened is lost; send the newest once the page has loaded.
  window.webContents.on('did-finish-load', () => {
    for (const status of [...lastStatuses.values()]) pushStatus(status);
  });
  window.on('close', (event) => {
    // Keep running in the tray: hide instead of closing, unless the app is quitting.
    if (!quitting && keepsRunningWhenClosed()) {
      event.preventDefault();
      window.hide();
    }
  });
  window.on('closed', () => {
    if (mainWindow === window) mainWindow = null;
  });
  return window;
}

/** Windows and Linux: the setting. macOS: closing a window never quits (the convention). */
function keepsRunningWhenClosed(): boolean {
  return process.platform !== 'darwin' && tray !== null && (settings?.get().closeToTray ?? false);
}

function openDashboard(): void {
  const window = mainWindow ?? openMainWindow();
  if (window.isMinimized()) window.restore();
  window.show();
  window.focus();
}

/** The main window when it is on screen and showing the app's page. */
function visibleAppWindow(): BrowserWindow | null {
  const window = mainWindow;
  if (!window || window.isDestroyed() || !window.isVisible()) return null;
  return isSameDocument(window.webContents.getURL(), location.appUrl) ? window : null;
}

/** Pushes a status (of any connection: it names its own) to every window showing the app's own page, and to the tray. */
function pushStatus(status: TokenStatus): void {
  lastStatuses.delete(status.connection.id);
  lastStatuses.set(status.connection.id, status);
  indicators?.update(status);
  sendToApp(STATUS_CHANGED_CHANNEL, status);
}

/** After a connection was added or removed: the new list; a removed one leaves the tray and the replay. */
function pushConnections(connections: ConnectionSummary[]): void {
  const ids = new Set(connections.map((connection) => connection.id));
  for (const id of [...lastStatuses.keys()]) if (!ids.has(id)) lastStatuses.delete(id);
  indicators?.retain(ids);
  sendToApp(CONNECTIONS_CHANGED_CHANNEL, connections);
}

function sendToApp(channel: string, value: unknown): void {
  for (const window of BrowserWindow.getAllWindows()) {
    const contents = window.webContents;
    if (contents.isDestroyed() || !isSameDocument(contents.getURL(), location.appUrl)) continue;
    contents.send(channel, value);
  }
}

/**
 * A menu, shortcut or tray action. With the dashboard on screen the page runs it for the company it
 * shows, as its button would, so the outcome shows there; otherwise (from the tray, the window
 * hidden) main runs it for every company the tray watches and says so only where it failed.
 */
function runCommand(command: DesktopCommand): void {
  const window = visibleAppWindow();
  if (window) return window.webContents.send(COMMAND_CHANNEL, command);
  const host = deskHost;
  if (!host) return;
  void host.handlers.listConnections().then(async (listed) => {
    const companies = listed.ok ? listed.value : [];
    const ids = companies.length > 0 ? companies.map((c) => c.id) : [undefined];
    const several = companies.length > 1;
    await Promise.all(
      ids.map(async (id) => {
        const call: (id?: string) => Promise<Result<unknown>> = host.handlers[command];
        const result = await call(id);
        if (result.ok) return;
        const name = several ? companies.find((c) => c.id === id)?.name : undefined;
        notify({
          title: `${COMMAND_LABELS[command]} failed${name ? `: ${name}` : ''}`,
          body: `${result.error.message}${result.error.intuitTid ? ` intuit_tid: ${result.error.intuitTid}` : ''}`,
          urgent: false,
        });
      }),
    );
  });
}

function notify(notice: Pick<Notice, 'title' | 'body' | 'urgent'>): void {
  if (!Notification.isSupported()) return;
  const notification = new Notification({
    title: notice.title,
    body: notice.body,
    urgency: notice.urgent ? 'critical' : 'normal',
  });
  liveNotifications.add(notification);
  const forget = () => liveNotifications.delete(notification);
  notification.on('click', () => {
    forget();
    openDashboard();
  });
  notification.on('close', forget);
  notification.show();
}

function menuState(): MenuState {
  const current = settings?.get();
  let openAtLogin = false;
  try {
    openAtLogin = startAtLogin.isEnabled();
  } catch (error) {
    mainLog.warn(`[main] could not read the start-at-login setting: ${describe(error)}`);
  }
  return {
    platform: process.platform,
    appName: APP_NAME,
    startAtLogin: openAtLogin,
    closeToTray: current?.closeToTray ?? false,
    notifications: current?.notifications ?? true,
    isPackaged: app.isPackaged,
  };
}

const menuActions: MenuActions = {
  run: runCommand,
  openDashboard,
  setStartAtLogin(enabled) {
    try {
      startAtLogin.setEnabled(enabled);
    } catch (error) {
      mainLog.error(`[main] could not change start at login: ${describe(error)}`);
    }
    refreshMenus();
  },
  setCloseToTray(enabled) {
    settings?.set('closeToTray', enabled);
    refreshMenus();
  },
  setNotifications(enabled) {
    settings?.set('notifications', enabled);
    refreshMenus();
  },
  quit: () => app.quit(),
};

function refreshMenus(): void {
  Menu.setApplicationMenu(Menu.buildFromTemplate(applicationMenuTemplate(menuState(), menuActions)));
  indicators?.redraw();
}

function trayIcon(level: HealthLevel): NativeImage {
  return nativeImage.createFromPath(join(trayIconDir, `tray-${level}.png`));
}

function showTray(presentation: TrayPresentation): void {
  const image = trayIcon(presentation.level);
  if (!tray) {
    tray = new Tray(image);
    // Windows and most Linux trays: a click opens the dashboard; the menu is on right-click.
    tray.on('click', openDashboard);
  } else {
    tray.setImage(image);
  }
  tray.setToolTip(presentation.tooltip);
  tray.setContextMenu(Menu.buildFromTemplate(trayMenuTemplate(menuState(), presentation.lines, menuActions)));
}

function startEngine(): DeskHost {
  const userData = app.getPath('userData');
  const host = startDeskHost({
    // The desktop default for the store is userData (QB_DATA_DIR already moved it there).
    start: () =>
      startDesk({
        env: { ...process.env, QB_DATA_DIR: process.env.QB_DATA_DIR?.trim() || userData },
        cwd: process.cwd(),
        log: (line) => console.error(line),
        clientName: 'desktop',
        store: (config) =>
          new DesktopConnectionStore({
            directory: config.dataDir ?? userData,
            storeKey: config.storeKey,
            environment: config.environment,
            openStore: (directory) =>
              new ElectronStore<Record<string, unknown>>({
                cwd: directory,
                name: DESKTOP_STORE_NAME,
                clearInvalidConfig: false,
                configFileMode: 0o600,
              }),
            safeStorage,
            log: mainLog.error,
          }),
      }),
    push: pushStatus,
    pushConnections,
    log: mainLog.error,
    // Connect opens Intuit's consent page in the system browser and waits on the loopback listener.
    connectActions: (started) =>
      desktopConnectActions({
        flow: started.connectFlow,
        redirectUri: started.config.redirectUri,
        openExternal: (url) => shell.openExternal(url),
        log: started.log,
      }),
  });
  void host.ready.then(({ started }) => {
    if (started) mainLog.adopt(started.secrets);
  });
  return host;
}

async function start(): Promise<void> {
  hardenSession(session.defaultSession);
  installContentSecurityPolicy(session.defaultSession.webRequest, location.appUrl);
  settings = new SettingsStore(
    new ElectronStore<Record<string, unknown>>({ cwd: app.getPath('userData'), name: SETTINGS_STORE_NAME }),
  );
  indicators = new DesktopIndicators(
    { showTray, notify },
    { notificationsEnabled: () => settings?.get().notifications ?? true },
  );
  setInterval(() => indicators?.tick(), TICK_MS).unref();
  // Handlers first: the page asks for the status as soon as it loads; calls wait for the engine.
  deskHost = startEngine();
  registerIpcHandlers(ipcMain, deskHost.handlers, trustedSenderFor(location.appUrl), {
    toError: toResultError,
  });
  refreshMenus();
  indicators.tick();
  openMainWindow();
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

if (refusal) {
  mainLog.error(`[main] ${refusal}`);
  app.exit(1);
} else if (!app.requestSingleInstanceLock()) {
  // Another instance owns this data directory; it has been asked to come forward.
  app.quit();
} else {
  app.on('second-instance', () => {
    if (app.isReady()) openDashboard();
  });

  app.on('web-contents-created', (_event, contents) => {
    hardenWebContents(contents, {
      shell,
      appUrl: location.appUrl,
      externalHosts: externalHostsFor(process.env.QB_AUTHORIZE_URL),
      onDenied: (kind, url) => mainLog.warn(`[main] refused ${kind}${url ? `: ${urlForLog(url)}` : ''}`),
    });
  });

  // Stop timers and let an in-flight refresh settle before exiting (the store is never left half-written).
  app.on('before-quit', (event) => {
    quitting = true;
    if (!deskHost) return;
    event.preventDefault();
    const host = deskHost;
    deskHost = null;
    host
      .close()
      .catch((error: unknown) => mainLog.error(`[main] shutting the engine down failed: ${describe(error)}`))
      .finally(() => {
        tray?.destroy();
        tray = null;
        app.quit();
      });
  });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });

  app.on('activate', () => {
    if (app.isReady()) openDashboard();
  });

  app
    .whenReady()
    .then(start)
    .catch((error: unknown) => {
      mainLog.error(`[main] start-up failed: ${describe(error)}`);
      app.exit(1);
    });
}
