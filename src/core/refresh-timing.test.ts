// When refreshes happen, alone: the back-off between attempts and when the schedule is next due.
import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_RETRY_POLICY, scheduledRefreshAt } from './refresh-timing';
import type { StoredTokens } from './token-store';

const NOW = Date.parse('2026-11-30T10:00:00.000Z');
const chain = (overrides: Partial<StoredTokens> = {}): StoredTokens => ({
  version: 1,
  refreshToken: 'RT-timing-0000',
  refreshTokenIssuedAt: NOW - 600_000,
  lastRotatedAt: null,
  refreshTokenExpiresAt: null,
  refreshTokenHardExpiresAt: null,
  accessToken: 'AT-timing-0000',
  accessTokenExpiresAt: NOW + 3_000_000,
  refreshedAt: NOW - 600_000,
  realmId: null,
  origin: { envRefreshTokenSha256: null },
  ...overrides,
});
const due = (overrides: Partial<Parameters<typeof scheduledRefreshAt>[0]> = {}) =>
  scheduledRefreshAt({
    chain: chain(),
    now: NOW,
    skewSeconds: 300,
    starting: false,
    refreshOnStart: true,
    lastRefreshFailed: false,
    cooldownMs: 60_000,
    ...overrides,
  });

describe('backoffDelay', () => {
  it('doubles per attempt with equal jitter, capped, and waits at least what the server asked', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 1000, maxDelayMs: 30_000 };
    expect([1, 2, 3].map((attempt) => backoffDelay(attempt, policy, () => 0, null))).toEqual([
      500, 1000, 2000,
    ]);
    expect([1, 2, 3].map((attempt) => backoffDelay(attempt, policy, () => 1, null))).toEqual([
      1000, 2000, 4000,
    ]);
    expect(backoffDelay(10, policy, () => 1, null)).toBe(30_000);
    expect(backoffDelay(1, policy, () => 0, 7_000)).toBe(7_000);
    expect(backoffDelay(1, policy, () => 0, 120_000)).toBe(30_000);
  });
});

describe('scheduledRefreshAt', () => {
  it('at access expiry minus the skew', () => {
    expect(due()).toBe(NOW + 3_000_000 - 300_000);
  });

  it('at once when the token is already inside the skew window', () => {
    expect(due({ chain: chain({ accessTokenExpiresAt: NOW + 10_000 }) })).toBe(NOW);
  });

  it('with no access token: at once on start when the start refreshes, else not at all', () => {
    const none = chain({ accessToken: null, accessTokenExpiresAt: null });
    expect(due({ chain: none, starting: true })).toBe(NOW);
    expect(due({ chain: none, starting: true, refreshOnStart: false })).toBeNull();
    expect(due({ chain: none })).toBeNull();
  });

  it('after a failed refresh, not before the cooldown', () => {
    expect(due({ chain: chain({ accessTokenExpiresAt: NOW + 10_000 }), lastRefreshFailed: true })).toBe(
      NOW + 60_000,
    );
    expect(
      due({ chain: chain({ accessToken: null, accessTokenExpiresAt: null }), lastRefreshFailed: true }),
    ).toBe(NOW + 60_000);
    // A refresh due later anyway is not moved.
    expect(due({ lastRefreshFailed: true })).toBe(NOW + 2_700_000);
  });

  it('the skew is capped at half a short token lifetime', () => {
    const demo = chain({ refreshedAt: NOW, accessTokenExpiresAt: NOW + 120_000 });
    expect(due({ chain: demo })).toBe(NOW + 60_000);
  });
});
