// The human `qb-token status`: one screen an admin can read at a glance. Times are shown both
// relative ("in 52 min") and absolute (UTC), because relative alone goes stale in a pasted log.
import type { TokenState, TokenStatus } from '../shared/contract';

export function formatRelative(iso: string, now: number): string {
  const ms = Date.parse(iso) - now;
  const abs = Math.abs(ms);
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1_000, 's'],
  ];
  const [size, unit] = units.find(([unitMs]) => abs >= unitMs) ?? [1_000, 's'];
  const amount = Math.floor(abs / size);
  if (abs < 1_000) return 'now';
  return ms >= 0 ? `in ${amount} ${unit}` : `${amount} ${unit} ago`;
}

export function formatAbsolute(iso: string): string {
  return `${new Date(iso)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, '')} UTC`;
}

function when(iso: string | null, now: number): string {
  return iso ? `${formatRelative(iso, now)} (${formatAbsolute(iso)})` : 'unknown';
}

/** The state in words, then the contract's name for scripts that grep. */
const STATE_WORDS: Record<TokenState, string> = {
  valid: 'valid',
  expiring: 'expiring (inside the refresh window)',
  expired: 'expired',
  no_token: 'no access token yet',
  refreshing: 'refreshing',
  reauthorization_required: 'reconnect required',
  not_configured: 'not configured',
};

function accessTokenLine(status: TokenStatus, now: number): string {
  const access = status.accessToken;
  if (access) return `${access.preview}, expires ${when(access.expiresAt, now)}`;
  if (status.state === 'reauthorization_required') return 'none; reconnect to QuickBooks first';
  if (!status.refreshToken) return 'none';
  return 'none cached yet; the next command that needs one (qb-token token, company-info) fetches it';
}

/**
 * Which long-running process shares this store and refreshes ahead of expiry. The desktop app keeps
 * a store of its own (desktop-tokens.json, sealed with the OS keychain) even in the same
 * QB_DATA_DIR: it shares a chain with the CLI only through QB_STORE_URL (PostgreSQL).
 */
function refresherFor(store: TokenStatus['store']): string {
  if (store?.kind === 'postgres') return 'The desktop app or a headless server on this QB_STORE_URL';
  return 'A headless server (npm run serve) or your app (the library) on this QB_DATA_DIR';
}

/**
 * Who refreshes. This process exits after its command, so it promises nothing: a long-running
 * process sharing the store refreshes ahead of expiry; without one, the next command that needs a
 * token refreshes when it runs.
 */
function refreshingLine(status: TokenStatus, now: number): string {
  if (status.state === 'not_configured') return 'nothing to refresh (not configured)';
  if (status.state === 'reauthorization_required')
    return 'stopped: Intuit rejected the refresh token; reconnect to QuickBooks';
  if (!status.canConnect) return 'not possible here: QB_CLIENT_ID and QB_CLIENT_SECRET are not set';
  const skew = status.autoRefresh.skewSeconds;
  const expires = status.accessToken ? Date.parse(status.accessToken.expiresAt) : Number.NaN;
  const due = Number.isFinite(expires)
    ? `; due ${when(new Date(expires - skew * 1000).toISOString(), now)}`
    : '';
  const desktop =
    status.store?.kind === 'postgres'
      ? ''
      : ' (The desktop app keeps a store of its own: it shares tokens only through QB_STORE_URL.)';
  return (
    `not by this command (it exits)${due}. ${refresherFor(status.store)} refreshes ${skew} s ` +
    `before expiry; without one, the next command that needs a token does.${desktop}`
  );
}

export function formatStatus(status: TokenStatus, now = Date.now()): string {
  const lines: string[] = [];
  const row = (label: string, value: string) =>
    lines.push(`${(label ? `${label}:` : '').padEnd(15)}${value}`);
  const where = [
    status.environment,
    status.realmId ? `realm ${status.realmId}` : 'no realm',
    status.demo ? 'demo' : null,
  ]
    .filter(Boolean)
    .join(', ');
  row('State', `${STATE_WORDS[status.state]} [${status.state}] (source: ${status.source}; ${where})`);
  row('Access token', accessTokenLine(status, now));
  const refresh = status.refreshToken;
  if (refresh?.rejectedAt) {
    row(
      'Refresh token',
      `${refresh.preview} (${refresh.source}), REJECTED by Intuit ${when(refresh.rejectedAt, now)}`,
    );
  } else if (refresh) {
    const expiry = refresh.expiresAt
      ? `expires ${when(refresh.expiresAt, now)}`
      : 'expiry unknown until the first refresh';
    row('Refresh token', `${refresh.preview} (${refresh.source}), ${expiry}`);
    if (refresh.hardExpiresAt) row('', `hard limit ${when(refresh.hardExpiresAt, now)}`);
    if (refresh.lastRotatedAt) row('', `last rotated ${when(refresh.lastRotatedAt, now)}`);
  } else {
    row('Refresh token', 'none');
  }
  row('Refreshing', refreshingLine(status, now));
  const last = status.lastRefresh;
  if (last) {
    const outcome = last.ok ? 'ok' : `FAILED (${last.error?.kind ?? 'unknown'})`;
    const by = last.client ? `, by ${last.client}` : '';
    row('Last refresh', `${outcome}, ${when(last.at, now)}, ${last.trigger}, ${last.durationMs} ms${by}`);
    if (last.error) {
      row('', last.error.message + (last.error.intuitTid ? ` [intuit_tid ${last.error.intuitTid}]` : ''));
    }
  } else {
    row('Last refresh', 'none recorded');
  }
  const { refreshes, failures, retriedOn401 } = status.stats;
  row('Stats', `${refreshes} refreshes, ${failures} failures, ${retriedOn401} retried after 401`);
  if (status.warnings.length > 0) {
    lines.push('Warnings:');
    for (const warning of status.warnings) lines.push(`  - ${warning}`);
  }
  return lines.join('\n');
}
