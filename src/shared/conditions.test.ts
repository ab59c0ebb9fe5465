import { describe, expect, it } from 'vitest';
import { postgresStore, statusAt } from './testing/status-fixture';
import { activeConditions, diffConditions } from './conditions';
import type { RefreshTokenInfo } from './contract';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const refreshTokenAt = (overrides: Partial<RefreshTokenInfo>): RefreshTokenInfo => {
  const base = statusAt(NOW).refreshToken;
  if (!base) throw new Error('the fixture has a refresh token');
  return { ...base, ...overrides };
};
const kinds = (status: Parameters<typeof activeConditions>[0]) =>
  activeConditions(status, NOW).map((c) => c.kind);

describe('activeConditions', () => {
  it('finds nothing wrong with a healthy connection', () => {
    expect(kinds(statusAt(NOW))).toEqual([]);
  });

  it('reports reconnect_required with the intuit_tid of the refusal, and not the expiry as well', () => {
    const status = statusAt(NOW, {
      state: 'reauthorization_required',
      lastRefresh: {
        at: new Date(NOW).toISOString(),
        ok: false,
        trigger: 'scheduled',
        durationMs: 90,
        error: { kind: 'invalid_grant', message: 'refused', intuitTid: '1-abc' },
      },
    });
    status.refreshToken = refreshTokenAt({ expiresAt: new Date(NOW + 86_400_000).toISOString() });
    const found = activeConditions(status, NOW);
    expect(found.map((c) => c.kind)).toEqual(['reconnect_required']);
    expect(found[0]?.intuitTid).toBe('1-abc');
  });

  it('warns under 14 days on the rolling expiry or the 5-year cap, not at 15', () => {
    const with13 = statusAt(NOW, {
      refreshToken: refreshTokenAt({ hardExpiresAt: new Date(NOW + 13 * 86_400_000).toISOString() }),
    });
    const with15 = statusAt(NOW, {
      refreshToken: refreshTokenAt({ expiresAt: new Date(NOW + 15 * 86_400_000).toISOString() }),
    });
    expect(kinds(with13)).toEqual(['refresh_token_expiring']);
    expect(kinds(with15)).toEqual([]);
  });

  it('raises refresh_failing at three failures in a row and intuit_unreachable after ten minutes', () => {
    const failing = (count: number, sinceMs: number) =>
      statusAt(NOW, {
        stats: {
          refreshes: 1,
          failures: count,
          retriedOn401: 0,
          consecutiveFailures: count,
          failingSince: new Date(NOW - sinceMs).toISOString(),
        },
        lastRefresh: {
          at: new Date(NOW).toISOString(),
          ok: false,
          trigger: 'scheduled',
          durationMs: 15_000,
          error: { kind: 'timeout', message: 'no answer', intuitTid: null },
        },
      });
    expect(kinds(failing(2, 60_000))).toEqual([]);
    expect(kinds(failing(3, 60_000))).toEqual(['refresh_failing']);
    expect(kinds(failing(3, 11 * 60_000))).toEqual(['refresh_failing', 'intuit_unreachable']);
  });

  it('reports an unreachable store', () => {
    const status = statusAt(NOW, {
      store: postgresStore({ reachable: false }),
    });
    expect(kinds(status)).toEqual(['store_unreachable']);
  });

  it('reports a store that cannot be used as configured, with its sentence, even while the token is valid', () => {
    const problem = 'The stored tokens could not be decrypted with this QB_STORE_KEY.';
    const conditions = activeConditions(
      statusAt(NOW, { store: postgresStore({ misconfigured: true, problem }) }),
      NOW,
    );
    expect(conditions.map((c) => c.kind)).toEqual(['store_unreachable']);
    expect(conditions[0]?.message).toContain(problem);
  });
});

describe('diffConditions', () => {
  it('tells raised from cleared by connection and kind, ignoring wording', () => {
    const a = {
      kind: 'refresh_failing' as const,
      connectionId: 'default',
      message: '3 failed',
      intuitTid: null,
    };
    const a2 = { ...a, message: '4 failed' };
    const b = {
      kind: 'store_unreachable' as const,
      connectionId: 'default',
      message: 'down',
      intuitTid: null,
    };
    expect(diffConditions([a], [a2])).toEqual({ raised: [], cleared: [] });
    expect(diffConditions([a], [b])).toEqual({ raised: [b], cleared: [a] });
  });
});
