// The dashboard's state: the latest TokenStatus, which actions are in flight, and what the last
// run of each action said. Fed by the bridge (pushes and action results) and a 1-second ticker.
import { createStore, type StoreApi } from 'zustand/vanilla';
import type {
  ConnectionTestResult,
  QbTokensBridge,
  Result,
  ResultError,
  TokenStatus,
} from '../../shared/contract';
import { ACTION_LABELS, STATE_LABELS } from './format/labels';
import { formatClock, formatMs, parseTime } from './format/time';

export type ActionName = keyof typeof ACTION_LABELS;

export type ActionOutcome =
  { ok: true; at: number; message: string } | { ok: false; at: number; error: ResultError };

export interface DashboardState {
  status: TokenStatus | null;
  /** Why the first status could not be read (the page shows it with a retry). */
  loadError: ResultError | null;
  /** The ticker's clock, ms since epoch; every countdown is derived from it. */
  now: number;
  pending: Record<ActionName, boolean>;
  outcomes: Partial<Record<ActionName, ActionOutcome>>;
  connectionTest: ConnectionTestResult | null;
  /** Text for the page's aria-live region; `announcementId` changes so a repeat is re-read. */
  announcement: string;
  announcementId: number;

  load(): Promise<void>;
  refresh(): Promise<void>;
  clear(): Promise<void>;
  testConnection(): Promise<void>;
  connect(): Promise<void>;
  disconnect(force?: boolean): Promise<void>;
  /** Closes an action's result; with `at`, only if it is still the result recorded at that time. */
  dismiss(action: ActionName, at?: number): void;
  tick(now: number): void;
  receiveStatus(status: TokenStatus): void;
}

export type DashboardStore = StoreApi<DashboardState>;

const IDLE: Record<ActionName, boolean> = {
  refresh: false,
  clear: false,
  testConnection: false,
  connect: false,
  disconnect: false,
};

/** A bridge that throws (a dropped HTTP connection, a bug) still yields a Result for the page. */
async function settle<T>(call: () => Promise<Result<T>>): Promise<Result<T>> {
  try {
    return await call();
  } catch (error) {
    const detail = error instanceof Error && error.message ? `: ${error.message}` : '';
    return { ok: false, error: { code: 'internal', message: `The app did not answer${detail}` } };
  }
}

function refreshedMessage(status: TokenStatus): string {
  const expires = parseTime(status.accessToken?.expiresAt);
  return expires === null
    ? 'Refreshed.'
    : `Refreshed. The new access token expires at ${formatClock(expires)}.`;
}

function clearedMessage(status: TokenStatus): string {
  return status.source === 'environment'
    ? 'Cached access token cleared: the environment token (QB_ACCESS_TOKEN) is in use now.'
    : 'Cached access token cleared; the next call fetches one. The refresh token is kept.';
}

export function createDashboardStore(bridge: QbTokensBridge, clock: () => number = Date.now): DashboardStore {
  return createStore<DashboardState>()((set, get) => {
    const announce = (announcement: string): void =>
      set((s) => ({ announcement, announcementId: s.announcementId + 1 }));

    /** Runs one action: marks it pending, records its outcome, adopts the status it returns. */
    async function run<T>(
      action: ActionName,
      call: () => Promise<Result<T>>,
      onOk: (value: T) => string,
    ): Promise<void> {
      if (get().pending[action]) return;
      set((s) => ({ pending: { ...s.pending, [action]: true } }));
      const result = await settle(call);
      const at = clock();
      const outcome: ActionOutcome = result.ok
        ? { ok: true, at, message: onOk(result.value) }
        : { ok: false, at, error: result.error };
      set((s) => ({
        pending: { ...s.pending, [action]: false },
        outcomes: { ...s.outcomes, [action]: outcome },
      }));
      announce(outcome.ok ? outcome.message : `${ACTION_LABELS[action]} failed: ${outcome.error.message}`);
    }

    const adopt = (status: TokenStatus): void => get().receiveStatus(status);

    return {
      status: null,
      loadError: null,
      now: clock(),
      pending: { ...IDLE },
      outcomes: {},
      connectionTest: null,
      announcement: '',
      announcementId: 0,

      async load() {
        const result = await settle(() => bridge.getStatus());
        if (result.ok) {
          set({ loadError: null });
          adopt(result.value);
        } else {
          set({ loadError: result.error });
          announce(`Could not read the token status: ${result.error.message}`);
        }
      },

      refresh: () =>
        run(
          'refresh',
          () => bridge.refresh(),
          (status) => {
            adopt(status);
            return refreshedMessage(status);
          },
        ),

      clear: () =>
        run(
          'clear',
          () => bridge.clear(),
          (status) => {
            adopt(status);
            return clearedMessage(status);
          },
        ),

      testConnection: () =>
        run(
          'testConnection',
          () => bridge.testConnection(),
          (test) => {
            set({ connectionTest: test });
            return `Connected to ${test.companyName} (company ${test.realmId}) in ${formatMs(test.durationMs)}.`;
          },
        ),

      connect: () =>
        run(
          'connect',
          () => bridge.connect(),
          (status) => {
            adopt(status);
            return 'Connected to QuickBooks.';
          },
        ),

      disconnect: (force = false) =>
        run(
          'disconnect',
          () => bridge.disconnect(force ? { force: true } : undefined),
          (status) => {
            adopt(status);
            set({ connectionTest: null });
            return force
              ? 'Disconnected. The stored tokens were forgotten, though Intuit could not revoke them.'
              : 'Disconnected. The refresh token was revoked at Intuit and forgotten here.';
          },
        ),

      dismiss(action, at) {
        // A timer set for an older result must not close the newer one that replaced it.
        if (at !== undefined && get().outcomes[action]?.at !== at) return;
        set((s) => ({ outcomes: { ...s.outcomes, [action]: undefined } }));
      },

      tick(now) {
        set({ now });
      },

      receiveStatus(status) {
        const previous = get().status;
        set({ status, loadError: null, now: clock() });
        if (previous && previous.state !== status.state) {
          announce(`Access token state: ${STATE_LABELS[status.state]}.`);
        }
      },
    };
  });
}

/** Wires the store to the bridge: first status, pushes, and the 1-second ticker. Returns the teardown. */
export function startDashboard(
  store: DashboardStore,
  bridge: QbTokensBridge,
  clock: () => number = Date.now,
): () => void {
  const unsubscribe = bridge.onStatusChanged((status) => store.getState().receiveStatus(status));
  void store.getState().load();
  const ticker = setInterval(() => store.getState().tick(clock()), 1000);
  return () => {
    clearInterval(ticker);
    unsubscribe();
  };
}
