// Where the token chain lives between runs. The engine (TokenManager) talks only to this
// interface; FileTokenStore (Node: CLI, headless) and the desktop store (electron-store +
// safeStorage, src/main/store.ts) implement it.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ConnectionStoreDescription } from './connection-store';

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

export interface TokenStoreLoadResult {
  tokens: StoredTokens | null;
  /** Plain sentences for the status (e.g. "the store could not be decrypted and was moved aside"). */
  warnings: string[];
}

/** The note a process leaves while a token call is in flight (no token value in it). */
export interface RefreshInFlightNote {
  /** When the token call started, ms since epoch. */
  startedAt: number;
  /** fingerprintToken() of the refresh token it sent. */
  refreshTokenSha256: string;
}

export interface TokenStore {
  /**
   * Reads the chain. A corrupt store is moved aside (never deleted) and reported in `warnings`; one that
   * cannot be decrypted (QB_STORE_KEY wrong or missing) is left in place and StoreKeyError thrown.
   */
  load(): Promise<TokenStoreLoadResult>;
  /** Durable before it resolves (atomic write + fsync, or the platform's equivalent). */
  save(tokens: StoredTokens): Promise<void>;
  /** Drops everything (disconnect). */
  forget(): Promise<void>;
  /**
   * Runs `fn` while holding a lock shared by every process using the same store
   * (CLI, headless server, desktop app). Stores without a shared location may use an in-process lock.
   */
  withRefreshLock<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Optional: notes, before a token call, that a refresh with this refresh token is in flight; dropped by
   * `endRefresh` once its outcome is handled (the new chain saved, or a failure). A process stopped in
   * between leaves the note, so the next start can tell the user why the stored token is rejected.
   */
  beginRefresh?(note: RefreshInFlightNote): void;
  endRefresh?(): void;
  /** Optional: the note a previous process left (a refresh it never finished), or null. */
  interruptedRefresh?(): Promise<RefreshInFlightNote | null>;
  /** Standing warnings about the store itself ("kept in plaintext", "memory only"). */
  readonly warnings: readonly string[];
  /** Optional: a human description of where the tokens live (path), for status/CLI. */
  readonly location?: string;
  /** Optional: what kind of store this is and where, for TokenStatus.store. */
  readonly description?: ConnectionStoreDescription;
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
