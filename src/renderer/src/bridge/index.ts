// The renderer's bridge: IPC through the preload in the desktop app, HTTP + SSE in headless mode.
import type { QbTokensBridge } from '../../../shared/contract';
import { createHttpBridge } from './http-bridge';

export function selectBridge(): QbTokensBridge {
  // Typed locally so this builds whether or not the preload's Window declaration is present.
  const ipc = (window as Window & { qbTokens?: QbTokensBridge }).qbTokens;
  return ipc ?? createHttpBridge();
}
