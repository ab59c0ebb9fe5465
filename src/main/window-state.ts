// The main window's size and place, remembered across starts: restored only where a display still
// shows it (a monitor unplugged since would leave the window off screen), saved as the user moves
// or resizes it. No electron import: index.ts passes in the displays and the window.
import type { Rectangle } from 'electron';
import type { WindowBounds } from './settings';

export const DEFAULT_WINDOW_SIZE = { width: 1120, height: 800 };
/** At least this much of the window must lie on one display's work area to restore it there. */
const MIN_VISIBLE = { width: 160, height: 80 };

interface RestoredBounds {
  x?: number;
  y?: number;
  width: number;
  height: number;
  maximized: boolean;
}

function overlap(a: Rectangle, b: Rectangle): { width: number; height: number } {
  return {
    width: Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x),
    height: Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y),
  };
}

export function restoreBounds(saved: WindowBounds | null, workAreas: readonly Rectangle[]): RestoredBounds {
  if (!saved) return { ...DEFAULT_WINDOW_SIZE, maximized: false };
  const largest = workAreas.reduce<Rectangle | null>(
    (best, area) => (!best || area.width * area.height > best.width * best.height ? area : best),
    null,
  );
  // Never larger than the biggest screen there is now.
  const width = largest ? Math.min(saved.width, largest.width) : saved.width;
  const height = largest ? Math.min(saved.height, largest.height) : saved.height;
  if (saved.x === undefined || saved.y === undefined) return { width, height, maximized: saved.maximized };
  const rect = { x: saved.x, y: saved.y, width, height };
  const visible = workAreas.some((area) => {
    const shared = overlap(rect, area);
    return shared.width >= MIN_VISIBLE.width && shared.height >= MIN_VISIBLE.height;
  });
  // Off every screen: keep the size, let the window manager place it.
  return visible ? { ...rect, maximized: saved.maximized } : { width, height, maximized: saved.maximized };
}

/** The part of BrowserWindow that state tracking reads; Electron's BrowserWindow satisfies it. */
export interface TrackedWindow {
  on(event: 'resize' | 'move' | 'maximize' | 'unmaximize' | 'close', listener: () => void): unknown;
  getNormalBounds(): Rectangle;
  isMaximized(): boolean;
  isDestroyed(): boolean;
}

/** Saves the window's bounds a moment after it stops moving, and at once when it closes. */
export function trackWindowState(
  window: TrackedWindow,
  save: (bounds: WindowBounds) => void,
  delayMs = 500,
): () => void {
  let timer: NodeJS.Timeout | null = null;
  const write = (): void => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (window.isDestroyed()) return;
    const { x, y, width, height } = window.getNormalBounds();
    save({ x, y, width, height, maximized: window.isMaximized() });
  };
  const later = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(write, delayMs);
    timer.unref?.();
  };
  for (const event of ['resize', 'move', 'maximize', 'unmaximize'] as const) window.on(event, later);
  window.on('close', write);
  return () => {
    if (timer) clearTimeout(timer);
  };
}
