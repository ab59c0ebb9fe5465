// The one window factory. Security settings come from security.ts; navigation, window.open and
// webview hardening are applied app-wide in index.ts ('web-contents-created'), so every
// WebContents gets them, this window's included.
import type { BrowserWindowConstructorOptions } from 'electron';
import { secureWebPreferences } from './security';
import { DEFAULT_WINDOW_SIZE } from './window-state';

export interface WindowLike {
  once(event: 'ready-to-show', listener: () => void): unknown;
  show(): void;
  loadURL(url: string): Promise<void>;
}

type WindowConstructor<W extends WindowLike> = new (options: BrowserWindowConstructorOptions) => W;

interface MainWindowOptions {
  /** Absolute path of the built preload (out/preload/index.cjs). */
  preloadPath: string;
  /** Where the window was last (window-state.ts); default size, placed by the window manager, otherwise. */
  bounds?: { x?: number; y?: number; width: number; height: number };
  /** The app's own page: file:// URL of out/renderer/index.html, or the dev server's URL. */
  appUrl: string;
  /** Reports a page that failed to load instead of leaving an unhandled rejection. */
  onLoadError?: (error: unknown) => void;
}

export const MAIN_WINDOW_TITLE = 'QB Token Desk';

function mainWindowOptions(
  preloadPath: string,
  bounds: MainWindowOptions['bounds'] = DEFAULT_WINDOW_SIZE,
): BrowserWindowConstructorOptions {
  return {
    title: MAIN_WINDOW_TITLE,
    ...bounds,
    minWidth: 720,
    minHeight: 520,
    // Shown once painted, so the window never flashes white.
    show: false,
    backgroundColor: '#f6f7f9',
    autoHideMenuBar: true,
    webPreferences: secureWebPreferences(preloadPath),
  };
}

export function createMainWindow<W extends WindowLike>(
  BrowserWindow: WindowConstructor<W>,
  options: MainWindowOptions,
): W {
  const window = new BrowserWindow(mainWindowOptions(options.preloadPath, options.bounds));
  window.once('ready-to-show', () => window.show());
  window.loadURL(options.appUrl).catch((error: unknown) => options.onLoadError?.(error));
  return window;
}
