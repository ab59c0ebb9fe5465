// Electron main: lifecycle, the window, and the IPC answers. The only main-process module that
// imports `electron`; everything it wires is injected, so the pieces are unit-tested on Node.
import { app, BrowserWindow, ipcMain, safeStorage, session, shell } from 'electron';
import ElectronStore from 'electron-store';
import { startDesk } from '../core/bootstrap';
import { toResultError } from '../core/errors';
import {
  CONNECTIONS_CHANGED_CHANNEL,
  STATUS_CHANGED_CHANNEL,
  type ConnectionSummary,
  type TokenStatus,
} from '../shared/contract';
import { dataDirFromEnv, locateApp } from './app-location';
import { desktopConnectActions } from './connect-desktop';
import { startDeskHost, type DeskHost } from './desk-host';
import { registerIpcHandlers, trustedSenderFor } from './ipc';
import { DESKTOP_STORE_NAME, DesktopConnectionStore } from './store';
import { externalHostsFor, hardenSession, hardenWebContents, isSameDocument, urlForLog } from './security';
import { createMainWindow } from './window';

// Before anything reads userData (the single-instance lock included): tests run side by side,
// each in its own QB_DATA_DIR.
const dataDir = dataDirFromEnv(process.env, process.cwd());
if (dataDir) app.setPath('userData', dataDir);

const location = locateApp({
  mainDir: import.meta.dirname,
  devServerUrl: process.env.ELECTRON_RENDERER_URL,
  isPackaged: app.isPackaged,
});

let mainWindow: BrowserWindow | null = null;
let deskHost: DeskHost | null = null;
/** The newest status of each connection, so a window opened later (macOS activate) starts from them. */
const lastStatuses = new Map<string, TokenStatus>();

function openMainWindow(): BrowserWindow {
  mainWindow = createMainWindow(BrowserWindow, {
    ...location,
    onLoadError: (error) => console.error('[main] the app page failed to load:', describe(error)),
  });
  // A push sent before the page listened is lost; send the newest once the page has loaded.
  mainWindow.webContents.on('did-finish-load', () => {
    for (const status of [...lastStatuses.values()]) pushStatus(status);
  });
  mainWindow.on('closed', () => {
    mainWindow = null;
  });
  return mainWindow;
}

function focusMainWindow(): void {
  const window = mainWindow ?? openMainWindow();
  if (window.isMinimized()) window.restore();
  window.show();
  window.focus();
}

/** Pushes a status (of any connection: it names its own) to every window showing the app's own page. */
function pushStatus(status: TokenStatus): void {
  lastStatuses.delete(status.connection.id);
  lastStatuses.set(status.connection.id, status);
  sendToApp(STATUS_CHANGED_CHANNEL, status);
}

/** After a connection was added or removed: the new list, and no replay of a removed one's status. */
function pushConnections(connections: ConnectionSummary[]): void {
  const ids = new Set(connections.map((connection) => connection.id));
  for (const id of [...lastStatuses.keys()]) if (!ids.has(id)) lastStatuses.delete(id);
  sendToApp(CONNECTIONS_CHANGED_CHANNEL, connections);
}

function sendToApp(channel: string, value: unknown): void {
  for (const window of BrowserWindow.getAllWindows()) {
    const contents = window.webContents;
    if (contents.isDestroyed() || !isSameDocument(contents.getURL(), location.appUrl)) continue;
    contents.send(channel, value);
  }
}

function startEngine(): DeskHost {
  const userData = app.getPath('userData');
  const log = (line: string): void => console.error(line);
  return startDeskHost({
    // The desktop default for the store is userData (QB_DATA_DIR already moved it there).
    start: () =>
      startDesk({
        env: { ...process.env, QB_DATA_DIR: process.env.QB_DATA_DIR?.trim() || userData },
        cwd: process.cwd(),
        log,
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
            log,
          }),
      }),
    push: pushStatus,
    pushConnections,
    log,
    // Connect opens Intuit's consent page in the system browser and waits on the loopback listener.
    connectActions: (started) =>
      desktopConnectActions({
        flow: started.connectFlow,
        redirectUri: started.config.redirectUri,
        openExternal: (url) => shell.openExternal(url),
        log: started.log,
      }),
  });
}

async function start(): Promise<void> {
  hardenSession(session.defaultSession);
  // Handlers first: the page asks for the status as soon as it loads; calls wait for the engine.
  deskHost = startEngine();
  registerIpcHandlers(ipcMain, deskHost.handlers, trustedSenderFor(location.appUrl), {
    toError: toResultError,
  });
  openMainWindow();
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

if (!app.requestSingleInstanceLock()) {
  // Another instance owns this data directory; it has been asked to come forward.
  app.quit();
} else {
  app.on('second-instance', () => {
    if (app.isReady()) focusMainWindow();
  });

  app.on('web-contents-created', (_event, contents) => {
    hardenWebContents(contents, {
      shell,
      appUrl: location.appUrl,
      externalHosts: externalHostsFor(process.env.QB_AUTHORIZE_URL),
      onDenied: (kind, url) => console.warn(`[main] refused ${kind}${url ? `: ${urlForLog(url)}` : ''}`),
    });
  });

  // Stop timers and let an in-flight refresh settle before exiting (the store is never left half-written).
  let closing = false;
  app.on('before-quit', (event) => {
    if (closing || !deskHost) return;
    closing = true;
    event.preventDefault();
    const host = deskHost;
    deskHost = null;
    host
      .close()
      .catch((error: unknown) => console.error('[main] shutting the engine down failed:', describe(error)))
      .finally(() => app.quit());
  });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });

  app.on('activate', () => {
    if (app.isReady() && BrowserWindow.getAllWindows().length === 0) openMainWindow();
  });

  app.whenReady().then(start, (error: unknown) => {
    console.error('[main] start-up failed:', describe(error));
    app.exit(1);
  });
}
