import { describe, expect, it } from 'vitest';
import { compareListOrder, connectionPath, sortWorstFirst, summarizeStatus, worstOf } from './connections';
import type { ConnectionSummary } from './contract';
import { statusAt } from './testing/status-fixture';

const T0 = Date.parse('2026-11-30T12:00:00Z');

function summary(id: string, overrides: Partial<ConnectionSummary> = {}): ConnectionSummary {
  return {
    ...summarizeStatus(statusAt(T0, { connection: { id, name: `Company ${id}`, companyName: null } })),
    ...overrides,
  };
}

describe('connection summaries', () => {
  it('summarize a status: who, where, state, expiries and the last refresh in a line', () => {
    const status = statusAt(T0, {
      connection: { id: '9130', name: 'Acme', companyName: 'Acme Ltd' },
      lastRefresh: {
        at: new Date(T0).toISOString(),
        ok: false,
        trigger: 'scheduled',
        durationMs: 40,
        error: { kind: 'network', message: 'down', intuitTid: null },
      },
    });
    expect(summarizeStatus(status)).toEqual({
      id: '9130',
      name: 'Acme',
      companyName: 'Acme Ltd',
      environment: 'sandbox',
      realmId: status.realmId,
      state: 'valid',
      accessTokenExpiresAt: status.accessToken?.expiresAt,
      refreshTokenExpiresAt: status.refreshToken?.expiresAt,
      lastRefresh: { at: new Date(T0).toISOString(), ok: false, errorKind: 'network' },
      isDefault: false,
      demo: false,
    });
    expect(summarizeStatus(statusAt(T0)).isDefault).toBe(true);
  });

  it('order worst first: reconnect, expired, failing, expiring, ..., valid; then the soonest expiry', () => {
    const soon = new Date(T0 + 60_000).toISOString();
    const later = new Date(T0 + 3_600_000).toISOString();
    const list = [
      summary('valid-later', { accessTokenExpiresAt: later }),
      summary('expiring', { state: 'expiring' }),
      summary('valid-soon', { accessTokenExpiresAt: soon }),
      summary('failing', { lastRefresh: { at: later, ok: false, errorKind: 'server' } }),
      summary('reconnect', { state: 'reauthorization_required' }),
      summary('expired', { state: 'expired' }),
      summary('no-token', { state: 'no_token', accessTokenExpiresAt: null }),
    ];
    expect(sortWorstFirst(list).map((c) => c.id)).toEqual([
      'reconnect',
      'expired',
      'failing',
      'expiring',
      'no-token',
      'valid-soon',
      'valid-later',
    ]);
    expect(worstOf(list)?.id).toBe('reconnect');
    expect(worstOf([])).toBeNull();
  });

  it('list order: the default connection first, then by name', () => {
    const list = [
      summary('b', { name: 'Beta' }),
      summary('default', { isDefault: true, name: 'Zed' }),
      summary('a', { name: 'Alpha' }),
    ];
    expect([...list].sort(compareListOrder).map((c) => c.id)).toEqual(['default', 'a', 'b']);
  });

  it('per-connection paths encode the id', () => {
    expect(connectionPath('9130', 'refreshToken')).toBe(
      '/api/integrations/quickbooks/connections/9130/refresh-token',
    );
    expect(connectionPath('a b')).toBe('/api/integrations/quickbooks/connections/a%20b');
  });
});
