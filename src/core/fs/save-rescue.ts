// Where a chain goes when the store cannot take it. A rotated refresh token that exists only in
// memory is lost when the process ends (the CLI ends right after its refresh), and Intuit has already
// retired the previous one. So a save that keeps failing is retried for a bounded time, and then the
// record (encrypted as the store would write it) is written to a rescue file outside the data
// directory: first under the user's home, then under the system temp directory. The next process
// that opens the same store (a data directory, a PostgreSQL database) finds it, takes the newer chain
// and moves it back.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { StoreUnavailableError, type StoreError } from '../errors';
import type { LogFn } from '../log';
import { checkDataDirPermissions, prepareDataDir } from './data-dir';
import { openExclusive, readFileNoFollow, removeQuietly, writeAllSync } from './safe-open';

/** The save failed and kept failing; the chain is safe in a rescue file, named in the message. */
export class StoreSaveRescuedError extends StoreUnavailableError {
  override name = 'StoreSaveRescuedError';
  constructor(
    message: string,
    /** Where the record was written. */
    readonly rescuePath: string,
  ) {
    super(message);
  }
}

export interface RescuedRecord {
  path: string;
  body: Buffer;
  writtenAt: number;
}

/** The rescue directories, most durable first. HOME and TMPDIR decide them (os.homedir(), os.tmpdir()). */
function defaultRescueDirs(): string[] {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  return [join(homedir(), '.qb-token-desk', 'rescue'), join(tmpdir(), `qb-token-desk-rescue-${uid}`)];
}

export class SaveRescue {
  private readonly name: string;

  constructor(
    /** What names the store (a data directory's real path, a database's host:port/database): rescue files are keyed by it. */
    storeIdentity: string,
    fileName: string,
    private readonly dirs: readonly string[] = defaultRescueDirs(),
  ) {
    const key = createHash('sha256').update(storeIdentity).digest('hex').slice(0, 16);
    this.name = `${key}-${fileName}`;
  }

  /** Every place a rescue file for this store could be. */
  get candidates(): string[] {
    return this.dirs.map((dir) => join(dir, this.name));
  }

  /**
   * Writes `body` durably (exclusive temp file, fsync, rename, directory fsync) to the first rescue
   * directory that takes it, and returns the path. Throws when none does.
   */
  write(body: Buffer): string {
    const problems: string[] = [];
    for (const dir of this.dirs) {
      try {
        const real = prepareDataDir(dir, 'the rescue directory');
        const target = join(real, this.name);
        const temp = join(real, `.${this.name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
        const fd = openExclusive(temp);
        try {
          writeAllSync(fd, body, 0);
          fsyncSync(fd);
        } catch (err) {
          closeSync(fd);
          removeQuietly(temp);
          throw err;
        }
        closeSync(fd);
        renameSync(temp, target);
        syncDirQuietly(real);
        return target;
      } catch (err) {
        problems.push(`${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
    throw new Error(`no rescue directory could take the record (${problems.join('; ')})`);
  }

  /**
   * The newest rescue file for this store, or null. A link at a rescue path is ignored, and so is a
   * rescue directory others could write to or a file another user owns: the temp-directory candidate
   * has a guessable name, and a record planted there would replace the store's.
   */
  find(): RescuedRecord | null {
    let newest: RescuedRecord | null = null;
    const me = typeof process.getuid === 'function' ? process.getuid() : null;
    for (const path of this.candidates) {
      try {
        checkDataDirPermissions(dirname(path), 'the rescue directory');
        const body = readFileNoFollow(path, 'the rescue directory');
        if (!body) continue;
        const stat = statSync(path);
        if (me !== null && process.platform !== 'win32' && stat.uid !== me) continue;
        const writtenAt = stat.mtimeMs;
        if (!newest || writtenAt > newest.writtenAt) newest = { path, body, writtenAt };
      } catch {
        // Missing, unreadable, a link, or in a place others can write: not ours to trust.
      }
    }
    return newest;
  }

  /** Removes every rescue file of this store (the chain is back in the store). */
  removeAll(): void {
    for (const path of this.candidates) removeQuietly(path);
  }
}

/**
 * After a save that kept failing (`cause`): `body` goes to a rescue file. Returns the error to throw:
 * StoreSaveRescuedError naming the file and saying how it comes back (`movesBack`, e.g. "moves them
 * back into <file>"), or a StoreUnavailableError when no rescue directory took it either.
 */
export function rescueFailedSave(
  rescue: SaveRescue,
  body: Buffer,
  cause: StoreError,
  movesBack: string,
  log: LogFn,
): StoreUnavailableError {
  // Causes end in a full stop or not, depending on who wrote them; what follows starts a sentence.
  const why = cause.message.replace(/([^.!?])$/, '$1.');
  let rescuedTo: string;
  try {
    rescuedTo = rescue.write(body);
  } catch (err) {
    return new StoreUnavailableError(
      `${why} The new tokens could not be written anywhere else either (${(err as Error).message}); ` +
        'they are kept in memory only while this process runs.',
    );
  }
  const message = `${why} The new tokens were saved to ${rescuedTo} instead; the next start reads them from there and ${movesBack}.`;
  log(message);
  return new StoreSaveRescuedError(message, rescuedTo);
}

function syncDirQuietly(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not every platform can open a directory.
  }
}

/**
 * Runs `attempt` until it succeeds or `budgetMs` has passed, waiting 100 ms, then doubling up to
 * 2 s, between tries. Resolves on success; rejects with the last error when the budget is spent.
 */
export async function retryFor(
  attempt: () => void | Promise<void>,
  budgetMs: number,
  onRetry: (error: unknown, attempt: number) => void,
): Promise<void> {
  const deadline = Date.now() + budgetMs;
  let delay = 100;
  for (let tries = 1; ; tries += 1) {
    try {
      await attempt();
      return;
    } catch (err) {
      if (Date.now() + delay > deadline) throw err;
      onRetry(err, tries);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(2000, delay * 2);
    }
  }
}
