import { describe, expect, it } from 'vitest';
import type { TokenStatus } from '../shared/contract';
import { statusAt } from '../shared/testing/status-fixture';
import { countdown, healthLevel, presentTray, worstHealth } from './tray-presentation';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const DAY = 86_400_000;
const iso = (offset: number) => new Date(NOW + offset).toISOString();

const failed = (overrides: Partial<TokenStatus> = {}, consecutive = 1): TokenStatus =>
  statusAt(NOW, {
    lastRefresh: {
      at: iso(0),
      ok: false,
      trigger: 'scheduled',
      durationMs: 10,
      error: { kind: 'server', message: 'Intuit answered 503', intuitTid: '1-tid' },
    },
    stats: {
      refreshes: 1,
      failures: consecutive,
      retriedOn401: 0,
      consecutiveFailures: consecutive,
      failingSince: iso(-60_000),
    },
    ...overrides,
  });

const withRefreshTokenEnding = (offset: number): TokenStatus => {
  const status = statusAt(NOW);
  if (status.refreshToken) status.refreshToken = { ...status.refreshToken, expiresAt: iso(offset) };
  return status;
};

describe('healthLevel', () => {
  it('maps each situation to its colour', () => {
    expect(healthLevel(statusAt(NOW), NOW)).toBe('valid');
    expect(healthLevel(statusAt(NOW, { state: 'no_token', accessToken: null }), NOW)).toBe('valid');
    expect(healthLevel(statusAt(NOW, { state: 'not_configured', refreshToken: null }), NOW)).toBe('idle');
    expect(healthLevel(statusAt(NOW, { state: 'expiring' }), NOW)).toBe('expiring');
    expect(healthLevel(withRefreshTokenEnding(13 * DAY), NOW)).toBe('expiring');
    expect(healthLevel(withRefreshTokenEnding(15 * DAY), NOW)).toBe('valid');
    expect(healthLevel(failed(), NOW)).toBe('failing');
    expect(healthLevel(statusAt(NOW, { state: 'expired' }), NOW)).toBe('failing');
    expect(healthLevel(failed({ state: 'reauthorization_required' }), NOW)).toBe('reconnect');
    // A store this process cannot use (wrong QB_STORE_KEY): nothing refreshes, valid token or not.
    const unusable = {
      ...statusAt(NOW).store,
      kind: 'file' as const,
      location: '/data',
      encrypted: true,
      reachable: true,
      misconfigured: true,
      problem: 'wrong QB_STORE_KEY',
    };
    expect(healthLevel(statusAt(NOW, { store: unusable }), NOW)).toBe('failing');
    expect(
      healthLevel(statusAt(NOW, { state: 'not_configured', accessToken: null, store: unusable }), NOW),
    ).toBe('failing');
  });
});

describe('worstHealth', () => {
  it('takes the worst across connections, and idle only when nothing is watched', () => {
    expect(worstHealth([], NOW)).toBe('idle');
    expect(worstHealth([statusAt(NOW, { state: 'not_configured' }), statusAt(NOW)], NOW)).toBe('valid');
    expect(worstHealth([failed(), statusAt(NOW), withRefreshTokenEnding(DAY)], NOW)).toBe('failing');
    expect(worstHealth([statusAt(NOW), failed({ state: 'reauthorization_required' }), failed()], NOW)).toBe(
      'reconnect',
    );
  });
});

describe('countdown', () => {
  it('counts down in minutes, then hours and minutes', () => {
    expect(countdown(NOW + 30_000, NOW)).toBe('under a minute');
    expect(countdown(NOW + 42 * 60_000 + 59_000, NOW)).toBe('42 min');
    expect(countdown(NOW + 65 * 60_000, NOW)).toBe('1 h 05 min');
    expect(countdown(NOW, NOW)).toBeNull();
  });
});

describe('presentTray', () => {
  it('says the worst state, the access-token countdown and the refresh token’s days', () => {
    const shown = presentTray([statusAt(NOW)], NOW);
    expect(shown.level).toBe('valid');
    expect(shown.tooltip).toBe(
      'QB Token Desk: Tokens healthy\nAccess token 30 min left · refresh token 50 days left',
    );
  });

  it('uses the sooner of the rolling expiry and the 5-year cap', () => {
    const status = statusAt(NOW);
    if (status.refreshToken)
      status.refreshToken = { ...status.refreshToken, hardExpiresAt: iso(3 * DAY + 1000) };
    expect(presentTray([status], NOW).lines).toEqual([
      'Access token 30 min left · refresh token 3 days left',
    ]);
  });

  it('names each connection when there are several', () => {
    const other = statusAt(NOW, {
      connection: { id: '123', name: 'QuickBooks production', companyName: 'Harbor Light Bakery' },
      state: 'reauthorization_required',
    });
    const shown = presentTray([statusAt(NOW, { accessToken: null, state: 'no_token' }), other], NOW);
    expect(shown.level).toBe('reconnect');
    expect(shown.lines).toEqual([
      'QuickBooks sandbox: No access token cached · refresh token 50 days left',
      'Harbor Light Bakery: Intuit refused the refresh token: reconnect',
    ]);
  });

  it('never shows a token preview or value', () => {
    const shown = presentTray([statusAt(NOW), failed()], NOW);
    expect(shown.tooltip).not.toMatch(/…/);
  });
});
