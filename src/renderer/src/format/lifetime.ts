// Fractions for the lifetime bars. The status carries only absolute expiry times, so the access
// token's full lifetime is inferred from when it was issued (the newest successful refresh).
import type { TokenStatus } from '../../../shared/contract';
import { parseTime, daysLeft, TIME_UNITS } from './time';

/** Intuit's access-token lifetime: the fallback when the issue time is unknown (environment token). */
export const DEFAULT_ACCESS_LIFETIME_MS = 3600 * 1000;
/** Intuit's rolling refresh-token lifetime, the scale of its bar. */
export const REFRESH_TOKEN_LIFETIME_DAYS = 100;

const clamp01 = (x: number): number => Math.min(1, Math.max(0, x));

/**
 * When the access token in use was issued: the start of the last successful refresh (its expiry is
 * counted from when the request was sent), else the newest "refreshed" event in the history.
 */
export function accessTokenIssuedAt(status: TokenStatus): number | null {
  const expiresAt = parseTime(status.accessToken?.expiresAt);
  if (expiresAt === null || status.source !== 'cached') return null;
  const last = status.lastRefresh;
  const lastStart = last?.ok ? parseTime(last.at) : null;
  const refreshed = parseTime(status.history.find((event) => event.type === 'refreshed')?.at);
  const candidates = [lastStart !== null && last ? lastStart - last.durationMs : null, refreshed];
  for (const at of candidates) {
    if (at !== null && at < expiresAt) return at;
  }
  return null;
}

/** Share of the access token's lifetime still left, 0..1 (0 when expired or absent). */
export function accessTokenFraction(status: TokenStatus, nowMs: number): number {
  const expiresAt = parseTime(status.accessToken?.expiresAt);
  if (expiresAt === null) return 0;
  const issuedAt = accessTokenIssuedAt(status);
  const lifetime = issuedAt !== null ? expiresAt - issuedAt : DEFAULT_ACCESS_LIFETIME_MS;
  if (lifetime <= 0) return 0;
  return clamp01((expiresAt - nowMs) / lifetime);
}

/** The access token's full lifetime in ms (for the bar's caption). */
export function accessTokenLifetimeMs(status: TokenStatus): number {
  const expiresAt = parseTime(status.accessToken?.expiresAt);
  const issuedAt = accessTokenIssuedAt(status);
  return expiresAt !== null && issuedAt !== null ? expiresAt - issuedAt : DEFAULT_ACCESS_LIFETIME_MS;
}

/** Days left on the rolling refresh-token expiry, and its share of the 100 days; null when unknown. */
export function refreshTokenDays(
  expiresAtIso: string | null | undefined,
  nowMs: number,
): { days: number; fraction: number } | null {
  const expiresAt = parseTime(expiresAtIso);
  if (expiresAt === null) return null;
  const days = daysLeft(expiresAt, nowMs);
  const fraction = clamp01((expiresAt - nowMs) / (REFRESH_TOKEN_LIFETIME_DAYS * TIME_UNITS.DAY));
  return { days, fraction };
}

/**
 * The lifetime as a caption shows it: the issue time is known only to within a refresh's duration,
 * so long lifetimes round to the minute (3,599 s reads "1h 00m") and short ones to the second.
 */
export function roundedLifetimeMs(ms: number): number {
  const unit = ms >= 10 * TIME_UNITS.MINUTE ? TIME_UNITS.MINUTE : TIME_UNITS.SECOND;
  return Math.round(ms / unit) * unit;
}
