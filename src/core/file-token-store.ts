// The Node token store (CLI, headless server): one JSON file in QB_DATA_DIR with mode 0600,
// AES-256-GCM encrypted with a key derived from QB_STORE_KEY when set. The file work (checked
// directory, no links, atomic writes into space reserved before the token call, bounded retries
// and a rescue file when a save keeps failing) is fs/durable-record-file.ts. A file that cannot be
// parsed is moved aside, never deleted: it may hold the only valid refresh token. A file that cannot
// be decrypted is not corrupt: it stays as it is and StoreKeyError names QB_STORE_KEY. Refreshes
// across processes are serialised by a lock that knows its holder (refresh-lock.ts). While a token
// call is in flight, `qb-tokens.json.refreshing` (start time and the refresh token's sha256, no
// token value) says so: a process killed before it saved the answer leaves it behind, and the next
// start can explain the invalid_grant that follows.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionStoreDescription } from './connection-store';
import { StoreKeyError } from './errors';
import { DurableRecordFile } from './fs/durable-record-file';
import type { LogFn } from './log';
import { withFileLock } from './refresh-lock';
import { RefreshNoteFile, REFRESHING_NOTE_SUFFIX } from './refresh-note';

export { REFRESHING_NOTE_SUFFIX };
import { markRefreshStep } from './refresh-markers';
import { TokenEnvelopeCodec, UnreadableEnvelopeError } from './token-envelope';
import {
  storedTokensSchema,
  type RefreshInFlightNote,
  type StoredTokens,
  type TokenStore,
  type TokenStoreLoadResult,
} from './token-store';

export const STORE_FILE_NAME = 'qb-tokens.json';
/** Present while a token call is in flight: `{ startedAt, refreshTokenSha256 }`, never a token value. */
/** A save takes milliseconds: a temp file this old was left by a process that died mid-save. */
const ORPHANED_TEMP_AGE_MS = 60_000;

export interface FileTokenStoreOptions {
  dataDir: string;
  /** QB_STORE_KEY: when set the file is encrypted; when null it is plaintext and a warning says so. */
  storeKey: string | null;
  log?: LogFn;
  /** How long to wait for another process's refresh lock, ms (default 60 s). */
  lockWaitMs?: number;
  /** A lock not updated for this long is taken over (its holder crashed), ms (default 10 s). */
  lockStaleMs?: number;
  /** How long a failing save is retried before the tokens go to a rescue file, ms (default 10 s). */
  saveRetryMs?: number;
  /** Where rescue files go (default: ~/.qb-token-desk/rescue, then the temp directory). */
  rescueDirs?: readonly string[];
}

class UnreadableStore extends Error {}

export class FileTokenStore implements TokenStore {
  readonly location: string;
  private readonly file: DurableRecordFile;
  private readonly storeKey: string | null;
  private readonly log: LogFn;
  private note: RefreshNoteFile | null = null;
  private readonly lockWaitMs: number;
  private readonly lockStaleMs: number;
  private readonly codec: TokenEnvelopeCodec;
  private standing: string[];
  private swept = false;
  /** >0 while this instance holds the refresh lock (a rescued chain is moved back only then). */
  private lockDepth = 0;

  constructor(options: FileTokenStoreOptions) {
    this.location = join(options.dataDir, STORE_FILE_NAME);
    this.storeKey = options.storeKey;
    this.codec = new TokenEnvelopeCodec(options.storeKey);
    this.log = options.log ?? (() => undefined);
    this.file = new DurableRecordFile({
      dir: options.dataDir,
      fileName: STORE_FILE_NAME,
      log: this.log,
      saveRetryMs: options.saveRetryMs,
      rescueDirs: options.rescueDirs,
    });
    this.lockWaitMs = options.lockWaitMs ?? 60_000;
    this.lockStaleMs = options.lockStaleMs ?? 10_000;
    this.standing = this.storeKey
      ? []
      : [`Tokens are stored unencrypted in ${this.location}; set QB_STORE_KEY to encrypt them.`];
  }

  get warnings(): readonly string[] {
    return this.standing;
  }

  get description(): ConnectionStoreDescription {
    return { kind: 'file', location: this.location, encrypted: this.storeKey !== null };
  }

  async load(): Promise<TokenStoreLoadResult> {
    this.file.realDir();
    if (!this.swept) {
      this.swept = true;
      await this.file.sweepTemps(ORPHANED_TEMP_AGE_MS);
    }
    // A chain a failed save left in a rescue file is moved back under the lock, so no refresh races it.
    if (this.lockDepth === 0 && this.file.findRescued() && this.file.writableProblem() === null) {
      return this.withRefreshLock(() => this.loadCurrent());
    }
    return this.loadCurrent();
  }

  private async loadCurrent(): Promise<TokenStoreLoadResult> {
    const warnings: string[] = [];
    const unwritable = this.file.writableProblem();
    if (unwritable) warnings.push(`${unwritable} Refreshing is not possible until it is.`);
    let tokens: StoredTokens | null = null;
    const text = this.file.read()?.toString('utf8') ?? null;
    if (text !== null) {
      try {
        const decoded = this.decode(text);
        tokens = decoded.tokens;
        // A plaintext file found while a key is configured is encrypted at once (when it can be written).
        if (decoded.wasPlaintext && this.storeKey && !unwritable) {
          await this.file.writeOnce(this.body(tokens)).catch((err: NodeJS.ErrnoException) => {
            warnings.push(
              `The token store could not be encrypted yet (${err.code ?? 'error'}); it stays in plaintext for now.`,
            );
          });
        }
      } catch (err) {
        if (!(err instanceof UnreadableStore)) throw err;
        const aside = `${this.file.realPath()}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
        await fs.rename(this.file.realPath(), aside);
        const warning = `The token store could not be read (${err.message}) and was moved aside to ${aside}; carrying on from the environment's token.`;
        this.log(warning);
        warnings.push(warning);
      }
    }
    const rescued = this.takeRescued(tokens, warnings);
    if (rescued) tokens = await this.moveBack(rescued, warnings);
    return { tokens, warnings };
  }

  /** The rescued chain when it is newer than the stored one; an older rescue file is dropped. */
  private takeRescued(
    stored: StoredTokens | null,
    warnings: string[],
  ): { tokens: StoredTokens; path: string } | null {
    const found = this.file.findRescued();
    if (!found) return null;
    let rescued: StoredTokens;
    try {
      rescued = this.decode(found.body.toString('utf8')).tokens;
    } catch (err) {
      warnings.push(
        `A rescued copy of the tokens in ${found.path} could not be read (${(err as Error).message}); it was left as it is.`,
      );
      return null;
    }
    if (stored && issuedAt(stored) >= issuedAt(rescued)) {
      if (this.lockDepth > 0) this.file.clearRescued();
      return null;
    }
    return { tokens: rescued, path: found.path };
  }

  private async moveBack(
    rescued: { tokens: StoredTokens; path: string },
    warnings: string[],
  ): Promise<StoredTokens> {
    if (this.lockDepth > 0) {
      try {
        await this.file.writeOnce(this.body(rescued.tokens));
        this.file.clearRescued();
        const line = `The latest tokens had been saved to ${rescued.path} because ${this.location} could not be written; they are back in ${this.location}.`;
        this.log(line);
        warnings.push(line);
        return rescued.tokens;
      } catch (err) {
        this.log(
          `Moving the rescued tokens back failed (${(err as NodeJS.ErrnoException).code ?? 'error'}).`,
        );
      }
    }
    warnings.push(
      `The latest tokens are in ${rescued.path} (${this.location} could not be written when they were issued); they are moved back once it can be.`,
    );
    return rescued.tokens;
  }

  /**
   * Atomic: a temp file (the one reserved when the refresh began), renamed over the store.
   * Everything up to and including the rename is synchronous, so it is done before save() returns
   * its promise: a save started the moment Intuit's answer is in (the engine does that) puts the
   * rotated refresh token in place without one event-loop turn in between for a SIGKILL to land in.
   * The fsyncs that follow, before the promise resolves, make it survive a power loss too. A save
   * that fails is retried, then rescued (StoreSaveRescuedError says where).
   */
  async save(tokens: StoredTokens): Promise<void> {
    storedTokensSchema.parse(tokens);
    await this.file.write(this.body(tokens), () => markRefreshStep('renamed'));
    markRefreshStep('saved');
    // A rescued copy this save supersedes is dropped.
    const rescued = this.file.findRescued();
    if (rescued && this.lockDepth > 0) this.file.clearRescued();
  }

  /**
   * Before the token call: reserves the space the answer's save needs (throws a store error naming
   * QB_DATA_DIR when it is not there: the call must then not start), then leaves the note.
   */
  beginRefresh(note: RefreshInFlightNote): void {
    this.file.reserve();
    this.refreshNote().write(note);
  }

  endRefresh(): void {
    this.file.discardReservation();
    this.refreshNote().remove();
  }

  interruptedRefresh(): Promise<RefreshInFlightNote | null> {
    return this.refreshNote().read();
  }

  private refreshNote(): RefreshNoteFile {
    this.note ??= new RefreshNoteFile(`${this.file.realPath()}${REFRESHING_NOTE_SUFFIX}`, this.log);
    return this.note;
  }

  async forget(): Promise<void> {
    await this.file.remove();
  }

  async withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
    // Fails at once (naming QB_DATA_DIR) on a directory this process cannot write to or must not trust.
    this.file.assertWritable();
    return withFileLock(
      this.file.realPath(),
      { waitMs: this.lockWaitMs, staleMs: this.lockStaleMs, log: this.log },
      async () => {
        this.lockDepth += 1;
        try {
          return await fn();
        } finally {
          this.lockDepth -= 1;
        }
      },
    );
  }

  private body(tokens: StoredTokens): Buffer {
    return Buffer.from(JSON.stringify(this.encode(tokens)), 'utf8');
  }

  private encode(tokens: StoredTokens): object {
    return this.codec.seal(tokens);
  }

  private decode(text: string): { tokens: StoredTokens; wasPlaintext: boolean } {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new UnreadableStore('not valid JSON');
    }
    try {
      return this.codec.open(json);
    } catch (err) {
      if (!(err instanceof UnreadableEnvelopeError)) throw err;
      // Not corruption: the right key opens it. Left exactly as it is; nothing is refreshed.
      if (err.reason === 'key') {
        throw new StoreKeyError(
          this.storeKey
            ? `The token store ${this.location} could not be decrypted with this QB_STORE_KEY (a different key ` +
                'than it was written with, or a damaged file). Set QB_STORE_KEY to the key it was written with; ' +
                'the store was left as it is and nothing was refreshed.'
            : `The token store ${this.location} is encrypted and QB_STORE_KEY is not set. Set QB_STORE_KEY to the ` +
                'key it was written with; the store was left as it is and nothing was refreshed.',
        );
      }
      throw new UnreadableStore(err.message);
    }
  }
}

/** When a chain's latest refresh happened (the newer of two copies wins). */
function issuedAt(tokens: StoredTokens): number {
  return Math.max(tokens.refreshedAt ?? 0, tokens.refreshTokenIssuedAt);
}
