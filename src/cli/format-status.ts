// The human `qb-token status`: one screen an admin can read at a glance. Times are shown both
// relative ("in 52 min") and absolute (UTC), because relative alone goes stale in a pasted log.
import type { TokenStatus } from '../shared/contract';

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
  row('State', `${status.state} (source: ${status.source}; ${where})`);

  const access = status.accessToken;
  row('Access token', access ? `${access.preview}, expires ${when(access.expiresAt, now)}` : 'none');

  const refresh = status.refreshToken;
  if (refresh) {
    const expiry = refresh.expiresAt
      ? `expires ${when(refresh.expiresAt, now)}`
      : 'expiry unknown until the first refresh';
    row('Refresh token', `${refresh.preview} (${refresh.source}), ${expiry}`);
    if (refresh.hardExpiresAt) row('', `hard limit ${when(refresh.hardExpiresAt, now)}`);
    if (refresh.lastRotatedAt) row('', `last rotated ${when(refresh.lastRotatedAt, now)}`);
  } else {
    row('Refresh token', 'none');
  }

  const auto = status.autoRefresh;
  const retrying = auto.retrying
    ? `, retrying (attempt ${auto.retrying.attempt} of ${auto.retrying.maxAttempts})`
    : '';
  row(
    'Auto refresh',
    auto.enabled
      ? `on, ${auto.skewSeconds} s before expiry${auto.nextRefreshAt ? `, next ${when(auto.nextRefreshAt, now)}` : ''}${retrying}`
      : 'off',
  );

  const last = status.lastRefresh;
  if (last) {
    const outcome = last.ok ? 'ok' : `FAILED (${last.error?.kind ?? 'unknown'})`;
    row('Last refresh', `${outcome}, ${when(last.at, now)}, ${last.trigger}, ${last.durationMs} ms`);
    if (last.error) {
      row('', last.error.message + (last.error.intuitTid ? ` [intuit_tid ${last.error.intuitTid}]` : ''));
    }
  } else {
    // The engine keeps refresh history per process; a CLI run starts with none.
    row('Last refresh', 'none by this process');
  }

  const { refreshes, failures, retriedOn401 } = status.stats;
  row('Stats', `${refreshes} refreshes, ${failures} failures, ${retriedOn401} retried after 401`);

  if (status.warnings.length > 0) {
    lines.push('Warnings:');
    for (const warning of status.warnings) lines.push(`  - ${warning}`);
  }
  return lines.join('\n');
}
