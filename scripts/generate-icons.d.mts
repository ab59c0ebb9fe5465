// Types for scripts/generate-icons.mjs (test/packaging.test.ts imports it).
export declare const TRAY_COLOURS: Record<'idle' | 'valid' | 'expiring' | 'failing' | 'reconnect', string>;
export declare const LINUX_SIZES: number[];
export declare const TRAY_SIZE: number;
export declare function generateIcons(root?: string): { source: string; sha256: string; files: string[] };
