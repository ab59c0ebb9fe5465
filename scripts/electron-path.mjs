// Finds an Electron executable WITHOUT loading the electron package (its index.js downloads the
// binary on first use, which fails on machines without network). Used by `npm start`
// (scripts/start-electron.mjs) and by the Playwright electron project.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const projectRoot = resolve(import.meta.dirname, '..');

function defaultExecutableName(platform) {
  if (platform === 'win32') return 'electron.exe';
  if (platform === 'darwin') return 'Electron.app/Contents/MacOS/Electron';
  return 'electron';
}

function isFile(path) {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * @param {{ env?: Record<string, string | undefined>, root?: string, platform?: string }} [options]
 * @returns {{ executablePath: string | null, tried: string[], message: string }}
 */
export function resolveElectronRuntime(options = {}) {
  const env = options.env ?? process.env;
  const root = options.root ?? projectRoot;
  const platform = options.platform ?? process.platform;
  const packageDir = join(root, 'node_modules', 'electron');
  const pathFile = join(packageDir, 'path.txt');
  // path.txt is written by the electron package's installer and names the executable inside dist/.
  const name = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : defaultExecutableName(platform);

  const tried = [];
  const override = env.ELECTRON_OVERRIDE_DIST_PATH?.trim();
  if (override) {
    const candidate = join(resolve(root, override), name);
    tried.push(candidate);
    if (isFile(candidate))
      return { executablePath: candidate, tried, message: `Electron runtime: ${candidate}` };
  } else {
    const candidate = join(packageDir, 'dist', name);
    tried.push(candidate);
    if (isFile(candidate))
      return { executablePath: candidate, tried, message: `Electron runtime: ${candidate}` };
  }
  return { executablePath: null, tried, message: noRuntimeMessage(tried, Boolean(override)) };
}

export function noRuntimeMessage(tried, overridden) {
  const where = tried.join(', ');
  return [
    `No Electron runtime found (looked for ${where}).`,
    overridden
      ? 'ELECTRON_OVERRIDE_DIST_PATH is set but holds no Electron executable.'
      : "The electron package fetches its binary from Electron's release host (since Electron 42, on first use rather than at install); that download did not happen or failed (no network?).",
    'To supply one: set ELECTRON_OVERRIDE_DIST_PATH to a directory holding an unpacked Electron 45 build ' +
      '(e.g. electron-v45.x.x-linux-x64.zip from https://github.com/electron/electron/releases), ' +
      'or run `node node_modules/electron/install.js` on a machine with network access.',
  ].join('\n');
}
