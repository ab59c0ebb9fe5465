// The desktop app's own settings (not tokens): keep running in the tray when the window closes,
// native notifications on or off, and the window's last size and place. Kept with electron-store
// in userData (settings.json); read through a schema so a hand-edited or older file falls back to
// defaults field by field instead of breaking start-up. Start at login is the OS's own state
// (login-item.ts), not kept here.
import { z } from 'zod';

/** The part of electron-store (and conf) used here. */
interface SettingsBackend {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
}

export const SETTINGS_STORE_NAME = 'settings';

const boundsSchema = z.object({
  x: z.number().int().optional(),
  y: z.number().int().optional(),
  width: z.number().int().min(100).max(20_000),
  height: z.number().int().min(100).max(20_000),
  maximized: z.boolean().default(false),
});
export type WindowBounds = z.infer<typeof boundsSchema>;

interface DesktopSettings {
  /** Closing the window hides it; the app keeps refreshing from the tray. */
  closeToTray: boolean;
  notifications: boolean;
  window: WindowBounds | null;
}

/**
 * Platform conventions: on Windows a tray app keeps running when its window closes; on Linux the
 * tray icon may be invisible (GNOME without the AppIndicator extension), so closing quits unless
 * the user chose otherwise; on macOS closing a window never quits (the setting is not offered).
 */
function defaultSettings(platform: NodeJS.Platform): DesktopSettings {
  return { closeToTray: platform !== 'linux', notifications: true, window: null };
}

export class SettingsStore {
  constructor(
    private readonly backend: SettingsBackend,
    private readonly platform: NodeJS.Platform = process.platform,
  ) {}

  get(): DesktopSettings {
    const defaults = defaultSettings(this.platform);
    const read = <T>(key: string, schema: z.ZodType<T>, fallback: T): T => {
      const parsed = schema.safeParse(this.backend.get(key));
      return parsed.success ? parsed.data : fallback;
    };
    return {
      closeToTray: read('closeToTray', z.boolean(), defaults.closeToTray),
      notifications: read('notifications', z.boolean(), defaults.notifications),
      window: read('window', boundsSchema.nullable(), defaults.window),
    };
  }

  set<K extends keyof DesktopSettings>(key: K, value: DesktopSettings[K]): void {
    this.backend.set(key, value);
  }
}
