// The main process's security posture, kept free of a top-level `electron` import so unit tests
// can check it on Node with stand-ins. Everything the renderer might ask for is denied unless
// listed here.
import type { OnHeadersReceivedListenerDetails, Session, WebPreferences } from 'electron';

/** Hosts whose https pages may open in the system browser (Intuit's app console, docs, product site). */
const INTUIT_EXTERNAL_HOSTS: readonly string[] = [
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

/** What Electron passes to will-navigate, will-frame-navigate and will-redirect (their `details`). */
interface NavigationEvent extends PreventableEvent {
  url: string;
  isMainFrame: boolean;
}

/** The navigation events hardening handles: each may take a frame somewhere else (sub-frames and redirects each have their own rule). */
export const NAVIGATION_EVENTS = ['will-navigate', 'will-frame-navigate', 'will-redirect'] as const;
export type NavigationEventName = (typeof NAVIGATION_EVENTS)[number];

/** The part of WebContents that hardening touches; Electron's WebContents satisfies it. */
export interface HardenableContents {
  on(event: NavigationEventName, listener: (details: NavigationEvent) => void): unknown;
  on(event: 'will-attach-webview', listener: (event: PreventableEvent) => void): unknown;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void;
}

interface ExternalOpener {
  openExternal(url: string): Promise<void>;
}

interface HardenOptions {
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

  // A subframe or a server redirect can take a frame away as surely as a main-frame navigation.
  // The `details` object, not the deprecated positional URL argument, carries the target.
  const keepInApp = (details: NavigationEvent): void => {
    if (isSameDocument(details.url, options.appUrl)) return;
    details.preventDefault();
    options.onDenied?.('navigate', details.url);
    // Only a top-level link click is the user's wish to see a page; redirects and subframes are not.
    if (details.isMainFrame) sendOut(details.url);
  };
  contents.on('will-navigate', keepInApp);
  contents.on('will-frame-navigate', (details) => {
    // The main frame's own navigation also arrives as will-navigate: handle it once, there.
    if (!details.isMainFrame) keepInApp(details);
  });
  contents.on('will-redirect', (details) => {
    if (isSameDocument(details.url, options.appUrl)) return;
    details.preventDefault();
    options.onDenied?.('navigate', details.url);
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

/**
 * The app page's policy, sent as a header as well as index.html's meta tag: a header is applied
 * before any of the document is parsed, and only a header can carry frame-ancestors. Keep the two
 * in step (security.test.ts compares them).
 */
export const APP_CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

type HeadersCallback = (response: { responseHeaders?: Record<string, string | string[]> }) => void;

/** The part of session.webRequest that the CSP header needs; Electron's WebRequest satisfies it. */
export interface HeaderHook {
  onHeadersReceived(
    listener: (
      details: Pick<OnHeadersReceivedListenerDetails, 'url' | 'resourceType' | 'responseHeaders'>,
      callback: HeadersCallback,
    ) => void,
  ): void;
}

/** Sends APP_CONTENT_SECURITY_POLICY with the app's own page; every other response passes unchanged. */
export function installContentSecurityPolicy(webRequest: HeaderHook, appUrl: string): void {
  webRequest.onHeadersReceived((details, callback) => {
    if (details.resourceType !== 'mainFrame' || !isSameDocument(details.url, appUrl)) return callback({});
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(details.responseHeaders ?? {})) {
      // One policy, ours: a second header would only add restrictions we did not choose.
      if (name.toLowerCase() !== 'content-security-policy') headers[name] = value;
    }
    headers['Content-Security-Policy'] = [APP_CONTENT_SECURITY_POLICY];
    callback({ responseHeaders: headers });
  });
}

/**
 * Why main refuses to run, or null. `npm start` passes --no-sandbox when run as root (Chromium will
 * not start otherwise); a packaged build must never run without the OS sandbox, whoever asks.
 */
export function sandboxRefusal(options: { isPackaged: boolean; noSandbox: boolean }): string | null {
  return options.isPackaged && options.noSandbox
    ? 'The packaged app does not run with --no-sandbox (Chromium’s OS sandbox stays on). Start it as an ordinary user, without that switch.'
    : null;
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
