// The refresh-in-flight note: a small file next to a token store, written before the token call
// and removed once its outcome is handled. Found at the next start, it explains an invalid_grant
// that follows (the process was stopped after Intuit rotated the token, before it was saved).
// It holds a start time and a hash of the refresh token sent, never a token value.
import { mkdirSync, promises as fs, rmSync, writeFileSync } from 'node:fs';
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
      writeFileSync(this.path, JSON.stringify(note), { mode: 0o600 });
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
      const note = refreshNoteSchema.parse(JSON.parse(await fs.readFile(this.path, 'utf8')));
      return { startedAt: note.startedAt, refreshTokenSha256: note.refreshTokenSha256 };
    } catch {
      // Absent or garbled: no interrupted refresh to explain.
      return null;
    }
  }
}
