// Types window.qbTokens for the renderer (tsconfig.web.json includes this file).
import type { QbTokensBridge } from '../shared/contract';

declare global {
  interface Window {
    // Undefined in headless mode, where the renderer uses the HTTP bridge instead.
    qbTokens?: QbTokensBridge;
  }
}

export {};
