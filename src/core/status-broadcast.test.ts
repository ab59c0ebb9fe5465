// The status push: when time alone changes the status (nextStatusBoundary, pure), the broadcast's
// fan-out and boundary timer on a manual clock, and the engine announcing expiring and expired when
// no refresh is scheduled to act (emulator over real loopback HTTP).
import { describe, expect, it } from 'vitest';
import { nextStatusBoundary, StatusBroadcast } from './status-broadcast';
import { harnessPerTest } from './testing/engine-harness';
import { ManualClock } from './testing/manual-clock';
import type { EnvironmentAccessToken } from './token-status';
import type { StoredTokens } from './token-store';

const NOW = Date.parse('2026-12-01T09:00:00Z');
const HOUR = 3600_000;
const SKEW_S = 300;

function chainExpiringAt(expiresAt: number, refreshedAt = expiresAt - HOUR): StoredTokens {
  return {
    version: 1,
    refreshToken: 'refresh-token-value-0001',
    refreshTokenIssuedAt: refreshedAt,
    lastRotatedAt: null,
    refreshTokenExpiresAt: expiresAt + 100 * 86_400_000,
    refreshTokenHardExpiresAt: null,
    accessToken: 'access-token-value-0001',
    accessTokenExpiresAt: expiresAt,
    refreshedAt,
    realmId: '9130350000000001',
    origin: { envRefreshTokenSha256: null },
  };
}

const cached = { environmentAccessToken: null, environmentFallback: false };

describe('nextStatusBoundary', () => {
  it('is the skew window, then the expiry, of the cached token', () => {
    const expiresAt = NOW + HOUR;
    const chain = chainExpiringAt(expiresAt);
    const at = (now: number) =>
      nextStatusBoundary({ chain, facts: cached, now, skewSeconds: SKEW_S, refreshAt: null });
    expect(at(NOW)).toBe(expiresAt - SKEW_S * 1000);
    expect(at(expiresAt - SKEW_S * 1000)).toBe(expiresAt);
    expect(at(expiresAt)).toBeNull();
  });

  it('leaves the boundary to a refresh timer due no later', () => {
    const expiresAt = NOW + HOUR;
    const chain = chainExpiringAt(expiresAt);
    const boundary = expiresAt - SKEW_S * 1000;
    const input = { chain, facts: cached, now: NOW, skewSeconds: SKEW_S };
    expect(nextStatusBoundary({ ...input, refreshAt: boundary })).toBeNull();
    expect(nextStatusBoundary({ ...input, refreshAt: boundary + 1 })).toBe(boundary);
  });

  it("follows the environment's token while it stands in, and nothing when no token is served", () => {
    const env: EnvironmentAccessToken = {
      value: 'env-access-token-value',
      expiresAt: NOW + HOUR,
      usable: true,
    };
    const serving = { environmentAccessToken: env, environmentFallback: true };
    const input = { chain: null, now: NOW, skewSeconds: SKEW_S, refreshAt: null };
    expect(nextStatusBoundary({ ...input, facts: serving })).toBe(env.expiresAt - SKEW_S * 1000);
    expect(nextStatusBoundary({ ...input, facts: cached })).toBeNull();
  });
});

describe('StatusBroadcast', () => {
  function broadcast(clock: ManualClock, boundary: number | null) {
    const logged: string[] = [];
    let sent = 0;
    let boundaries = 0;
    const b = new StatusBroadcast<number>({
      timers: clock.timers,
      now: clock.now,
      log: (line) => logged.push(line),
      status: () => (sent += 1),
      nextBoundary: (now) => (boundary !== null && boundary > now ? boundary : null),
      onBoundary: () => {
        boundaries += 1;
      },
    });
    return { b, logged, boundaries: () => boundaries };
  }

  it('sends each change to every listener; one that throws is logged and the others still hear it', () => {
    const clock = new ManualClock(NOW);
    const { b, logged } = broadcast(clock, null);
    const heard: number[] = [];
    const off = b.subscribe((status) => heard.push(status));
    b.subscribe(() => {
      throw new Error('listener broke');
    });
    b.emit();
    b.emit();
    off();
    b.emit();
    expect(heard).toEqual([1, 2]);
    expect(logged).toEqual(Array(3).fill('A status listener threw: listener broke'));
  });

  it('waits for the boundary only while someone listens, and announces it just after', () => {
    const clock = new ManualClock(NOW);
    const { b, boundaries } = broadcast(clock, NOW + 1000);
    b.emit();
    expect(clock.pendingCount).toBe(0);
    const off = b.subscribe(() => undefined);
    expect(clock.nextDue()).toBe(NOW + 1001);
    clock.advance(1000);
    expect(boundaries()).toBe(0);
    clock.advance(1);
    expect(boundaries()).toBe(1);
    off();
    b.emit();
    expect(clock.pendingCount).toBe(0);
    b.subscribe(() => undefined);
    b.close();
    expect(clock.pendingCount).toBe(0);
  });
});

describe('the engine announcing what time changes', () => {
  const setup = harnessPerTest();

  it('emits expiring and expired when no refresh is scheduled to act (keys rejected)', async () => {
    const h = await setup();
    const clock = new ManualClock();
    const manager = await h.manager({ now: clock.now, timers: clock.timers, retry: { maxAttempts: 1 } });
    await manager.getAccessToken();
    h.emulator.control.injectTokenFault({ kind: 'invalid_client' });
    await manager.refresh('manual').catch(() => undefined);
    const states: string[] = [];
    manager.onStatusChanged((status) => states.push(status.state));
    expect(manager.getStatus().autoRefresh.enabled).toBe(false);
    clock.advance(3600_000 - 300_000 + 1);
    expect(states).toEqual(['expiring']);
    clock.advance(300_000);
    expect(states).toEqual(['expiring', 'expired']);
    expect(clock.pendingCount).toBe(0);
  });
});
