// Several companies in one desk: a connection's one-line summary (built from its TokenStatus, so
// every surface derives the same one), the order "worst first" and the worst state of all, and the
// per-connection HTTP paths. Pure; imports only the contract.
import {
  CONNECTION_PATHS,
  DEFAULT_CONNECTION_ID,
  HTTP_PATHS,
  type ConnectionId,
  type ConnectionSummary,
  type TokenState,
  type TokenStatus,
} from './contract';

export function summarizeStatus(status: TokenStatus): ConnectionSummary {
  const last = status.lastRefresh;
  return {
    id: status.connection.id,
    name: status.connection.name,
    companyName: status.connection.companyName,
    environment: status.environment,
    realmId: status.realmId,
    state: status.state,
    accessTokenExpiresAt: status.accessToken?.expiresAt ?? null,
    refreshTokenExpiresAt: status.refreshToken?.expiresAt ?? null,
    lastRefresh: last ? { at: last.at, ok: last.ok, errorKind: last.error?.kind ?? null } : null,
    isDefault: status.connection.id === DEFAULT_CONNECTION_ID,
    demo: status.demo,
  };
}

/** How urgently a state needs the admin, most urgent first. */
const STATE_RANK: Record<TokenState, number> = {
  reauthorization_required: 0,
  expired: 1,
  expiring: 3,
  refreshing: 4,
  not_configured: 5,
  no_token: 6,
  valid: 7,
};

/** The failing rank sits between expired and expiring: it still works, but not for long. */
const FAILING_RANK = 2;

/** Lower is worse. A connection whose last refresh failed ranks as failing unless its state is worse. */
function severity(summary: Pick<ConnectionSummary, 'state' | 'lastRefresh'>): number {
  const rank = STATE_RANK[summary.state];
  return summary.lastRefresh?.ok === false ? Math.min(rank, FAILING_RANK) : rank;
}

/** Worst first; then the access token that lapses soonest; then by name, then id. */
function compareWorstFirst(a: ConnectionSummary, b: ConnectionSummary): number {
  return (
    severity(a) - severity(b) ||
    expiryOf(a) - expiryOf(b) ||
    a.name.localeCompare(b.name) ||
    a.id.localeCompare(b.id)
  );
}

function expiryOf(summary: ConnectionSummary): number {
  const at = summary.accessTokenExpiresAt === null ? Number.NaN : Date.parse(summary.accessTokenExpiresAt);
  return Number.isNaN(at) ? Number.MAX_SAFE_INTEGER : at;
}

export function sortWorstFirst(summaries: readonly ConnectionSummary[]): ConnectionSummary[] {
  return [...summaries].sort(compareWorstFirst);
}

/** The worst connection of several (null for none). */
export function worstOf(summaries: readonly ConnectionSummary[]): ConnectionSummary | null {
  let worst: ConnectionSummary | null = null;
  for (const summary of summaries) if (!worst || compareWorstFirst(summary, worst) < 0) worst = summary;
  return worst;
}

/** The default connection first, then the others by name: the stable order lists are sent in. */
export function compareListOrder(a: ConnectionSummary, b: ConnectionSummary): number {
  if (a.isDefault !== b.isDefault) return a.isDefault ? -1 : 1;
  return a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
}

/** `/api/integrations/quickbooks/connections/{id}` plus one of CONNECTION_PATHS (or nothing: the connection itself). */
export function connectionPath(id: ConnectionId, action?: keyof typeof CONNECTION_PATHS): string {
  const base = `${HTTP_PATHS.connections}/${encodeURIComponent(id)}`;
  return action ? base + CONNECTION_PATHS[action] : base;
}
