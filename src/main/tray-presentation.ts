// What the tray shows, as a pure function of the connections' statuses and the clock: one colour
// for the worst of them, and a tooltip with each access token's countdown and each refresh token's
// days left. No electron import: index.ts turns the result into a Tray image and tooltip.
import { activeConditions, type ConditionKind } from '../shared/conditions';
import type { TokenStatus } from '../shared/contract';

/** From least to most alarming; the tray shows the worst across connections. */
const HEALTH_LEVELS = ['idle', 'valid', 'expiring', 'failing', 'reconnect'] as const;
export type HealthLevel = (typeof HEALTH_LEVELS)[number];

const FAILING_CONDITIONS: readonly ConditionKind[] = [
  'refresh_failing',
  'intuit_unreachable',
  'store_unreachable',
];

/**
 * One connection's level. `idle`: nothing to watch (not configured). `valid`: tokens healthy, or no
 * access token cached while the refresh token is fine (the next call fetches one). `expiring`: the
 * access token is inside its refresh window, or the refresh token ends within 14 days. `failing`:
 * the last refresh failed, the access token has expired, Intuit or the store does not answer.
 * `reconnect`: Intuit refused the refresh token.
 */
export function healthLevel(status: TokenStatus, nowMs: number): HealthLevel {
  const kinds = activeConditions(status, nowMs).map((c) => c.kind);
  if (status.state === 'reauthorization_required' || kinds.includes('reconnect_required')) return 'reconnect';
  if (
    kinds.some((kind) => FAILING_CONDITIONS.includes(kind)) ||
    status.state === 'expired' ||
    (status.lastRefresh !== null && !status.lastRefresh.ok)
  ) {
    return 'failing';
  }
  if (status.state === 'expiring' || kinds.includes('refresh_token_expiring')) return 'expiring';
  if (status.state === 'not_configured') return 'idle';
  return 'valid';
}

export function worstHealth(statuses: readonly TokenStatus[], nowMs: number): HealthLevel {
  let worst: HealthLevel = 'idle';
  for (const status of statuses) {
    const level = healthLevel(status, nowMs);
    if (HEALTH_LEVELS.indexOf(level) > HEALTH_LEVELS.indexOf(worst)) worst = level;
  }
  return worst;
}

const HEALTH_LABELS: Record<HealthLevel, string> = {
  idle: 'Not configured',
  valid: 'Tokens healthy',
  expiring: 'Expiring soon',
  failing: 'Refresh failing',
  reconnect: 'Reconnect needed',
};

/** "42 min", "1 h 05 min", "under a minute"; null once past. */
export function countdown(untilMs: number, nowMs: number): string | null {
  const left = untilMs - nowMs;
  if (left <= 0) return null;
  const minutes = Math.floor(left / 60_000);
  if (minutes < 1) return 'under a minute';
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

function daysLeft(iso: string | null | undefined, nowMs: number): number | null {
  const ms = iso ? Date.parse(iso) : Number.NaN;
  return Number.isFinite(ms) ? Math.max(0, Math.floor((ms - nowMs) / 86_400_000)) : null;
}

/** One line per connection: "Access token: 42 min left · Refresh token: 97 days left". */
function statusLine(status: TokenStatus, nowMs: number): string {
  if (status.state === 'not_configured') return 'Not configured';
  if (status.state === 'reauthorization_required') return 'Intuit refused the refresh token: reconnect';
  const expiresAt = status.accessToken ? Date.parse(status.accessToken.expiresAt) : Number.NaN;
  const left = Number.isFinite(expiresAt) ? countdown(expiresAt, nowMs) : null;
  const access = !status.accessToken
    ? 'no access token cached'
    : left
      ? `access token ${left} left`
      : 'access token expired';
  const ends = [status.refreshToken?.expiresAt, status.refreshToken?.hardExpiresAt]
    .map((iso) => daysLeft(iso, nowMs))
    .filter((days): days is number => days !== null);
  const refresh = !status.refreshToken
    ? 'no refresh token'
    : ends.length > 0
      ? `refresh token ${Math.min(...ends)} day${Math.min(...ends) === 1 ? '' : 's'} left`
      : 'refresh token stored';
  const line = `${access} · ${refresh}`;
  return line.charAt(0).toUpperCase() + line.slice(1);
}

export interface TrayPresentation {
  level: HealthLevel;
  /** Tooltip text: the app, the worst state, then one line per connection. */
  tooltip: string;
  /** The same lines, for a disabled item at the top of the tray menu (Linux trays show no tooltip). */
  lines: string[];
}

export function presentTray(
  statuses: readonly TokenStatus[],
  nowMs: number,
  appName = 'QB Token Desk',
): TrayPresentation {
  const level = worstHealth(statuses, nowMs);
  const named = statuses.length > 1;
  const lines =
    statuses.length === 0
      ? ['Starting…']
      : statuses.map((status) => {
          const line = statusLine(status, nowMs);
          return named ? `${status.connection.companyName ?? status.connection.name}: ${line}` : line;
        });
  return { level, lines, tooltip: [`${appName}: ${HEALTH_LABELS[level]}`, ...lines].join('\n') };
}
