// How a token chain (StoredTokens) comes to be and moves on: from the environment's
// QB_REFRESH_TOKEN, from a new authorization (Connect), from a refresh answer. Pure: times come in
// as arguments, so each rule is tested alone.
import type { IntuitTokenResponse } from './intuit-oauth';
import { fingerprintToken, type StoredTokens } from './token-store';

/** A chain that starts from QB_REFRESH_TOKEN: nothing known yet but the token itself. */
export function chainFromEnvironment(refreshToken: string, realmId: string | null, at: number): StoredTokens {
  return {
    version: 1,
    refreshToken,
    refreshTokenIssuedAt: at,
    lastRotatedAt: null,
    refreshTokenExpiresAt: null,
    refreshTokenHardExpiresAt: null,
    accessToken: null,
    accessTokenExpiresAt: null,
    refreshedAt: null,
    realmId,
    origin: { envRefreshTokenSha256: fingerprintToken(refreshToken) },
  };
}

export interface AuthorizationAnswer {
  accessToken: string;
  refreshToken: string;
  /** Seconds, as the token endpoint said. */
  expiresIn: number;
  refreshExpiresIn: number;
  hardExpiresIn?: number | null;
  realmId: string | null;
}

/**
 * A new authorization (Connect): a new chain, whose 5-year cap is fixed now. `envRefreshToken` is
 * the environment's current value, recorded so it wins only if it changes later (DESIGN rule 6).
 */
export function chainFromAuthorization(
  answer: AuthorizationAnswer,
  envRefreshToken: string | null,
  at: number,
): StoredTokens {
  return {
    version: 1,
    refreshToken: answer.refreshToken,
    refreshTokenIssuedAt: at,
    lastRotatedAt: null,
    refreshTokenExpiresAt: at + answer.refreshExpiresIn * 1000,
    refreshTokenHardExpiresAt: answer.hardExpiresIn != null ? at + answer.hardExpiresIn * 1000 : null,
    accessToken: answer.accessToken,
    accessTokenExpiresAt: at + answer.expiresIn * 1000,
    refreshedAt: at,
    realmId: answer.realmId,
    origin: { envRefreshTokenSha256: envRefreshToken ? fingerprintToken(envRefreshToken) : null },
  };
}

/**
 * The chain after a refresh answer. Expiries count from when the request was sent, on our clock:
 * skew-proof and conservative. The 5-year cap belongs to the authorization, not to a refresh: it is
 * fixed by the first answer that reports it and then kept (re-deriving it from each answer's
 * seconds-left would move it by up to a second each time).
 */
export function chainFromAnswer(
  previous: StoredTokens,
  answer: IntuitTokenResponse,
  sentAt: number,
): StoredTokens {
  const rotated = answer.refreshToken !== previous.refreshToken;
  return {
    ...previous,
    refreshToken: answer.refreshToken,
    refreshTokenIssuedAt: rotated ? sentAt : previous.refreshTokenIssuedAt,
    lastRotatedAt: rotated ? sentAt : previous.lastRotatedAt,
    refreshTokenExpiresAt: sentAt + answer.refreshExpiresIn * 1000,
    refreshTokenHardExpiresAt:
      previous.refreshTokenHardExpiresAt ??
      (answer.hardExpiresIn !== null ? sentAt + answer.hardExpiresIn * 1000 : null),
    accessToken: answer.accessToken,
    accessTokenExpiresAt: sentAt + answer.expiresIn * 1000,
    refreshedAt: sentAt,
  };
}

/** The chain without its access token (Clear); the refresh token is kept. */
export function withoutAccessToken(chain: StoredTokens): StoredTokens {
  return { ...chain, accessToken: null, accessTokenExpiresAt: null };
}

/**
 * Both chains started from the same QB_REFRESH_TOKEN (or both from none): the fingerprint recorded
 * at their start is all that is compared, so two Connects made with the same environment count as one
 * lineage.
 */
export function sameLineage(a: StoredTokens, b: StoredTokens): boolean {
  return a.origin.envRefreshTokenSha256 === b.origin.envRefreshTokenSha256;
}

/** The same tokens and times (the early save and the library's answer built the same chain). */
export function sameChain(a: StoredTokens, b: StoredTokens): boolean {
  return (
    a.refreshToken === b.refreshToken &&
    a.accessToken === b.accessToken &&
    a.accessTokenExpiresAt === b.accessTokenExpiresAt &&
    a.refreshTokenExpiresAt === b.refreshTokenExpiresAt &&
    a.refreshTokenHardExpiresAt === b.refreshTokenHardExpiresAt &&
    a.refreshTokenIssuedAt === b.refreshTokenIssuedAt &&
    a.lastRotatedAt === b.lastRotatedAt &&
    a.refreshedAt === b.refreshedAt &&
    a.realmId === b.realmId &&
    a.origin.envRefreshTokenSha256 === b.origin.envRefreshTokenSha256
  );
}

/**
 * Which chain to start from (DESIGN rule 6): the stored one, unless the environment's refresh
 * token is set and is not the one the stored chain started from (the user reconnected elsewhere).
 */
export function startingChain(
  stored: StoredTokens | null,
  envRefreshToken: string | null,
): 'stored' | 'environment' | 'none' {
  if (
    stored &&
    (envRefreshToken === null || stored.origin.envRefreshTokenSha256 === fingerprintToken(envRefreshToken))
  )
    return 'stored';
  return envRefreshToken ? 'environment' : 'none';
}
