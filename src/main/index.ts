// Electron main: lifecycle, the window, and the IPC answers. The only main-process module that
// imports `electron`; everything it wires is injected, so the pieces are unit-tested on Node.
import { app, BrowserWindow, ipcMain, session, shell } from 'electron';
import { STATUS_CHANGED_CHANNEL, type TokenStatus } from '../shared/contract';
import { dataDirFromEnv, locateApp } from './app-location';
import { notConfiguredHandlers, notConfiguredStatus } from './handlers';
import { registerIpcHandlers, trustedSenderFor } from './ipc';
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

function openMainWindow(): BrowserWindow {
  mainWindow = createMainWindow(BrowserWindow, {
    ...location,
    onLoadError: (error) => console.error('[main] the app page failed to load:', describe(error)),
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

/** Pushes a status to every window showing the app's own page. */
function pushStatus(status: TokenStatus): void {
  for (const window of BrowserWindow.getAllWindows()) {
    const contents = window.webContents;
    if (contents.isDestroyed() || !isSameDocument(contents.getURL(), location.appUrl)) continue;
    contents.send(STATUS_CHANGED_CHANNEL, status);
  }
}

async function start(): Promise<void> {
  hardenSession(session.defaultSession);

  const status = notConfiguredStatus(['The token engine is not running in this build yet.']);
  registerIpcHandlers(
    ipcMain,
    notConfiguredHandlers(() => status),
    trustedSenderFor(location.appUrl),
  );
  openMainWindow();
  pushStatus(status);
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
