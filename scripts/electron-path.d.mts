// Types for scripts/electron-path.mjs, so TypeScript (playwright.config.ts, e2e support) can import it.
export declare const projectRoot: string;

export interface ElectronRuntime {
  /** Absolute path of the Electron executable, or null when none exists. */
  executablePath: string | null;
  /** Every path looked at, in order. */
  tried: string[];
  /** One readable paragraph: where the runtime is, or why there is none and how to supply one. */
  message: string;
}

export declare function resolveElectronRuntime(options?: {
  env?: Record<string, string | undefined>;
  root?: string;
  platform?: string;
}): ElectronRuntime;

export declare function noRuntimeMessage(tried: string[], overridden: boolean): string;
