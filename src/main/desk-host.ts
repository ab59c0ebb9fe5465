// Main's ownership of the one TokenDesk: starts it, answers IPC from it, pushes every status change
// to the window, and shuts it down. A start-up failure (a bad variable, an unreadable store) never
// crashes the app: the window shows not_configured with the reason as a warning. No electron
// import: index.ts passes in how to start the desk and how to push a status.
import type { StartedDesk } from '../core/bootstrap';
import { ConfigError, toResultError } from '../core/errors';
import type { ConnectionSummary, TokenStatus } from '../shared/contract';
import { deskHandlers, notConfiguredHandlers, notConfiguredStatus, type ConnectActions } from './handlers';
import type { IpcHandlers } from './ipc';

export interface DeskHostOptions {
  start: () => Promise<StartedDesk>;
  /** Sends a status (of any connection) to the renderer (tokens:status-changed). */
  push: (status: TokenStatus) => void;
  /** Sends the list of connections after one was added or removed (tokens:connections-changed). */
  pushConnections?: (connections: ConnectionSummary[]) => void;
  log?: (line: string) => void;
  /** The Connect flow, once wired; until then connect/disconnect answer "not available yet". */
  connectActions?: (started: StartedDesk) => ConnectActions | undefined;
}

export interface DeskHost {
  /** Answers every channel; calls made while the desk is starting wait for it. */
  readonly handlers: IpcHandlers;
  /** Resolves once the desk is running or has failed to start (never rejects). */
  readonly ready: Promise<{ started: StartedDesk | null; status: TokenStatus }>;
  close(): Promise<void>;
}

/** The sentence shown in the window when the desk could not start. Never a stack trace or a token. */
function startupFailureWarning(error: unknown): string {
  if (error instanceof ConfigError) return `Configuration error: ${error.message}`;
  return `The token engine could not start: ${toResultError(error).message}`;
}

export function startDeskHost(options: DeskHostOptions): DeskHost {
  const log = options.log ?? ((line: string) => console.error(line));
  let unsubscribe: Array<() => void> = [];
  let connectActions: ConnectActions | undefined;
  let closed = false;

  const ready = options.start().then(
    (started) => {
      connectActions = options.connectActions?.(started);
      const connections = started.connections;
      const handlers = deskHandlers(started.desk, connectActions, connections);
      unsubscribe = [
        connections.onStatusChanged((status) => options.push(status)),
        connections.onConnectionsChanged((list) => options.pushConnections?.(list)),
      ];
      // Every connection's status, so the tray and the list start complete.
      for (const other of connections.statuses().reverse()) options.push(other);
      const status = started.desk.getStatus();
      return { started, handlers, status };
    },
    (error: unknown) => {
      const warning = startupFailureWarning(error);
      log(`[main] ${warning}`);
      const status = notConfiguredStatus([warning]);
      options.push(status);
      return { started: null, handlers: notConfiguredHandlers(() => status), status };
    },
  );

  const handlers: IpcHandlers = {
    getStatus: async (id) => (await ready).handlers.getStatus(id),
    refresh: async (id) => (await ready).handlers.refresh(id),
    clear: async (id) => (await ready).handlers.clear(id),
    testConnection: async (id) => (await ready).handlers.testConnection(id),
    connect: async (request) => (await ready).handlers.connect(request),
    disconnect: async (disconnectOptions) => (await ready).handlers.disconnect(disconnectOptions),
    listConnections: async () => (await ready).handlers.listConnections(),
    removeConnection: async (id, removeOptions) => (await ready).handlers.removeConnection(id, removeOptions),
  };

  return {
    handlers,
    ready: ready.then(({ started, status }) => ({ started, status })),
    async close() {
      if (closed) return;
      closed = true;
      const { started } = await ready;
      for (const off of unsubscribe) off();
      // A Connect still waiting for the browser holds a loopback listener open.
      await connectActions
        ?.cancel?.()
        .catch((error: unknown) => log(`[main] cancelling Connect failed: ${String(error)}`));
      await started?.close();
    },
  };
}
