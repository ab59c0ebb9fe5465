// The renderer's bridge: IPC through the preload in the desktop app, HTTP + SSE in headless mode.
import type { QbTokensBridge } from '../../../shared/contract';

type HttpBridgeModule = { createHttpBridge(baseUrl?: string): QbTokensBridge };

// http-bridge.ts is written separately; a glob keeps this build working before it lands.
const httpBridgeModules = import.meta.glob<HttpBridgeModule>('./http-bridge.ts', { eager: true });

export function selectBridge(): QbTokensBridge {
  const ipc = (window as Window & { qbTokens?: QbTokensBridge }).qbTokens;
  if (ipc) return ipc;
  const http = Object.values(httpBridgeModules)[0];
  if (!http) throw new Error('No bridge: window.qbTokens is missing and the HTTP bridge is not built in.');
  return http.createHttpBridge();
}
