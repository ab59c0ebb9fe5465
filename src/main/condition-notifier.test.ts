import { describe, expect, it } from 'vitest';
import type { TokenStatus } from '../shared/contract';
import { statusAt } from '../shared/testing/status-fixture';
import { ConditionNotifier } from './condition-notifier';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const iso = (offset: number) => new Date(NOW + offset).toISOString();

function failing(consecutive: number, sinceMs: number, overrides: Partial<TokenStatus> = {}): TokenStatus {
  return statusAt(NOW, {
    lastRefresh: {
      at: iso(0),
      ok: false,
      trigger: 'scheduled',
      durationMs: 15_000,
      error: { kind: 'timeout', message: 'no answer', intuitTid: null },
    },
    stats: {
      refreshes: 1,
      failures: consecutive,
      retriedOn401: 0,
      consecutiveFailures: consecutive,
      failingSince: iso(-sinceMs),
    },
    ...overrides,
  });
}

const rejected = (connectionId = 'default'): TokenStatus =>
  statusAt(NOW, {
    connection: { id: connectionId, name: 'QuickBooks', companyName: null },
    state: 'reauthorization_required',
    lastRefresh: {
      at: iso(0),
      ok: false,
      trigger: 'scheduled',
      durationMs: 90,
      error: { kind: 'invalid_grant', message: 'refused', intuitTid: '1-628f0be4-5f3a' },
    },
  });

describe('ConditionNotifier', () => {
  it('notifies once per raised condition, not on every status that still shows it', () => {
    const notifier = new ConditionNotifier();
    expect(notifier.update([statusAt(NOW)], NOW, true)).toEqual([]);
    expect(notifier.update([failing(2, 60_000)], NOW, true)).toEqual([]);
    const third = notifier.update([failing(3, 60_000)], NOW, true);
    expect(third.map((n) => n.kind)).toEqual(['refresh_failing']);
    expect(notifier.update([failing(4, 60_000)], NOW, true)).toEqual([]);
    // Ten minutes without an answer: a new condition, a new notice; the old one is not repeated.
    expect(notifier.update([failing(5, 11 * 60_000)], NOW, true).map((n) => n.kind)).toEqual([
      'intuit_unreachable',
    ]);
    // Recovery, then failing again: a change, so a notice again.
    expect(notifier.update([statusAt(NOW)], NOW, true)).toEqual([]);
    expect(notifier.update([failing(3, 60_000)], NOW, true).map((n) => n.kind)).toEqual(['refresh_failing']);
  });

  it('carries the intuit_tid of a refused refresh token, and marks it urgent', () => {
    const [notice] = new ConditionNotifier().update([rejected()], NOW, true);
    expect(notice).toMatchObject({
      kind: 'reconnect_required',
      title: 'Reconnect to QuickBooks',
      urgent: true,
    });
    expect(notice?.body).toContain('intuit_tid: 1-628f0be4-5f3a');
  });

  it('warns when the refresh token has under 14 days left', () => {
    const status = statusAt(NOW);
    if (status.refreshToken) status.refreshToken = { ...status.refreshToken, expiresAt: iso(5 * 86_400_000) };
    expect(new ConditionNotifier().update([status], NOW, true)).toMatchObject([
      { kind: 'refresh_token_expiring', body: expect.stringContaining('5 days') },
    ]);
  });

  it('tells connections apart', () => {
    const notifier = new ConditionNotifier();
    expect(notifier.update([rejected('a')], NOW, true)).toHaveLength(1);
    expect(notifier.update([rejected('a'), rejected('b')], NOW, true).map((n) => n.connectionId)).toEqual([
      'b',
    ]);
  });

  it('shows nothing while turned off, and does not replay old conditions when turned back on', () => {
    const notifier = new ConditionNotifier();
    expect(notifier.update([rejected()], NOW, false)).toEqual([]);
    expect(notifier.current().map((c) => c.kind)).toEqual(['reconnect_required']);
    expect(notifier.update([rejected()], NOW, true)).toEqual([]);
  });
});
