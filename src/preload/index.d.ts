// Types window.qbTokens for the renderer (tsconfig.web.json includes this file).
import type { QbTokensBridge } from '../shared/contract';

declare global {
  interface Window {
    qbTokens: QbTokensBridge;
  }
}

export {};
