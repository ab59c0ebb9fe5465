// The cross-process refresh lock shared by every TokenStore that keeps its tokens in a file
// (the CLI's and headless server's FileTokenStore, the desktop store): one refresh at a time
// across processes sharing a data directory.
import lockfile from 'proper-lockfile';
import type { LogFn } from './log';

export interface FileLockOptions {
  /** How long to wait for another process's lock before giving up, ms. */
  waitMs: number;
  /** A lock not touched for this long belongs to a dead process and is taken over, ms. */
  staleMs: number;
  log: LogFn;
}

export async function withFileLock<T>(
  file: string,
  options: FileLockOptions,
  fn: () => Promise<T>,
): Promise<T> {
  const retries = Math.max(1, Math.ceil(options.waitMs / 200));
  const release = await lockfile.lock(file, {
    realpath: false,
    stale: options.staleMs,
    update: Math.max(1000, Math.floor(options.staleMs / 2)),
    retries: { retries, minTimeout: 20, maxTimeout: 200, factor: 1.5 },
    // The default throws from a timer (taking the process down); a compromised lock only means
    // another process may refresh at the same time, which the re-read inside the lock limits.
    onCompromised: (err) => options.log(`Refresh lock was compromised: ${err.message}`),
  });
  try {
    return await fn();
  } finally {
    await release().catch((err: Error) => options.log(`Could not release the refresh lock: ${err.message}`));
  }
}
