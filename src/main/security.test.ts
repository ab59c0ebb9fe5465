import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  externalHostsFor,
  hardenSession,
  hardenWebContents,
  isAllowedExternalUrl,
  isSameDocument,
  secureWebPreferences,
  urlForLog,
  APP_CONTENT_SECURITY_POLICY,
  installContentSecurityPolicy,
  NAVIGATION_EVENTS,
  sandboxRefusal,
  type HardenableContents,
  type HeaderHook,
  type NavigationEventName,
  type PermissionSession,
} from './security';

const APP_URL = 'file:///opt/qb/out/renderer/index.html';

/** Stand-in for WebContents: keeps the listeners and the window-open handler it was given. */
class ContentsStandIn implements HardenableContents {
  readonly listeners = new Map<string, ((...args: never[]) => void)[]>();
  windowOpenHandler: ((details: { url: string }) => { action: 'deny' }) | null = null;

  on(event: string, listener: (...args: never[]) => void): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }

  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void {
    this.windowOpenHandler = handler;
  }

  /** Fires an event the way Electron does; returns whether a listener prevented the default. */
  fire(event: string, ...args: unknown[]): boolean {
    let prevented = false;
    const preventable = { preventDefault: () => (prevented = true) };
    for (const listener of this.listeners.get(event) ?? [])
      (listener as (...a: unknown[]) => void)(preventable, ...args);
    return prevented;
  }

  /** Fires a navigation event with Electron's `details` object (and its deprecated positional URL). */
  navigate(event: NavigationEventName, url: string, isMainFrame = true): boolean {
    let prevented = false;
    const details = { url, isMainFrame, isSameDocument: false, preventDefault: () => (prevented = true) };
    for (const listener of this.listeners.get(event) ?? [])
      (listener as (...a: unknown[]) => void)(details, url, false, isMainFrame);
    return prevented;
  }
}

function openWindow(contents: ContentsStandIn, url: string): { action: 'deny' } {
  if (!contents.windowOpenHandler) throw new Error('no window-open handler installed');
  return contents.windowOpenHandler({ url });
}

function harden(extra: { externalHosts?: readonly string[] } = {}) {
  const contents = new ContentsStandIn();
  const opened: string[] = [];
  const denied: string[] = [];
  hardenWebContents(contents, {
    shell: { openExternal: async (url) => void opened.push(url) },
    appUrl: APP_URL,
    onDenied: (kind) => denied.push(kind),
    ...extra,
  });
  return { contents, opened, denied };
}

describe('secureWebPreferences', () => {
  it('isolates the page, sandboxes it and gives it no Node', () => {
    const prefs = secureWebPreferences('/opt/qb/out/preload/index.cjs');
    expect(prefs).toMatchObject({
      preload: '/opt/qb/out/preload/index.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    });
  });
});

describe('hardenSession', () => {
  it('denies every permission request and check', () => {
    const installed: {
      request?: Parameters<PermissionSession['setPermissionRequestHandler']>[0];
      check?: Parameters<PermissionSession['setPermissionCheckHandler']>[0];
    } = {};
    hardenSession({
      setPermissionRequestHandler: (handler) => void (installed.request = handler),
      setPermissionCheckHandler: (handler) => void (installed.check = handler),
    });
    const { request, check } = installed;
    if (!request || !check) throw new Error('handlers were not installed');
    const answers: boolean[] = [];
    for (const permission of ['media', 'notifications', 'clipboard-read', 'openExternal'] as const) {
      request({} as never, permission, (granted) => answers.push(granted), {} as never);
      answers.push(check(null, permission, 'file://', {} as never));
    }
    expect(answers).toHaveLength(8);
    expect(answers.every((granted) => granted === false)).toBe(true);
  });
});

describe('hardenWebContents', () => {
  it('lets the app navigate within its own page only', () => {
    const { contents, opened } = harden();
    expect(contents.navigate('will-navigate', `${APP_URL}#/settings`)).toBe(false);
    expect(contents.navigate('will-navigate', 'https://evil.example/')).toBe(true);
    expect(contents.navigate('will-navigate', 'file:///etc/passwd')).toBe(true);
    expect(opened).toEqual([]);
  });

  it('denies navigation to an Intuit page but opens it in the system browser', () => {
    const { contents, opened } = harden();
    expect(contents.navigate('will-navigate', 'https://developer.intuit.com/app/developer/dashboard')).toBe(
      true,
    );
    expect(opened).toEqual(['https://developer.intuit.com/app/developer/dashboard']);
  });

  it('keeps subframes and redirects in the app as will-navigate keeps the main frame', () => {
    const { contents, opened, denied } = harden();
    expect(contents.navigate('will-frame-navigate', 'https://evil.example/', false)).toBe(true);
    expect(contents.navigate('will-redirect', 'https://evil.example/')).toBe(true);
    expect(contents.navigate('will-redirect', 'https://developer.intuit.com/', false)).toBe(true);
    expect(contents.navigate('will-redirect', `${APP_URL}#/x`)).toBe(false);
    // A frame or a redirect is not the user's click: nothing goes to the system browser.
    expect(contents.navigate('will-frame-navigate', 'https://developer.intuit.com/', false)).toBe(true);
    expect(opened).toEqual([]);
    expect(denied).toEqual(['navigate', 'navigate', 'navigate', 'navigate']);
    for (const event of NAVIGATION_EVENTS) expect(contents.listeners.get(event)).toHaveLength(1);
  });

  it('denies window.open always; only allow-listed https URLs reach the system browser', () => {
    const { contents, opened, denied } = harden();
    const open = (url: string) => openWindow(contents, url);
    for (const url of [
      'https://appcenter.intuit.com/connect/oauth2?client_id=x',
      'https://quickbooks.intuit.com/',
      'http://developer.intuit.com/',
      'https://developer.intuit.com.evil.example/',
      'https://user:pw@developer.intuit.com/',
      'https://developer.intuit.com:8443/',
      'javascript:alert(1)',
      APP_URL,
    ]) {
      expect(open(url)).toEqual({ action: 'deny' });
    }
    expect(opened).toEqual([
      'https://appcenter.intuit.com/connect/oauth2?client_id=x',
      'https://quickbooks.intuit.com/',
    ]);
    expect(denied.filter((kind) => kind === 'window-open')).toHaveLength(8);
  });

  it('refuses webviews', () => {
    const { contents } = harden();
    expect(contents.fire('will-attach-webview', {}, {})).toBe(true);
  });

  it('adds the configured authorize host only when it is https', () => {
    expect(externalHostsFor('https://auth.example.test/authorize')).toContain('auth.example.test');
    expect(externalHostsFor('http://127.0.0.1:9999/authorize')).not.toContain('127.0.0.1');
    expect(externalHostsFor(undefined)).toEqual([
      'appcenter.intuit.com',
      'developer.intuit.com',
      'quickbooks.intuit.com',
    ]);
    const { contents, opened } = harden({
      externalHosts: externalHostsFor('https://auth.example.test/authorize'),
    });
    openWindow(contents, 'https://auth.example.test/authorize?state=1');
    expect(opened).toEqual(['https://auth.example.test/authorize?state=1']);
  });
});

describe('installContentSecurityPolicy', () => {
  function hook() {
    let listener: Parameters<HeaderHook['onHeadersReceived']>[0] | null = null;
    installContentSecurityPolicy({ onHeadersReceived: (l) => void (listener = l) }, APP_URL);
    return (url: string, resourceType: string, responseHeaders?: Record<string, string[]>) => {
      let answer: unknown = 'no answer';
      if (!listener) throw new Error('no listener installed');
      (listener as Parameters<HeaderHook['onHeadersReceived']>[0])(
        { url, resourceType: resourceType as never, responseHeaders },
        (response) => (answer = response),
      );
      return answer;
    };
  }

  it('sends the policy with the app page only, replacing any other policy header', () => {
    const headers = hook();
    expect(
      headers(APP_URL, 'mainFrame', { 'content-security-policy': ['default-src *'], 'x-a': ['1'] }),
    ).toEqual({
      responseHeaders: { 'x-a': ['1'], 'Content-Security-Policy': [APP_CONTENT_SECURITY_POLICY] },
    });
    expect(headers(`${APP_URL}#/x`, 'mainFrame')).toMatchObject({
      responseHeaders: { 'Content-Security-Policy': [APP_CONTENT_SECURITY_POLICY] },
    });
    expect(headers('https://developer.intuit.com/', 'mainFrame')).toEqual({});
    expect(headers(APP_URL.replace('index.html', 'assets/x.js'), 'script')).toEqual({});
  });

  it('is the meta tag’s policy plus frame-ancestors, which only a header can carry', () => {
    const html = readFileSync(join(import.meta.dirname, '../renderer/index.html'), 'utf8');
    const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
    expect(meta).toBeTruthy();
    expect(APP_CONTENT_SECURITY_POLICY).toBe(`${meta}; frame-ancestors 'none'`);
  });
});

describe('sandboxRefusal', () => {
  it('refuses --no-sandbox in a packaged build only', () => {
    expect(sandboxRefusal({ isPackaged: true, noSandbox: true })).toMatch(/does not run with --no-sandbox/);
    expect(sandboxRefusal({ isPackaged: true, noSandbox: false })).toBeNull();
    expect(sandboxRefusal({ isPackaged: false, noSandbox: true })).toBeNull();
  });
});

describe('URL helpers', () => {
  it('compares documents ignoring only the fragment', () => {
    expect(isSameDocument(`${APP_URL}#x`, APP_URL)).toBe(true);
    expect(isSameDocument(`${APP_URL}?x=1`, APP_URL)).toBe(false);
    expect(isAllowedExternalUrl('https://DEVELOPER.intuit.com/docs')).toBe(true);
  });

  it('keeps query strings (codes, states) out of log lines', () => {
    expect(urlForLog('http://127.0.0.1:5000/callback?code=AB12&state=s')).toBe(
      'http://127.0.0.1:5000/callback',
    );
    expect(urlForLog('file:///opt/x.html?code=1')).toBe('file:/opt/x.html');
    expect(urlForLog('::')).toBe('(not a URL)');
  });
});
