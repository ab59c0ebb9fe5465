// What is true about one connection, shared by every process and machine that uses the same
// store: the token chain, who the connection is, and its health. TokenStatus is computed from this
// record and the clock (token-status.ts), so after one process gets invalid_grant every other one
// reports reauthorization_required too. Holds token values in `tokens`: never log a record.
//
// Everything here is pure: the engine reads a record under the connection's lock, applies the
// changes below to it and writes it back one revision up. Unknown keys inside `profile`, `health`
// and history events are kept (zod loose objects, and every helper spreads what it was given), so a
// field a newer version added survives a write by this one.
import { z } from 'zod';
import {
  HISTORY_LIMIT,
  REFRESH_ERROR_KINDS,
  type ConnectionId,
  type HistoryEvent,
  type HistoryEventType,
  type LastRefreshInfo,
  type QbEnvironment,
  type RefreshErrorInfo,
  type RefreshTrigger,
  type TokenStats,
} from '../shared/contract';
import { CONNECTION_ID_PATTERN, CONNECTION_ID_RULE, isValidConnectionId } from '../shared/ids';
import { CONDITION_KINDS, type ActiveCondition } from '../shared/conditions';
import { fingerprintToken, storedTokensSchema, type StoredTokens } from './token-store';

export interface ConnectionProfile {
  /** Display name chosen by the admin, or derived ("QuickBooks sandbox"). */
  name: string;
  environment: QbEnvironment;
  realmId: string | null;
  /** From CompanyInfo, once read. */
  companyName: string | null;
}

/** Intuit refused a refresh token (invalid_grant). */
interface RefreshRejection {
  /** fingerprintToken() of the refused refresh token: a chain that moved on is no longer rejected. */
  refreshTokenSha256: string;
  /** ms since epoch. */
  at: number;
  error: RefreshErrorInfo;
  /** The refused refresh was the retry of one a stopped process left in flight (its answer was lost). */
  cause?: 'interrupted_refresh';
}

export interface ConnectionHealth {
  lastRefresh: LastRefreshInfo | null;
  /** Keyed by the refused token's fingerprint; see rejectionOf(). */
  rejection: RefreshRejection | null;
  /** Counters shared by every process; `consecutiveFailures` / `failingSince` drive alerts. */
  stats: TokenStats;
  /** Newest first, at most HISTORY_LIMIT. Messages carry previews only. */
  history: HistoryEvent[];
  /**
   * What the alert webhook last announced for this connection (src/server/ops/alert-ledger.ts),
   * so several servers on one store send each alert once. Every save carries it over unchanged.
   */
  announced?: AnnouncedConditions;
}

interface AnnouncedConditions {
  conditions: ActiveCondition[];
  at: string;
  /** The instance that announced the last change (host name and process id). */
  by: string;
}

export interface ConnectionRecord {
  /** Layout version of the record (the single-connection store of 0.1 was version 1). */
  version: 2;
  id: ConnectionId;
  /** Bumped on every write; LISTEN/NOTIFY and file watchers carry it, never a token. */
  revision: number;
  profile: ConnectionProfile;
  /** The token chain; null when the connection has none (disconnected, or never connected). */
  tokens: StoredTokens | null;
  health: ConnectionHealth;
}

// ---------------------------------------------------------------- schema

/** Connection ids name files and keys (src/shared/ids.ts). */
const connectionIdSchema = z
  .string()
  .regex(CONNECTION_ID_PATTERN, `a connection id is ${CONNECTION_ID_RULE}`);

/** The id, checked before it names a file, a lock or a key: a bad one is a caller's bug. */
export function checkedConnectionId(id: ConnectionId): ConnectionId {
  if (!isValidConnectionId(id))
    throw new TypeError(`Invalid connection id "${id.slice(0, 80)}": use ${CONNECTION_ID_RULE}.`);
  return id;
}

const isoTime = z.iso.datetime({ offset: true });
const triggerSchema = z.enum(['scheduled', 'manual', 'on-401', 'on-demand']);

const refreshErrorInfoSchema = z.looseObject({
  kind: z.enum(REFRESH_ERROR_KINDS as [RefreshErrorInfo['kind'], ...RefreshErrorInfo['kind'][]]),
  message: z.string(),
  intuitTid: z.string().nullable(),
});

const lastRefreshSchema = z.looseObject({
  at: isoTime,
  ok: z.boolean(),
  trigger: triggerSchema,
  durationMs: z.number(),
  error: refreshErrorInfoSchema.optional(),
  client: z.string().optional(),
});

// History is for people: an event type a newer version added is kept and shown as it is.
const historyEventSchema = z.looseObject({
  at: isoTime,
  type: z.string().min(1),
  message: z.string(),
  trigger: triggerSchema.optional(),
  intuitTid: z.string().nullable().optional(),
  client: z.string().optional(),
  accessTokenExpiresAt: isoTime.optional(),
});

const statsSchema = z.looseObject({
  refreshes: z.number().int().nonnegative(),
  failures: z.number().int().nonnegative(),
  retriedOn401: z.number().int().nonnegative(),
  consecutiveFailures: z.number().int().nonnegative(),
  failingSince: isoTime.nullable(),
});

const announcedSchema = z.object({
  conditions: z.array(
    z.object({
      kind: z.enum(CONDITION_KINDS),
      connectionId: z.string(),
      message: z.string(),
      intuitTid: z.string().nullable(),
    }),
  ),
  at: z.string(),
  by: z.string(),
});

export const connectionHealthSchema = z.looseObject({
  lastRefresh: lastRefreshSchema.nullable(),
  rejection: z
    .looseObject({
      refreshTokenSha256: z.string().regex(/^[0-9a-f]{64}$/),
      at: z.number(),
      error: refreshErrorInfoSchema,
      cause: z.literal('interrupted_refresh').optional(),
    })
    .nullable(),
  stats: statsSchema,
  // For people: an event that does not parse is dropped rather than costing the record.
  history: z
    .array(historyEventSchema.nullable().catch(null))
    .transform((events) => events.filter((event) => event !== null).slice(0, HISTORY_LIMIT)),
  // Dropping it on a read would make every server announce the same change again; a garbled one
  // counts as nothing announced (the next announcement replaces it).
  announced: announcedSchema.optional().catch(undefined),
});

export const connectionProfileSchema = z.looseObject({
  name: z.string(),
  environment: z.enum(['sandbox', 'production']),
  realmId: z.string().nullable(),
  companyName: z.string().nullable(),
});

/** Validates a record read back from any store before it is trusted. */
const connectionRecordSchema = z.object({
  version: z.literal(2),
  id: connectionIdSchema,
  revision: z.number().int().nonnegative(),
  profile: connectionProfileSchema,
  tokens: storedTokensSchema.nullable(),
  health: connectionHealthSchema,
});

/**
 * The checks a record gets on its way into a store: the chain (a broken one must never replace a
 * working one), the id and revision. The rest was built by the helpers here; the full schema runs
 * when a record is read back. Cheap, because a save sits between Intuit's answer and the durable
 * write, where every fraction of a millisecond is a window for a crash to lose the chain.
 */
export function checkRecordForSave(record: ConnectionRecord): void {
  connectionIdSchema.parse(record.id);
  if (!Number.isInteger(record.revision) || record.revision < 1)
    throw new TypeError(`A record is saved with a revision of 1 or more, got ${record.revision}.`);
  if (record.tokens !== null) storedTokensSchema.parse(record.tokens);
}

/** Parses a record; throws a ZodError naming the first bad field. */
export function parseConnectionRecord(value: unknown): ConnectionRecord {
  return connectionRecordSchema.parse(value) as ConnectionRecord;
}

// ---------------------------------------------------------------- building records

function emptyStats(): TokenStats {
  return { refreshes: 0, failures: 0, retriedOn401: 0, consecutiveFailures: 0, failingSince: null };
}

export function emptyHealth(): ConnectionHealth {
  return { lastRefresh: null, rejection: null, stats: emptyStats(), history: [] };
}

/** The default connection's display name until the admin names it. */
export function defaultConnectionName(environment: QbEnvironment): string {
  return `QuickBooks ${environment}`;
}

export function defaultProfile(environment: QbEnvironment, realmId: string | null): ConnectionProfile {
  return { name: defaultConnectionName(environment), environment, realmId, companyName: null };
}

/** A record that has never been written (revision 0: its first save is revision 1). */
export function newConnectionRecord(
  id: ConnectionId,
  profile: ConnectionProfile,
  tokens: StoredTokens | null,
): ConnectionRecord {
  return { version: 2, id, revision: 0, profile, tokens, health: emptyHealth() };
}

/** The record to write under the lock: `record`'s content, one revision above the one read there. */
export function nextRevision(
  record: ConnectionRecord,
  readUnderLock: ConnectionRecord | null,
): ConnectionRecord {
  return { ...record, revision: (readUnderLock?.revision ?? 0) + 1 };
}

/**
 * The record with another chain. A rejection that was about a different refresh token no longer
 * applies to the new chain and is dropped; the realm moves to the chain's when it has one.
 */
export function withTokens(record: ConnectionRecord, tokens: StoredTokens | null): ConnectionRecord {
  const rejection = record.health.rejection;
  const stale = rejection !== null && (tokens === null || !rejects(rejection, tokens));
  return {
    ...record,
    tokens,
    profile: tokens?.realmId ? { ...record.profile, realmId: tokens.realmId } : record.profile,
    health: stale ? { ...record.health, rejection: null } : record.health,
  };
}

/** The rejection that applies to the record's current refresh token, if any. */
export function rejectionOf(record: ConnectionRecord | null): RefreshRejection | null {
  const rejection = record?.health.rejection ?? null;
  if (!rejection || !record?.tokens) return null;
  return rejects(rejection, record.tokens) ? rejection : null;
}

function rejects(rejection: RefreshRejection, tokens: StoredTokens): boolean {
  return rejection.refreshTokenSha256 === fingerprintToken(tokens.refreshToken);
}

// ---------------------------------------------------------------- health changes

/** How one refresh attempt went, as the process that made it saw it. */
export interface RefreshAttemptFacts {
  /** When the attempt ended, ms since epoch. */
  at: number;
  trigger: RefreshTrigger;
  durationMs: number;
  /** The process's client name (`qb-token`, `desktop`, a library user's name), when it has one. */
  client?: string;
}

/**
 * A change to a connection's health. Changes are values, so one made while the store could not be
 * written is kept and applied, later, onto whatever record is current then.
 */
export type HealthChange =
  | { type: 'refresh_succeeded'; attempt: RefreshAttemptFacts; events: HistoryEvent[] }
  | {
      type: 'refresh_failed';
      attempt: RefreshAttemptFacts;
      error: RefreshErrorInfo;
      /** fingerprintToken() of the refresh token sent: an invalid_grant rejects exactly that one. */
      refreshTokenSha256: string;
      cause?: RefreshRejection['cause'];
      events: HistoryEvent[];
    }
  | { type: 'retried_after_401'; events: HistoryEvent[] }
  /** A new chain from the user (Connect) or none (Disconnect): failures of the old chain are over. */
  | { type: 'chain_replaced'; events: HistoryEvent[] }
  | { type: 'events'; events: HistoryEvent[] };

/** Adds events (given oldest first) to a newest-first history, keeping the newest HISTORY_LIMIT. */
export function appendHistory(
  history: readonly HistoryEvent[],
  events: readonly HistoryEvent[],
): HistoryEvent[] {
  if (events.length === 0) return [...history];
  return [...[...events].reverse(), ...history].slice(0, HISTORY_LIMIT);
}

export function applyHealthChange(health: ConnectionHealth, change: HealthChange): ConnectionHealth {
  const history = appendHistory(health.history, change.events);
  const stats = health.stats;
  switch (change.type) {
    case 'refresh_succeeded':
      return {
        ...health,
        lastRefresh: lastRefreshOf(change.attempt, null),
        rejection: null,
        stats: { ...stats, refreshes: stats.refreshes + 1, consecutiveFailures: 0, failingSince: null },
        history,
      };
    case 'refresh_failed': {
      const at = new Date(change.attempt.at).toISOString();
      const rejection: RefreshRejection | null =
        change.error.kind === 'invalid_grant'
          ? {
              refreshTokenSha256: change.refreshTokenSha256,
              at: change.attempt.at,
              error: change.error,
              ...(change.cause ? { cause: change.cause } : {}),
            }
          : health.rejection;
      return {
        ...health,
        lastRefresh: lastRefreshOf(change.attempt, change.error),
        rejection,
        stats: {
          ...stats,
          failures: stats.failures + 1,
          consecutiveFailures: stats.consecutiveFailures + 1,
          failingSince: stats.failingSince ?? at,
        },
        history,
      };
    }
    case 'retried_after_401':
      return { ...health, stats: { ...stats, retriedOn401: stats.retriedOn401 + 1 }, history };
    case 'chain_replaced':
      return {
        ...health,
        rejection: null,
        stats: { ...stats, consecutiveFailures: 0, failingSince: null },
        history,
      };
    case 'events':
      return { ...health, history };
  }
}

export function applyHealthChanges(
  record: ConnectionRecord,
  changes: readonly HealthChange[],
): ConnectionRecord {
  if (changes.length === 0) return record;
  return { ...record, health: changes.reduce(applyHealthChange, record.health) };
}

function lastRefreshOf(attempt: RefreshAttemptFacts, error: RefreshErrorInfo | null): LastRefreshInfo {
  const info: LastRefreshInfo = {
    at: new Date(attempt.at).toISOString(),
    ok: error === null,
    trigger: attempt.trigger,
    durationMs: attempt.durationMs,
  };
  if (error) info.error = { ...error };
  if (attempt.client !== undefined) info.client = attempt.client;
  return info;
}

/** A history event; `message` must already be free of token values (previews only). */
export function historyEvent(
  at: number,
  type: HistoryEventType,
  message: string,
  extra: Partial<Pick<HistoryEvent, 'trigger' | 'intuitTid' | 'client' | 'accessTokenExpiresAt'>> = {},
): HistoryEvent {
  const event: HistoryEvent = { at: new Date(at).toISOString(), type, message };
  if (extra.trigger !== undefined) event.trigger = extra.trigger;
  if (extra.intuitTid !== undefined) event.intuitTid = extra.intuitTid;
  if (extra.client !== undefined) event.client = extra.client;
  if (extra.accessTokenExpiresAt !== undefined) event.accessTokenExpiresAt = extra.accessTokenExpiresAt;
  return event;
}
