// Playwright fixtures for the `desktop-host` project: the built main bundle runs in a host process
// under the electron stand-in (host.ts), and each window main opens is a real Chromium page
// showing the real renderer, with `window.qbTokens` built by the real preload bundle
// (out/preload/index.cjs, run as-is) over a Playwright binding to the stand-in ipcMain.
//
// What this cannot show, and only a real Electron can: Chromium's OS sandbox and context
// isolation themselves (here the preload shares the page's world), that the OS delivers a shortcut
// to the menu, and how a tray icon or notification looks on each desktop.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  test as base,
  expect,
  type BrowserContext,
  type Frame,
  type Page,
  type Route,
} from '@playwright/test';
import {
  serverEnvFor,
  startEmulatorProcess,
  type EmulatorFlags,
  type EmulatorProcess,
} from '../../../src/server/process-support';
import type { JournalEntry } from './electron-stand-in';
import { PRELOAD_BUNDLE, startDesktopHost, type DesktopHost, type HostWindow } from './host';
import type { HostEvent } from './protocol';

export { expect };

/** What the preload's `require` gives it: ipcRenderer over the binding, contextBridge onto window. */
function preloadInitScript(preloadCode: string): string {
  return `(() => {
  const listeners = new Map();
  const ipcRenderer = {
    invoke: (channel, ...args) => window.__qbDesktopIpc(channel, args),
    on(channel, listener) {
      if (!listeners.has(channel)) listeners.set(channel, new Set());
      listeners.get(channel).add(listener);
      return ipcRenderer;
    },
    removeListener(channel, listener) {
      listeners.get(channel)?.delete(listener);
      return ipcRenderer;
    },
  };
  const contextBridge = {
    exposeInMainWorld(key, api) {
      if (key in window) throw new Error('Cannot bind an API on top of an existing property on the window object');
      Object.defineProperty(window, key, { value: Object.freeze({ ...api }), enumerable: true });
    },
  };
  Object.defineProperty(window, '__qbDesktopDeliver', {
    value: (channel, args) => {
      for (const listener of listeners.get(channel) ?? []) listener({ senderId: 0 }, ...args);
    },
  });
  const required = [];
  Object.defineProperty(window, '__qbPreloadRequired', { value: required });
  // A sandboxed preload may require only 'electron' (and a few built-ins it does not use).
  const require = (name) => {
    required.push(name);
    if (name === 'electron') return { contextBridge, ipcRenderer };
    throw new Error('module not found in the sandboxed preload: ' + name);
  };
  const module = { exports: {} };
  (function (require, module, exports) {
${preloadCode}
  })(require, module, module.exports);
})();`;
}

function senderFrameOf(frame: Frame): { url: string; parent: { url: string } | null } {
  const parent = frame.parentFrame();
  return { url: frame.url(), parent: parent ? { url: parent.url() } : null };
}

export interface DesktopHostOptions {
  /** Start an emulator process and point the app at it (else demo mode, the emulator in-process). */
  emulator?: EmulatorFlags | false;
  /** Extra environment for the app (QB_*, DESKTOP_HOST_*). */
  env?: Record<string, string>;
  /** Foreign pages the test may open, by URL (served by the route, as a real site would be). */
  foreignPages?: Record<string, string>;
}

export interface DesktopApp {
  host: DesktopHost;
  emulator: EmulatorProcess | null;
  dataDir: string;
  context: BrowserContext;
  /** The page of the window main opened first, loaded. */
  page: Page;
  windowId: number;
  windows(): Promise<HostWindow[]>;
  journal(): Promise<JournalEntry[]>;
  /** Every push main sent to a page so far. */
  pushes(channel: string): unknown[][];
  /** Restarts main on the same data directory (a new host process, a new page). */
  restart(): Promise<void>;
}

export const test = base.extend<{ desktopOptions: DesktopHostOptions; desktop: DesktopApp }>({
  desktopOptions: [{}, { option: true }],

  desktop: async ({ browser, desktopOptions }, use, testInfo) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'qb-desktop-host-'));
    const emulator =
      desktopOptions.emulator === false || desktopOptions.emulator === undefined
        ? null
        : await startEmulatorProcess(desktopOptions.emulator);
    const env: Record<string, string> = emulator
      ? { ...serverEnvFor(emulator), ...desktopOptions.env }
      : { QB_DEMO: '1', ...desktopOptions.env };
    delete env.QB_PORT;
    const preload = preloadInitScript(readFileSync(PRELOAD_BUNDLE, 'utf8'));
    const everyWindow: (Record<string, unknown> | null)[] = [];
    const cloneFailures: string[] = [];

    let host!: DesktopHost;
    let context!: BrowserContext;
    const pages = new Map<number, Page>();
    const loading = new Map<number, string>();
    const pushes: { channel: string; args: unknown[] }[] = [];

    async function guardRequest(route: Route): Promise<void> {
      const request = route.request();
      const page = request.frame().page();
      const windowId = [...pages.entries()].find(([, p]) => p === page)?.[0];
      // main's own loadURL is programmatic: Electron asks no will-navigate for it.
      const programmatic = windowId !== undefined && loading.get(windowId) === request.url();
      if (request.isNavigationRequest() && windowId !== undefined && !programmatic) {
        const mainFrame = request.frame() === page.mainFrame();
        const event = request.redirectedFrom()
          ? 'will-redirect'
          : mainFrame
            ? 'will-navigate'
            : 'will-frame-navigate';
        const allowed = await host.call<boolean>('navigate', windowId, event, request.url(), mainFrame);
        // Refused: Chromium keeps the current document on a 204 answer, as Electron does on preventDefault.
        if (!allowed) return route.fulfill({ status: 204, body: '' });
      }
      const html = desktopOptions.foreignPages?.[request.url()];
      if (html !== undefined) return route.fulfill({ contentType: 'text/html', body: html });
      if (request.url().startsWith('file:')) return route.continue();
      return route.abort('internetdisconnected');
    }

    async function open(): Promise<{ page: Page; windowId: number }> {
      host = await startDesktopHost({ dataDir, env });
      context = await browser.newContext();
      await context.exposeBinding('__qbDesktopIpc', ({ frame }, channel: string, args: unknown[]) =>
        host.call('invoke', channel, senderFrameOf(frame), args),
      );
      await context.addInitScript({ content: preload });
      // Navigations main's hardening would see: asked of main (will-navigate, will-frame-navigate,
      // will-redirect), refused or let through as it answers.
      await context.route('**/*', (route: Route) =>
        guardRequest(route).catch(() => {
          // The app quit or the test ended while a request was in flight: nothing is waiting for it.
        }),
      );
      // Windows created and clone failures seen before this listener existed count too.
      for (const event of host.events) noteEvent(event);
      host.on((event: HostEvent) => {
        noteEvent(event);
        void onHostEvent(event);
      });
      const first = await host.waitFor(
        (e): e is Extract<HostEvent, { type: 'load-url' }> => e.type === 'load-url',
      );
      await showWindow(first.windowId, first.url);
      const page = pages.get(first.windowId);
      if (!page) throw new Error('main opened no window');
      // Let the page's own requests (scripts, favicon) settle, so none is in flight when a short test ends.
      await page.waitForLoadState('networkidle');
      return { page, windowId: first.windowId };
    }

    async function showWindow(windowId: number, url: string): Promise<void> {
      let page = pages.get(windowId);
      if (!page) {
        page = await context.newPage();
        pages.set(windowId, page);
      }
      loading.set(windowId, url);
      await page.goto(url);
      loading.delete(windowId);
      await host.call('finishedLoading', windowId, url);
    }

    function noteEvent(event: HostEvent): void {
      if (event.type === 'window-created') everyWindow.push(event.webPreferences);
      if (event.type === 'clone-failure') cloneFailures.push(event.message);
    }

    async function onHostEvent(event: HostEvent): Promise<void> {
      try {
        if (event.type === 'load-url' && !pages.has(event.windowId))
          await showWindow(event.windowId, event.url);
        if (event.type === 'send') {
          pushes.push({ channel: event.channel, args: event.args });
          await pages
            .get(event.windowId)
            ?.evaluate(
              ([channel, args]) =>
                (
                  globalThis as unknown as { __qbDesktopDeliver(c: string, a: unknown[]): void }
                ).__qbDesktopDeliver(channel, args),
              [event.channel, event.args] as const,
            );
        }
        if (event.type === 'window-destroyed') {
          await pages.get(event.windowId)?.close();
          pages.delete(event.windowId);
        }
      } catch {
        // A page closed while a push was on its way: as in Electron, the push is lost.
      }
    }

    async function close(): Promise<void> {
      await host.stop();
      // Playwright may already have closed the context at the end of the test (it keeps its trace).
      await context.unrouteAll({ behavior: 'ignoreErrors' }).catch(() => undefined);
      await context.close().catch(() => undefined);
      pages.clear();
    }

    let opened = await open();
    const app: DesktopApp = {
      get host() {
        return host;
      },
      emulator,
      dataDir,
      get context() {
        return context;
      },
      get page() {
        return opened.page;
      },
      get windowId() {
        return opened.windowId;
      },
      windows: () => host.call<HostWindow[]>('windows'),
      journal: () => host.call<JournalEntry[]>('journal'),
      pushes: (channel) => pushes.filter((p) => p.channel === channel).map((p) => p.args),
      async restart() {
        await close();
        opened = await open();
      },
    };
    try {
      await use(app);
      await close();
      expect(cloneFailures, 'IPC values that structuredClone would not carry unchanged').toEqual([]);
      // Every window main opened kept the renderer isolated, sandboxed and without Node.
      expect(everyWindow.length).toBeGreaterThan(0);
      for (const webPreferences of everyWindow) {
        expect(webPreferences).toMatchObject({
          contextIsolation: true,
          sandbox: true,
          nodeIntegration: false,
        });
      }
    } finally {
      if (testInfo.status !== testInfo.expectedStatus) {
        await testInfo.attach('main-process.log', { body: host.output(), contentType: 'text/plain' });
      }
      await host.stop().catch(() => undefined);
      await emulator?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
});
