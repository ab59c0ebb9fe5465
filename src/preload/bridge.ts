// window.qbTokens: one method per contract action, nothing else. The page never sees ipcRenderer
// or an IPC event object; every call resolves with a Result, even when main does not answer.
import {
  COMMAND_CHANNEL,
  IPC_CHANNELS,
  STATUS_CHANGED_CHANNEL,
  type ConnectionTestResult,
  type DesktopCommand,
  type InvokeChannel,
  type QbTokensBridge,
  type Result,
  type TokenStatus,
} from '../shared/contract';

type Listener = (event: unknown, ...args: unknown[]) => void;

/** The part of ipcRenderer the bridge uses. */
export interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: Listener): unknown;
  removeListener(channel: string, listener: Listener): unknown;
}

export interface ContextBridgeLike {
  exposeInMainWorld(apiKey: string, api: unknown): void;
}

export const BRIDGE_GLOBAL = 'qbTokens';

export function createBridge(ipcRenderer: IpcRendererLike): QbTokensBridge {
  const invoke = async <T>(channel: InvokeChannel, ...args: unknown[]): Promise<Result<T>> => {
    try {
      return (await ipcRenderer.invoke(channel, ...args)) as Result<T>;
    } catch {
      return { ok: false, error: { code: 'internal', message: 'The main process did not answer.' } };
    }
  };

  return {
    getStatus: () => invoke<TokenStatus>(IPC_CHANNELS.getStatus),
    refresh: () => invoke<TokenStatus>(IPC_CHANNELS.refresh),
    clear: () => invoke<TokenStatus>(IPC_CHANNELS.clear),
    testConnection: () => invoke<ConnectionTestResult>(IPC_CHANNELS.testConnection),
    connect: () => invoke<TokenStatus>(IPC_CHANNELS.connect),
    // Only the known option crosses, as a plain value.
    disconnect: (options) =>
      invoke<TokenStatus>(
        IPC_CHANNELS.disconnect,
        options?.force === undefined ? {} : { force: options.force === true },
      ),
    onStatusChanged(callback) {
      const listener: Listener = (_event, status) => callback(status as TokenStatus);
      ipcRenderer.on(STATUS_CHANGED_CHANNEL, listener);
      return () => {
        ipcRenderer.removeListener(STATUS_CHANGED_CHANNEL, listener);
      };
    },
    onCommand(callback) {
      // Only the known commands reach the page, whatever main (or anything else) sends.
      const listener: Listener = (_event, command) => {
        if (command === 'refresh' || command === 'clear' || command === 'testConnection')
          callback(command satisfies DesktopCommand);
      };
      ipcRenderer.on(COMMAND_CHANNEL, listener);
      return () => {
        ipcRenderer.removeListener(COMMAND_CHANNEL, listener);
      };
    },
  } satisfies Required<QbTokensBridge>;
}

/** The preload's whole job: exactly one global. */
export function exposeBridge(contextBridge: ContextBridgeLike, ipcRenderer: IpcRendererLike): void {
  contextBridge.exposeInMainWorld(BRIDGE_GLOBAL, createBridge(ipcRenderer));
}
