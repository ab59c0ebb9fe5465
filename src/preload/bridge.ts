// window.qbTokens: one method per contract action, nothing else. The page never sees ipcRenderer
// or an IPC event object; every call resolves with a Result, even when main does not answer.
import {
  CONNECTIONS_CHANGED_CHANNEL,
  COMMAND_CHANNEL,
  IPC_CHANNELS,
  STATUS_CHANGED_CHANNEL,
  type ConnectionSummary,
  type ConnectionTestResult,
  type DesktopCommand,
  type InvokeChannel,
  type QbTokensBridge,
  type Result,
  type TokenStatus,
} from '../shared/contract';

type Listener = (event: unknown, ...args: unknown[]) => void;

/** The part of ipcRenderer the bridge uses. */
interface IpcRendererLike {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: Listener): unknown;
  removeListener(channel: string, listener: Listener): unknown;
}

interface ContextBridgeLike {
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
    // Only known values cross, as plain values; main validates them again.
    getStatus: (id) => invoke<TokenStatus>(IPC_CHANNELS.getStatus, ...idArg(id)),
    refresh: (id) => invoke<TokenStatus>(IPC_CHANNELS.refresh, ...idArg(id)),
    clear: (id) => invoke<TokenStatus>(IPC_CHANNELS.clear, ...idArg(id)),
    testConnection: (id) => invoke<ConnectionTestResult>(IPC_CHANNELS.testConnection, ...idArg(id)),
    connect: (request) =>
      invoke<TokenStatus>(
        IPC_CHANNELS.connect,
        ...(request
          ? [
              {
                ...(request.connectionId !== undefined ? { connectionId: String(request.connectionId) } : {}),
                ...(request.environment !== undefined ? { environment: String(request.environment) } : {}),
              },
            ]
          : []),
      ),
    disconnect: (options) =>
      invoke<TokenStatus>(IPC_CHANNELS.disconnect, {
        ...(options?.force === undefined ? {} : { force: options.force === true }),
        ...(options?.connectionId === undefined ? {} : { connectionId: String(options.connectionId) }),
      }),
    listConnections: () => invoke<ConnectionSummary[]>(IPC_CHANNELS.listConnections),
    removeConnection: (id, options) =>
      invoke<ConnectionSummary[]>(
        IPC_CHANNELS.removeConnection,
        String(id),
        options?.force === undefined ? {} : { force: options.force === true },
      ),
    onConnectionsChanged(callback) {
      const listener: Listener = (_event, connections) => callback(connections as ConnectionSummary[]);
      ipcRenderer.on(CONNECTIONS_CHANGED_CHANNEL, listener);
      return () => {
        ipcRenderer.removeListener(CONNECTIONS_CHANGED_CHANNEL, listener);
      };
    },
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

/** A connection id crosses as a string, and only when given (so main sees "no id" as the default). */
function idArg(id: unknown): unknown[] {
  return id === undefined ? [] : [String(id)];
}

/** The preload's whole job: exactly one global. */
export function exposeBridge(contextBridge: ContextBridgeLike, ipcRenderer: IpcRendererLike): void {
  contextBridge.exposeInMainWorld(BRIDGE_GLOBAL, createBridge(ipcRenderer));
}
