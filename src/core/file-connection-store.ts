// The Node store (CLI, headless server, library): one JSON file per connection in
// `<QB_DATA_DIR>/connections/<id>.json`, mode 0600. With QB_STORE_KEY the token chain inside is sealed
// (store-crypto.ts); the connection's health stays readable. The file work is fs/durable-record-file.ts
// (a directory checked like ~/.ssh, no links followed, atomic writes into space reserved before the
// token call, bounded retries and then a rescue file that the next process moves back). Refreshes
// across processes are serialised per connection by a lock beside the record that knows its holder
// (refresh-lock.ts); while a token call is in flight, `<id>.json.refreshing` (start time and the
// refresh token's sha256, no token value) says so, so the next start can explain the invalid_grant
// that follows a process killed before it saved the answer. Other processes' writes are noticed with
// fs.watch on the directory (record-directory-watch.ts).
//
// Its parts: the file's layout (record-file-format.ts); what happens to a file it cannot use as it
// is (record-file-recovery.ts: a file that cannot be parsed is moved aside, never deleted, as it may
// hold the only valid refresh token; a rescued copy is moved back); the upgrade of a 0.1 store
// (legacy-store-upgrade.ts). A chain that cannot be decrypted is left exactly where it is (StoreKeyError).
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionId, QbEnvironment } from '../shared/contract';
import { isValidConnectionId } from '../shared/ids';
import { checkedConnectionId, checkRecordForSave, type ConnectionRecord } from './connection-record';
import { ConnectionLockQueue } from './connection-lock-queue';
import type {
  ConnectionStore,
  ConnectionStoreDescription,
  LockOptions,
  RecordChange,
  RecordLoadResult,
} from './connection-store';
import { StoreError, StoreKeyError } from './errors';
import { prepareDataDir } from './fs/data-dir';
import { DurableRecordFile } from './fs/durable-record-file';
import { LEGACY_STORE_FILE_NAME, upgradeLegacyStore } from './legacy-store-upgrade';
import type { LogFn } from './log';
import { RecordDirectoryWatch } from './record-directory-watch';
import { decodeRecordFile, encodeRecordFile, UnreadableRecord } from './record-file-format';
import { moveAside, moveBack, takeRescued } from './record-file-recovery';
import { withFileLock } from './refresh-lock';
import { markRefreshStep } from './refresh-markers';
import { RefreshNoteFile, REFRESHING_NOTE_SUFFIX } from './refresh-note';
import { StoreCipher } from './store-crypto';
import type { RefreshInFlightNote } from './token-store';

export { LEGACY_STORE_FILE_NAME, REFRESHING_NOTE_SUFFIX };

export const CONNECTIONS_DIR_NAME = 'connections';
/** What a load outside the lock found: a file that cannot be read, to be looked at again under the lock. */
const UNREADABLE_OUTSIDE_LOCK = Symbol('unreadable outside the lock');
/** A save takes milliseconds: a temp file this old was left by a process that died mid-save. */
const ORPHANED_TEMP_AGE_MS = 60_000;

export interface FileConnectionStoreOptions {
  dataDir: string;
  /** QB_STORE_KEY: when set the token chains are encrypted; when null they are plaintext and a warning says so. */
  storeKey: string | null;
  log?: LogFn;
  /** How long to wait for another process's lock, ms, unless the caller says (default 60 s). */
  lockWaitMs?: number;
  /** A lock not updated for this long is taken over (its holder crashed), ms (default 10 s). */
  lockStaleMs?: number;
  /** The environment the QB_* variables name: the profile of a 0.1 store upgraded to the default connection. */
  environment?: QbEnvironment;
  /** How long a failing save is retried before the record goes to a rescue file, ms (default 10 s). */
  saveRetryMs?: number;
  /** Where rescue files go (default: ~/.qb-token-desk/rescue, then the temp directory). */
  rescueDirs?: readonly string[];
}

export class FileConnectionStore implements ConnectionStore {
  readonly description: ConnectionStoreDescription;
  readonly warnings: readonly string[];
  private readonly dataDir: string;
  private readonly dir: string;
  private readonly cipher: StoreCipher | null;
  private readonly log: LogFn;
  private readonly lockWaitMs: number;
  private readonly lockStaleMs: number;
  private readonly environment: QbEnvironment;
  private readonly saveRetryMs: number | undefined;
  private readonly rescueDirs: readonly string[] | undefined;
  private opening: Promise<void> | null = null;
  /** What open() found that the default connection's next load reports (an unreadable 0.1 store moved aside). */
  private readonly openWarnings: string[] = [];
  private readonly files = new Map<ConnectionId, DurableRecordFile>();
  private readonly notes = new Map<ConnectionId, RefreshNoteFile>();
  private readonly lockQueue = new ConnectionLockQueue();
  /** Connections whose lock this instance holds now (a rescued record is moved back only then). */
  private readonly held = new Set<ConnectionId>();
  private readonly watching: RecordDirectoryWatch;

  constructor(options: FileConnectionStoreOptions) {
    this.dataDir = options.dataDir;
    this.dir = join(options.dataDir, CONNECTIONS_DIR_NAME);
    this.cipher = options.storeKey ? new StoreCipher(options.storeKey) : null;
    this.log = options.log ?? (() => undefined);
    this.lockWaitMs = options.lockWaitMs ?? 60_000;
    this.lockStaleMs = options.lockStaleMs ?? 10_000;
    this.environment = options.environment ?? 'sandbox';
    this.saveRetryMs = options.saveRetryMs;
    this.rescueDirs = options.rescueDirs;
    this.description = { kind: 'file', location: this.dir, encrypted: this.cipher !== null };
    this.warnings = this.cipher
      ? []
      : [`Tokens are stored unencrypted in ${this.dir}; set QB_STORE_KEY to encrypt them.`];
    this.watching = new RecordDirectoryWatch({
      dir: this.dir,
      realDir: () => this.realDir(),
      read: (id) => this.file(id).read(),
      log: this.log,
    });
  }

  /** The file holding a connection's record (as configured; links in QB_DATA_DIR's path not resolved). */
  recordPath(id: ConnectionId): string {
    return this.file(id).path;
  }

  /**
   * Checks the data directory (StoreConfigError naming QB_DATA_DIR when others can write to it, or it
   * cannot be created), sweeps temp files crashed saves left, upgrades a 0.1 store and seals plaintext
   * records when a key is configured. Once per instance.
   */
  open(): Promise<void> {
    this.opening ??= this.openOnce().catch((err: unknown) => {
      this.opening = null;
      throw err;
    });
    return this.opening;
  }

  private async openOnce(): Promise<void> {
    prepareDataDir(this.dataDir);
    const real = this.realDir();
    await this.sweepOrphanedTempFiles(real);
    if (existsSync(join(this.dataDir, LEGACY_STORE_FILE_NAME))) {
      await upgradeLegacyStore({
        dataDir: this.dataDir,
        cipher: this.cipher,
        log: this.log,
        lockWaitMs: this.lockWaitMs,
        lockStaleMs: this.lockStaleMs,
        environment: this.environment,
        file: (id) => this.file(id),
        withLock: (id, fn) => this.queueLock(id, fn),
        save: (record) => this.save(record),
        warn: (line) => this.openWarnings.push(line),
      });
    }
    if (this.cipher) await this.sealPlaintextRecords(real);
  }

  async list(): Promise<ConnectionId[]> {
    await this.open();
    const names = await fs.readdir(this.realDir());
    return names
      .filter((name) => name.endsWith('.json') && !name.startsWith('.'))
      .map((name) => name.slice(0, -'.json'.length))
      .filter(isValidConnectionId)
      .sort();
  }

  async load(id: ConnectionId): Promise<RecordLoadResult> {
    await this.open();
    const file = this.file(id);
    // A record a failed save left in a rescue file is moved back under the lock, so no refresh races it.
    if (!this.held.has(id) && file.findRescued() && file.writableProblem() === null) {
      return this.withLock(id, () => this.loadLocked(id));
    }
    const loaded = await this.loadCurrent(id);
    // An unreadable file is moved aside only under the lock: outside it, what is at the path by now
    // may be the record another process has just saved under the lock. Under it, that is read again.
    return loaded === UNREADABLE_OUTSIDE_LOCK ? this.withLock(id, () => this.loadLocked(id)) : loaded;
  }

  private async loadLocked(id: ConnectionId): Promise<RecordLoadResult> {
    const loaded = await this.loadCurrent(id);
    if (loaded === UNREADABLE_OUTSIDE_LOCK)
      throw new Error(`load of ${id} under its lock found no lock held`);
    return loaded;
  }

  private async loadCurrent(id: ConnectionId): Promise<RecordLoadResult | typeof UNREADABLE_OUTSIDE_LOCK> {
    const file = this.file(id);
    const locked = this.held.has(id);
    let record: ConnectionRecord | null = null;
    let unreadable: string | null = null;
    const body = file.read();
    if (body) {
      try {
        record = decodeRecordFile(body.toString('utf8'), id, file.path, this.cipher).record;
      } catch (err) {
        if (!(err instanceof UnreadableRecord)) throw err;
        unreadable = err.message;
      }
    }
    const unwritable = file.writableProblem();
    if (unreadable !== null && !locked && unwritable === null) return UNREADABLE_OUTSIDE_LOCK;
    const warnings = id === 'default' ? this.openWarnings.splice(0) : [];
    if (unwritable) warnings.push(`${unwritable} Refreshing is not possible until it is.`);
    if (unreadable !== null) {
      warnings.push(
        locked
          ? moveAside(file.realPath(), unreadable, this.log)
          : `The token store record ${file.path} could not be read (${unreadable}); it is left as it is. Carrying on from the environment's token.`,
      );
    }
    const decode = (text: string, path: string) => decodeRecordFile(text, id, path, this.cipher).record;
    const rescued = takeRescued(file, record, locked, decode, warnings);
    if (rescued) record = await moveBack(file, rescued, locked, this.log, warnings);
    return { record, warnings };
  }

  /**
   * Atomic: a temp file (the one reserved when the refresh began), renamed over the record.
   * Everything up to and including the rename is synchronous, so it is done before save() returns
   * its promise: a save started the moment Intuit's answer is in (the engine does that) puts the
   * rotated refresh token in place without one event-loop turn in between for a SIGKILL to land in.
   * The fsyncs that follow, before the promise resolves, make it survive a power loss too. A save
   * that fails is retried, then rescued (StoreSaveRescuedError says where).
   */
  async save(record: ConnectionRecord): Promise<void> {
    checkRecordForSave(record);
    const file = this.file(record.id);
    await file.write(Buffer.from(JSON.stringify(encodeRecordFile(record, this.cipher)), 'utf8'), () => {
      this.watching.wrote(record.id, record.revision);
      markRefreshStep('renamed');
    });
    markRefreshStep('saved');
    // A rescued copy this save supersedes is dropped.
    if (this.held.has(record.id) && file.findRescued()) file.clearRescued();
  }

  async remove(id: ConnectionId): Promise<void> {
    await this.file(id).remove();
    this.note(id).remove();
    // Its own removal is not reported to this instance's watchers (as its own writes are not).
    this.watching.removed(id);
  }

  async withLock<T>(id: ConnectionId, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    // Opened before the queue: open() upgrading a 0.1 store takes this lock itself, and would wait
    // forever behind a holder whose fn calls load(), which waits for open().
    await this.open();
    return this.queueLock(id, fn, options);
  }

  /** withLock without open(): what open() itself uses. */
  private queueLock<T>(id: ConnectionId, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    const file = this.file(id);
    return this.lockQueue.run(id, () => {
      // Fails at once (naming QB_DATA_DIR) on a directory this process cannot write to or must not trust.
      file.assertWritable();
      return withFileLock(
        file.realPath(),
        { waitMs: options.waitMs ?? this.lockWaitMs, staleMs: this.lockStaleMs, log: this.log },
        async () => {
          this.held.add(id);
          try {
            return await fn();
          } finally {
            this.held.delete(id);
          }
        },
      );
    });
  }

  watch(listener: (change: RecordChange) => void): () => void {
    return this.watching.add(listener);
  }

  /**
   * Before the token call: reserves the space the answer's save needs (throws a store error naming
   * QB_DATA_DIR when it is not there: the call must then not start), then leaves the note.
   */
  beginRefresh(id: ConnectionId, note: RefreshInFlightNote): void {
    this.file(id).reserve();
    this.note(id).write(note);
  }

  endRefresh(id: ConnectionId): void {
    this.file(id).discardReservation();
    this.note(id).remove();
  }

  interruptedRefresh(id: ConnectionId): Promise<RefreshInFlightNote | null> {
    return this.note(id).read();
  }

  async close(): Promise<void> {
    this.watching.close();
    for (const file of this.files.values()) file.discardReservation();
  }

  /** A plaintext record found while a key is configured is sealed at once, under its lock. */
  private async sealPlaintextRecords(real: string): Promise<void> {
    for (const name of await fs.readdir(real)) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const id = name.slice(0, -'.json'.length);
      if (!isValidConnectionId(id)) continue;
      const file = this.file(id);
      const text = file.read()?.toString('utf8') ?? '';
      if (!text.includes('"encrypted":false') || file.writableProblem() !== null) continue;
      await this.queueLock(id, async () => {
        try {
          const current = file.read()?.toString('utf8') ?? '';
          const { record, plaintext } = decodeRecordFile(current, id, file.path, this.cipher);
          if (plaintext) await this.save({ ...record, revision: record.revision + 1 });
        } catch (err) {
          // An unreadable record is load()'s to explain; one that cannot be written yet stays plaintext.
          if (err instanceof UnreadableRecord) return;
          if (err instanceof StoreError && !(err instanceof StoreKeyError)) {
            this.log(`Sealing ${file.path} with QB_STORE_KEY failed: ${err.message}`);
            return;
          }
          throw err;
        }
      });
    }
  }

  // ---------------------------------------------------------------- files

  /** The connections directory, checked (created 0700; StoreConfigError naming QB_DATA_DIR otherwise). */
  private realDir(): string {
    return this.file('default').realDir();
  }

  private file(id: ConnectionId): DurableRecordFile {
    let file = this.files.get(id);
    if (!file) {
      file = new DurableRecordFile({
        dir: this.dir,
        fileName: `${checkedConnectionId(id)}.json`,
        log: this.log,
        saveRetryMs: this.saveRetryMs,
        rescueDirs: this.rescueDirs,
      });
      this.files.set(id, file);
    }
    return file;
  }

  private note(id: ConnectionId): RefreshNoteFile {
    let note = this.notes.get(id);
    if (!note) {
      note = new RefreshNoteFile(`${this.file(id).realPath()}${REFRESHING_NOTE_SUFFIX}`, this.log);
      this.notes.set(id, note);
    }
    return note;
  }

  /** Temp files of saves interrupted by a crash hold token values: remove them once they are clearly orphaned. */
  private async sweepOrphanedTempFiles(real: string): Promise<void> {
    const cutoff = Date.now() - ORPHANED_TEMP_AGE_MS;
    const places = [
      { dir: real, prefix: '.' },
      { dir: this.dataDir, prefix: `.${LEGACY_STORE_FILE_NAME}.` },
    ];
    for (const { dir, prefix } of places) {
      let names: string[];
      try {
        names = await fs.readdir(dir);
      } catch {
        continue;
      }
      for (const name of names) {
        if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
        const path = join(dir, name);
        try {
          // A younger one may be another process's save in progress.
          if ((await fs.lstat(path)).mtimeMs < cutoff) await fs.rm(path, { force: true });
        } catch {
          // Gone already, or not ours to remove: either way nothing to do.
        }
      }
    }
  }
}
