// The desktop app's keyboard shortcuts, shown beside the action buttons. Only where the bridge can
// deliver the menu's commands (the desktop app); the headless page has no shortcuts.
import type { DesktopCommand } from '../../../shared/contract';
import { ariaKeyShortcut, SHORTCUTS, shortcutLabel } from '../../../shared/shortcuts';

interface ShortcutHint {
  label: string;
  aria: string;
}

export function shortcutHint(command: DesktopCommand): ShortcutHint | null {
  if (typeof window.qbTokens?.onCommand !== 'function') return null;
  const mac = /Mac/i.test(navigator.platform);
  return { label: shortcutLabel(SHORTCUTS[command], mac), aria: ariaKeyShortcut(SHORTCUTS[command], mac) };
}
