// The Node store (CLI, headless server, library): one JSON file per connection in
// `<QB_DATA_DIR>/connections/<id>.json`, mode 0600. With QB_STORE_KEY the token chain inside is sealed
// (store-crypto.ts); the connection's health stays readable. The file work is fs/durable-record-file.ts
// (a directory checked like ~/.ssh, no links followed, atomic writes into space reserved before the
// token call, bounded retries and then a rescue file that the next process moves back). Refreshes
// across processes are serialised per connection by a lock beside the record that knows its holder
// (refresh-lock.ts); while a token call is in flight, `<id>.json.refreshing` (start time and the
// refresh token's sha256, no token value) says so, so the next start can explain the invalid_grant
// that follows a process killed before it saved the answer. Other processes' writes are noticed with
// fs.watch on the directory.
//
// A file that cannot be parsed is moved aside, never deleted: it may hold the only valid refresh
// token. A chain that cannot be decrypted is left exactly where it is (StoreKeyError).
import { existsSync, promises as fs, renameSync, watch, type FSWatcher } from 'node:fs';
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
import { StoreError, StoreKeyError } from './errors';
import { prepareDataDir } from './fs/data-dir';
import { DurableRecordFile } from './fs/durable-record-file';
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
  /** How long a failing save is retried before the record goes to a rescue file, ms (default 10 s). */
  saveRetryMs?: number;
  /** Where rescue files go (default: ~/.qb-token-desk/rescue, then the temp directory). */
  rescueDirs?: readonly string[];
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
  private readonly saveRetryMs: number | undefined;
  private readonly rescueDirs: readonly string[] | undefined;
  private opening: Promise<void> | null = null;
  /** What open() found that the default connection's next load reports (an unreadable 0.1 store moved aside). */
  private readonly openWarnings: string[] = [];
  private readonly files = new Map<ConnectionId, DurableRecordFile>();
  private readonly notes = new Map<ConnectionId, RefreshNoteFile>();
  /** In-process queue per connection in front of the file lock (which is not re-entrant and polls). */
  private readonly lockQueues = new Map<ConnectionId, Promise<unknown>>();
  /** Connections whose lock this instance holds now (a rescued record is moved back only then). */
  private readonly held = new Set<ConnectionId>();
  /** The revision this instance wrote last, per connection: its own writes are not reported to watchers. */
  private readonly written = new Map<ConnectionId, number>();
  /** Connections this instance removed and whose removal the watcher has not seen yet. */
  private readonly removedHere = new Set<ConnectionId>();
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
    this.saveRetryMs = options.saveRetryMs;
    this.rescueDirs = options.rescueDirs;
    this.description = { kind: 'file', location: this.dir, encrypted: this.cipher !== null };
    this.warnings = this.cipher
      ? []
      : [`Tokens are stored unencrypted in ${this.dir}; set QB_STORE_KEY to encrypt them.`];
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
    if (existsSync(join(this.dataDir, LEGACY_STORE_FILE_NAME))) await this.upgradeLegacyStore();
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
      return this.withLock(id, () => this.loadCurrent(id));
    }
    return this.loadCurrent(id);
  }

  private async loadCurrent(id: ConnectionId): Promise<RecordLoadResult> {
    const file = this.file(id);
    const warnings = id === 'default' ? this.openWarnings.splice(0) : [];
    const unwritable = file.writableProblem();
    if (unwritable) warnings.push(`${unwritable} Refreshing is not possible until it is.`);
    let record: ConnectionRecord | null = null;
    const body = file.read();
    if (body) {
      try {
        record = this.decode(body.toString('utf8'), id, file.path).record;
      } catch (err) {
        if (!(err instanceof UnreadableRecord)) throw err;
        warnings.push(this.moveAside(file.realPath(), err.message));
      }
    }
    const rescued = this.takeRescued(id, record, warnings);
    if (rescued) record = await this.moveBack(id, rescued, warnings);
    return { record, warnings };
  }

  /** The rescued record when it is newer than the stored one; an older rescue file is dropped. */
  private takeRescued(
    id: ConnectionId,
    stored: ConnectionRecord | null,
    warnings: string[],
  ): { record: ConnectionRecord; body: Buffer; path: string } | null {
    const file = this.file(id);
    const found = file.findRescued();
    if (!found) return null;
    let rescued: ConnectionRecord;
    try {
      rescued = this.decode(found.body.toString('utf8'), id, found.path).record;
    } catch (err) {
      warnings.push(
        `A rescued copy of the tokens in ${found.path} could not be read (${(err as Error).message}); it was left as it is.`,
      );
      return null;
    }
    if (stored && stored.revision >= rescued.revision) {
      if (this.held.has(id)) file.clearRescued();
      return null;
    }
    return { record: rescued, body: found.body, path: found.path };
  }

  private async moveBack(
    id: ConnectionId,
    rescued: { record: ConnectionRecord; body: Buffer; path: string },
    warnings: string[],
  ): Promise<ConnectionRecord> {
    const file = this.file(id);
    if (this.held.has(id)) {
      try {
        await file.writeOnce(rescued.body);
        file.clearRescued();
        const line = `The latest tokens had been saved to ${rescued.path} because ${file.path} could not be written; they are back in ${file.path}.`;
        this.log(line);
        warnings.push(line);
        return rescued.record;
      } catch (err) {
        this.log(
          `Moving the rescued tokens back failed (${(err as NodeJS.ErrnoException).code ?? 'error'}).`,
        );
      }
    }
    warnings.push(
      `The latest tokens are in ${rescued.path} (${file.path} could not be written when they were issued); they are moved back once it can be.`,
    );
    return rescued.record;
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
    await file.write(Buffer.from(JSON.stringify(this.encode(record)), 'utf8'), () => {
      this.written.set(record.id, record.revision);
      this.removedHere.delete(record.id);
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
    this.removedHere.add(id);
  }

  async withLock<T>(id: ConnectionId, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    const file = this.file(id);
    const previous = this.lockQueues.get(id) ?? Promise.resolve();
    const run = previous.then(() => {
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
    const tail = run.catch(() => undefined);
    this.lockQueues.set(id, tail);
    void tail.then(() => {
      if (this.lockQueues.get(id) === tail) this.lockQueues.delete(id);
    });
    return run;
  }

  watch(listener: (change: RecordChange) => void): () => void {
    this.listeners.add(listener);
    this.startWatching();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopWatching();
    };
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
    this.listeners.clear();
    this.stopWatching();
    for (const file of this.files.values()) file.discardReservation();
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
    const legacy = new DurableRecordFile({
      dir: this.dataDir,
      fileName: LEGACY_STORE_FILE_NAME,
      log: this.log,
    });
    await withFileLock(
      legacy.realPath(),
      { waitMs: this.lockWaitMs, staleMs: this.lockStaleMs, log: this.log },
      () =>
        this.withLock('default', async () => {
          const body = legacy.read();
          if (!body) return; // another process upgraded it
          const target = this.file('default');
          if (!target.read()) {
            let tokens: StoredTokens;
            try {
              tokens = this.decodeLegacy(body.toString('utf8'), legacy.path);
            } catch (err) {
              if (!(err instanceof UnreadableRecord)) throw err;
              // As 0.1 did with a file it could not read: aside, never deleted.
              this.openWarnings.push(this.moveAside(legacy.realPath(), err.message));
              return;
            }
            const record = newConnectionRecord(
              'default',
              defaultProfile(this.environment, tokens.realmId),
              tokens,
            );
            await this.save({ ...record, revision: 1 });
            const legacyNote = `${legacy.realPath()}${REFRESHING_NOTE_SUFFIX}`;
            if (existsSync(legacyNote))
              renameSync(legacyNote, `${target.realPath()}${REFRESHING_NOTE_SUFFIX}`);
            this.log(`Upgraded the single-connection token store ${legacy.path} to ${target.path}.`);
          }
          // The new record is durable (save() fsynced it and the directory): the old file can go.
          await legacy.remove();
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
  private async sealPlaintextRecords(real: string): Promise<void> {
    for (const name of await fs.readdir(real)) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const id = name.slice(0, -'.json'.length);
      if (!isValidConnectionId(id)) continue;
      const file = this.file(id);
      const text = file.read()?.toString('utf8') ?? '';
      if (!text.includes('"encrypted":false') || file.writableProblem() !== null) continue;
      await this.withLock(id, async () => {
        try {
          const { record, plaintext } = this.decode(file.read()?.toString('utf8') ?? '', id, file.path);
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

  // ---------------------------------------------------------------- watching

  private startWatching(): void {
    if (this.watcher || this.listeners.size === 0) return;
    try {
      this.watcher = watch(this.realDir(), { persistent: false }, (_event, name) => {
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
      this.notify(id);
    }, WATCH_DEBOUNCE_MS);
    timer.unref?.();
    this.debounce.set(id, timer);
  }

  private notify(id: ConnectionId): void {
    let revision: number;
    try {
      const body = this.file(id).read();
      // Removed (`connections remove` in another process): revision 0 tells a watcher to re-read
      // and find no record; an engine, whose revision is higher, ignores it.
      if (body === null) {
        if (!this.removedHere.delete(id)) this.emitChange({ id, revision: 0 });
        return;
      }
      const json = JSON.parse(body.toString('utf8')) as {
        record?: { revision?: unknown };
      } | null;
      if (typeof json?.record?.revision !== 'number') return;
      revision = json.record.revision;
    } catch {
      return;
    }
    if (this.written.get(id) === revision) return;
    this.emitChange({ id, revision });
  }

  private emitChange(change: RecordChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        this.log(`A store watcher threw: ${(err as Error).message}`);
      }
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
        fileName: `${checkedId(id)}.json`,
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

function checkedId(id: ConnectionId): ConnectionId {
  if (!isValidConnectionId(id))
    throw new TypeError(
      `Invalid connection id "${id.slice(0, 80)}": use 1 to 64 letters, digits, "_" or "-".`,
    );
  return id;
}
