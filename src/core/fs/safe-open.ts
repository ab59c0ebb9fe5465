// Opening the files a store writes without being redirected: every file is created with
// O_CREAT|O_EXCL|O_NOFOLLOW (a symbolic link or any file planted at the name makes the open fail
// instead of writing through it), and every read of a store file refuses a link (O_NOFOLLOW).
// Windows has no O_NOFOLLOW; there the constants are 0 and O_EXCL alone still refuses a planted name.
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { StoreConfigError } from '../errors';

const NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const CLOEXEC = (constants as { O_CLOEXEC?: number }).O_CLOEXEC ?? 0;

/** Flags for a file this process creates and nobody else may have put there first. */
const EXCLUSIVE_CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | NOFOLLOW | CLOEXEC;

/** Creates `path` (mode 0600 by default) and returns its descriptor; fails with EEXIST if anything is there. */
export function openExclusive(path: string, mode = 0o600): number {
  return openSync(path, EXCLUSIVE_CREATE_FLAGS, mode);
}

/**
 * Replaces whatever is at `path` with a new file this process creates: a symbolic link there is
 * removed (the link, never its target) and the new file is created exclusively, so a link planted
 * between the two steps makes the open fail rather than redirect the write.
 */
export function openReplacing(path: string, mode = 0o600): number {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return openExclusive(path, mode);
}

/** Writes all of `data` at `position` (pwrite in a loop: a short write is not an error). */
export function writeAllSync(fd: number, data: Buffer, position: number): void {
  let written = 0;
  while (written < data.length) {
    written += writeSync(fd, data, written, data.length - written, position + written);
  }
}

/**
 * Reads a whole file that must not be a symbolic link. Returns null when it does not exist; a link
 * (ELOOP) becomes a StoreConfigError that names the file and what to do.
 */
export function readFileNoFollow(path: string, variable: string): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | NOFOLLOW | CLOEXEC);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw symlinkRefused(path, variable);
    throw err;
  }
  try {
    const size = fstatSync(fd).size;
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.max(4096, size - total + 1));
      const read = readSync(fd, chunk, 0, chunk.length, null);
      if (read === 0) break;
      chunks.push(chunk.subarray(0, read));
      total += read;
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/** Throws a StoreConfigError when `path` is a symbolic link. Absent is fine. */
export function refuseSymlink(path: string, variable: string): void {
  let isLink: boolean;
  try {
    isLink = lstatSync(path).isSymbolicLink();
  } catch {
    return;
  }
  if (isLink) throw symlinkRefused(path, variable);
}

function symlinkRefused(path: string, variable: string): StoreConfigError {
  return new StoreConfigError(
    `${path} is a symbolic link; QB Token Desk does not follow links for the files it writes (a link ` +
      `could send the tokens, or the lock, somewhere else). Move the real file into ${variable} ` +
      `(or point ${variable} at the directory that holds it) and remove the link.`,
  );
}

/** Removes a file, ignoring "not there"; never follows a link (rm removes the link itself). */
export function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // Swept later.
  }
}
