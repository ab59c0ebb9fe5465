import { describe, expect, it } from 'vitest';
import { ariaKeyShortcut, CHROMIUM_RESERVED, DESKTOP_COMMANDS, SHORTCUTS, shortcutLabel } from './shortcuts';

const normalise = (accelerator: string) => accelerator.toLowerCase().split('+').sort().join('+');

describe('desktop shortcuts', () => {
  it('take none of the keys Chromium or Electron already use (Ctrl/Cmd+R reloads)', () => {
    const reserved = new Set(CHROMIUM_RESERVED.map(normalise));
    for (const command of DESKTOP_COMMANDS)
      expect(reserved.has(normalise(SHORTCUTS[command])), command).toBe(false);
    expect(new Set(DESKTOP_COMMANDS.map((c) => normalise(SHORTCUTS[c]))).size).toBe(DESKTOP_COMMANDS.length);
  });

  it('read as each platform writes them', () => {
    expect(shortcutLabel('CmdOrCtrl+Alt+R', false)).toBe('Ctrl+Alt+R');
    expect(shortcutLabel('CmdOrCtrl+Alt+R', true)).toBe('⌥⌘R');
    expect(ariaKeyShortcut('CmdOrCtrl+Alt+R', false)).toBe('Control+Alt+R');
    expect(ariaKeyShortcut('CmdOrCtrl+Alt+R', true)).toBe('Meta+Alt+R');
  });
});
