// Test helpers: the default connection's chain in a data directory, read and written through the
// real FileConnectionStore (what a previous run left, what a run left behind).
import { join } from 'node:path';
import { DEFAULT_CONNECTION_ID } from '../../shared/contract';
import { defaultProfile, newConnectionRecord, type ConnectionRecord } from '../connection-record';
import { CONNECTIONS_DIR_NAME, FileConnectionStore } from '../file-connection-store';
import { fingerprintToken, type StoredTokens } from '../token-store';

/** Where the default connection's record lives in a data directory. */
export function defaultRecordPath(dataDir: string): string {
  return join(dataDir, CONNECTIONS_DIR_NAME, `${DEFAULT_CONNECTION_ID}.json`);
}

export async function readStoredRecord(
  dataDir: string,
  storeKey: string | null = null,
): Promise<{ record: ConnectionRecord | null; tokens: StoredTokens | null; warnings: string[] }> {
  const store = new FileConnectionStore({ dataDir, storeKey });
  try {
    const { record, warnings } = await store.load(DEFAULT_CONNECTION_ID);
    return { record, tokens: record?.tokens ?? null, warnings };
  } finally {
    await store.close();
  }
}

/** Writes a default-connection record holding `tokens`, as a previous run would have. */
export async function seedStoredChain(
  dataDir: string,
  tokens: StoredTokens,
  storeKey: string | null = null,
): Promise<string> {
  const store = new FileConnectionStore({ dataDir, storeKey });
  try {
    await store.open();
    const record = newConnectionRecord(
      DEFAULT_CONNECTION_ID,
      defaultProfile('sandbox', tokens.realmId),
      tokens,
    );
    await store.save({ ...record, revision: 1 });
  } finally {
    await store.close();
  }
  return defaultRecordPath(dataDir);
}

/** A stored chain with fixed, token-shaped values (realm 123), taken as set from the environment. */
export const fixtureTokens = (refreshToken = 'RT-value-0123456789-abcd'): StoredTokens => ({
  version: 1,
  refreshToken,
  refreshTokenIssuedAt: 1,
  lastRotatedAt: null,
  refreshTokenExpiresAt: 2,
  refreshTokenHardExpiresAt: null,
  accessToken: 'AT-value-0123456789-efgh',
  accessTokenExpiresAt: 3,
  refreshedAt: 1,
  realmId: '123',
  origin: { envRefreshTokenSha256: fingerprintToken(refreshToken) },
});
