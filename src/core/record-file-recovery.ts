// What the file store does with a record file it cannot use as it is, so that no refresh token is
// lost: a file that is not a record is moved aside, never deleted (it may hold the only valid
// refresh token); a copy a failed save left in a rescue directory (fs/save-rescue.ts) wins over an
// older record and is moved back, but only under the connection's lock, so no refresh races it.
import { renameSync } from 'node:fs';
import type { ConnectionRecord } from './connection-record';
import type { DurableRecordFile } from './fs/durable-record-file';
import type { LogFn } from './log';

/** A rescued copy newer than the record in place. */
interface RescuedCopy {
  record: ConnectionRecord;
  body: Buffer;
  path: string;
}

/**
 * Renames an unreadable file to `<path>.corrupt-<time>` (call it under the file's lock); returns the
 * warning it logged. A file already gone (a process not holding the lock moved it) is nothing to move.
 */
export function moveAside(path: string, why: string, log: LogFn): string {
  const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const gone = `The token store record ${path} could not be read (${why}); it was gone when it was to be moved aside (another process moved it). Carrying on from the environment's token.`;
    log(gone);
    return gone;
  }
  const warning = `The token store record ${path} could not be read (${why}) and was moved aside to ${aside}; carrying on from the environment's token.`;
  log(warning);
  return warning;
}

/**
 * The rescued record when it is newer than the stored one; an older rescue file is dropped (only
 * while the lock is held). `decode` reads a rescued body as the record file it was meant to be.
 */
export function takeRescued(
  file: DurableRecordFile,
  stored: ConnectionRecord | null,
  locked: boolean,
  decode: (text: string, path: string) => ConnectionRecord,
  warnings: string[],
): RescuedCopy | null {
  const found = file.findRescued();
  if (!found) return null;
  let rescued: ConnectionRecord;
  try {
    rescued = decode(found.body.toString('utf8'), found.path);
  } catch (err) {
    warnings.push(
      `A rescued copy of the tokens in ${found.path} could not be read (${(err as Error).message}); it was left as it is.`,
    );
    return null;
  }
  if (stored && stored.revision >= rescued.revision) {
    if (locked) file.clearRescued();
    return null;
  }
  return { record: rescued, body: found.body, path: found.path };
}

/**
 * Puts the rescued copy back in the record's place when the lock is held and the file can be
 * written; otherwise it is served from where it is, and a warning says so.
 */
export async function moveBack(
  file: DurableRecordFile,
  rescued: RescuedCopy,
  locked: boolean,
  log: LogFn,
  warnings: string[],
): Promise<ConnectionRecord> {
  if (locked) {
    try {
      await file.writeOnce(rescued.body);
      file.clearRescued();
      const line = `The latest tokens had been saved to ${rescued.path} because ${file.path} could not be written; they are back in ${file.path}.`;
      log(line);
      warnings.push(line);
      return rescued.record;
    } catch (err) {
      log(`Moving the rescued tokens back failed (${(err as NodeJS.ErrnoException).code ?? 'error'}).`);
    }
  }
  warnings.push(
    `The latest tokens are in ${rescued.path} (${file.path} could not be written when they were issued); they are moved back once it can be.`,
  );
  return rescued.record;
}
