// The upgrade of a store written by the single-connection version (0.1): its `qb-tokens.json`
// becomes the default connection's record with its chain intact, and its refresh-in-flight note
// follows it.
import { existsSync, renameSync } from 'node:fs';
import { z } from 'zod';
import type { ConnectionId, QbEnvironment } from '../shared/contract';
import { defaultProfile, newConnectionRecord, type ConnectionRecord } from './connection-record';
import { DurableRecordFile } from './fs/durable-record-file';
import type { LogFn } from './log';
import { decodeRecordFile, parseRecordJson, UnreadableRecord } from './record-file-format';
import { moveAside } from './record-file-recovery';
import { withFileLock } from './refresh-lock';
import { REFRESHING_NOTE_SUFFIX } from './refresh-note';
import { missingKeyError, sealedSchema, type StoreCipher } from './store-crypto';
import { storedTokensSchema, type StoredTokens } from './token-store';

/** The single-connection store of 0.1; upgraded into the default connection's record by open(). */
export const LEGACY_STORE_FILE_NAME = 'qb-tokens.json';
const LEGACY_FORMAT = 'qb-token-desk/tokens-v1';

const legacySchema = z.discriminatedUnion('encrypted', [
  z.object({ format: z.literal(LEGACY_FORMAT), encrypted: z.literal(false), tokens: z.unknown() }),
  sealedSchema.extend({ format: z.literal(LEGACY_FORMAT), encrypted: z.literal(true) }),
]);

/** What the upgrade needs of the file store it upgrades into. */
interface LegacyUpgradeTarget {
  dataDir: string;
  cipher: StoreCipher | null;
  log: LogFn;
  lockWaitMs: number;
  lockStaleMs: number;
  /** The profile the default connection gets: the environment the QB_* variables name. */
  environment: QbEnvironment;
  file(id: ConnectionId): DurableRecordFile;
  withLock<T>(id: ConnectionId, fn: () => Promise<T>): Promise<T>;
  save(record: ConnectionRecord): Promise<void>;
  /** A warning for the default connection's next load (an unreadable 0.1 store moved aside). */
  warn(line: string): void;
}

/**
 * Under the 0.1 lock (a 0.1 process may be refreshing) and the new one; the old file goes only once
 * the new one is durable. A plaintext 0.1 file with a key configured comes out sealed; an encrypted
 * one without the right key stops here (StoreKeyError), untouched.
 */
export async function upgradeLegacyStore(target: LegacyUpgradeTarget): Promise<void> {
  const { log } = target;
  const legacy = new DurableRecordFile({ dir: target.dataDir, fileName: LEGACY_STORE_FILE_NAME, log });
  await withFileLock(legacy.realPath(), { waitMs: target.lockWaitMs, staleMs: target.lockStaleMs, log }, () =>
    target.withLock('default', async () => {
      const body = legacy.read();
      if (!body) return; // another process upgraded it
      const file = target.file('default');
      if (!file.read()) {
        let tokens: StoredTokens;
        try {
          tokens = decodeLegacy(body.toString('utf8'), legacy.path, target.cipher);
        } catch (err) {
          if (!(err instanceof UnreadableRecord)) throw err;
          // As 0.1 did with a file it could not read: aside, never deleted.
          target.warn(moveAside(legacy.realPath(), err.message, log));
          return;
        }
        const record = newConnectionRecord(
          'default',
          defaultProfile(target.environment, tokens.realmId),
          tokens,
        );
        await target.save({ ...record, revision: 1 });
        const legacyNote = `${legacy.realPath()}${REFRESHING_NOTE_SUFFIX}`;
        if (existsSync(legacyNote)) renameSync(legacyNote, `${file.realPath()}${REFRESHING_NOTE_SUFFIX}`);
        log(`Upgraded the single-connection token store ${legacy.path} to ${file.path}.`);
      } else if (!holdsSameChain(body, legacy.path, file.read(), target)) {
        // Upgraded before, yet here again with another chain: a 0.1 process still running has saved
        // a rotated token, perhaps the only valid one. Kept, aside; never deleted.
        const aside = `${legacy.realPath()}.not-upgraded-${new Date().toISOString().replace(/[:.]/g, '-')}`;
        renameSync(legacy.realPath(), aside);
        const line = `The single-connection token store ${legacy.path} reappeared after the upgrade with other tokens than ${file.path} (a 0.1 process still running may have refreshed them); it was moved to ${aside}, not deleted. Stop the 0.1 process; if the connection's refresh token is rejected, reconnect.`;
        log(line);
        target.warn(line);
        return;
      }
      // The new record is durable (save() fsynced it and the directory) and holds the old file's
      // chain: the old file can go.
      await legacy.remove();
    }),
  );
}

/** True when the 0.1 file holds the refresh token the default connection's record holds now. */
function holdsSameChain(
  legacyBody: Buffer,
  legacyPath: string,
  recordBody: Buffer | null,
  target: LegacyUpgradeTarget,
): boolean {
  try {
    const tokens = decodeLegacy(legacyBody.toString('utf8'), legacyPath, target.cipher);
    const file = target.file('default');
    const record = decodeRecordFile(
      recordBody?.toString('utf8') ?? '',
      'default',
      file.path,
      target.cipher,
    ).record;
    return record.tokens?.refreshToken === tokens.refreshToken;
  } catch {
    // Either cannot be read (or not with this key): nothing tells they are the same.
    return false;
  }
}

function decodeLegacy(text: string, path: string, cipher: StoreCipher | null): StoredTokens {
  const envelope = legacySchema.safeParse(parseRecordJson(text));
  if (!envelope.success) throw new UnreadableRecord('not a token store file of version 0.1');
  let inner: unknown;
  if (envelope.data.encrypted) {
    if (!cipher) throw missingKeyError(path);
    inner = JSON.parse(cipher.open(envelope.data, LEGACY_FORMAT, path));
  } else {
    inner = envelope.data.tokens;
  }
  const tokens = storedTokensSchema.safeParse(inner);
  if (!tokens.success) throw new UnreadableRecord('its token record is incomplete');
  return tokens.data as StoredTokens;
}
