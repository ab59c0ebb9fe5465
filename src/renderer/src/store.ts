// The dashboard's state: the latest TokenStatus of the connection shown, which actions are in
// flight, and what the last run of each action said. Fed by the bridge (pushes and action results)
// and a 1-second ticker. With several companies, connections-store.ts picks the connection shown.
import { createStore, type StoreApi } from 'zustand/vanilla';
import {
  DEFAULT_CONNECTION_ID,
  type ConnectionId,
  type ConnectionTestResult,
  type QbTokensBridge,
  type Result,
  type ResultError,
  type TokenStatus,
} from '../../shared/contract';
import { settle } from './bridge/settle';
import { ACTION_LABELS, STATE_LABELS } from './format/labels';
import { formatClock, formatMs, parseTime } from './format/time';

export type ActionName = keyof typeof ACTION_LABELS;

/** The revoke-first confirmations a company's page can ask: Disconnect, and Remove company. */
type RevokeConfirm = 'disconnect' | 'remove';

export type ActionOutcome =
  { ok: true; at: number; message: string } | { ok: false; at: number; error: ResultError };

export interface DashboardState {
  /** The connection shown; null is the default connection (the seed's paths, as with one company). */
  connectionId: ConnectionId | null;
  status: TokenStatus | null;
  /** Why the first status could not be read (the page shows it with a retry). */
  loadError: ResultError | null;
  /** The ticker's clock, ms since epoch; every countdown is derived from it. */
  now: number;
  pending: Record<ActionName, boolean>;
  outcomes: Partial<Record<ActionName, ActionOutcome>>;
  connectionTest: ConnectionTestResult | null;
  /**
   * The revoke-first confirmation open for the connection shown. One at a time, so a click on
   * one confirm's button cannot be meant for the other; choosing another connection closes it.
   */
  confirming: RevokeConfirm | null;
  /** Text for the page's aria-live region; `announcementId` changes so a repeat is re-read. */
  announcement: string;
  announcementId: number;

  load(): Promise<void>;
  refresh(): Promise<void>;
  clear(): Promise<void>;
  testConnection(): Promise<void>;
  connect(): Promise<void>;
  /** Closes the Disconnect confirmation when done, unless Intuit could not revoke ("Disconnect anyway"). */
  disconnect(force?: boolean): Promise<void>;
  /** Opens a confirmation (closing the other one), or closes it with null. */
  confirm(which: RevokeConfirm | null): void;
  /** Closes an action's result; with `at`, only if it is still the result recorded at that time. */
  dismiss(action: ActionName, at?: number): void;
  tick(now: number): void;
  /**
   * A pushed status: shown when it is the connection shown (others are ignored), and from then on
   * newer than any answer to a request already out for that connection.
   */
  receiveStatus(status: TokenStatus): void;
  /** Shows another connection: its latest known status at once (if any), then what the bridge says. */
  show(connectionId: ConnectionId | null, status?: TokenStatus | null): void;
}

export type DashboardStore = StoreApi<DashboardState>;

const IDLE: Record<ActionName, boolean> = {
  refresh: false,
  clear: false,
  testConnection: false,
  connect: false,
  disconnect: false,
};

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

    // What is running, per company: the buttons show the shown company's own, so switching away and
    // back mid-action neither frees a busy button nor lets one company's answer free another's.
    const running = new Map<ConnectionId, Set<ActionName>>();
    const runningFor = (shown: ConnectionId | null) => running.get(shown ?? DEFAULT_CONNECTION_ID);
    const pendingFor = (shown: ConnectionId | null): Record<ActionName, boolean> => {
      const pending = { ...IDLE };
      for (const action of runningFor(shown) ?? []) pending[action] = true;
      return pending;
    };

    // Pushes and answers travel apart (the event stream, and each request on its own connection), so a
    // status read can arrive after a push that is newer than it (a GET sent before a refresh failed,
    // answered after the failure's push). Every change is pushed, so a push that arrived while the read
    // was out is at least as new as its answer: the answer is then not shown. An action's answer is
    // shown as it comes: it is taken when the action ends, after the pushes the action itself caused
    // (holding it back would leave "Refreshing" on screen until the last push, and announce the state
    // after the action's own result).
    let pushes = 0;
    const lastPush = new Map<ConnectionId, number>();
    const pushedSince = (key: ConnectionId, mark: number): boolean => (lastPush.get(key) ?? 0) > mark;
    /** Shows a status a request answered with, unless a push for its connection came since `mark`. */
    const adoptAnswer = (status: TokenStatus, mark: number): void => {
      if (pushedSince(status.connection?.id ?? DEFAULT_CONNECTION_ID, mark)) return;
      display(status);
    };
    const display = (status: TokenStatus): void => {
      if ((status.connection?.id ?? DEFAULT_CONNECTION_ID) !== (get().connectionId ?? DEFAULT_CONNECTION_ID))
        return;
      const previous = get().status;
      set({ status, loadError: null, now: clock() });
      if (previous && previous.state !== status.state) {
        announce(`Access token state: ${STATE_LABELS[status.state]}.`);
      }
    };

    /** Runs one action: marks it pending, records its outcome, adopts the status it returns. */
    async function run<T>(
      action: ActionName,
      call: () => Promise<Result<T>>,
      onOk: (value: T) => string,
    ): Promise<void> {
      const shown = get().connectionId;
      const key = shown ?? DEFAULT_CONNECTION_ID;
      if (runningFor(shown)?.has(action)) return;
      running.set(key, new Set([...(running.get(key) ?? []), action]));
      set({ pending: pendingFor(shown) });
      const result = await settle(call);
      runningFor(shown)?.delete(action);
      const at = clock();
      // The admin moved on to another company meanwhile: its page must not show this outcome.
      if (get().connectionId !== shown) return;
      const outcome: ActionOutcome = result.ok
        ? { ok: true, at, message: onOk(result.value) }
        : { ok: false, at, error: result.error };
      set((s) => ({
        pending: pendingFor(shown),
        outcomes: { ...s.outcomes, [action]: outcome },
      }));
      announce(outcome.ok ? outcome.message : `${ACTION_LABELS[action]} failed: ${outcome.error.message}`);
    }

    /** The id for the bridge: none for the default connection, so one company speaks as it always did. */
    const id = (): ConnectionId | undefined => get().connectionId ?? undefined;

    return {
      connectionId: null,
      status: null,
      loadError: null,
      now: clock(),
      pending: { ...IDLE },
      outcomes: {},
      connectionTest: null,
      confirming: null,
      announcement: '',
      announcementId: 0,

      async load() {
        const shown = get().connectionId;
        const mark = pushes;
        const result = await settle(() => bridge.getStatus(id()));
        if (get().connectionId !== shown) return;
        if (result.ok) {
          set({ loadError: null });
          adoptAnswer(result.value, mark);
        } else {
          set({ loadError: result.error });
          announce(`Could not read the token status: ${result.error.message}`);
        }
      },

      refresh: () =>
        run(
          'refresh',
          () => bridge.refresh(id()),
          (status) => {
            display(status);
            return refreshedMessage(status);
          },
        ),

      clear: () =>
        run(
          'clear',
          () => bridge.clear(id()),
          (status) => {
            display(status);
            return clearedMessage(status);
          },
        ),

      testConnection: () =>
        run(
          'testConnection',
          () => bridge.testConnection(id()),
          (test) => {
            set({ connectionTest: test });
            return `Connected to ${test.companyName} (company ${test.realmId}) in ${formatMs(test.durationMs)}.`;
          },
        ),

      connect: () =>
        run(
          'connect',
          () => {
            const connectionId = id();
            return bridge.connect(connectionId === undefined ? undefined : { connectionId });
          },
          (status) => {
            display(status);
            return 'Connected to QuickBooks.';
          },
        ),

      async disconnect(force = false) {
        if (get().pending.disconnect) return;
        const shown = get().connectionId;
        await run(
          'disconnect',
          () => {
            const connectionId = id();
            if (connectionId === undefined) return bridge.disconnect(force ? { force: true } : undefined);
            return bridge.disconnect(force ? { force: true, connectionId } : { connectionId });
          },
          (status) => {
            display(status);
            set({ connectionTest: null });
            // The desk's own account of what Intuit did: revoked it, or held nothing left to revoke.
            const said = status.history.find((event) => event.type === 'disconnected')?.message;
            if (said) return said;
            return force
              ? 'Disconnected. The stored tokens were forgotten, though Intuit could not revoke them.'
              : 'Disconnected. The refresh token was revoked at Intuit and forgotten here.';
          },
        );
        // Another company chosen meanwhile: its own confirm (if open) is not this one.
        if (get().connectionId !== shown) return;
        const outcome = get().outcomes.disconnect;
        const revokeFailed = outcome?.ok === false && outcome.error.code === 'revoke_failed';
        if (!revokeFailed && get().confirming === 'disconnect') set({ confirming: null });
      },

      confirm(which) {
        set({ confirming: which });
      },

      dismiss(action, at) {
        // A timer set for an older result must not close the newer one that replaced it.
        if (at !== undefined && get().outcomes[action]?.at !== at) return;
        set((s) => ({ outcomes: { ...s.outcomes, [action]: undefined } }));
      },

      tick(now) {
        set({ now });
      },

      receiveStatus(status) {
        pushes += 1;
        lastPush.set(status.connection?.id ?? DEFAULT_CONNECTION_ID, pushes);
        display(status);
      },

      show(connectionId, status = null) {
        const next = connectionId === DEFAULT_CONNECTION_ID ? null : connectionId;
        if (next === get().connectionId && get().status) return;
        set({
          connectionId: next,
          status,
          loadError: null,
          outcomes: {},
          connectionTest: null,
          confirming: null,
          pending: pendingFor(next),
        });
        void get().load();
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
  // Desktop: the app menu and its shortcuts run an action as its button would.
  const stopCommands = bridge.onCommand?.((command) => void store.getState()[command]());
  void store.getState().load();
  const ticker = setInterval(() => store.getState().tick(clock()), 1000);
  return () => {
    clearInterval(ticker);
    unsubscribe();
    stopCommands?.();
  };
}
