// One record file in a checked data directory, written so that nothing is lost:
// - the directory is checked like ~/.ssh (data-dir.ts) and links in its path resolved once;
// - the file itself is never a symbolic link (refused with a clear error) and is read with O_NOFOLLOW;
// - writes are atomic (exclusive temp file, rename, fsync of the file and the directory) and, when a
//   token call is about to happen, use space reserved beforehand (reserved-file.ts);
// - a write that fails is retried for a bounded time, and then the record goes to a rescue file
//   outside the data directory (save-rescue.ts), which the next process moves back.
// The stores (file store, one file per connection, the desktop store's lock) build on it; they
// keep their own encoding and only hand bytes over.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { LogFn } from '../log';
import { StoreConfigError, StoreUnavailableError, type StoreError } from '../errors';
import {
  assertWritableDir,
  DATA_DIR_VARIABLE,
  prepareDataDir,
  storeFsError,
  writableProblem,
} from './data-dir';
import { DEFAULT_RESERVE_BYTES, ReservedFile, withoutTrailingZeros } from './reserved-file';
import { readFileNoFollow, refuseSymlink } from './safe-open';
import { rescueFailedSave, retryFor, SaveRescue, type RescuedRecord } from './save-rescue';

interface DurableRecordFileOptions {
  /** The configured directory (QB_DATA_DIR as given). */
  dir: string;
  fileName: string;
  /** The variable that names the directory, for messages (default QB_DATA_DIR). */
  variable?: string;
  log?: LogFn;
  /** How long a failing write is retried before the record goes to a rescue file, ms (default 10 s). */
  saveRetryMs?: number;
  /** Where rescue files go (default: ~/.qb-token-desk/rescue, then the temp directory). */
  rescueDirs?: readonly string[];
}

export class DurableRecordFile {
  /** The file's path as configured, for messages and the status. */
  readonly path: string;
  readonly variable: string;
  private readonly dir: string;
  private readonly fileName: string;
  private readonly log: LogFn;
  private readonly saveRetryMs: number;
  private readonly rescueDirs: readonly string[] | undefined;
  private real: string | null = null;
  private reservation: ReservedFile | null = null;
  private lastSize = 0;

  constructor(options: DurableRecordFileOptions) {
    this.dir = options.dir;
    this.fileName = options.fileName;
    this.path = join(options.dir, options.fileName);
    this.variable = options.variable ?? DATA_DIR_VARIABLE;
    this.log = options.log ?? (() => undefined);
    this.saveRetryMs = options.saveRetryMs ?? 10_000;
    this.rescueDirs = options.rescueDirs;
  }

  /** The checked, real directory (created 0700 when missing). Throws StoreConfigError naming the variable. */
  realDir(): string {
    this.real ??= prepareDataDir(this.dir, this.variable);
    return this.real;
  }

  /** The file's real path (the directory's links resolved; the file itself is never a link). */
  realPath(): string {
    return join(this.realDir(), this.fileName);
  }

  /** The file's bytes, or null when there is none. A link at its name is refused. */
  read(): Buffer | null {
    const raw = readFileNoFollow(this.realPath(), this.variable);
    if (!raw) return null;
    const body = withoutTrailingZeros(raw);
    this.lastSize = body.length;
    return body;
  }

  /** A sentence saying why the directory cannot be written, or null. */
  writableProblem(): string | null {
    return writableProblem(this.realDir(), this.variable);
  }

  /** Fails at once, naming the variable, when this process cannot write to the directory. */
  assertWritable(): void {
    assertWritableDir(this.realDir(), this.variable);
  }

  /**
   * Holds the space the next write needs (call before a token call): afterwards that write happens
   * in place and cannot fail for want of space. Throws a store error naming the variable when the
   * space is not there; the caller must then not start the call.
   */
  reserve(): void {
    this.discardReservation();
    const dir = this.realDir();
    refuseSymlink(this.realPath(), this.variable);
    try {
      this.reservation = ReservedFile.create(
        dir,
        this.fileName,
        Math.max(DEFAULT_RESERVE_BYTES, this.lastSize * 4),
      );
    } catch (err) {
      throw withSuffix(
        storeFsError(err, dir, this.variable, 'reserving space for the new tokens'),
        'The token call was not started, so the stored refresh token is still the one Intuit accepts.',
      );
    }
  }

  discardReservation(): void {
    const reservation = this.reservation;
    this.reservation = null;
    reservation?.discard();
  }

  /**
   * Writes `body` atomically. Everything up to the rename is synchronous, so it is done before this
   * returns its promise (`onRenamed` runs right after the rename). A write that fails is retried for
   * `saveRetryMs`; then the record goes to a rescue file and StoreSaveRescuedError names it.
   */
  async write(body: Buffer, onRenamed?: () => void): Promise<void> {
    const reservation = this.reservation;
    this.reservation = null;
    let file: ReservedFile;
    // No link check here: rename replaces a link at the name, it never writes through one.
    try {
      file = reservation ?? ReservedFile.create(this.realDir(), this.fileName, 0);
      file.commitSync(body, this.realPath());
    } catch (err) {
      await this.retryThenRescue(body, err);
      return;
    }
    onRenamed?.();
    this.lastSize = body.length;
    try {
      await file.flush();
    } catch (err) {
      throw storeFsError(err, this.realDir(), this.variable, 'flushing the saved tokens to disk');
    }
    await this.syncDir();
  }

  /** One synchronous attempt, no retry and no rescue (moving a rescued record back, re-encrypting). */
  async writeOnce(body: Buffer): Promise<void> {
    const file = ReservedFile.create(this.realDir(), this.fileName, 0);
    file.commitSync(body, this.realPath());
    this.lastSize = body.length;
    await file.flush();
    await this.syncDir();
  }

  /** The newest record a failed write left in a rescue directory, or null. */
  findRescued(): RescuedRecord | null {
    return this.rescue().find();
  }

  clearRescued(): void {
    this.rescue().removeAll();
  }

  /** Removes the file and any rescued copy (Disconnect). */
  async remove(): Promise<void> {
    await fs.rm(this.realPath(), { force: true });
    this.clearRescued();
    await this.syncDir();
  }

  /** Temp files of writes a crash interrupted hold token values: removes those older than `maxAgeMs`. */
  async sweepTemps(maxAgeMs: number): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(this.realDir());
    } catch {
      return;
    }
    const cutoff = Date.now() - maxAgeMs;
    for (const name of names) {
      if (!name.startsWith(`.${this.fileName}.`) || !name.endsWith('.tmp')) continue;
      const path = join(this.realDir(), name);
      try {
        // A younger one may be another process's save in progress.
        if ((await fs.lstat(path)).mtimeMs < cutoff) await fs.rm(path, { force: true });
      } catch {
        // Gone already, or not ours to remove.
      }
    }
  }

  private rescue(): SaveRescue {
    return new SaveRescue(this.realDir(), this.fileName, this.rescueDirs);
  }

  private async retryThenRescue(body: Buffer, first: unknown): Promise<void> {
    const dir = this.realDir();
    this.log(
      `Saving to ${this.path} failed (${errnoOf(first)}); retrying for up to ${Math.round(this.saveRetryMs / 1000)} s.`,
    );
    let last: unknown;
    try {
      await retryFor(
        () => this.writeOnce(body),
        this.saveRetryMs,
        (err, attempt) =>
          this.log(`Save attempt ${attempt} to ${this.path} failed (${errnoOf(err)}); retrying.`),
      );
      this.log(`Saved to ${this.path} after retrying.`);
      return;
    } catch (err) {
      last = err;
    }
    const cause = storeFsError(last, dir, this.variable, `saving ${this.path}`);
    throw rescueFailedSave(this.rescue(), body, cause, `moves them back into ${this.path}`, this.log);
  }

  private async syncDir(): Promise<void> {
    // Makes the rename itself durable. Not every platform can open a directory (Windows): skip there.
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(this.realDir(), 'r');
      await handle.sync();
    } catch {
      // best effort
    } finally {
      await handle?.close().catch(() => undefined);
    }
  }
}

function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? (err instanceof Error ? err.name : 'error');
}

/** The same kind of store error with a sentence added. */
function withSuffix(error: StoreError, suffix: string): StoreError {
  const message = `${error.message} ${suffix}`;
  return error instanceof StoreConfigError
    ? new StoreConfigError(message)
    : new StoreUnavailableError(message);
}
