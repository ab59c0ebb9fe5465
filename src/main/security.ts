// The main process's security posture, kept free of a top-level `electron` import so unit tests
// can check it on Node with stand-ins. Everything the renderer might ask for is denied unless
// listed here.
import type { Session, WebPreferences } from 'electron';

/** Hosts whose https pages may open in the system browser (Intuit's app console, docs, product site). */
export const INTUIT_EXTERNAL_HOSTS: readonly string[] = [
  'appcenter.intuit.com',
  'developer.intuit.com',
  'quickbooks.intuit.com',
];

/** The renderer gets no Node, no shared world with the preload, and the OS sandbox. */
export function secureWebPreferences(preloadPath: string): WebPreferences {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
    navigateOnDragDrop: false,
    safeDialogs: true,
    spellcheck: false,
  };
}

export type PermissionSession = Pick<Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler'>;

/** The app needs no camera, notifications, clipboard reads or anything else a page can request. */
export function hardenSession(session: PermissionSession): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
}

/** Same document, ignoring the fragment (a client-side router may use it). */
export function isSameDocument(url: string, appUrl: string): boolean {
  const a = parseUrl(url);
  const b = parseUrl(appUrl);
  if (!a || !b) return false;
  a.hash = '';
  b.hash = '';
  return a.href === b.href;
}

/**
 * Only plain https links to an allow-listed host leave the app, and they leave for the system
 * browser: no credentials in the URL, no unusual port.
 */
export function isAllowedExternalUrl(url: string, hosts: readonly string[] = INTUIT_EXTERNAL_HOSTS): boolean {
  const parsed = parseUrl(url);
  if (!parsed) return false;
  if (parsed.protocol !== 'https:') return false;
  if (parsed.username || parsed.password || parsed.port) return false;
  return hosts.includes(parsed.hostname.toLowerCase());
}

/** The https host of a configured authorize URL (QB_AUTHORIZE_URL), to add to the allow-list. */
export function externalHostsFor(authorizeUrl: string | undefined): string[] {
  const hosts = [...INTUIT_EXTERNAL_HOSTS];
  const parsed = authorizeUrl ? parseUrl(authorizeUrl) : null;
  if (parsed?.protocol === 'https:' && !hosts.includes(parsed.hostname)) hosts.push(parsed.hostname);
  return hosts;
}

interface PreventableEvent {
  preventDefault(): void;
}

/** The part of WebContents that hardening touches; Electron's WebContents satisfies it. */
export interface HardenableContents {
  on(event: 'will-navigate', listener: (event: PreventableEvent, url: string) => void): unknown;
  on(event: 'will-attach-webview', listener: (event: PreventableEvent) => void): unknown;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void;
}

export interface ExternalOpener {
  openExternal(url: string): Promise<void>;
}

export interface HardenOptions {
  shell: ExternalOpener;
  /** The app's own page: the only document a window may show. */
  appUrl: string;
  /** Allow-list for the system browser; defaults to INTUIT_EXTERNAL_HOSTS. */
  externalHosts?: readonly string[];
  /** Told about every refused navigation or window (a URL, never a token: the app never puts one in a URL). */
  onDenied?: (kind: 'navigate' | 'window-open' | 'webview', url: string) => void;
}

/** No navigation away from the app, no new windows, no webviews. Allow-listed links go to the system browser. */
export function hardenWebContents(contents: HardenableContents, options: HardenOptions): void {
  const hosts = options.externalHosts ?? INTUIT_EXTERNAL_HOSTS;
  const sendOut = (url: string): void => {
    if (!isAllowedExternalUrl(url, hosts)) return;
    // A failure to open the browser must not take the app down.
    options.shell.openExternal(url).catch(() => undefined);
  };

  contents.on('will-navigate', (event, url) => {
    if (isSameDocument(url, options.appUrl)) return;
    event.preventDefault();
    options.onDenied?.('navigate', url);
    sendOut(url);
  });

  contents.on('will-attach-webview', (event) => {
    event.preventDefault();
    options.onDenied?.('webview', '');
  });

  contents.setWindowOpenHandler(({ url }) => {
    options.onDenied?.('window-open', url);
    sendOut(url);
    return { action: 'deny' };
  });
}

/** A URL fit for a log line: origin and path only (a query string may carry a code or a state value). */
export function urlForLog(url: string): string {
  const parsed = parseUrl(url);
  return parsed
    ? `${parsed.origin === 'null' ? parsed.protocol : parsed.origin}${parsed.pathname}`
    : '(not a URL)';
}

function parseUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}
