// The refresh-in-flight note: a small file next to a token store, written before the token call
// and removed once its outcome is handled. Found under the lock by the next refresh, it explains an
// invalid_grant that follows (the process was stopped after Intuit rotated the token, before it was saved).
// It holds a start time and a hash of the refresh token sent, never a token value. It is written
// as a new file (O_EXCL|O_NOFOLLOW) after removing whatever was at its name: a symbolic link
// planted there is removed, never written through.
import { closeSync, mkdirSync, rmSync } from 'node:fs';
import { openReplacing, readFileNoFollow, writeAllSync } from './fs/safe-open';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { LogFn } from './log';
import type { RefreshInFlightNote } from './token-store';

export const REFRESHING_NOTE_SUFFIX = '.refreshing';

const refreshNoteSchema = z.object({
  startedAt: z.number(),
  refreshTokenSha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export class RefreshNoteFile {
  constructor(
    private readonly path: string,
    private readonly log: LogFn,
  ) {}

  // Written and removed synchronously: a few µs, and it cannot trail behind a kill.
  write(note: RefreshInFlightNote): void {
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      const fd = openReplacing(this.path);
      try {
        writeAllSync(fd, Buffer.from(JSON.stringify(note)), 0);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      // Only a diagnosis aid: a refresh never fails for want of it.
      this.log(`Could not write ${this.path}: ${(err as Error).message}`);
    }
  }

  remove(): void {
    try {
      rmSync(this.path, { force: true });
    } catch (err) {
      this.log(`Could not remove ${this.path}: ${(err as Error).message}`);
    }
  }

  async read(): Promise<RefreshInFlightNote | null> {
    try {
      const body = readFileNoFollow(this.path, 'the data directory');
      if (!body) return null;
      const note = refreshNoteSchema.parse(JSON.parse(body.toString('utf8')));
      return { startedAt: note.startedAt, refreshTokenSha256: note.refreshTokenSha256 };
    } catch {
      // Absent or garbled: no interrupted refresh to explain.
      return null;
    }
  }
}
