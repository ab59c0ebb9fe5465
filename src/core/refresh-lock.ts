// The cross-process refresh lock shared by every TokenStore that keeps its tokens in a file
// (the CLI's and headless server's FileTokenStore, the desktop store): one refresh at a time
// across processes sharing a data directory. The lock records its holder (pid, host), so one left
// by a killed process is taken over at once (fs/owned-lock.ts); a directory this process cannot
// write to fails at once with a message naming the variable, instead of being retried.
import { DATA_DIR_VARIABLE, storeFsError } from './fs/data-dir';
import { withOwnedLock } from './fs/owned-lock';
import type { LogFn } from './log';
import { dirname } from 'node:path';

interface FileLockOptions {
  /** How long to wait for another process's lock before giving up, ms. */
  waitMs: number;
  /** A lock whose holder has not renewed it for this long is taken over (a holder on another host, or hung), ms. */
  staleMs: number;
  log: LogFn;
  /** The variable naming the directory, for error messages (default QB_DATA_DIR). */
  variable?: string;
}

/** The lock directory guarding `file`. */
function lockPathFor(file: string): string {
  return `${file}.lock`;
}

export async function withFileLock<T>(
  file: string,
  options: FileLockOptions,
  fn: () => Promise<T>,
): Promise<T> {
  const variable = options.variable ?? DATA_DIR_VARIABLE;
  return withOwnedLock(
    lockPathFor(file),
    {
      waitMs: options.waitMs,
      staleMs: options.staleMs,
      log: options.log,
      what: `the refresh lock on ${file}`,
      fsError: (err, doing) => storeFsError(err, dirname(file), variable, doing),
    },
    fn,
  );
}
