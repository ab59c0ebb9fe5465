// TokenStatus, computed. The shared connection record says what every process knows (the chain,
// the last refresh, a rejection, stats, history); the facts below are what only this process knows
// (a refresh in flight here, its back-off, QB_ACCESS_TOKEN standing in, a chain not yet saved, whether
// the store answers). Pure: no I/O, no timers, the clock is an argument.
import {
  DEFAULT_CONNECTION_ID,
  REFRESH_TOKEN_WARNING_DAYS,
  type ConnectionId,
  type QbEnvironment,
  type RefreshErrorInfo,
  type TokenState,
  type TokenStatus,
} from '../shared/contract';
import { previewToken } from '../shared/preview';
import type { ConnectionStoreDescription } from './connection-store';
import { defaultConnectionName, rejectionOf, type ConnectionRecord } from './connection-record';
import type { StoredTokens } from './token-store';

/** A token with less than this left is not handed out; a refresh comes first. */
export const MIN_USABLE_MS = 5_000;

/** QB_ACCESS_TOKEN, as this process sees it. */
export interface EnvironmentAccessToken {
  value: string;
  /** An access token lives an hour at most: one first seen at T is certainly dead by T + 1 h. */
  expiresAt: number;
  /** False once the API refused it or the connection was disconnected here. */
  usable: boolean;
}

/** What only this process knows. */
export interface ProcessFacts {
  connectionId: ConnectionId;
  environment: QbEnvironment;
  demo: boolean;
  /** QB_REALM_ID, used until the chain knows its realm. */
  configuredRealmId: string | null;
  refreshSkewSeconds: number;
  /** Client id and secret are configured: Connect can run. */
  canConnect: boolean;
  /** A token endpoint is configured: the refresh token can be used. */
  canRefresh: boolean;
  /** The chain in the record is what the store holds (else it came from QB_REFRESH_TOKEN and is not saved yet). */
  chainStored: boolean;
  /** A refresh is in flight in this process. */
  refreshing: boolean;
  /** Transient failures being retried with back-off. */
  retrying: { attempt: number; maxAttempts: number } | null;
  /** When this process's next refresh (or back-off retry) is due, ms since epoch. */
  nextRefreshAt: number | null;
  /** This process runs a refresh schedule for the connection. */
  autoRefresh: boolean;
  environmentAccessToken: EnvironmentAccessToken | null;
  /** Refreshing failed and callers are being given QB_ACCESS_TOKEN. */
  environmentFallback: boolean;
  /** The chain's latest version could not be written; it is kept in memory until a save succeeds. */
  unsaved: boolean;
  /** Intuit refused this process's client keys (invalid_client): a configuration error, not the chain's. */
  clientError: RefreshErrorInfo | null;
  /** Standing warnings about this process's configuration (shown first). */
  configWarnings: readonly string[];
  store: {
    description: ConnectionStoreDescription;
    reachable: boolean;
    /** The store's standing warnings plus what loading found (a record moved aside, an upgrade). */
    warnings: readonly string[];
    /** A sentence about a store fault (unreachable, wrong QB_STORE_KEY), or null. */
    problem: string | null;
    /** The fault is a configuration error (wrong QB_STORE_KEY): nothing can be refreshed until it is fixed. */
    misconfigured: boolean;
  } | null;
}

interface ServedToken {
  token: string;
  expiresAt: number;
  source: 'cached' | 'environment';
}

export function environmentTokenUsable(
  env: EnvironmentAccessToken | null,
  now: number,
): env is EnvironmentAccessToken {
  return env !== null && env.usable && now < env.expiresAt - MIN_USABLE_MS;
}

/** Which access token a caller would get right now, if any. */
export function servedToken(
  chain: StoredTokens | null,
  facts: Pick<ProcessFacts, 'environmentAccessToken' | 'environmentFallback'>,
  now: number,
): ServedToken | null {
  const env = facts.environmentAccessToken;
  if (!facts.environmentFallback && chain?.accessToken && chain.accessTokenExpiresAt !== null) {
    return { token: chain.accessToken, expiresAt: chain.accessTokenExpiresAt, source: 'cached' };
  }
  // With no cached access token (none yet, or Clear dropped it) QB_ACCESS_TOKEN stands in, as in the seed.
  if ((facts.environmentFallback || !chain?.accessToken) && environmentTokenUsable(env, now)) {
    return { token: env.value, expiresAt: env.expiresAt, source: 'environment' };
  }
  if (chain?.accessToken && chain.accessTokenExpiresAt !== null) {
    return { token: chain.accessToken, expiresAt: chain.accessTokenExpiresAt, source: 'cached' };
  }
  return null;
}

/**
 * The skew, but never more than half the token's lifetime: a skew longer than the lifetime (300 s
 * against the demo's 120 s tokens) would otherwise refresh in a loop.
 */
export function skewMs(chain: StoredTokens | null, skewSeconds: number): number {
  const skew = skewSeconds * 1000;
  if (!chain || chain.accessTokenExpiresAt === null || chain.refreshedAt === null) return skew;
  return Math.min(skew, Math.max(0, (chain.accessTokenExpiresAt - chain.refreshedAt) / 2));
}

/** The skew that applies to the token being served (the environment's has no known lifetime). */
export function servedSkewMs(
  chain: StoredTokens | null,
  served: ServedToken | null,
  skewSeconds: number,
): number {
  return served?.source === 'cached' ? skewMs(chain, skewSeconds) : skewSeconds * 1000;
}

export function tokenState(record: ConnectionRecord | null, facts: ProcessFacts, now: number): TokenState {
  const chain = record?.tokens ?? null;
  const serving = servedToken(chain, facts, now);
  const envUsable = environmentTokenUsable(facts.environmentAccessToken, now);
  if (!chain && !envUsable) return 'not_configured';
  // A refresh token without the client keys (or a store key) to use it: nothing can be renewed.
  const canRenew = facts.canRefresh && !facts.store?.misconfigured;
  if (!canRenew && !(serving && now < serving.expiresAt)) return 'not_configured';
  if (rejectionOf(record)) return 'reauthorization_required';
  if (facts.refreshing) return 'refreshing';
  // A refresh token and nothing fetched with it yet (or Clear dropped it): neutral, the next call fetches one.
  if (!serving) return 'no_token';
  if (now >= serving.expiresAt) return 'expired';
  if (now >= serving.expiresAt - servedSkewMs(chain, serving, facts.refreshSkewSeconds)) return 'expiring';
  return 'valid';
}

export function computeTokenStatus(
  record: ConnectionRecord | null,
  facts: ProcessFacts,
  now: number,
): TokenStatus {
  const chain = record?.tokens ?? null;
  const serving = servedToken(chain, facts, now);
  const rejection = rejectionOf(record);
  const health = record?.health;
  const profile = record?.profile;
  return {
    connection: {
      id: record?.id ?? facts.connectionId ?? DEFAULT_CONNECTION_ID,
      name: profile?.name ?? defaultConnectionName(facts.environment),
      companyName: profile?.companyName ?? null,
    },
    state: tokenState(record, facts, now),
    source: serving ? serving.source : 'none',
    environment: facts.environment,
    realmId: chain?.realmId ?? profile?.realmId ?? facts.configuredRealmId,
    demo: facts.demo,
    accessToken: serving ? { preview: previewToken(serving.token), expiresAt: iso(serving.expiresAt) } : null,
    refreshToken: chain
      ? {
          preview: previewToken(chain.refreshToken),
          source: facts.chainStored ? 'stored' : 'environment',
          expiresAt: isoOrNull(chain.refreshTokenExpiresAt),
          hardExpiresAt: isoOrNull(chain.refreshTokenHardExpiresAt),
          lastRotatedAt: isoOrNull(chain.lastRotatedAt),
          rejectedAt: rejection ? iso(rejection.at) : null,
        }
      : null,
    autoRefresh: {
      enabled: facts.autoRefresh,
      nextRefreshAt: isoOrNull(facts.nextRefreshAt),
      skewSeconds: facts.refreshSkewSeconds,
      retrying: facts.retrying ? { ...facts.retrying } : null,
    },
    lastRefresh: health?.lastRefresh ? structuredClone(health.lastRefresh) : null,
    stats: health
      ? { ...health.stats }
      : { refreshes: 0, failures: 0, retriedOn401: 0, consecutiveFailures: 0, failingSince: null },
    history: health ? health.history.map((event) => ({ ...event })) : [],
    warnings: statusWarnings(record, facts, now),
    canConnect: facts.canConnect,
    store: facts.store
      ? {
          ...facts.store.description,
          reachable: facts.store.reachable,
          misconfigured: facts.store.misconfigured,
          problem: facts.store.problem,
        }
      : null,
  };
}

/** The status's warning while the chain Intuit issued last exists only in this process's memory. */
export const UNSAVED_CHAIN_WARNING =
  'The latest tokens could not be saved to the token store; they are kept in memory until a save succeeds.';

function statusWarnings(record: ConnectionRecord | null, facts: ProcessFacts, now: number): string[] {
  const out = [...facts.configWarnings, ...(facts.store?.warnings ?? [])];
  if (facts.store?.problem) out.push(facts.store.problem);
  if (facts.environmentFallback) {
    out.push(
      'Refreshing failed, so calls use QB_ACCESS_TOKEN from the environment; it cannot be renewed and expires within the hour.',
    );
  }
  if (facts.clientError) out.push(`Configuration error: ${facts.clientError.message}`);
  const rejection = rejectionOf(record);
  if (rejection) {
    // The refusal that followed an interrupted refresh says why; any other keeps the plain sentence.
    out.push(
      rejection.cause === 'interrupted_refresh'
        ? rejection.error.message
        : 'QuickBooks no longer accepts the refresh token: reconnect to QuickBooks.',
    );
  }
  if (facts.unsaved) out.push(UNSAVED_CHAIN_WARNING);
  const chain = record?.tokens ?? null;
  const limit = REFRESH_TOKEN_WARNING_DAYS * 86_400_000;
  if (chain?.refreshTokenExpiresAt != null && chain.refreshTokenExpiresAt - now < limit) {
    out.push(
      `The refresh token expires on ${iso(chain.refreshTokenExpiresAt)} (in under ${REFRESH_TOKEN_WARNING_DAYS} days): reconnect to QuickBooks before then.`,
    );
  }
  if (chain?.refreshTokenHardExpiresAt != null && chain.refreshTokenHardExpiresAt - now < limit) {
    out.push(
      `The authorization reaches Intuit's 5-year limit on ${iso(chain.refreshTokenHardExpiresAt)}: reconnect to QuickBooks before then.`,
    );
  }
  if (chain && !facts.canRefresh) {
    out.push('QB_CLIENT_ID and QB_CLIENT_SECRET are not set: the refresh token cannot be used.');
  }
  return [...new Set(out)];
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : iso(ms);
}
