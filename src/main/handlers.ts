// What the main process answers on each channel: from a TokenDesk when the core is running, or a
// fixed not_configured status when it is not (start-up failed, or no engine yet). Handlers may
// throw; ipc.ts turns that into a Result with the error mapper it was given.
import type { ConnectionsDesk, TokenDesk } from '../core/desk';
import { singleConnection } from '../core/single-connection';
import { summarizeStatus } from '../shared/connections';
import {
  DEFAULT_CONNECTION_ID,
  type ConnectRequest,
  type DisconnectOptions,
  type ResultError,
  type TokenStatus,
} from '../shared/contract';
import type { IpcHandlers } from './ipc';

const NOT_AVAILABLE_YET: ResultError = { code: 'internal', message: 'not available yet' };

/** The status shown when there is no engine to ask: nothing stored, nothing scheduled, the reason in `warnings`. */
export function notConfiguredStatus(warnings: readonly string[] = []): TokenStatus {
  return {
    connection: { id: DEFAULT_CONNECTION_ID, name: 'QuickBooks', companyName: null },
    state: 'not_configured',
    source: 'none',
    environment: 'sandbox',
    realmId: null,
    demo: false,
    accessToken: null,
    refreshToken: null,
    autoRefresh: { enabled: false, nextRefreshAt: null, skewSeconds: 300, retrying: null },
    lastRefresh: null,
    stats: { refreshes: 0, failures: 0, retriedOn401: 0, consecutiveFailures: 0, failingSince: null },
    history: [],
    warnings: [...warnings],
    canConnect: false,
    store: null,
  };
}

/** Answers while the engine is absent: status works, every action says why it cannot run. */
export function notConfiguredHandlers(status: () => TokenStatus): IpcHandlers {
  const notConfigured = (): ResultError => ({
    code: 'not_configured',
    message: status().warnings[0] ?? 'QuickBooks is not configured yet.',
  });
  return {
    getStatus: async () => ({ ok: true, value: status() }),
    refresh: async () => ({ ok: false, error: notConfigured() }),
    clear: async () => ({ ok: false, error: notConfigured() }),
    testConnection: async () => ({ ok: false, error: notConfigured() }),
    // No engine means no Connect flow either: the same reason, not an opaque internal error.
    connect: async () => ({ ok: false, error: notConfigured() }),
    disconnect: async () => ({ ok: false, error: notConfigured() }),
    listConnections: async () => ({ ok: true, value: [summarizeStatus(status())] }),
    removeConnection: async () => ({ ok: false, error: notConfigured() }),
  };
}

/** Connect and disconnect are wired by the connect flow; until then they answer NOT_AVAILABLE_YET. */
export interface ConnectActions {
  connect(request?: ConnectRequest): Promise<TokenStatus>;
  disconnect(options?: DisconnectOptions): Promise<TokenStatus>;
  /** Stops an attempt still waiting for the browser (called when the app quits). */
  cancel?(): Promise<void>;
}

/**
 * Answers from the running engine: each action on the connection it names (default: the default
 * connection). Rejections become `{ ok: false }` in ipc.ts.
 */
export function deskHandlers(
  desk: TokenDesk,
  connectActions?: ConnectActions,
  connections: ConnectionsDesk = singleConnection(desk),
): IpcHandlers {
  return {
    getStatus: async (id) => ({ ok: true, value: connections.desk(id).getStatus() }),
    refresh: async (id) => ({ ok: true, value: await connections.desk(id).refresh('manual') }),
    clear: async (id) => ({ ok: true, value: await connections.desk(id).clear() }),
    testConnection: async (id) => ({ ok: true, value: await connections.desk(id).testConnection() }),
    listConnections: async () => ({ ok: true, value: connections.list() }),
    removeConnection: async (id, options) => ({ ok: true, value: await connections.remove(id, options) }),
    connect: async (request) =>
      connectActions
        ? { ok: true, value: await connectActions.connect(request) }
        : { ok: false, error: NOT_AVAILABLE_YET },
    disconnect: async (options) =>
      connectActions
        ? { ok: true, value: await connectActions.disconnect(options) }
        : { ok: false, error: NOT_AVAILABLE_YET },
  };
}
