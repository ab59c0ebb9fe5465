import { describe, expect, it } from 'vitest';
import type { BrowserWindowConstructorOptions } from 'electron';
import { createMainWindow, MAIN_WINDOW_TITLE, type WindowLike } from './window';

/** Stand-in for BrowserWindow: records its options and what was loaded. */
class WindowStandIn implements WindowLike {
  static created: WindowStandIn[] = [];
  readonly loaded: string[] = [];
  shown = false;
  private readyListener: (() => void) | null = null;

  constructor(readonly options: BrowserWindowConstructorOptions) {
    WindowStandIn.created.push(this);
  }

  once(_event: 'ready-to-show', listener: () => void): this {
    this.readyListener = listener;
    return this;
  }

  show(): void {
    this.shown = true;
  }

  async loadURL(url: string): Promise<void> {
    this.loaded.push(url);
    if (url.includes('missing')) throw new Error('ERR_FILE_NOT_FOUND');
  }

  paint(): void {
    this.readyListener?.();
  }
}

describe('createMainWindow', () => {
  it('creates the window with the security settings and the given preload', () => {
    const window = createMainWindow(WindowStandIn, {
      preloadPath: '/opt/qb/out/preload/index.cjs',
      appUrl: 'file:///opt/qb/out/renderer/index.html',
    });
    expect(window.options.title).toBe(MAIN_WINDOW_TITLE);
    expect(window.options.webPreferences).toMatchObject({
      preload: '/opt/qb/out/preload/index.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
    });
  });

  it('loads the app’s own page and shows the window only once painted', () => {
    const window = createMainWindow(WindowStandIn, {
      preloadPath: '/p.cjs',
      appUrl: 'file:///opt/qb/index.html',
    });
    expect(window.loaded).toEqual(['file:///opt/qb/index.html']);
    expect(window.options.show).toBe(false);
    expect(window.shown).toBe(false);
    window.paint();
    expect(window.shown).toBe(true);
  });

  it('reports a page that fails to load instead of leaving an unhandled rejection', async () => {
    const errors: unknown[] = [];
    createMainWindow(WindowStandIn, {
      preloadPath: '/p.cjs',
      appUrl: 'file:///missing/index.html',
      onLoadError: (error) => errors.push(error),
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toHaveLength(1);
  });
});
