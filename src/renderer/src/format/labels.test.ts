import { describe, expect, it } from 'vitest';
import { verdictFor } from './labels';
import { statusAt } from '../../../shared/testing/status-fixture';

const T0 = Date.parse('2026-11-27T12:00:00Z');

describe('verdictFor', () => {
  it('is good when tokens are valid and refreshed', () => {
    expect(verdictFor(statusAt(T0), T0)).toMatchObject({
      tone: 'good',
      headline: 'QuickBooks will keep working',
    });
  });

  it('is bad when the store cannot be used as configured, and names what to fix', () => {
    const problem = 'The stored tokens could not be decrypted with this QB_STORE_KEY.';
    const base = statusAt(T0);
    if (!base.store) throw new Error('the fixture has a store');
    const status = statusAt(T0, { store: { ...base.store, misconfigured: true, problem } });
    expect(verdictFor(status, T0)).toMatchObject({ tone: 'bad', detail: problem });
    // Once the token has expired the state is not_configured; the page must not send the user to Connect.
    const expired = statusAt(T0, {
      state: 'not_configured',
      accessToken: null,
      store: { ...base.store, misconfigured: true, problem },
    });
    expect(verdictFor(expired, T0)).toMatchObject({ tone: 'bad', detail: problem });
  });

  it('warns while the store cannot be reached, saying the valid token is still served', () => {
    const base = statusAt(T0);
    if (!base.store) throw new Error('the fixture has a store');
    const status = statusAt(T0, {
      store: { ...base.store, reachable: false, problem: 'PostgreSQL (QB_STORE_URL) does not answer.' },
    });
    const verdict = verdictFor(status, T0);
    expect(verdict).toMatchObject({ tone: 'warn', headline: 'The token store cannot be reached' });
    expect(verdict.detail).toContain('PostgreSQL (QB_STORE_URL) does not answer.');
    expect(verdict.detail).toContain('served from memory');
  });

  it('is bad when a reconnect is required', () => {
    expect(verdictFor(statusAt(T0, { state: 'reauthorization_required' }), T0).tone).toBe('bad');
  });

  it('warns while a refresh is failing', () => {
    const status = statusAt(T0, {
      lastRefresh: {
        at: new Date(T0).toISOString(),
        ok: false,
        trigger: 'scheduled',
        durationMs: 5,
        error: { kind: 'server', message: 'Intuit answered HTTP 500.', intuitTid: '1-abc' },
      },
    });
    expect(verdictFor(status, T0)).toMatchObject({ tone: 'warn', detail: 'Intuit answered HTTP 500.' });
  });

  it('warns when the refresh token has under 14 days left', () => {
    const status = statusAt(T0, {
      refreshToken: {
        preview: '…x',
        source: 'stored',
        expiresAt: new Date(T0 + 13.5 * 86_400_000).toISOString(),
        hardExpiresAt: null,
        lastRotatedAt: null,
        rejectedAt: null,
      },
    });
    const verdict = verdictFor(status, T0);
    expect(verdict.tone).toBe('warn');
    expect(verdict.headline).toContain('13 days');
  });

  it('explains how to configure when nothing is configured', () => {
    const verdict = verdictFor(statusAt(T0, { state: 'not_configured', canConnect: false }), T0);
    expect(verdict.detail).toContain('QB_CLIENT_ID');
  });
  it('is neutral, not alarmed, when no access token is cached (after Clear cache)', () => {
    const verdict = verdictFor(statusAt(T0, { state: 'no_token', accessToken: null }), T0);
    expect(verdict).toEqual({
      tone: 'neutral',
      headline: 'No access token cached',
      detail: 'The next call fetches one; the refresh token is kept.',
    });
  });
  it('says "retrying" only while a retry is scheduled', () => {
    const failed = {
      at: new Date(T0).toISOString(),
      ok: false,
      trigger: 'manual' as const,
      durationMs: 5,
      error: { kind: 'network' as const, message: 'Intuit could not be reached.', intuitTid: null },
    };
    expect(verdictFor(statusAt(T0, { lastRefresh: failed }), T0).headline).toBe('Refresh failing: retrying');
    const stopped = statusAt(T0, {
      lastRefresh: failed,
      autoRefresh: { enabled: true, nextRefreshAt: null, skewSeconds: 300, retrying: null },
    });
    expect(verdictFor(stopped, T0).headline).toBe('Refresh failing: use Refresh now to try again');
  });
});
