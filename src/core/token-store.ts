// The token chain as every store keeps it inside a connection's record (connection-record.ts),
// its schema, and the fingerprint that stands for a token value wherever one must be compared
// without being kept (the environment's token a chain started from, the in-flight note).
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** The persisted token chain. Times are ms since epoch. Never log this object. */
export interface StoredTokens {
  /** Record layout version, for future migrations. */
  version: 1;
  refreshToken: string;
  /** When Intuit issued this refresh token value (the last rotation), or when we first stored it. */
  refreshTokenIssuedAt: number;
  /** When a refresh last returned a different refresh token value; null when it never rotated here. */
  lastRotatedAt: number | null;
  /** Rolling expiry of the refresh token (about 100 days after issue); null when unknown. */
  refreshTokenExpiresAt: number | null;
  /** Absolute 5-year cap; null when Intuit has not told us. */
  refreshTokenHardExpiresAt: number | null;
  /** The last access token, so a restart does not need a refresh. Null after `clear`. */
  accessToken: string | null;
  accessTokenExpiresAt: number | null;
  /** When the last successful refresh happened (adopted or own). */
  refreshedAt: number | null;
  realmId: string | null;
  /**
   * sha256 (hex) of the environment's QB_REFRESH_TOKEN this chain started from, or null when the
   * chain came from the Connect flow. If the environment's value changes, the user reconnected
   * and the environment wins (DESIGN rule 6).
   */
  origin: { envRefreshTokenSha256: string | null };
}

/** The fingerprint kept in `origin.envRefreshTokenSha256`: never the value itself. */
export function fingerprintToken(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** The note a process leaves while a token call is in flight (no token value in it). */
export interface RefreshInFlightNote {
  /** When the token call started, ms since epoch. */
  startedAt: number;
  /** fingerprintToken() of the refresh token it sent. */
  refreshTokenSha256: string;
}

/** Validates a record read back from any store before it is trusted. */
export const storedTokensSchema = z.object({
  version: z.literal(1),
  refreshToken: z.string().min(1),
  refreshTokenIssuedAt: z.number(),
  lastRotatedAt: z.number().nullable(),
  refreshTokenExpiresAt: z.number().nullable(),
  refreshTokenHardExpiresAt: z.number().nullable(),
  accessToken: z.string().min(1).nullable(),
  accessTokenExpiresAt: z.number().nullable(),
  refreshedAt: z.number().nullable(),
  realmId: z.string().nullable(),
  origin: z.object({ envRefreshTokenSha256: z.string().nullable() }),
}) satisfies z.ZodType<StoredTokens>;
