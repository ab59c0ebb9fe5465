// A cross-process lock that knows its holder. The lock is a directory holding `owner.json`: the
// holder's pid, host, boot id and process start time. A taker prepares it whole under a private name
// (`<lock>.staging-<nonce>`, owner record inside) and renames it into place. rename is atomic, so no
// other process ever sees the lock without its owner record. (Made by mkdir and filled afterwards, a
// lock whose taker was killed between the two had no owner to judge: every waiter sat out its whole
// stale period, the very wait the owner record exists to avoid.)
// A waiter takes the lock over at once when its holder is gone from this host (kill -9, a crash, a
// reboot), and otherwise only once the holder's heartbeat (the directory's mtime, touched every
// staleMs / 3) is older than staleMs, which covers holders on other hosts and hung ones. An empty lock
// directory is held while its mtime is fresh: it is exactly what proper-lockfile, the lock of 0.1,
// makes (mkdir, mtime touched every stale / 2), so a 0.1 process mid-refresh on qb-tokens.json is
// waited for, not overtaken. One older than staleMs (its holder gone) is replaced by the rename where
// the OS allows it (POSIX), and is otherwise taken over like a stale one. (One being removed this
// instant is gone a moment later.)
// Takeovers are serialised by a second, short-lived directory so two waiters never both remove a
// lock and one of them the other's fresh one. Any error other than "held" (EACCES, EROFS, ENOSPC)
// fails at once: retrying cannot fix it.
//
// proper-lockfile (used before) judges a lock by its mtime alone, so a lock left by a killed process
// cost the next refresh its whole stale period (7.5 to 9 s measured), and it retried EACCES until
// its wait ran out; it offers no place for the holder's identity.
import { randomBytes } from 'node:crypto';
import { closeSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, utimes } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { StoreLockTimeoutError, type StoreError } from '../errors';
import type { LogFn } from '../log';
import { holderIsGone, thisProcess, type ProcessIdentity } from './process-identity';
import { openExclusive, readFileNoFollow, writeAllSync } from './safe-open';

export const LOCK_OWNER_FILE = 'owner.json';
/** A takeover takes microseconds: a takeover directory this old was left by a crash. */
const TAKEOVER_STALE_MS = 5_000;
/** Staging takes microseconds too: a staged lock this old (or whose maker is gone) was left by a crash. */
const STAGED_ABANDONED_MS = 60_000;
const STAGED_INFIX = '.staging-';

interface OwnedLockOptions {
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

type ReleaseLock = () => void;

async function acquireOwnedLock(lockDir: string, options: OwnedLockOptions): Promise<ReleaseLock> {
  const deadline = Date.now() + options.waitMs;
  let delay = 20;
  for (;;) {
    if (mayBeFree(lockDir, options.staleMs)) {
      const owner: LockOwner = {
        ...thisProcess(),
        acquiredAt: Date.now(),
        nonce: randomBytes(12).toString('hex'),
      };
      if (publish(lockDir, owner, options)) return ownLock(lockDir, owner, options);
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
    removeLockDir(lockDir, options, `taking over ${options.what}`);
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

/**
 * True when nothing, or an empty directory not touched for staleMs, is at the lock's path: worth
 * trying to take it. A fresh empty one is a live proper-lockfile holder (0.1), which records no owner.
 */
function mayBeFree(lockDir: string, staleMs: number): boolean {
  try {
    return readdirSync(lockDir).length === 0 && Date.now() - statSync(lockDir).mtimeMs > staleMs;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/**
 * Prepares the lock with its owner record under a private name and renames it into place. True when
 * it is now this process's; false when another holder's lock is there (or the staged lock was swept
 * as abandoned while this process stood still for seconds: then it is simply tried again).
 */
function publish(lockDir: string, owner: LockOwner, options: OwnedLockOptions): boolean {
  // The maker's pid in the name lets a sweep judge a staged lock left before its owner record was written.
  const staged = `${lockDir}${STAGED_INFIX}${owner.pid}-${owner.nonce}`;
  try {
    mkdirSync(staged, { mode: 0o700 });
  } catch (err) {
    throw options.fsError(err, `taking ${options.what}`);
  }
  try {
    const fd = openExclusive(join(staged, LOCK_OWNER_FILE));
    try {
      writeAllSync(fd, Buffer.from(JSON.stringify(owner)), 0);
    } finally {
      closeSync(fd);
    }
    // Atomic: the lock appears with its owner record, or not at all.
    renameSync(staged, lockDir);
    return true;
  } catch (err) {
    removeQuietly(staged);
    const code = (err as NodeJS.ErrnoException).code;
    // Held (Linux answers ENOTEMPTY or EEXIST, Windows EPERM), or swept meanwhile (ENOENT): look again.
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT' || exists(lockDir)) return false;
    throw options.fsError(err, `taking ${options.what}`);
  }
}

function ownLock(lockDir: string, owner: LockOwner, options: OwnedLockOptions): ReleaseLock {
  held.add(lockDir);
  installExitHook();
  sweepAbandonedStaging(lockDir);
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
      removeLockDir(lockDir, options, `releasing ${options.what}`);
    } catch (err) {
      options.log(`Could not release ${options.what}: ${(err as Error).message}`);
    }
  };
}

/**
 * Removes a lock directory. Once its owner record is gone the empty directory may be replaced by a
 * waiter's rename before it is removed: then the lock is that waiter's, which is what removing it was
 * for, and it stays.
 */
function removeLockDir(lockDir: string, options: OwnedLockOptions, doing: string): void {
  try {
    rmSync(lockDir, { recursive: true, force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return;
    throw options.fsError(err, doing);
  }
}

/** Staged locks left by a process killed while taking the lock: removed once their maker is gone. */
function sweepAbandonedStaging(lockDir: string): void {
  const dir = dirname(lockDir);
  const prefix = `${basename(lockDir)}${STAGED_INFIX}`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const path = join(dir, name);
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    const maker =
      readLockOwner(path) ??
      (Number.isInteger(pid) && pid > 0 ? { ...thisProcess(), pid, startTicks: null } : null);
    try {
      if ((maker && holderIsGone(maker)) || Date.now() - lstatSync(path).mtimeMs > STAGED_ABANDONED_MS)
        removeQuietly(path);
    } catch {
      // Renamed into place or removed meanwhile.
    }
  }
}

function removeQuietly(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    // Nothing more to do: a leftover staged lock is swept by the next holder.
  }
}

function exists(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
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
