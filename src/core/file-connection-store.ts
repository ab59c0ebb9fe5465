// The Node store (CLI, headless server, library): one JSON file per connection in
// `<QB_DATA_DIR>/connections/<id>.json`, written atomically (temp file, rename, fsync of the file and
// the directory) with mode 0600. With QB_STORE_KEY the token chain inside is sealed (store-crypto.ts);
// the connection's health stays readable. Refreshes across processes are serialised per connection
// by a file lock beside the record; while a token call is in flight, `<id>.json.refreshing` (start
// time and the refresh token's sha256, no token value) says so, so the next start can explain the
// invalid_grant that follows a process killed before it saved the answer. Other processes' writes
// are noticed with fs.watch on the directory.
//
// A file that cannot be parsed is moved aside, never deleted: it may hold the only valid refresh
// token. A chain that cannot be decrypted is left exactly where it is (StoreKeyError).
import {
  closeSync,
  existsSync,
  fsync,
  mkdirSync,
  openSync,
  promises as fs,
  renameSync,
  rmSync,
  watch,
  writeFileSync,
  type FSWatcher,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import type { ConnectionId, QbEnvironment } from '../shared/contract';
import {
  defaultProfile,
  isValidConnectionId,
  newConnectionRecord,
  checkRecordForSave,
  parseConnectionRecord,
  type ConnectionRecord,
} from './connection-record';
import type {
  ConnectionStore,
  ConnectionStoreDescription,
  LockOptions,
  RecordChange,
  RecordLoadResult,
} from './connection-store';
import { StoreError, StoreLockTimeoutError } from './errors';
import type { LogFn } from './log';
import { withFileLock } from './refresh-lock';
import { markRefreshStep } from './refresh-markers';
import { RefreshNoteFile, REFRESHING_NOTE_SUFFIX } from './refresh-note';
import { missingKeyError, sealedSchema, StoreCipher } from './store-crypto';
import { storedTokensSchema, type RefreshInFlightNote, type StoredTokens } from './token-store';

export { REFRESHING_NOTE_SUFFIX };

export const CONNECTIONS_DIR_NAME = 'connections';
/** The single-connection store of 0.1; upgraded into the default connection's record by open(). */
export const LEGACY_STORE_FILE_NAME = 'qb-tokens.json';
const FORMAT = 'qb-token-desk/connection-v2';
const LEGACY_FORMAT = 'qb-token-desk/tokens-v1';
/** A save takes milliseconds: a temp file this old was left by a process that died mid-save. */
const ORPHANED_TEMP_AGE_MS = 60_000;
/** fs.watch reports a rename as several events: one re-read after they settle. */
const WATCH_DEBOUNCE_MS = 15;

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
}

const tokensOnDiskSchema = z.union([
  z.object({ encrypted: z.literal(false), chain: z.unknown() }),
  sealedSchema.extend({ encrypted: z.literal(true) }),
]);

const fileSchema = z.object({
  format: z.literal(FORMAT),
  record: z.looseObject({}),
  tokens: tokensOnDiskSchema.nullable(),
});

const legacySchema = z.discriminatedUnion('encrypted', [
  z.object({ format: z.literal(LEGACY_FORMAT), encrypted: z.literal(false), tokens: z.unknown() }),
  sealedSchema.extend({ format: z.literal(LEGACY_FORMAT), encrypted: z.literal(true) }),
]);

/** The file is not a record this version can read: moved aside and explained. */
class UnreadableRecord extends Error {}

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
  private opening: Promise<void> | null = null;
  /** What open() found that the default connection's next load reports (an unreadable 0.1 store moved aside). */
  private readonly upgradeWarnings: string[] = [];
  private readonly notes = new Map<ConnectionId, RefreshNoteFile>();
  /** Empty temp files opened when a refresh begins, for the save its answer makes. */
  private readonly prepared = new Map<ConnectionId, { temp: string; fd: number }>();
  /** In-process queue per connection in front of the file lock (which is not re-entrant and polls). */
  private readonly lockQueues = new Map<ConnectionId, Promise<unknown>>();
  /** The revision this instance wrote last, per connection: its own writes are not reported to watchers. */
  private readonly written = new Map<ConnectionId, number>();
  private readonly listeners = new Set<(change: RecordChange) => void>();
  private watcher: FSWatcher | null = null;
  private readonly debounce = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(options: FileConnectionStoreOptions) {
    this.dataDir = options.dataDir;
    this.dir = join(options.dataDir, CONNECTIONS_DIR_NAME);
    this.cipher = options.storeKey ? new StoreCipher(options.storeKey) : null;
    this.log = options.log ?? (() => undefined);
    this.lockWaitMs = options.lockWaitMs ?? 60_000;
    this.lockStaleMs = options.lockStaleMs ?? 10_000;
    this.environment = options.environment ?? 'sandbox';
    this.description = { kind: 'file', location: this.dir, encrypted: this.cipher !== null };
    this.warnings = this.cipher
      ? []
      : [`Tokens are stored unencrypted in ${this.dir}; set QB_STORE_KEY to encrypt them.`];
  }

  /** The file holding a connection's record. */
  recordPath(id: ConnectionId): string {
    return join(this.dir, `${checkedId(id)}.json`);
  }

  open(): Promise<void> {
    this.opening ??= this.openOnce().catch((err: unknown) => {
      this.opening = null;
      throw err;
    });
    return this.opening;
  }

  private async openOnce(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    await this.sweepOrphanedTempFiles();
    if (existsSync(join(this.dataDir, LEGACY_STORE_FILE_NAME))) await this.upgradeLegacyStore();
    if (this.cipher) await this.sealPlaintextRecords();
  }

  async list(): Promise<ConnectionId[]> {
    await this.open();
    const names = await fs.readdir(this.dir);
    return names
      .filter((name) => name.endsWith('.json') && !name.startsWith('.'))
      .map((name) => name.slice(0, -'.json'.length))
      .filter(isValidConnectionId)
      .sort();
  }

  async load(id: ConnectionId): Promise<RecordLoadResult> {
    await this.open();
    const path = this.recordPath(id);
    const warnings = id === 'default' ? this.upgradeWarnings.splice(0) : [];
    let text: string;
    try {
      text = await fs.readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { record: null, warnings };
      throw err;
    }
    try {
      return { record: this.decode(text, id, path).record, warnings };
    } catch (err) {
      if (!(err instanceof UnreadableRecord)) throw err;
      warnings.push(this.moveAside(path, err.message));
      return { record: null, warnings };
    }
  }

  /**
   * Atomic: a temp file, renamed over the record. Everything up to and including the rename is
   * synchronous, so it is done before save() returns its promise: a save started the moment Intuit's
   * answer is in (the engine does that) puts the rotated refresh token in place without one event-loop
   * turn in between for a SIGKILL to land in. The fsyncs that follow, before the promise resolves,
   * make it survive a power loss too.
   */
  save(record: ConnectionRecord): Promise<void> {
    let fd: number;
    try {
      checkRecordForSave(record);
      const body = JSON.stringify(this.encode(record));
      // A temp file opened before the token call (beginRefresh) spares this moment the open: creating a
      // file waits on the filesystem journal, milliseconds when the disk is busy, and a kill then loses.
      const prepared = this.prepared.get(record.id);
      this.prepared.delete(record.id);
      const target = this.recordPath(record.id);
      const { temp, fd: opened } = prepared ?? this.openTemp(record.id);
      fd = opened;
      try {
        writeFileSync(fd, body, 'utf8');
        renameSync(temp, target);
      } catch (err) {
        closeSync(fd);
        rmSync(temp, { force: true });
        throw err;
      }
      this.written.set(record.id, record.revision);
      markRefreshStep('renamed');
    } catch (err) {
      return Promise.reject(err);
    }
    return this.syncAfterRename(fd);
  }

  private async syncAfterRename(fd: number): Promise<void> {
    try {
      await new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
    } finally {
      closeSync(fd);
    }
    await this.syncDir(this.dir);
    markRefreshStep('saved');
  }

  async remove(id: ConnectionId): Promise<void> {
    await fs.rm(this.recordPath(id), { force: true });
    this.note(id).remove();
    await this.syncDir(this.dir);
  }

  async withLock<T>(id: ConnectionId, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    const path = this.recordPath(id);
    const previous = this.lockQueues.get(id) ?? Promise.resolve();
    const run = previous.then(async () => {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      return this.fileLock(path, options.waitMs ?? this.lockWaitMs, fn);
    });
    const tail = run.catch(() => undefined);
    this.lockQueues.set(id, tail);
    void tail.then(() => {
      if (this.lockQueues.get(id) === tail) this.lockQueues.delete(id);
    });
    return run;
  }

  private async fileLock<T>(path: string, waitMs: number, fn: () => Promise<T>): Promise<T> {
    let held = false;
    try {
      return await withFileLock(path, { waitMs, staleMs: this.lockStaleMs, log: this.log }, () => {
        held = true;
        return fn();
      });
    } catch (err) {
      if (!held && (err as NodeJS.ErrnoException).code === 'ELOCKED') {
        throw new StoreLockTimeoutError(
          `Another process held the refresh lock on ${path} for more than ${Math.round(waitMs / 1000)} s; try again.`,
        );
      }
      throw err;
    }
  }

  watch(listener: (change: RecordChange) => void): () => void {
    this.listeners.add(listener);
    this.startWatching();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopWatching();
    };
  }

  beginRefresh(id: ConnectionId, note: RefreshInFlightNote): void {
    this.note(id).write(note);
    this.discardPrepared(id);
    try {
      this.prepared.set(id, this.openTemp(id));
    } catch {
      // save() opens its own.
    }
  }

  endRefresh(id: ConnectionId): void {
    this.discardPrepared(id);
    this.note(id).remove();
  }

  interruptedRefresh(id: ConnectionId): Promise<RefreshInFlightNote | null> {
    return this.note(id).read();
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.stopWatching();
    for (const id of [...this.prepared.keys()]) this.discardPrepared(id);
  }

  // ---------------------------------------------------------------- encoding

  private encode(record: ConnectionRecord): object {
    const { tokens, ...rest } = record;
    let onDisk: object | null = null;
    if (tokens) {
      onDisk = this.cipher
        ? { encrypted: true, ...this.cipher.sealTokens(tokens, record.id) }
        : { encrypted: false, chain: tokens };
    }
    return { format: FORMAT, record: rest, tokens: onDisk };
  }

  /** Throws UnreadableRecord for a file that is not a record, StoreKeyError for a chain the key does not open. */
  private decode(
    text: string,
    id: ConnectionId,
    path: string,
  ): { record: ConnectionRecord; plaintext: boolean } {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new UnreadableRecord('not valid JSON');
    }
    const format = (json as { format?: unknown } | null)?.format;
    if (typeof format === 'string' && format !== FORMAT && format.startsWith('qb-token-desk/')) {
      // Someone else's to read: a newer version's layout is left exactly as it is.
      throw new StoreError(
        `${path} was written by another version of QB Token Desk (layout "${format}"); this version reads "${FORMAT}". Nothing was changed.`,
      );
    }
    const file = fileSchema.safeParse(json);
    if (!file.success) throw new UnreadableRecord('not a connection record file');
    let tokens: StoredTokens | null = null;
    const onDisk = file.data.tokens;
    if (onDisk?.encrypted === true) {
      if (!this.cipher) throw missingKeyError(path);
      try {
        tokens = this.cipher.openTokens(onDisk, id, path);
      } catch (err) {
        if (err instanceof z.ZodError || err instanceof SyntaxError)
          throw new UnreadableRecord('its token chain is incomplete');
        throw err;
      }
    } else if (onDisk) {
      const chain = storedTokensSchema.safeParse(onDisk.chain);
      if (!chain.success) throw new UnreadableRecord('its token chain is incomplete');
      tokens = chain.data as StoredTokens;
    }
    let record: ConnectionRecord;
    try {
      record = parseConnectionRecord({ ...file.data.record, tokens });
    } catch {
      throw new UnreadableRecord('its record is incomplete');
    }
    if (record.id !== id) throw new UnreadableRecord(`it holds the record of connection "${record.id}"`);
    return { record, plaintext: onDisk?.encrypted === false };
  }

  private moveAside(path: string, why: string): string {
    const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    renameSync(path, aside);
    const warning = `The token store record ${path} could not be read (${why}) and was moved aside to ${aside}; carrying on from the environment's token.`;
    this.log(warning);
    return warning;
  }

  // ---------------------------------------------------------------- upgrade from 0.1

  /**
   * A `qb-tokens.json` from the single-connection version becomes the default connection's record
   * with its chain intact. Under the 0.1 lock (a 0.1 process may be refreshing) and the new one; the
   * old file goes only once the new one is durable. A plaintext 0.1 file with a key configured comes
   * out sealed; an encrypted one without the right key stops here (StoreKeyError), untouched.
   */
  private async upgradeLegacyStore(): Promise<void> {
    const legacy = join(this.dataDir, LEGACY_STORE_FILE_NAME);
    await this.fileLock(legacy, this.lockWaitMs, () =>
      this.withLock('default', async () => {
        let text: string;
        try {
          text = await fs.readFile(legacy, 'utf8');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // another process upgraded it
          throw err;
        }
        const target = this.recordPath('default');
        if (!existsSync(target)) {
          let tokens: StoredTokens;
          try {
            tokens = this.decodeLegacy(text, legacy);
          } catch (err) {
            if (!(err instanceof UnreadableRecord)) throw err;
            // As 0.1 did with a file it could not read: aside, never deleted.
            this.upgradeWarnings.push(this.moveAside(legacy, err.message));
            return;
          }
          const record = newConnectionRecord(
            'default',
            defaultProfile(this.environment, tokens.realmId),
            tokens,
          );
          await this.save({ ...record, revision: 1 });
          const legacyNote = `${legacy}${REFRESHING_NOTE_SUFFIX}`;
          if (existsSync(legacyNote)) renameSync(legacyNote, `${target}${REFRESHING_NOTE_SUFFIX}`);
          this.log(`Upgraded the single-connection token store ${legacy} to ${target}.`);
        }
        // The new record is durable (save() fsynced it and the directory): the old file can go.
        rmSync(legacy, { force: true });
        await this.syncDir(this.dataDir);
      }),
    );
  }

  private decodeLegacy(text: string, path: string): StoredTokens {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new UnreadableRecord('not valid JSON');
    }
    const envelope = legacySchema.safeParse(json);
    if (!envelope.success) throw new UnreadableRecord('not a token store file of version 0.1');
    let inner: unknown;
    if (envelope.data.encrypted) {
      if (!this.cipher) throw missingKeyError(path);
      inner = JSON.parse(this.cipher.open(envelope.data, LEGACY_FORMAT, path));
    } else {
      inner = envelope.data.tokens;
    }
    const tokens = storedTokensSchema.safeParse(inner);
    if (!tokens.success) throw new UnreadableRecord('its token record is incomplete');
    return tokens.data as StoredTokens;
  }

  /** A plaintext record found while a key is configured is sealed at once, under its lock. */
  private async sealPlaintextRecords(): Promise<void> {
    for (const name of await fs.readdir(this.dir)) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const id = name.slice(0, -'.json'.length);
      if (!isValidConnectionId(id)) continue;
      const path = this.recordPath(id);
      const text = await fs.readFile(path, 'utf8').catch(() => null);
      if (text === null || !text.includes('"encrypted":false')) continue;
      await this.withLock(id, async () => {
        try {
          const { record, plaintext } = this.decode(await fs.readFile(path, 'utf8'), id, path);
          if (plaintext) await this.save({ ...record, revision: record.revision + 1 });
        } catch (err) {
          // An unreadable record is load()'s to explain.
          if (!(err instanceof UnreadableRecord)) throw err;
        }
      });
    }
  }

  // ---------------------------------------------------------------- watching

  private startWatching(): void {
    if (this.watcher || this.listeners.size === 0) return;
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.watcher = watch(this.dir, { persistent: false }, (_event, name) => {
        if (typeof name === 'string' && name.endsWith('.json') && !name.startsWith('.')) this.changed(name);
      });
      this.watcher.on('error', (err) => {
        this.log(
          `Watching ${this.dir} stopped: ${err.message}; changes by other processes show at the next refresh.`,
        );
        this.stopWatching();
      });
    } catch (err) {
      this.log(
        `Cannot watch ${this.dir} (${(err as Error).message}); changes by other processes show at the next refresh.`,
      );
    }
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = null;
    for (const timer of this.debounce.values()) clearTimeout(timer);
    this.debounce.clear();
  }

  private changed(name: string): void {
    const id = name.slice(0, -'.json'.length);
    if (!isValidConnectionId(id)) return;
    clearTimeout(this.debounce.get(id));
    const timer = setTimeout(() => {
      this.debounce.delete(id);
      void this.notify(id);
    }, WATCH_DEBOUNCE_MS);
    timer.unref?.();
    this.debounce.set(id, timer);
  }

  private async notify(id: ConnectionId): Promise<void> {
    let revision: number;
    try {
      const json = JSON.parse(await fs.readFile(this.recordPath(id), 'utf8')) as {
        record?: { revision?: unknown };
      };
      if (typeof json.record?.revision !== 'number') return;
      revision = json.record.revision;
    } catch {
      return;
    }
    if (this.written.get(id) === revision) return;
    for (const listener of this.listeners) {
      try {
        listener({ id, revision });
      } catch (err) {
        this.log(`A store watcher threw: ${(err as Error).message}`);
      }
    }
  }

  // ---------------------------------------------------------------- files

  private note(id: ConnectionId): RefreshNoteFile {
    let note = this.notes.get(id);
    if (!note) {
      note = new RefreshNoteFile(`${this.recordPath(id)}${REFRESHING_NOTE_SUFFIX}`, this.log);
      this.notes.set(id, note);
    }
    return note;
  }

  private openTemp(id: ConnectionId): { temp: string; fd: number } {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const temp = join(
      this.dir,
      `.${checkedId(id)}.json.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
    );
    return { temp, fd: openSync(temp, 'wx', 0o600) };
  }

  private discardPrepared(id: ConnectionId): void {
    const prepared = this.prepared.get(id);
    this.prepared.delete(id);
    if (!prepared) return;
    try {
      closeSync(prepared.fd);
      rmSync(prepared.temp, { force: true });
    } catch {
      // Swept on a later start.
    }
  }

  /** Temp files of saves interrupted by a crash hold token values: remove them once they are clearly orphaned. */
  private async sweepOrphanedTempFiles(): Promise<void> {
    const cutoff = Date.now() - ORPHANED_TEMP_AGE_MS;
    const orphans = [
      { dir: this.dir, prefix: '.' },
      { dir: this.dataDir, prefix: `.${LEGACY_STORE_FILE_NAME}.` },
    ];
    for (const { dir, prefix } of orphans) {
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
          if ((await fs.stat(path)).mtimeMs < cutoff) await fs.rm(path, { force: true });
        } catch {
          // Gone already, or not ours to remove: either way nothing to do.
        }
      }
    }
  }

  private async syncDir(dir: string): Promise<void> {
    // Makes the rename itself durable. Not every platform can open a directory (Windows): skip there.
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(dir, 'r');
      await handle.sync();
    } catch {
      // best effort
    } finally {
      await handle?.close().catch(() => undefined);
    }
  }
}

function checkedId(id: ConnectionId): ConnectionId {
  if (!isValidConnectionId(id))
    throw new TypeError(
      `Invalid connection id "${id.slice(0, 80)}": use 1 to 64 letters, digits, "_" or "-".`,
    );
  return id;
}
