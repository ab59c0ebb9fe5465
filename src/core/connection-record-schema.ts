// Validation of a connection record's parts read back from a store (a file, a PostgreSQL row), before
// they are trusted. The token chain has its own schema (storedTokensSchema) and its own at-rest
// envelope (token-envelope.ts); these cover what is not secret: who the connection is and its health.
import { z } from 'zod';
import {
  HISTORY_LIMIT,
  REFRESH_ERROR_KINDS,
  type HistoryEvent,
  type HistoryEventType,
  type LastRefreshInfo,
  type RefreshErrorInfo,
  type TokenStats,
} from '../shared/contract';
import type { ConditionKind } from '../shared/conditions';
import type { ConnectionHealth, ConnectionProfile } from './connection-record';

const CONDITION_KINDS = [
  'reconnect_required',
  'refresh_token_expiring',
  'refresh_failing',
  'intuit_unreachable',
  'store_unreachable',
] as const satisfies readonly ConditionKind[];

const HISTORY_EVENT_TYPES = [
  'refreshed',
  'rotated',
  'failed',
  'retried_after_401',
  'cleared',
  'fell_back_to_environment',
  'environment_token_adopted',
  'store_recovered',
  'connected',
  'disconnected',
] as const satisfies readonly HistoryEventType[];

const triggerSchema = z.enum(['scheduled', 'manual', 'on-401', 'on-demand']);

const refreshErrorSchema = z.object({
  kind: z.enum(REFRESH_ERROR_KINDS as [RefreshErrorInfo['kind'], ...RefreshErrorInfo['kind'][]]),
  message: z.string(),
  intuitTid: z.string().nullable(),
}) satisfies z.ZodType<RefreshErrorInfo>;

const lastRefreshSchema = z.object({
  at: z.string(),
  ok: z.boolean(),
  trigger: triggerSchema,
  durationMs: z.number(),
  error: refreshErrorSchema.optional(),
  client: z.string().optional(),
}) satisfies z.ZodType<LastRefreshInfo>;

const statsSchema = z.object({
  refreshes: z.number(),
  failures: z.number(),
  retriedOn401: z.number(),
  consecutiveFailures: z.number(),
  failingSince: z.string().nullable(),
}) satisfies z.ZodType<TokenStats>;

const historyEventSchema = z.object({
  at: z.string(),
  type: z.enum(HISTORY_EVENT_TYPES),
  message: z.string(),
  trigger: triggerSchema.optional(),
  intuitTid: z.string().nullable().optional(),
  client: z.string().optional(),
  accessTokenExpiresAt: z.string().optional(),
}) satisfies z.ZodType<HistoryEvent>;

export const connectionHealthSchema = z.object({
  lastRefresh: lastRefreshSchema.nullable(),
  rejection: z
    .object({
      refreshTokenSha256: z.string().regex(/^[0-9a-f]{64}$/),
      at: z.number(),
      error: refreshErrorSchema,
    })
    .nullable(),
  consecutiveFailures: z.number(),
  stats: statsSchema,
  history: z.array(historyEventSchema).transform((events) => events.slice(0, HISTORY_LIMIT)),
  // What the alert webhook last announced (src/server/ops/alert-ledger.ts): dropping it on a read
  // would make every server announce the same change again.
  announced: z
    .object({
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
    })
    .optional(),
}) satisfies z.ZodType<ConnectionHealth, unknown>;

export const connectionProfileSchema = z.object({
  name: z.string(),
  environment: z.enum(['sandbox', 'production']),
  realmId: z.string().nullable(),
  companyName: z.string().nullable(),
}) satisfies z.ZodType<ConnectionProfile>;

/** The health of a connection nothing has happened to yet. */
export function emptyHealth(): ConnectionHealth {
  return {
    lastRefresh: null,
    rejection: null,
    consecutiveFailures: 0,
    stats: { refreshes: 0, failures: 0, retriedOn401: 0, consecutiveFailures: 0, failingSince: null },
    history: [],
  };
}
