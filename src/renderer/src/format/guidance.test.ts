import { describe, expect, it } from 'vitest';
import { REFRESH_ERROR_KINDS } from '../../../shared/contract';
import { errorKindLabel, guidanceFor, isTransient } from './guidance';

const T0 = Date.parse('2026-11-27T12:00:00Z');
const scheduled = { enabled: true, nextRefreshAt: new Date(T0 + 30_000).toISOString(), retrying: null };

describe('guidanceFor', () => {
  it('tells the admin to reconnect after invalid_grant', () => {
    const g = guidanceFor({ kind: 'invalid_grant' }, scheduled, T0);
    expect(g.action).toBe('reconnect');
    expect(g.title).toMatch(/reconnect/i);
  });

  it('points at the keys and the environment after invalid_client', () => {
    const g = guidanceFor({ kind: 'invalid_client' }, scheduled, T0);
    expect(g.action).toBe('check-configuration');
    expect(g.text).toContain('QB_CLIENT_ID');
    expect(g.text).toContain('QB_ENVIRONMENT');
  });

  it('says when a transient failure is retried, with the attempt', () => {
    const g = guidanceFor({ kind: 'server' }, { ...scheduled, retrying: { attempt: 2, maxAttempts: 5 } }, T0);
    expect(g.action).toBe('wait');
    expect(g.title).toMatch(/retrying/i);
    expect(g.text).toContain('in 30s');
    expect(g.text).toContain('attempt 2 of 5');
  });

  it('says a back-off retry is under way when no time is scheduled yet', () => {
    const g = guidanceFor(
      { kind: 'timeout' },
      { enabled: true, nextRefreshAt: null, retrying: { attempt: 3, maxAttempts: 4 } },
      T0,
    );
    expect(g.text).toContain('Retrying now with back-off (attempt 3 of 4)');
  });

  it('says retries stopped when nothing is scheduled', () => {
    const g = guidanceFor({ kind: 'network' }, { enabled: false, nextRefreshAt: null, retrying: null }, T0);
    expect(g.text).toMatch(/Refresh now/);
  });

  it('has a label for every kind, and only the terminal kinds are not transient', () => {
    for (const kind of REFRESH_ERROR_KINDS) expect(errorKindLabel(kind)).not.toBe(kind);
    expect(REFRESH_ERROR_KINDS.filter((k) => !isTransient(k))).toEqual(['invalid_grant', 'invalid_client']);
  });
});
