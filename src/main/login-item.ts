// Start at login. macOS and Windows: Electron's app.setLoginItemSettings. Linux, where Electron
// has none: an XDG autostart entry (~/.config/autostart/<name>.desktop), the freedesktop way every
// desktop environment reads. No electron import: index.ts passes `app` in.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { App } from 'electron';

interface LoginItem {
  isEnabled(): boolean;
  setEnabled(enabled: boolean): void;
}

interface LoginItemOptions {
  platform: NodeJS.Platform;
  app: Pick<App, 'setLoginItemSettings' | 'getLoginItemSettings'>;
  env: Record<string, string | undefined>;
  /** The command that starts this app: the executable, plus the app folder when unpackaged. */
  command: readonly string[];
  name: string;
  /** File name of the autostart entry (the app id). */
  id: string;
}

/** Quotes one argument for a desktop entry's Exec key (freedesktop Desktop Entry spec). */
export function quoteExecArgument(arg: string): string {
  if (!/[\s"'\\`$<>|&;()*?#~=%]/.test(arg)) return arg;
  return `"${arg.replace(/[\\"`$]/g, (c) => `\\${c}`).replace(/%/g, '%%')}"`;
}

export function autostartEntry(name: string, command: readonly string[]): string {
  return [
    '[Desktop Entry]',
    'Type=Application',
    `Name=${name}`,
    `Exec=${command.map(quoteExecArgument).join(' ')}`,
    'X-GNOME-Autostart-enabled=true',
    'Terminal=false',
    '',
  ].join('\n');
}

export function autostartPath(env: Record<string, string | undefined>, id: string): string {
  const configHome = env.XDG_CONFIG_HOME?.trim() || join(homedir(), '.config');
  return join(configHome, 'autostart', `${id}.desktop`);
}

export function loginItem(options: LoginItemOptions): LoginItem {
  if (options.platform !== 'linux') {
    return {
      isEnabled: () => options.app.getLoginItemSettings().openAtLogin,
      setEnabled: (openAtLogin) => options.app.setLoginItemSettings({ openAtLogin }),
    };
  }
  const path = autostartPath(options.env, options.id);
  return {
    isEnabled: () => existsSync(path) && !/^Hidden=true$/m.test(readFileSync(path, 'utf8')),
    setEnabled(enabled) {
      if (!enabled) return rmSync(path, { force: true });
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, autostartEntry(options.name, options.command), { mode: 0o644 });
    },
  };
}
