// The stand-in for the `electron` module that the desktop host gives the built main bundle
// (out/main/index.js) and electron-store in place of Electron's own, because no Electron runtime
// can exist on these machines. Each class implements the members main uses with Electron's own
// declared signatures (`implements Pick<Electron.X, …>`), so the stand-in cannot drift from
// Electron's API, and main (compiled against electron.d.ts) cannot call what Electron lacks.
// It holds no token logic: it records what main does (the journal) and relays what a page would
// see (windows, loads, pushes) to the Playwright side through host-main.ts.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type * as Electron from 'electron';

// ------------------------------------------------------------------ the journal and the relay

export interface JournalEntry {
  api: string;
  args: unknown[];
}

/** What the Playwright side must act on (open a page, deliver a push, note a quit). */
export type HostEvent =
  | { type: 'window-created'; windowId: number; webPreferences: Record<string, unknown> | null }
  | { type: 'clone-failure'; message: string }
  | { type: 'load-url'; windowId: number; url: string }
  | { type: 'send'; windowId: number; channel: string; args: unknown[] }
  | { type: 'window-destroyed'; windowId: number }
  | { type: 'exit'; code: number };

export const journal: JournalEntry[] = [];
/** Values main sent across IPC that structuredClone would not carry unchanged (Electron clones them). */
export const cloneFailures: string[] = [];
let relay: (event: HostEvent) => void = () => undefined;

export function setRelay(send: (event: HostEvent) => void): void {
  relay = send;
}

/** Functions, images and menus become descriptions: the journal crosses a process boundary. */
function describe(value: unknown, depth = 0): unknown {
  if (typeof value === 'function') return '[function]';
  if (value instanceof NativeImageStandIn) return { nativeImage: value.path };
  if (value instanceof MenuStandIn) return { menu: value.describe() };
  if (value === null || typeof value !== 'object' || depth > 6) return value;
  if (Array.isArray(value)) return value.map((item) => describe(item, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, describe(v, depth + 1)]));
}

function record(api: string, ...args: unknown[]): void {
  journal.push({ api, args: args.map((arg) => describe(arg)) });
}

/** Electron serializes IPC values with the structured clone algorithm: what it cannot carry unchanged is a bug. */
export function cloneAsElectronWould(where: string, value: unknown): unknown {
  try {
    const copy = structuredClone(value);
    if (!isDeepStrictEqual(copy, value)) cloneFailed(`${where}: changed by structuredClone`);
    return copy;
  } catch (error) {
    cloneFailed(`${where}: ${error instanceof Error ? error.message : String(error)}`);
    throw error;
  }
}

function cloneFailed(message: string): void {
  cloneFailures.push(message);
  relay({ type: 'clone-failure', message });
}

class PreventableEvent {
  defaultPrevented = false;
  preventDefault(): void {
    this.defaultPrevented = true;
  }
}

// ------------------------------------------------------------------ app

type AppMembers =
  | 'setPath'
  | 'getPath'
  | 'getAppPath'
  | 'getVersion'
  | 'getName'
  | 'enableSandbox'
  | 'requestSingleInstanceLock'
  | 'whenReady'
  | 'isReady'
  | 'quit'
  | 'exit'
  | 'setLoginItemSettings'
  | 'getLoginItemSettings';

class CommandLineStandIn implements Pick<Electron.CommandLine, 'hasSwitch'> {
  constructor(private readonly argv: readonly string[]) {}
  hasSwitch(the_switch: string): boolean {
    return this.argv.includes(`--${the_switch}`);
  }
}

class AppStandIn extends EventEmitter implements Pick<Electron.App, AppMembers> {
  readonly isPackaged = process.env.DESKTOP_HOST_PACKAGED === '1';
  readonly commandLine = new CommandLineStandIn(process.argv);
  private readonly paths = new Map<string, string>();
  private ready = false;
  private readonly readyWaiters: (() => void)[] = [];
  private loginItem = false;
  private quitting = false;

  setPath(name: string, path: string): void {
    record('app.setPath', name, path);
    this.paths.set(name, path);
  }
  getPath(name: Parameters<Electron.App['getPath']>[0]): string {
    const path = this.paths.get(name);
    if (!path) throw new Error(`desktop host: app.getPath('${name}') has no value (set QB_DATA_DIR)`);
    return path;
  }
  getAppPath(): string {
    return process.env.DESKTOP_HOST_APP_PATH ?? process.cwd();
  }
  getVersion(): string {
    return '0.0.0-desktop-host';
  }
  getName(): string {
    return 'qb-token-desk';
  }
  enableSandbox(): void {
    record('app.enableSandbox');
  }
  requestSingleInstanceLock(): boolean {
    const granted = process.env.DESKTOP_HOST_SECOND_INSTANCE !== '1';
    record('app.requestSingleInstanceLock', granted);
    return granted;
  }
  whenReady(): Promise<void> {
    return this.ready ? Promise.resolve() : new Promise((resolve) => this.readyWaiters.push(resolve));
  }
  isReady(): boolean {
    return this.ready;
  }
  /** The host says the app is ready, as Electron does once Chromium is up. */
  becomeReady(): void {
    this.ready = true;
    this.emit('ready');
    for (const resolve of this.readyWaiters.splice(0)) resolve();
  }
  quit(): void {
    record('app.quit');
    if (this.quitting) return;
    const beforeQuit = new PreventableEvent();
    this.emit('before-quit', beforeQuit);
    if (beforeQuit.defaultPrevented) return;
    // Electron closes every window first; one that refuses cancels the quit.
    for (const window of BrowserWindowStandIn.getAllWindows()) {
      if (!window.close(true)) return;
    }
    const willQuit = new PreventableEvent();
    this.emit('will-quit', willQuit);
    if (willQuit.defaultPrevented) return;
    this.quitting = true;
    this.emit('quit', new PreventableEvent(), 0);
    this.exit(0);
  }
  exit(exitCode = 0): void {
    record('app.exit', exitCode);
    relay({ type: 'exit', code: exitCode });
  }
  setLoginItemSettings(settings: Electron.Settings): void {
    record('app.setLoginItemSettings', settings);
    this.loginItem = Boolean(settings.openAtLogin);
  }
  getLoginItemSettings(): Electron.LoginItemSettings {
    return { openAtLogin: this.loginItem } as Electron.LoginItemSettings;
  }
}

export const app = new AppStandIn();

// ------------------------------------------------------------------ windows and web contents

type NavigationName = 'will-navigate' | 'will-frame-navigate' | 'will-redirect';

class WebContentsStandIn
  extends EventEmitter
  implements Pick<Electron.WebContents, 'send' | 'getURL' | 'isDestroyed' | 'setWindowOpenHandler'>
{
  private static nextId = 1;
  readonly id = WebContentsStandIn.nextId++;
  url = '';
  destroyed = false;
  windowOpenHandler: Parameters<Electron.WebContents['setWindowOpenHandler']>[0] | null = null;

  constructor(readonly windowId: number) {
    super();
  }
  send(channel: string, ...args: unknown[]): void {
    if (this.destroyed) throw new Error('Object has been destroyed');
    record('webContents.send', channel, ...args);
    const carried = cloneAsElectronWould(`webContents.send(${channel})`, args) as unknown[];
    relay({ type: 'send', windowId: this.windowId, channel, args: carried });
  }
  getURL(): string {
    return this.url;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  setWindowOpenHandler(handler: Parameters<Electron.WebContents['setWindowOpenHandler']>[0]): void {
    record('webContents.setWindowOpenHandler');
    this.windowOpenHandler = handler;
  }
  /** A navigation the page started; returns whether main let it proceed. */
  navigate(event: NavigationName, url: string, isMainFrame: boolean): boolean {
    const details = Object.assign(new PreventableEvent(), {
      url,
      isMainFrame,
      isSameDocument: false,
      frame: null,
    });
    this.emit(event, details, url, false, isMainFrame);
    record(`webContents.${event}`, url, isMainFrame, details.defaultPrevented ? 'prevented' : 'allowed');
    return !details.defaultPrevented;
  }
  /** window.open from the page: main's handler decides. */
  open(url: string): string {
    const answer = this.windowOpenHandler?.({ url } as Electron.HandlerDetails) ?? { action: 'allow' };
    return answer.action;
  }
}

type WindowMembers =
  | 'loadURL'
  | 'show'
  | 'hide'
  | 'focus'
  | 'isVisible'
  | 'isMinimized'
  | 'restore'
  | 'maximize'
  | 'isMaximized'
  | 'isDestroyed'
  | 'getNormalBounds'
  | 'close'
  | 'destroy';

export class BrowserWindowStandIn
  extends EventEmitter
  implements Pick<Electron.BrowserWindow, WindowMembers>
{
  private static nextId = 1;
  private static readonly open = new Map<number, BrowserWindowStandIn>();
  readonly id = BrowserWindowStandIn.nextId++;
  readonly webContents: WebContentsStandIn;
  private visible: boolean;
  private maximized = false;
  private destroyed = false;
  private bounds: Electron.Rectangle;
  private loaded: (() => void) | null = null;

  constructor(readonly options: Electron.BrowserWindowConstructorOptions = {}) {
    super();
    record('new BrowserWindow', options);
    this.visible = options.show !== false;
    this.bounds = {
      x: options.x ?? 100,
      y: options.y ?? 80,
      width: options.width ?? 800,
      height: options.height ?? 600,
    };
    this.webContents = new WebContentsStandIn(this.id);
    BrowserWindowStandIn.open.set(this.id, this);
    relay({
      type: 'window-created',
      windowId: this.id,
      webPreferences: (describe(options.webPreferences ?? null) as Record<string, unknown> | null) ?? null,
    });
    app.emit('web-contents-created', new PreventableEvent(), this.webContents);
  }
  static getAllWindows(): BrowserWindowStandIn[] {
    return [...BrowserWindowStandIn.open.values()];
  }
  static fromId(id: number): BrowserWindowStandIn | undefined {
    return BrowserWindowStandIn.open.get(id);
  }
  loadURL(url: string): Promise<void> {
    record('BrowserWindow.loadURL', url);
    this.webContents.url = url;
    relay({ type: 'load-url', windowId: this.id, url });
    return new Promise((resolve) => (this.loaded = resolve));
  }
  /** The page has loaded in Chromium: what Electron reports as did-finish-load, then ready-to-show. */
  finishedLoading(url: string): void {
    this.webContents.url = url;
    this.webContents.emit('did-finish-load');
    this.emit('ready-to-show');
    this.loaded?.();
    this.loaded = null;
  }
  show(): void {
    record('BrowserWindow.show', this.id);
    this.visible = true;
    this.emit('show');
  }
  hide(): void {
    record('BrowserWindow.hide', this.id);
    this.visible = false;
    this.emit('hide');
  }
  focus(): void {
    record('BrowserWindow.focus', this.id);
  }
  isVisible(): boolean {
    return this.visible && !this.destroyed;
  }
  isMinimized(): boolean {
    return false;
  }
  restore(): void {
    record('BrowserWindow.restore', this.id);
  }
  maximize(): void {
    record('BrowserWindow.maximize', this.id);
    this.maximized = true;
    this.emit('maximize');
  }
  isMaximized(): boolean {
    return this.maximized;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  getNormalBounds(): Electron.Rectangle {
    return { ...this.bounds };
  }
  /** The user moved or resized the window. */
  setBoundsByUser(bounds: Electron.Rectangle): void {
    this.bounds = { ...bounds };
    this.emit('move');
    this.emit('resize');
  }
  /** Returns whether the window closed (a 'close' listener may prevent it). */
  close(duringQuit = false): boolean {
    record('BrowserWindow.close', this.id);
    const event = new PreventableEvent();
    this.emit('close', event);
    if (event.defaultPrevented) return false;
    this.destroy(duringQuit);
    return true;
  }
  destroy(duringQuit = false): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.webContents.destroyed = true;
    BrowserWindowStandIn.open.delete(this.id);
    this.emit('closed');
    relay({ type: 'window-destroyed', windowId: this.id });
    if (!duringQuit && BrowserWindowStandIn.open.size === 0) app.emit('window-all-closed');
  }
}

// ------------------------------------------------------------------ IPC

type InvokeListener = (event: Electron.IpcMainInvokeEvent, ...args: unknown[]) => unknown;

class IpcMainStandIn extends EventEmitter implements Pick<Electron.IpcMain, 'handle' | 'removeHandler'> {
  readonly handlers = new Map<string, InvokeListener>();
  handle(channel: string, listener: InvokeListener): void {
    record('ipcMain.handle', channel);
    if (this.handlers.has(channel))
      throw new Error(`Attempted to register a second handler for '${channel}'`);
    this.handlers.set(channel, listener);
  }
  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  }
  /** ipcRenderer.invoke from a frame: main's handler answers; the answer crosses as a structured clone. */
  async invoke(
    channel: string,
    senderFrame: { url: string; parent: unknown },
    args: unknown[],
  ): Promise<unknown> {
    const listener = this.handlers.get(channel);
    if (!listener)
      throw new Error(`Error invoking remote method '${channel}': No handler registered for '${channel}'`);
    const event = { senderFrame, frameId: 0, processId: 0 } as unknown as Electron.IpcMainInvokeEvent;
    const answer = await listener(
      event,
      ...(cloneAsElectronWould(`ipcRenderer.invoke(${channel}) args`, args) as unknown[]),
    );
    return cloneAsElectronWould(`ipcMain.handle(${channel})`, answer);
  }
}

export const ipcMain = new IpcMainStandIn();

// ------------------------------------------------------------------ session, shell, safeStorage, screen

type HeadersListener = (
  details: Electron.OnHeadersReceivedListenerDetails,
  callback: (response: Electron.HeadersReceivedResponse) => void,
) => void;

class WebRequestStandIn implements Pick<Electron.WebRequest, 'onHeadersReceived'> {
  listener: HeadersListener | null = null;
  onHeadersReceived(...args: unknown[]): void {
    const listener = args.at(-1) as HeadersListener | null;
    record('session.webRequest.onHeadersReceived');
    this.listener = listener;
  }
  /** The headers Chromium would apply to a response main's hook saw. */
  headersFor(url: string, resourceType: string): Promise<Record<string, string | string[]> | null> {
    return new Promise((resolve) => {
      if (!this.listener) return resolve(null);
      this.listener(
        {
          url,
          resourceType,
          responseHeaders: { 'content-type': ['text/html'] },
        } as unknown as Electron.OnHeadersReceivedListenerDetails,
        (response) => resolve(response.responseHeaders ?? null),
      );
    });
  }
}

class SessionStandIn implements Pick<
  Electron.Session,
  'setPermissionRequestHandler' | 'setPermissionCheckHandler'
> {
  readonly webRequest = new WebRequestStandIn();
  permissionRequest: Parameters<Electron.Session['setPermissionRequestHandler']>[0] = null;
  permissionCheck: Parameters<Electron.Session['setPermissionCheckHandler']>[0] = null;
  setPermissionRequestHandler(handler: Parameters<Electron.Session['setPermissionRequestHandler']>[0]): void {
    record('session.setPermissionRequestHandler');
    this.permissionRequest = handler;
  }
  setPermissionCheckHandler(handler: Parameters<Electron.Session['setPermissionCheckHandler']>[0]): void {
    record('session.setPermissionCheckHandler');
    this.permissionCheck = handler;
  }
}

export const session = { defaultSession: new SessionStandIn() };

export const shell: Pick<Electron.Shell, 'openExternal' | 'openPath'> = {
  async openExternal(url: string): Promise<void> {
    record('shell.openExternal', url);
  },
  async openPath(path: string): Promise<string> {
    record('shell.openPath', path);
    return '';
  },
};

/**
 * OS encryption as Electron offers it where a keyring exists: real AES-256-GCM, its key derived
 * from the data directory so a restarted host (same directory) reads what the last one wrote.
 */
class SafeStorageStandIn implements Pick<
  Electron.SafeStorage,
  'isEncryptionAvailable' | 'getSelectedStorageBackend' | 'encryptString' | 'decryptString'
> {
  private key(): Buffer {
    return createHash('sha256')
      .update(`desktop-host:${app.getPath('userData')}`)
      .digest();
  }
  isEncryptionAvailable(): boolean {
    return process.env.DESKTOP_HOST_SAFE_STORAGE !== 'unavailable';
  }
  getSelectedStorageBackend(): ReturnType<Electron.SafeStorage['getSelectedStorageBackend']> {
    return process.env.DESKTOP_HOST_SAFE_STORAGE === 'basic_text' ? 'basic_text' : 'gnome_libsecret';
  }
  /** Every text main sealed (its token chains, as JSON): what the tests' leak scans look for. */
  readonly sealed: string[] = [];
  encryptString(plainText: string): Buffer {
    this.sealed.push(plainText);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key(), iv);
    const body = Buffer.concat([cipher.update(plainText, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  }
  decryptString(encrypted: Buffer): string {
    const decipher = createDecipheriv('aes-256-gcm', this.key(), encrypted.subarray(0, 12));
    decipher.setAuthTag(encrypted.subarray(12, 28));
    return Buffer.concat([decipher.update(encrypted.subarray(28)), decipher.final()]).toString('utf8');
  }
}

export const safeStorage = new SafeStorageStandIn();

export const screen: Pick<Electron.Screen, 'getAllDisplays'> = {
  getAllDisplays: () =>
    [
      {
        id: 1,
        bounds: { x: 0, y: 0, width: 1920, height: 1080 },
        workArea: { x: 0, y: 0, width: 1920, height: 1040 },
      },
    ] as Electron.Display[],
};

// ------------------------------------------------------------------ images, menus, tray, notifications

export class NativeImageStandIn implements Pick<Electron.NativeImage, 'isEmpty'> {
  constructor(readonly path: string) {}
  isEmpty(): boolean {
    return !existsSync(this.path);
  }
}

export const nativeImage = {
  createFromPath(path: string): Electron.NativeImage {
    record('nativeImage.createFromPath', path);
    return new NativeImageStandIn(path) as unknown as Electron.NativeImage;
  },
} satisfies Pick<typeof Electron.nativeImage, 'createFromPath'>;

export interface MenuItemStandIn {
  id?: string;
  label?: string;
  type?: string;
  role?: string;
  accelerator?: string;
  enabled: boolean;
  checked: boolean;
  click?: Electron.MenuItemConstructorOptions['click'];
  submenu: MenuItemStandIn[];
}

export class MenuStandIn {
  constructor(readonly items: MenuItemStandIn[]) {}

  static buildFromTemplate(
    template: Array<Electron.MenuItemConstructorOptions | Electron.MenuItem>,
  ): Electron.Menu {
    const build = (items: Electron.MenuItemConstructorOptions[]): MenuItemStandIn[] =>
      items.map((item) => ({
        id: item.id,
        label: item.label,
        type: item.type,
        role: item.role,
        accelerator: typeof item.accelerator === 'string' ? item.accelerator : undefined,
        enabled: item.enabled !== false,
        checked: item.checked === true,
        click: item.click,
        submenu: Array.isArray(item.submenu) ? build(item.submenu) : [],
      }));
    return new MenuStandIn(
      build(template as Electron.MenuItemConstructorOptions[]),
    ) as unknown as Electron.Menu;
  }

  static applicationMenu: MenuStandIn | null = null;

  static setApplicationMenu(menu: Electron.Menu | null): void {
    MenuStandIn.applicationMenu = menu as unknown as MenuStandIn | null;
    record('Menu.setApplicationMenu', menu);
  }

  /** Every item, submenus included, in order. */
  all(): MenuItemStandIn[] {
    const walk = (items: MenuItemStandIn[]): MenuItemStandIn[] =>
      items.flatMap((item) => [item, ...walk(item.submenu)]);
    return walk(this.items);
  }

  describe(): unknown[] {
    return this.items.map((item) => ({
      label: item.label ?? item.role ?? item.type,
      ...(item.type === 'checkbox' ? { checked: item.checked } : {}),
      ...(item.accelerator ? { accelerator: item.accelerator } : {}),
      ...(item.enabled ? {} : { enabled: false }),
      ...(item.submenu.length > 0 ? { submenu: new MenuStandIn(item.submenu).describe() } : {}),
    }));
  }

  /** Chooses an item as Electron does: a checkbox flips first, then its click runs with the focused window. */
  choose(item: MenuItemStandIn): void {
    if (item.type === 'checkbox') item.checked = !item.checked;
    const focused = BrowserWindowStandIn.getAllWindows().find((w) => w.isVisible());
    item.click?.(
      item as unknown as Electron.MenuItem,
      focused as unknown as Electron.BrowserWindow,
      {} as Electron.KeyboardEvent,
    );
  }
}

export const Menu = MenuStandIn;

export class TrayStandIn
  extends EventEmitter
  implements Pick<Electron.Tray, 'setImage' | 'setToolTip' | 'setContextMenu' | 'destroy' | 'isDestroyed'>
{
  static readonly created: TrayStandIn[] = [];
  image: string;
  tooltip = '';
  menu: MenuStandIn | null = null;
  private destroyed = false;

  constructor(image: Electron.NativeImage | string) {
    super();
    this.image = imagePath(image);
    record('new Tray', image);
    TrayStandIn.created.push(this);
  }
  setImage(image: Electron.NativeImage | string): void {
    record('Tray.setImage', image);
    this.image = imagePath(image);
  }
  setToolTip(toolTip: string): void {
    record('Tray.setToolTip', toolTip);
    this.tooltip = toolTip;
  }
  setContextMenu(menu: Electron.Menu | null): void {
    record('Tray.setContextMenu', menu);
    this.menu = menu as unknown as MenuStandIn | null;
  }
  destroy(): void {
    record('Tray.destroy');
    this.destroyed = true;
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
}

function imagePath(image: Electron.NativeImage | string): string {
  return typeof image === 'string' ? image : (image as unknown as NativeImageStandIn).path;
}

export const Tray = TrayStandIn;

export class NotificationStandIn
  extends EventEmitter
  implements Pick<Electron.Notification, 'show' | 'close'>
{
  static readonly shown: NotificationStandIn[] = [];
  static isSupported(): boolean {
    return true;
  }
  constructor(readonly options: Electron.NotificationConstructorOptions = {}) {
    super();
    record('new Notification', options);
  }
  show(): void {
    record('Notification.show', this.options.title, this.options.body);
    NotificationStandIn.shown.push(this);
  }
  close(): void {
    this.emit('close', new PreventableEvent());
  }
}

export const Notification = NotificationStandIn;

export const BrowserWindow = BrowserWindowStandIn;

/** `import electron from 'electron'` (electron-store) sees the same objects. */
export default {
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
};
