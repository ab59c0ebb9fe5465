// The desktop app's keyboard shortcuts for the three token actions, one definition for main's
// application menu (Electron accelerator syntax) and the renderer's hints. Chromium and Electron's
// default menu already own Ctrl/Cmd+R (reload), Shift+Ctrl/Cmd+R and F5, so every key here takes
// Alt (Option on macOS) as well; CHROMIUM_RESERVED lists the keys they must never take.

import type { DesktopCommand } from './contract';

export type { DesktopCommand };

export const DESKTOP_COMMANDS: readonly DesktopCommand[] = ['refresh', 'clear', 'testConnection'];

export const SHORTCUTS: Record<DesktopCommand, string> = {
  refresh: 'CmdOrCtrl+Alt+R',
  clear: 'CmdOrCtrl+Alt+K',
  testConnection: 'CmdOrCtrl+Alt+P',
};

/** Keys Chromium, Electron's default roles or a desktop commonly claims; ours stay clear of them. */
export const CHROMIUM_RESERVED: readonly string[] = [
  'CmdOrCtrl+R',
  'CmdOrCtrl+Shift+R',
  'F5',
  'Shift+F5',
  'CmdOrCtrl+F5',
  'CmdOrCtrl+W',
  'CmdOrCtrl+Q',
  'CmdOrCtrl+T',
  'CmdOrCtrl+N',
  'CmdOrCtrl+P',
  'CmdOrCtrl+F',
  'CmdOrCtrl+L',
  'CmdOrCtrl+Shift+I',
  'CmdOrCtrl+Shift+J',
  'CmdOrCtrl+Shift+C',
  'CmdOrCtrl+Shift+Delete',
  'CmdOrCtrl+Alt+I',
  'CmdOrCtrl+Alt+J',
  'CmdOrCtrl+Alt+C',
  'CmdOrCtrl+Alt+T',
  'CmdOrCtrl+Alt+L',
  'CmdOrCtrl+Alt+D',
  'CmdOrCtrl+Alt+Delete',
  'F11',
  'F12',
];

const MAC_SYMBOLS: Record<string, string> = { Ctrl: '⌃', Alt: '⌥', Shift: '⇧', Cmd: '⌘' };

/** How a shortcut reads to a person: "Ctrl+Alt+R", or "⌥⌘R" on macOS. */
export function shortcutLabel(accelerator: string, mac: boolean): string {
  const parts = accelerator.split('+').map((part) => (part === 'CmdOrCtrl' ? (mac ? 'Cmd' : 'Ctrl') : part));
  if (!mac) return parts.join('+');
  const key = parts.pop() ?? '';
  // macOS writes modifiers in a fixed order: Control, Option, Shift, Command.
  const order = ['Ctrl', 'Alt', 'Shift', 'Cmd'];
  return `${order
    .filter((m) => parts.includes(m))
    .map((m) => MAC_SYMBOLS[m])
    .join('')}${key}`;
}

/** The aria-keyshortcuts value (W3C key names: Control, Alt, Meta). */
export function ariaKeyShortcut(accelerator: string, mac: boolean): string {
  const names: Record<string, string> = { CmdOrCtrl: mac ? 'Meta' : 'Control', Ctrl: 'Control', Cmd: 'Meta' };
  return accelerator
    .split('+')
    .map((part) => names[part] ?? part)
    .join('+');
}
