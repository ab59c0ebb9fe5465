import { describe, expect, it } from 'vitest';
import {
  accessTokenFraction,
  accessTokenIssuedAt,
  accessTokenLifetimeMs,
  DEFAULT_ACCESS_LIFETIME_MS,
  refreshTokenDays,
  roundedLifetimeMs,
} from './lifetime';
import { statusAt } from '../../../shared/testing/status-fixture';

const T0 = Date.parse('2026-11-27T12:00:00Z');

describe('access token lifetime', () => {
  it('measures from the newest refresh that issued the token', () => {
    const status = statusAt(T0);
    // The fixture's last refresh ended 30 min ago after 120 ms.
    expect(accessTokenIssuedAt(status)).toBe(T0 - 30 * 60_000 - 120);
    expect(accessTokenLifetimeMs(status)).toBe(60 * 60_000 + 120);
    expect(accessTokenFraction(status, T0)).toBeCloseTo(0.5, 3);
    expect(accessTokenFraction(status, T0 + 15 * 60_000)).toBeCloseTo(0.25, 3);
  });

  it('counts from when the refresh was sent, not when it finished', () => {
    const status = statusAt(T0, {
      lastRefresh: {
        at: new Date(T0 - 30 * 60_000).toISOString(),
        ok: true,
        trigger: 'manual',
        durationMs: 4_000,
      },
    });
    expect(accessTokenLifetimeMs(status)).toBe(60 * 60_000 + 4_000);
  });

  it('is 0 once expired and when there is no token', () => {
    expect(accessTokenFraction(statusAt(T0), T0 + 31 * 60_000)).toBe(0);
    expect(accessTokenFraction(statusAt(T0, { accessToken: null }), T0)).toBe(0);
  });

  it('falls back to Intuit’s hour for an environment token', () => {
    const status = statusAt(T0, { source: 'environment' });
    expect(accessTokenIssuedAt(status)).toBeNull();
    expect(accessTokenLifetimeMs(status)).toBe(DEFAULT_ACCESS_LIFETIME_MS);
    expect(accessTokenFraction(status, T0)).toBeCloseTo(0.5, 5);
  });

  it('ignores a refresh event that came after the expiry (a stale history)', () => {
    const status = statusAt(T0, {
      history: [{ at: new Date(T0 + 40 * 60_000).toISOString(), type: 'refreshed', message: 'x' }],
      lastRefresh: null,
    });
    expect(accessTokenIssuedAt(status)).toBeNull();
  });

  it('short demo lifetimes fill the bar from their own issue time', () => {
    const status = statusAt(T0, {
      accessToken: { preview: '…x', expiresAt: new Date(T0 + 10_000).toISOString() },
      lastRefresh: null,
      history: [{ at: new Date(T0 - 10_000).toISOString(), type: 'refreshed', message: 'x' }],
    });
    expect(accessTokenLifetimeMs(status)).toBe(20_000);
    expect(accessTokenFraction(status, T0)).toBeCloseTo(0.5, 5);
  });
});

describe('roundedLifetimeMs', () => {
  it('rounds long lifetimes to the minute and short ones to the second', () => {
    expect(roundedLifetimeMs(3_599_000)).toBe(3_600_000);
    expect(roundedLifetimeMs(3_604_000)).toBe(3_600_000);
    expect(roundedLifetimeMs(5_600)).toBe(6_000);
    expect(roundedLifetimeMs(119_400)).toBe(119_000);
  });
});

describe('refresh token days', () => {
  it('counts days left and the share of 100', () => {
    const days = refreshTokenDays(new Date(T0 + 50 * 86_400_000).toISOString(), T0);
    expect(days).toEqual({ days: 50, fraction: 0.5 });
  });

  it('clamps the bar and reports unknown expiry as null', () => {
    expect(refreshTokenDays(new Date(T0 + 120 * 86_400_000).toISOString(), T0)?.fraction).toBe(1);
    expect(refreshTokenDays(new Date(T0 - 86_400_000).toISOString(), T0)).toEqual({ days: -1, fraction: 0 });
    expect(refreshTokenDays(null, T0)).toBeNull();
  });
});
