// The Node token store (CLI, headless server): one JSON file in QB_DATA_DIR, written atomically
// (temp file, rename, fsync of the file and the directory) with mode 0600, AES-256-GCM encrypted with a
// key derived from QB_STORE_KEY when set. A file that cannot be read is moved aside, never deleted:
// it may hold the only valid refresh token. Refreshes across processes are serialised with
// proper-lockfile on the same file. While a token call is in flight, `qb-tokens.json.refreshing`
// (start time and the refresh token's sha256, no token value) says so: a process killed before it
// saved the answer leaves it behind, and the next start can explain the invalid_grant that follows.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsync,
  mkdirSync,
  openSync,
  promises as fs,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { ConnectionStoreDescription } from './connection-store';
import type { LogFn } from './log';
import { withFileLock } from './refresh-lock';
import { RefreshNoteFile, REFRESHING_NOTE_SUFFIX } from './refresh-note';

export { REFRESHING_NOTE_SUFFIX };
import { markRefreshStep } from './refresh-markers';
import { TokenEnvelopeCodec, UnreadableEnvelopeError } from './token-envelope';
import {
  storedTokensSchema,
  type RefreshInFlightNote,
  type StoredTokens,
  type TokenStore,
  type TokenStoreLoadResult,
} from './token-store';

export const STORE_FILE_NAME = 'qb-tokens.json';
/** Present while a token call is in flight: `{ startedAt, refreshTokenSha256 }`, never a token value. */
/** A save takes milliseconds: a temp file this old was left by a process that died mid-save. */
const ORPHANED_TEMP_AGE_MS = 60_000;

export interface FileTokenStoreOptions {
  dataDir: string;
  /** QB_STORE_KEY: when set the file is encrypted; when null it is plaintext and a warning says so. */
  storeKey: string | null;
  log?: LogFn;
  /** How long to wait for another process's refresh lock, ms (default 60 s). */
  lockWaitMs?: number;
  /** A lock not updated for this long is taken over (its holder crashed), ms (default 10 s). */
  lockStaleMs?: number;
}

class UnreadableStore extends Error {}

export class FileTokenStore implements TokenStore {
  readonly location: string;
  private readonly dataDir: string;
  private readonly storeKey: string | null;
  private readonly log: LogFn;
  private readonly note: RefreshNoteFile;
  private readonly lockWaitMs: number;
  private readonly lockStaleMs: number;
  private readonly codec: TokenEnvelopeCodec;
  private standing: string[];
  private swept = false;
  /** An empty temp file opened for the save a refresh in flight will make. */
  private prepared: { temp: string; fd: number } | null = null;

  constructor(options: FileTokenStoreOptions) {
    this.dataDir = options.dataDir;
    this.location = join(options.dataDir, STORE_FILE_NAME);
    this.storeKey = options.storeKey;
    this.codec = new TokenEnvelopeCodec(options.storeKey);
    this.log = options.log ?? (() => undefined);
    this.note = new RefreshNoteFile(`${this.location}${REFRESHING_NOTE_SUFFIX}`, this.log);
    this.lockWaitMs = options.lockWaitMs ?? 60_000;
    this.lockStaleMs = options.lockStaleMs ?? 10_000;
    this.standing = this.storeKey
      ? []
      : [`Tokens are stored unencrypted in ${this.location}; set QB_STORE_KEY to encrypt them.`];
  }

  get warnings(): readonly string[] {
    return this.standing;
  }

  get description(): ConnectionStoreDescription {
    return { kind: 'file', location: this.location, encrypted: this.storeKey !== null };
  }

  async load(): Promise<TokenStoreLoadResult> {
    if (!this.swept) {
      this.swept = true;
      await this.sweepOrphanedTempFiles();
    }
    let text: string;
    try {
      text = await fs.readFile(this.location, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { tokens: null, warnings: [] };
      throw err;
    }
    try {
      const { tokens, wasPlaintext } = this.decode(text);
      // A plaintext file found while a key is configured is encrypted at once.
      if (wasPlaintext && this.storeKey) await this.save(tokens);
      return { tokens, warnings: [] };
    } catch (err) {
      if (!(err instanceof UnreadableStore)) throw err;
      const aside = `${this.location}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      await fs.rename(this.location, aside);
      const warning = `The token store could not be read (${err.message}) and was moved aside to ${aside}; carrying on from the environment's token.`;
      this.log(warning);
      return { tokens: null, warnings: [warning] };
    }
  }

  /**
   * Atomic: a temp file, renamed over the store. Everything up to and including the rename is
   * synchronous, so it is done before save() returns its promise: a save started the moment Intuit's
   * answer is in (the engine does that) puts the rotated refresh token in place without one event-loop
   * turn in between for a SIGKILL to land in. Async writes cost four thread-pool hops there (1.7 ms
   * median on a busy machine, the biggest part of that window); the sync calls block for ~0.1 ms.
   * The fsyncs that follow, before the promise resolves, make it survive a power loss too.
   */
  async save(tokens: StoredTokens): Promise<void> {
    storedTokensSchema.parse(tokens);
    const body = JSON.stringify(this.encode(tokens));
    // A temp file opened before the token call (beginRefresh) spares this moment the open: creating a
    // file waits on the filesystem journal, milliseconds when the disk is busy, and a kill then loses.
    const prepared = this.prepared;
    this.prepared = null;
    const { temp, fd } = prepared ?? this.openTemp();
    try {
      try {
        writeFileSync(fd, body, 'utf8');
        renameSync(temp, this.location);
      } catch (err) {
        rmSync(temp, { force: true });
        throw err;
      }
      markRefreshStep('renamed');
      await new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
    } finally {
      closeSync(fd);
    }
    await this.syncDir();
    markRefreshStep('saved');
  }

  beginRefresh(note: RefreshInFlightNote): void {
    this.note.write(note);
    this.discardPrepared();
    try {
      this.prepared = this.openTemp();
    } catch {
      // save() opens its own.
    }
  }

  endRefresh(): void {
    this.discardPrepared();
    this.note.remove();
  }

  interruptedRefresh(): Promise<RefreshInFlightNote | null> {
    return this.note.read();
  }

  private openTemp(): { temp: string; fd: number } {
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    const temp = join(
      this.dataDir,
      `.${STORE_FILE_NAME}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
    );
    return { temp, fd: openSync(temp, 'w', 0o600) };
  }

  private discardPrepared(): void {
    const prepared = this.prepared;
    this.prepared = null;
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
    let names: string[];
    try {
      names = await fs.readdir(this.dataDir);
    } catch {
      return;
    }
    const cutoff = Date.now() - ORPHANED_TEMP_AGE_MS;
    for (const name of names) {
      if (!name.startsWith(`.${STORE_FILE_NAME}.`) || !name.endsWith('.tmp')) continue;
      const path = join(this.dataDir, name);
      try {
        // A younger one may be another process's save in progress.
        if ((await fs.stat(path)).mtimeMs < cutoff) await fs.rm(path, { force: true });
      } catch {
        // Gone already, or not ours to remove: either way nothing to do.
      }
    }
  }

  async forget(): Promise<void> {
    await fs.rm(this.location, { force: true });
    await this.syncDir();
  }

  async withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
    await fs.mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    return withFileLock(
      this.location,
      { waitMs: this.lockWaitMs, staleMs: this.lockStaleMs, log: this.log },
      fn,
    );
  }

  private async syncDir(): Promise<void> {
    // Makes the rename itself durable. Not every platform can open a directory (Windows): skip there.
    let dir: fs.FileHandle | undefined;
    try {
      dir = await fs.open(this.dataDir, 'r');
      await dir.sync();
    } catch {
      // best effort
    } finally {
      await dir?.close().catch(() => undefined);
    }
  }

  private encode(tokens: StoredTokens): object {
    return this.codec.seal(tokens);
  }

  private decode(text: string): { tokens: StoredTokens; wasPlaintext: boolean } {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new UnreadableStore('not valid JSON');
    }
    try {
      return this.codec.open(json);
    } catch (err) {
      if (err instanceof UnreadableEnvelopeError) throw new UnreadableStore(err.message);
      throw err;
    }
  }
}
