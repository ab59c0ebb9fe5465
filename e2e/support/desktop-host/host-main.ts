// The desktop host process: loads the built main bundle (out/main/index.js) with the electron
// stand-in in place, makes the app "ready", and answers the Playwright side's calls: IPC from the
// page, page loads and navigations, menu and tray choices, notification clicks, window moves.
// Everything main does is real (engine, store, emulator, IPC handlers, security hooks); only the
// Electron runtime underneath is stood in for.
import { pathToFileURL } from 'node:url';
import {
  app,
  BrowserWindowStandIn,
  cloneFailures,
  ipcMain,
  journal,
  MenuStandIn,
  NotificationStandIn,
  safeStorage,
  session,
  setRelay,
  TrayStandIn,
  type MenuItemStandIn,
} from './electron-stand-in';
import type { HostCall, HostMessage } from './protocol';

const mainBundle = process.env.DESKTOP_HOST_MAIN;
if (!mainBundle) throw new Error('DESKTOP_HOST_MAIN must name out/main/index.js');

function send(message: HostMessage): void {
  if (process.connected) process.send?.(message);
}

setRelay((event) => {
  send({ kind: 'event', event });
  // app.exit: let the message leave first.
  if (event.type === 'exit') setImmediate(() => process.exit(event.code));
});

function windowById(id: number): BrowserWindowStandIn {
  const window = BrowserWindowStandIn.fromId(id);
  if (!window) throw new Error(`no open window ${id}`);
  return window;
}

function findItem(
  menu: MenuStandIn | null,
  match: (item: MenuItemStandIn) => boolean,
  what: string,
): MenuItemStandIn {
  const item = menu?.all().find(match);
  if (!item) throw new Error(`no menu item ${what}`);
  if (!item.enabled) throw new Error(`menu item ${what} is disabled`);
  return item;
}

const tray = (): TrayStandIn => {
  const current = TrayStandIn.created.at(-1);
  if (!current) throw new Error('main created no tray');
  return current;
};

const calls: Record<string, (...args: never[]) => unknown> = {
  invoke: (channel: string, frame: { url: string; parent: unknown }, args: unknown[]) =>
    ipcMain.invoke(channel, frame, args),
  finishedLoading: (windowId: number, url: string) => windowById(windowId).finishedLoading(url),
  navigate: (
    windowId: number,
    event: 'will-navigate' | 'will-frame-navigate' | 'will-redirect',
    url: string,
    isMainFrame: boolean,
  ) => windowById(windowId).webContents.navigate(event, url, isMainFrame),
  windowOpen: (windowId: number, url: string) => windowById(windowId).webContents.open(url),
  windows: () =>
    BrowserWindowStandIn.getAllWindows().map((w) => ({
      id: w.id,
      visible: w.isVisible(),
      url: w.webContents.getURL(),
      bounds: w.getNormalBounds(),
      webPreferences: w.options.webPreferences ?? null,
    })),
  closeWindow: (windowId: number) => windowById(windowId).close(),
  moveWindow: (windowId: number, bounds: { x: number; y: number; width: number; height: number }) =>
    windowById(windowId).setBoundsByUser(bounds),
  journal: () => journal,
  cloneFailures: () => cloneFailures,
  tray: () => ({
    image: tray().image,
    tooltip: tray().tooltip,
    menu: tray().menu?.describe() ?? null,
    count: TrayStandIn.created.length,
  }),
  chooseTrayItem: (label: string) => {
    const menu = tray().menu;
    menu?.choose(findItem(menu, (item) => item.label === label, `"${label}" in the tray menu`));
  },
  applicationMenu: () => MenuStandIn.applicationMenu?.describe() ?? null,
  /** What Electron does when the user presses a menu accelerator in the focused window. */
  pressAccelerator: (accelerator: string) => {
    const menu = MenuStandIn.applicationMenu;
    menu?.choose(findItem(menu, (item) => item.accelerator === accelerator, accelerator));
  },
  notifications: () => NotificationStandIn.shown.map((n) => ({ ...n.options })),
  clickNotification: (index: number) => {
    const notification = NotificationStandIn.shown[index];
    if (!notification) throw new Error(`no notification ${index}`);
    notification.emit('click', {});
  },
  secondInstance: () => app.emit('second-instance', {}, [], process.cwd(), {}),
  /** The access and refresh tokens of every chain main sealed with safeStorage so far. */
  sealedTokenValues: () =>
    safeStorage.sealed.flatMap((text) => {
      try {
        const chain = JSON.parse(text) as Record<string, unknown>;
        return [chain.accessToken, chain.refreshToken].filter((value) => typeof value === 'string');
      } catch {
        return [];
      }
    }),
  quit: () => app.quit(),
  headersFor: (url: string, resourceType: string) =>
    session.defaultSession.webRequest.headersFor(url, resourceType),
  permissionRequested: (permission: string) =>
    new Promise<boolean>((resolve) => {
      const handler = session.defaultSession.permissionRequest;
      if (!handler) return resolve(true);
      handler({} as never, permission as never, resolve, {} as never);
    }),
};

process.on('message', (message: HostCall) => {
  if (message?.kind !== 'call') return;
  const fn = calls[message.method];
  Promise.resolve()
    .then(() => {
      if (!fn) throw new Error(`unknown host call ${message.method}`);
      return (fn as (...args: unknown[]) => unknown)(...message.args);
    })
    .then(
      (value) => send({ kind: 'reply', id: message.id, ok: true, value }),
      (error: unknown) =>
        send({
          kind: 'reply',
          id: message.id,
          ok: false,
          error: error instanceof Error ? error.message : String(error),
        }),
    );
});
// The Playwright side went away: so does the app (its engine, timers and demo emulator with it).
process.on('disconnect', () => app.quit());

await import(pathToFileURL(mainBundle).href);
app.becomeReady();
send({ kind: 'started' });
