// Where the built pieces are, relative to the built main bundle (out/main/index.js), and which URL
// is the app's own page. The same URL string serves loading and sender validation.
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

interface AppLocation {
  appUrl: string;
  preloadPath: string;
}

interface LocateOptions {
  /** Directory of the built main bundle (out/main). */
  mainDir: string;
  /** electron-vite's dev server URL (ELECTRON_RENDERER_URL), honoured only when not packaged. */
  devServerUrl?: string | undefined;
  isPackaged: boolean;
}

export function locateApp({ mainDir, devServerUrl, isPackaged }: LocateOptions): AppLocation {
  const preloadPath = join(mainDir, '..', 'preload', 'index.cjs');
  const devServer = isPackaged ? null : loopbackDevServer(devServerUrl);
  if (devServer) return { appUrl: devServer, preloadPath };
  return { appUrl: pathToFileURL(join(mainDir, '..', 'renderer', 'index.html')).href, preloadPath };
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The dev server's URL when it is plain http on a loopback host, else null. Decided on the parsed
 * URL: a prefix test would take `http://localhost@evil.example/` (a user name) or
 * `http://localhost.evil.example/` for loopback.
 */
function loopbackDevServer(url: string | undefined): string | null {
  if (!url) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'http:' || parsed.username || parsed.password) return null;
  return LOOPBACK_HOSTS.has(parsed.hostname) ? parsed.href : null;
}

/** QB_DATA_DIR as an absolute path, or undefined when unset/blank (a relative value is taken from cwd). */
export function dataDirFromEnv(env: Record<string, string | undefined>, cwd: string): string | undefined {
  const value = env.QB_DATA_DIR?.trim();
  if (!value) return undefined;
  return isAbsolute(value) ? value : resolve(cwd, value);
}
