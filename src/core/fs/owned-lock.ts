// A cross-process lock that knows its holder. The lock is a directory (mkdir is atomic on every
// filesystem, NFS included) holding `owner.json`: the holder's pid, host, boot id and process start
// time. A waiter takes the lock over at once when that process is gone from this host (kill -9, a
// crash, a reboot), and otherwise only once the holder's heartbeat (the directory's mtime, touched
// every staleMs / 3) is older than staleMs, which covers holders on other hosts and hung ones.
// Takeovers are serialised by a second, short-lived directory so two waiters never both remove a
// lock and one of them the other's fresh one. Any error other than "held" (EACCES, EROFS, ENOSPC)
// fails at once: retrying cannot fix it.
//
// proper-lockfile (used before) judges a lock by its mtime alone, so a lock left by a killed process
// cost the next refresh its whole stale period (7.5 to 9 s measured), and it retried EACCES until
// its wait ran out; it offers no place for the holder's identity.
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, rmSync, statSync, utimes } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { StoreLockTimeoutError, type StoreError } from '../errors';
import type { LogFn } from '../log';
import { holderIsGone, thisProcess, type ProcessIdentity } from './process-identity';
import { openExclusive, readFileNoFollow, writeAllSync } from './safe-open';

export const LOCK_OWNER_FILE = 'owner.json';
/** A takeover takes microseconds: a takeover directory this old was left by a crash. */
const TAKEOVER_STALE_MS = 5_000;

export interface OwnedLockOptions {
  /** How long to wait for a live holder, ms. */
  waitMs: number;
  /** A holder whose heartbeat is this old is taken over even when it cannot be judged gone, ms. */
  staleMs: number;
  log: LogFn;
  /** Turns a filesystem error into the store's error (naming its variable and directory). */
  fsError: (err: unknown, doing: string) => StoreError;
  /** What the lock protects, for messages ("the refresh lock on /data/qb-tokens.json"). */
  what: string;
}

interface LockOwner extends ProcessIdentity {
  acquiredAt: number;
  nonce: string;
}

const ownerSchema = z.object({
  pid: z.number().int().positive(),
  host: z.string(),
  bootId: z.string().nullable(),
  startTicks: z.string().nullable(),
  acquiredAt: z.number(),
  nonce: z.string(),
});

/** Lock directories this process holds, removed if it exits while holding them. */
const held = new Set<string>();
let exitHookInstalled = false;

export type ReleaseLock = () => void;

export async function acquireOwnedLock(lockDir: string, options: OwnedLockOptions): Promise<ReleaseLock> {
  const deadline = Date.now() + options.waitMs;
  let delay = 20;
  for (;;) {
    try {
      mkdirSync(lockDir, { mode: 0o700 });
      return ownLock(lockDir, options);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw options.fsError(err, `taking ${options.what}`);
      }
    }
    const verdict = inspect(lockDir, options.staleMs);
    if (verdict.kind === 'vanished') continue;
    if (verdict.kind !== 'live' && takeOver(lockDir, verdict, options)) continue;
    if (Date.now() >= deadline) {
      const who = verdict.owner ? `process ${verdict.owner.pid} on ${verdict.owner.host}` : 'another process';
      throw new StoreLockTimeoutError(
        `${who} holds ${options.what}; waited ${(options.waitMs / 1000).toFixed(1)} s for it. Try again later.`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(200, Math.ceil(delay * 1.5));
  }
}

export async function withOwnedLock<T>(
  lockDir: string,
  options: OwnedLockOptions,
  fn: () => Promise<T>,
): Promise<T> {
  const release = await acquireOwnedLock(lockDir, options);
  try {
    return await fn();
  } finally {
    release();
  }
}

/** Reads the holder recorded in a lock directory, or null (none yet, garbled, or a link). */
export function readLockOwner(lockDir: string): LockOwner | null {
  try {
    const body = readFileNoFollow(join(lockDir, LOCK_OWNER_FILE), 'the lock directory');
    if (!body) return null;
    const parsed = ownerSchema.safeParse(JSON.parse(body.toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

type Verdict =
  | { kind: 'vanished'; owner: null }
  | { kind: 'live'; owner: LockOwner | null }
  | { kind: 'gone' | 'stale'; owner: LockOwner | null; mtimeMs: number };

function inspect(lockDir: string, staleMs: number): Verdict {
  const owner = readLockOwner(lockDir);
  let mtimeMs: number;
  try {
    mtimeMs = statSync(lockDir).mtimeMs;
  } catch {
    return { kind: 'vanished', owner: null };
  }
  if (owner && holderIsGone(owner)) return { kind: 'gone', owner, mtimeMs };
  if (Date.now() - mtimeMs > staleMs) return { kind: 'stale', owner, mtimeMs };
  return { kind: 'live', owner };
}

/** Removes a dead or stale holder's lock under the takeover mutex. True when it was removed. */
function takeOver(
  lockDir: string,
  verdict: Extract<Verdict, { kind: 'gone' | 'stale' }>,
  options: OwnedLockOptions,
): boolean {
  const mutex = `${lockDir}.takeover`;
  try {
    mkdirSync(mutex, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false;
    try {
      if (Date.now() - statSync(mutex).mtimeMs > TAKEOVER_STALE_MS)
        rmSync(mutex, { recursive: true, force: true });
    } catch {
      // Gone meanwhile.
    }
    return false;
  }
  try {
    // Under the mutex, the lock must still be the one judged: same holder, or (none recorded) same mtime.
    const again = inspect(lockDir, options.staleMs);
    if (again.kind !== verdict.kind) return again.kind === 'vanished';
    const same = verdict.owner
      ? again.owner?.nonce === verdict.owner.nonce
      : again.owner === null && again.mtimeMs === verdict.mtimeMs;
    if (!same) return false;
    rmSync(lockDir, { recursive: true, force: true });
    const who = verdict.owner ? `process ${verdict.owner.pid} on ${verdict.owner.host}` : 'an unknown holder';
    options.log(
      verdict.kind === 'gone'
        ? `Took over ${options.what} from ${who}, which is no longer running.`
        : `Took over ${options.what} from ${who}: it had not renewed it for over ${Math.round(options.staleMs / 1000)} s.`,
    );
    return true;
  } finally {
    rmSync(mutex, { recursive: true, force: true });
  }
}

function ownLock(lockDir: string, options: OwnedLockOptions): ReleaseLock {
  const owner: LockOwner = {
    ...thisProcess(),
    acquiredAt: Date.now(),
    nonce: randomBytes(12).toString('hex'),
  };
  try {
    const fd = openExclusive(join(lockDir, LOCK_OWNER_FILE));
    try {
      writeAllSync(fd, Buffer.from(JSON.stringify(owner)), 0);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    rmSync(lockDir, { recursive: true, force: true });
    throw options.fsError(err, `recording the holder of ${options.what}`);
  }
  held.add(lockDir);
  installExitHook();
  const heartbeat = setInterval(
    () => {
      const now = new Date();
      utimes(lockDir, now, now, () => undefined);
    },
    Math.max(500, Math.floor(options.staleMs / 3)),
  );
  heartbeat.unref();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    clearInterval(heartbeat);
    held.delete(lockDir);
    if (readLockOwner(lockDir)?.nonce !== owner.nonce) {
      options.log(`${options.what} was taken over by another process while this one held it.`);
      return;
    }
    try {
      rmSync(lockDir, { recursive: true, force: true });
    } catch (err) {
      options.log(`Could not release ${options.what}: ${(err as NodeJS.ErrnoException).code ?? 'error'}.`);
    }
  };
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A clean exit leaves no lock behind (a kill -9 does; the next waiter sees its holder is gone).
  process.once('exit', () => {
    for (const dir of held) {
      if (readLockOwner(dir)?.pid !== process.pid) continue;
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // Nothing more to do while exiting.
      }
    }
  });
}
