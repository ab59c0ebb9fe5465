// Where the PostgreSQL store puts a rotated chain the server would not take. Intuit retires the old
// refresh token as soon as it issues a new one, so a write that keeps failing because the server
// cannot be reached (after the store's bounded retry) must not leave the chain in memory only: a
// one-shot CLI run would end with it. It goes to a rescue file (fs/save-rescue.ts: private
// directories, durable writes, files another user could plant ignored), encoded as a record file
// (record-file-format.ts, the chain sealed with QB_STORE_KEY when set), keyed by the database
// (host:port/database as QB_STORE_URL names it) and the connection. The store's load() puts it back.
import type { ConnectionId } from '../../shared/contract';
import { isValidConnectionId } from '../../shared/ids';
import type { ConnectionRecord } from '../connection-record';
import type { StoreUnavailableError } from '../errors';
import { rescueFailedSave, SaveRescue } from '../fs/save-rescue';
import type { LogFn } from '../log';
import { decodeRecordFile, encodeRecordFile } from '../record-file-format';
import type { StoreCipher } from '../store-crypto';

/** A rescue file found: its record, or why it could not be read (it is then left as it is). */
export type FoundRescue =
  { path: string; record: ConnectionRecord } | { path: string; record: null; problem: string };

export class PgSaveRescue {
  constructor(
    /** `host:port/database`: the rescue files of one database, whichever process wrote them. */
    private readonly location: string,
    private readonly cipher: StoreCipher | null,
    private readonly log: LogFn,
    private readonly dirs?: readonly string[],
  ) {}

  /** Writes `record` to a rescue file; returns the error for save() to throw (see rescueFailedSave). */
  rescue(record: ConnectionRecord, cause: StoreUnavailableError): StoreUnavailableError {
    // An id that could not be a file name was never given to the engine; its error stands as it is.
    if (!isValidConnectionId(record.id)) return cause;
    const body = Buffer.from(JSON.stringify(encodeRecordFile(record, this.cipher)), 'utf8');
    return rescueFailedSave(
      this.files(record.id),
      body,
      cause,
      `puts them back in PostgreSQL (${this.location}) once it answers`,
      this.log,
    );
  }

  /** The newest trusted rescue file of connection `id`, or null. */
  find(id: ConnectionId): FoundRescue | null {
    if (!isValidConnectionId(id)) return null;
    const found = this.files(id).find();
    if (!found) return null;
    try {
      const { record } = decodeRecordFile(found.body.toString('utf8'), id, found.path, this.cipher);
      return { path: found.path, record };
    } catch (err) {
      // Another key, another version's layout, a damaged file: kept for whoever can read it.
      return { path: found.path, record: null, problem: (err as Error).message };
    }
  }

  /** Removes every rescue file of connection `id` (its chain is in PostgreSQL, or superseded there). */
  clear(id: ConnectionId): void {
    if (!isValidConnectionId(id)) return;
    this.files(id).removeAll();
  }

  private files(id: ConnectionId): SaveRescue {
    return new SaveRescue(`postgresql:${this.location}`, `${id}.json`, this.dirs);
  }
}
