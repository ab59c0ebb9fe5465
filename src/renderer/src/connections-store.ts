// Several companies: the list of connections (kept current from every status push and the
// add/remove events), which one the dashboard shows, and Add company / Remove. Choosing a connection
// hands its latest status to the dashboard store, which then shows it exactly as it shows one company.
import { createStore, type StoreApi } from 'zustand/vanilla';
import {
  DEFAULT_CONNECTION_ID,
  type ConnectionId,
  type ConnectionSummary,
  type QbEnvironment,
  type QbTokensBridge,
  type ResultError,
  type TokenStatus,
} from '../../shared/contract';
import { summarizeStatus } from '../../shared/connections';
import { isValidConnectionId } from '../../shared/ids';
import { settle } from './bridge/settle';
import type { DashboardStore } from './store';

type ConnectionsOutcome =
  | { ok: true; at: number; message: string }
  | {
      ok: false;
      at: number;
      action: 'add' | 'remove';
      connectionId: ConnectionId | null;
      error: ResultError;
    };

export interface ConnectionsState {
  /** Every connection, in the order the desk sent them (the default one first). */
  connections: ConnectionSummary[];
  /** The connection the dashboard shows. */
  selected: ConnectionId;
  adding: boolean;
  /** The connection being removed, if any. */
  removing: ConnectionId | null;
  outcome: ConnectionsOutcome | null;

  load(): Promise<void>;
  select(id: ConnectionId): void;
  /** Runs Connect for a company the admin picks at Intuit, in `environment` (default: the default connection's). */
  addCompany(environment?: QbEnvironment): Promise<void>;
  /** Revokes at Intuit and drops the connection; `force` drops it even when Intuit could not revoke. */
  remove(id: ConnectionId, force?: boolean): Promise<void>;
  dismissOutcome(): void;
  receiveStatus(status: TokenStatus): void;
  receiveConnections(connections: ConnectionSummary[]): void;
}

export type ConnectionsStore = StoreApi<ConnectionsState>;

/** `#connection=ID` in the page's URL: which company to show after a reload or a Connect redirect. */
export function connectionFromHash(hash: string): ConnectionId | null {
  const value = new URLSearchParams(hash.replace(/^#/, '')).get('connection');
  return value && isValidConnectionId(value) ? value : null;
}

interface ConnectionsStoreOptions {
  clock?: () => number;
  /** The connection to show first (from the URL). */
  initial?: ConnectionId | null;
  /** Called with the connection shown, so the URL can remember it (null for the default one). */
  remember?: (id: ConnectionId | null) => void;
  /**
   * When the list takes in pushed statuses: the page passes requestAnimationFrame, so a burst (every
   * company refreshing at once) re-renders the list once per frame; default at once.
   */
  schedule?: (flush: () => void) => void;
}

export function createConnectionsStore(
  bridge: QbTokensBridge,
  dashboard: DashboardStore,
  options: ConnectionsStoreOptions = {},
): ConnectionsStore {
  const clock = options.clock ?? Date.now;
  // The latest status of every connection, so choosing one shows it at once. Not state: a push for
  // a connection not shown re-renders only its row.
  const statuses = new Map<ConnectionId, TokenStatus>();
  const schedule = options.schedule ?? ((flush: () => void) => flush());
  /** Summaries pushed since the list last took them in. */
  const arrived = new Map<ConnectionId, ConnectionSummary>();
  let flushing = false;
  // A status pushed while the list was being fetched is newer than the list's row (see store.ts).
  let pushes = 0;
  const lastPush = new Map<ConnectionId, number>();

  return createStore<ConnectionsState>()((set, get) => {
    const show = (id: ConnectionId): void => {
      set({ selected: id });
      dashboard.getState().show(id, statuses.get(id) ?? null);
      options.remember?.(id === DEFAULT_CONNECTION_ID ? null : id);
    };

    return {
      connections: [],
      selected: DEFAULT_CONNECTION_ID,
      adding: false,
      removing: null,
      outcome: null,

      async load() {
        const mark = pushes;
        const result = await settle(() => bridge.listConnections());
        if (!result.ok) return; // The dashboard's own load reports an unreachable app.
        get().receiveConnections(
          result.value.map((c) => {
            const pushed = (lastPush.get(c.id) ?? 0) > mark ? statuses.get(c.id) : undefined;
            return pushed ? summarizeStatus(pushed) : c;
          }),
        );
        const initial = options.initial;
        if (initial && initial !== get().selected && result.value.some((c) => c.id === initial))
          show(initial);
      },

      select(id) {
        if (id === get().selected) return;
        show(id);
      },

      async addCompany(environment) {
        if (get().adding) return;
        set({ adding: true, outcome: null });
        const result = await settle(() => bridge.connect(environment ? { environment } : {}));
        set({ adding: false });
        if (!result.ok) {
          set({
            outcome: { ok: false, at: clock(), action: 'add', connectionId: null, error: result.error },
          });
          return;
        }
        // The desktop answers with the connected company's status; headless Connect leaves the page
        // and comes back to it through /callback (with #connection=ID).
        get().receiveStatus(result.value);
        set({ outcome: { ok: true, at: clock(), message: 'Connected to QuickBooks.' } });
        show(result.value.connection.id);
      },

      async remove(id, force = false) {
        if (get().removing) return;
        const name = get().connections.find((c) => c.id === id)?.name ?? id;
        set({ removing: id, outcome: null });
        const result = await settle(() => bridge.removeConnection(id, force ? { force: true } : undefined));
        set({ removing: null });
        if (!result.ok) {
          set({
            outcome: { ok: false, at: clock(), action: 'remove', connectionId: id, error: result.error },
          });
          return;
        }
        get().receiveConnections(result.value);
        set({
          outcome: {
            ok: true,
            at: clock(),
            message: force
              ? `Removed ${name} here. Intuit could not revoke it: its tokens stay valid there until they expire.`
              : `Removed ${name}: its refresh token no longer works at Intuit.`,
          },
        });
      },

      dismissOutcome() {
        set({ outcome: null });
      },

      receiveStatus(status) {
        const id = status.connection?.id ?? DEFAULT_CONNECTION_ID;
        pushes += 1;
        lastPush.set(id, pushes);
        statuses.set(id, status);
        arrived.set(id, summarizeStatus(status));
        if (flushing) return;
        flushing = true;
        schedule(() => {
          flushing = false;
          const list = get().connections;
          const next = list.map((c) => {
            const summary = arrived.get(c.id);
            if (!summary) return c;
            arrived.delete(c.id);
            return sameSummary(c, summary) ? c : summary;
          });
          // A company whose list event has not come yet (just added).
          next.push(...arrived.values());
          arrived.clear();
          if (next.length !== list.length || next.some((c, i) => c !== list[i])) set({ connections: next });
        });
      },

      receiveConnections(connections) {
        const ids = new Set(connections.map((c) => c.id));
        for (const id of [...statuses.keys()]) if (!ids.has(id)) statuses.delete(id);
        for (const id of [...arrived.keys()]) if (!ids.has(id)) arrived.delete(id);
        set({ connections });
        // The company shown was removed (here or elsewhere): back to the default one.
        if (!ids.has(get().selected)) show(DEFAULT_CONNECTION_ID);
      },
    };
  });
}

function sameSummary(a: ConnectionSummary, b: ConnectionSummary): boolean {
  return (
    a.state === b.state &&
    a.name === b.name &&
    a.companyName === b.companyName &&
    a.environment === b.environment &&
    a.realmId === b.realmId &&
    a.accessTokenExpiresAt === b.accessTokenExpiresAt &&
    a.refreshTokenExpiresAt === b.refreshTokenExpiresAt &&
    a.lastRefresh?.at === b.lastRefresh?.at &&
    a.lastRefresh?.ok === b.lastRefresh?.ok
  );
}

/** Wires the list to the bridge: the first list, every status push, and the add/remove events. */
export function startConnections(store: ConnectionsStore, bridge: QbTokensBridge): () => void {
  const offStatus = bridge.onStatusChanged((status) => store.getState().receiveStatus(status));
  const offList = bridge.onConnectionsChanged((list) => store.getState().receiveConnections(list));
  void store.getState().load();
  return () => {
    offStatus();
    offList();
  };
}
