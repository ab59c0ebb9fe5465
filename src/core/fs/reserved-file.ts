// A temp file that holds its disk space before it is needed. Before a token call the store creates
// it (exclusively, never through a link) and fills it with zeros at full size; when Intuit's answer
// arrives the record is written over those bytes in place, truncated to its length and renamed over
// the store. Overwriting blocks a file already owns needs no new space, so a disk that filled up
// during the call cannot refuse the save (on copy-on-write filesystems such as btrfs or ZFS an
// overwrite still allocates: there the reservation narrows the risk rather than removing it).
import { randomBytes } from 'node:crypto';
import { closeSync, fsync, ftruncate, renameSync } from 'node:fs';
import { join } from 'node:path';
import { openExclusive, removeQuietly, writeAllSync } from './safe-open';

/** Generous for a token record (Intuit's access tokens are about 1 KB; the record a few KB). */
export const DEFAULT_RESERVE_BYTES = 64 * 1024;

export class ReservedFile {
  private closed = false;
  /** The committed record's length (the zeros after it are cut in flush). */
  private length: number | null = null;

  private constructor(
    /** The temp file's path. */
    readonly path: string,
    private readonly fd: number,
    /** Bytes held for the write. */
    readonly reserved: number,
  ) {}

  /**
   * Creates `.<baseName>.<pid>.<random>.tmp` in `dir` and writes `bytes` zeros to it. Throws the
   * filesystem's error (ENOSPC when the space is not there) after removing what it created.
   */
  static create(dir: string, baseName: string, bytes: number): ReservedFile {
    const path = join(dir, `.${baseName}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    const fd = openExclusive(path);
    try {
      if (bytes > 0) writeAllSync(fd, Buffer.alloc(bytes), 0);
    } catch (err) {
      closeSync(fd);
      removeQuietly(path);
      throw err;
    }
    return new ReservedFile(path, fd, bytes);
  }

  /**
   * Writes `body` over the reserved bytes and renames the file to `target`, synchronously: when this
   * returns the new content is in place. The unused zeros after it are cut off later, in flush():
   * truncating can wait on the filesystem journal (about a millisecond), and the moments between
   * Intuit's answer and the rename are the ones a kill must not find us in. A reader ignores trailing
   * NUL bytes (withoutTrailingZeros). On failure the temp file is removed and the error thrown.
   */
  commitSync(body: Buffer, target: string): void {
    try {
      writeAllSync(this.fd, body, 0);
      renameSync(this.path, target);
    } catch (err) {
      this.discard();
      throw err;
    }
    this.length = body.length;
  }

  /** After commitSync: cuts the unused zeros, makes the content survive a power loss, closes. */
  async flush(): Promise<void> {
    try {
      if (this.length !== null && this.reserved > this.length) {
        const length = this.length;
        await new Promise<void>((resolve) => ftruncate(this.fd, length, () => resolve()));
      }
      await new Promise<void>((resolve, reject) => fsync(this.fd, (err) => (err ? reject(err) : resolve())));
    } finally {
      this.close();
    }
  }

  /** Drops an unused reservation. */
  discard(): void {
    this.close();
    removeQuietly(this.path);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch {
      // Already closed by the OS.
    }
  }
}

/** The content before the zeros a reservation may leave after it (a kill between rename and truncate). */
export function withoutTrailingZeros(body: Buffer): Buffer {
  let end = body.length;
  while (end > 0 && body[end - 1] === 0) end -= 1;
  return end === body.length ? body : body.subarray(0, end);
}
