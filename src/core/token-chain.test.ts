// How a chain starts and moves on, alone: the 5-year cap is fixed once per authorization, expiries
// count from when the request was sent, rotation is dated, and rule 6 picks the starting chain.
import { describe, expect, it } from 'vitest';
import type { IntuitTokenResponse } from './intuit-oauth';
import {
  chainFromAnswer,
  chainFromAuthorization,
  chainFromEnvironment,
  sameChain,
  sameLineage,
  startingChain,
  withoutAccessToken,
} from './token-chain';
import { fingerprintToken } from './token-store';

const T0 = Date.parse('2026-11-30T10:00:00.000Z');
const ENV = 'RT-env-refresh-token-0000';

const answer = (overrides: Partial<IntuitTokenResponse> = {}): IntuitTokenResponse => ({
  accessToken: 'AT-answer-0000-aaaa',
  refreshToken: ENV,
  expiresIn: 3600,
  refreshExpiresIn: 8_726_400,
  hardExpiresIn: 157_680_000,
  intuitTid: '1-tid',
  ...overrides,
});

describe('the 5-year cap', () => {
  it('is fixed by the first answer that reports it and not moved by later ones', () => {
    const start = chainFromEnvironment(ENV, '123', T0);
    expect(start.refreshTokenHardExpiresAt).toBeNull();
    const first = chainFromAnswer(start, answer(), T0);
    expect(first.refreshTokenHardExpiresAt).toBe(T0 + 157_680_000_000);
    // An hour later Intuit reports 3,599 s less (rounded): re-deriving would move the cap.
    const later = chainFromAnswer(first, answer({ hardExpiresIn: 157_676_400 - 1 }), T0 + 3_600_500);
    expect(later.refreshTokenHardExpiresAt).toBe(first.refreshTokenHardExpiresAt);
    // An answer without it leaves it as it was.
    expect(
      chainFromAnswer(later, answer({ hardExpiresIn: null }), T0 + 7_200_000).refreshTokenHardExpiresAt,
    ).toBe(first.refreshTokenHardExpiresAt);
  });

  it('starts anew with a new authorization (Connect)', () => {
    const connected = chainFromAuthorization(
      { ...answer(), refreshToken: 'RT-new-authorization-0000', realmId: '456', hardExpiresIn: 157_680_000 },
      null,
      T0 + 86_400_000,
    );
    expect(connected.refreshTokenHardExpiresAt).toBe(T0 + 86_400_000 + 157_680_000_000);
    expect(connected.origin.envRefreshTokenSha256).toBeNull();
    expect(
      chainFromAuthorization({ ...answer(), realmId: null, hardExpiresIn: null }, ENV, T0)
        .refreshTokenHardExpiresAt,
    ).toBeNull();
  });
});

describe('an answer', () => {
  it('counts expiries from when the request was sent and dates a rotation', () => {
    const start = chainFromEnvironment(ENV, '123', T0 - 1000);
    const same = chainFromAnswer(start, answer(), T0);
    expect(same).toMatchObject({
      accessTokenExpiresAt: T0 + 3_600_000,
      refreshTokenExpiresAt: T0 + 8_726_400_000,
      refreshedAt: T0,
      lastRotatedAt: null,
      refreshTokenIssuedAt: T0 - 1000,
    });
    const rotated = chainFromAnswer(same, answer({ refreshToken: 'RT-rotated-0000' }), T0 + 5000);
    expect(rotated).toMatchObject({ lastRotatedAt: T0 + 5000, refreshTokenIssuedAt: T0 + 5000 });
    expect(sameLineage(rotated, start)).toBe(true);
  });

  it('Clear drops only the access token', () => {
    const chain = chainFromAnswer(chainFromEnvironment(ENV, null, T0), answer(), T0);
    expect(withoutAccessToken(chain)).toEqual({ ...chain, accessToken: null, accessTokenExpiresAt: null });
    expect(sameChain(chain, withoutAccessToken(chain))).toBe(false);
    expect(sameChain(chain, { ...chain })).toBe(true);
  });
});

describe('which chain to start from (rule 6)', () => {
  const stored = chainFromAnswer(
    chainFromEnvironment(ENV, null, T0),
    answer({ refreshToken: 'RT-rotated-1' }),
    T0,
  );

  it('the stored chain, unless the environment names a refresh token it did not start from', () => {
    expect(stored.origin.envRefreshTokenSha256).toBe(fingerprintToken(ENV));
    expect(startingChain(stored, ENV)).toBe('stored');
    expect(startingChain(stored, null)).toBe('stored');
    expect(startingChain(stored, 'RT-reconnected-elsewhere')).toBe('environment');
    expect(startingChain(null, ENV)).toBe('environment');
    expect(startingChain(null, null)).toBe('none');
  });
});
