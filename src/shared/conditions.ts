// The conditions an admin must hear about, derived from a TokenStatus and the clock. One
// definition for every surface that warns: desktop notifications and the tray, the headless
// server's alert webhook and metrics, the dashboard's banner. Pure: imports only the contract.
import {
  REFRESH_TOKEN_WARNING_DAYS,
  TRANSIENT_ERROR_KINDS,
  type ConnectionId,
  type TokenStatus,
} from './contract';

export type ConditionKind =
  /** Intuit refused the refresh token (invalid_grant): someone must reconnect. */
  | 'reconnect_required'
  /** The refresh token (or the 5-year cap) ends in under REFRESH_TOKEN_WARNING_DAYS days. */
  | 'refresh_token_expiring'
  /** FAILED_REFRESHES_THRESHOLD or more refreshes failed in a row. */
  | 'refresh_failing'
  /** Intuit has not answered (network, timeout, 5xx, throttling) for longer than UNREACHABLE_AFTER_MS. */
  | 'intuit_unreachable'
  /** The token store (e.g. PostgreSQL) cannot be reached. */
  | 'store_unreachable';

/** Every kind, as a list (metrics label values, the shared record's schema). */
export const CONDITION_KINDS = [
  'reconnect_required',
  'refresh_token_expiring',
  'refresh_failing',
  'intuit_unreachable',
  'store_unreachable',
] as const satisfies readonly ConditionKind[];

// A kind added to ConditionKind but not to the list fails to compile here.
const everyKindListed: Record<ConditionKind, (typeof CONDITION_KINDS)[number]> = {
  reconnect_required: 'reconnect_required',
  refresh_token_expiring: 'refresh_token_expiring',
  refresh_failing: 'refresh_failing',
  intuit_unreachable: 'intuit_unreachable',
  store_unreachable: 'store_unreachable',
};
void everyKindListed;

const FAILED_REFRESHES_THRESHOLD = 3;
const UNREACHABLE_AFTER_MS = 10 * 60_000;

export interface ActiveCondition {
  kind: ConditionKind;
  connectionId: ConnectionId;
  /** One plain sentence for a notification, an alert's text or a banner. Never a token value. */
  message: string;
  intuitTid: string | null;
}

/** The conditions that hold for this status at `nowMs`, in a stable order. */
export function activeConditions(status: TokenStatus, nowMs: number): ActiveCondition[] {
  const connectionId = status.connection.id;
  const name = status.connection.companyName ?? status.connection.name;
  const lastError = status.lastRefresh && !status.lastRefresh.ok ? status.lastRefresh.error : undefined;
  const tid = lastError?.intuitTid ?? null;
  const out: ActiveCondition[] = [];
  const add = (kind: ConditionKind, message: string, intuitTid: string | null = null) =>
    out.push({ kind, connectionId, message, intuitTid });

  if (status.state === 'reauthorization_required') {
    add(
      'reconnect_required',
      `${name}: QuickBooks no longer accepts the refresh token; reconnect to QuickBooks.`,
      tid,
    );
  } else {
    const ends = [status.refreshToken?.expiresAt, status.refreshToken?.hardExpiresAt]
      .map((value) => (value ? Date.parse(value) : Number.NaN))
      .filter((ms) => Number.isFinite(ms));
    const soonest = ends.length > 0 ? Math.min(...ends) : null;
    if (soonest !== null && soonest - nowMs < REFRESH_TOKEN_WARNING_DAYS * 86_400_000) {
      const days = Math.max(0, Math.floor((soonest - nowMs) / 86_400_000));
      add(
        'refresh_token_expiring',
        `${name}: the refresh token ends in ${days} day${days === 1 ? '' : 's'} (${new Date(soonest).toISOString()}); reconnect to QuickBooks before then.`,
      );
    }
  }
  if (status.stats.consecutiveFailures >= FAILED_REFRESHES_THRESHOLD) {
    add(
      'refresh_failing',
      `${name}: ${status.stats.consecutiveFailures} refreshes in a row failed${lastError ? ` (${lastError.kind})` : ''}.`,
      tid,
    );
  }
  const since = status.stats.failingSince ? Date.parse(status.stats.failingSince) : Number.NaN;
  if (
    lastError &&
    TRANSIENT_ERROR_KINDS.includes(lastError.kind) &&
    Number.isFinite(since) &&
    nowMs - since > UNREACHABLE_AFTER_MS
  ) {
    const minutes = Math.floor((nowMs - since) / 60_000);
    add(
      'intuit_unreachable',
      `${name}: Intuit has not answered a refresh for ${minutes} minutes (${lastError.kind}).`,
      tid,
    );
  }
  // A store this process cannot use as configured (a wrong QB_STORE_KEY) stops refreshes just as an
  // unreachable one does, and is this process's own condition too.
  if (status.store?.misconfigured) {
    add(
      'store_unreachable',
      `${name}: the token store (${status.store.kind}) cannot be used as configured${status.store.problem ? `: ${status.store.problem}` : '.'}`,
    );
  } else if (status.store && !status.store.reachable) {
    add('store_unreachable', `${name}: the token store (${status.store.kind}) cannot be reached.`);
  }
  return out;
}

export interface ConditionChanges {
  /** Conditions that hold now and did not before. */
  raised: ActiveCondition[];
  /** Conditions that held before and no longer do (recovery). */
  cleared: ActiveCondition[];
}

/** What changed between two sets of conditions (compared by connection and kind, not by wording). */
export function diffConditions(
  before: readonly ActiveCondition[],
  after: readonly ActiveCondition[],
): ConditionChanges {
  const key = (c: ActiveCondition) => `${c.connectionId}\u0000${c.kind}`;
  const had = new Set(before.map(key));
  const has = new Set(after.map(key));
  return {
    raised: after.filter((c) => !had.has(key(c))),
    cleared: before.filter((c) => !has.has(key(c))),
  };
}
