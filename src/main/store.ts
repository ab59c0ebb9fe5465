// The desktop token store: electron-store (a JSON file in the store's directory, written
// atomically) holding the token record encrypted by the OS keychain through Electron's safeStorage,
// base64. Where the OS offers no real encryption (safeStorage unavailable, or Linux's hard-coded
// `basic_text` key) the tokens stay in memory only, with a warning. A record that cannot be read is
// moved aside under a `corrupt-<timestamp>` key (or the file to a `.corrupt-<timestamp>` name),
// never deleted: it may hold the only valid refresh token.
//
// Both electron-store and safeStorage are injected: this module never imports electron, so its
// logic is tested on Node (with `conf`, which electron-store extends, and a stand-in safeStorage).
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { ConnectionStoreDescription } from '../core/connection-store';
import type { LogFn } from '../core/log';
import { assertWritableDir, prepareDataDir } from '../core/fs/data-dir';
import { withFileLock } from '../core/refresh-lock';
import { RefreshNoteFile, REFRESHING_NOTE_SUFFIX } from '../core/refresh-note';
import {
  storedTokensSchema,
  type RefreshInFlightNote,
  type StoredTokens,
  type TokenStore,
  type TokenStoreLoadResult,
} from '../core/token-store';

/** The part of electron-store (and conf) the store uses. */
export interface KeyValueStore {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  delete(key: string): void;
  readonly path: string;
}

/** The part of Electron's safeStorage the store uses. */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  getSelectedStorageBackend?(): string;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
}

export interface DesktopTokenStoreOptions {
  /** The store's directory (the data dir); holds the electron-store file and the refresh lock. */
  directory: string;
  /** Opens the electron-store file in `directory`; may throw when the file is not valid JSON. */
  openStore: (directory: string) => KeyValueStore;
  safeStorage: SafeStorageLike;
  platform?: NodeJS.Platform;
  log?: LogFn;
  now?: () => Date;
  /** How long to wait for another process's refresh lock, ms (default 60 s). */
  lockWaitMs?: number;
  /** A lock not updated for this long is taken over (its holder crashed), ms (default 10 s). */
  lockStaleMs?: number;
}

export const DESKTOP_STORE_NAME = 'desktop-tokens';
export const TOKENS_KEY = 'tokens';
const FORMAT = 'qb-token-desk/desktop-v1';

const envelopeSchema = z.object({
  format: z.literal(FORMAT),
  cipher: z.literal('safeStorage'),
  data: z.string().min(1),
});

class UnreadableRecord extends Error {}

/** Why the OS cannot protect the tokens, or null when it can. */
export function encryptionUnavailableReason(
  safeStorage: SafeStorageLike,
  platform: NodeJS.Platform,
): string | null {
  let available: boolean;
  try {
    available = safeStorage.isEncryptionAvailable();
  } catch {
    available = false;
  }
  if (!available)
    return 'the operating system offers no encryption to this app (no keychain or secret service)';
  if (platform === 'linux') {
    let backend: string;
    try {
      backend = safeStorage.getSelectedStorageBackend?.() ?? 'unknown';
    } catch {
      backend = 'unknown';
    }
    if (backend === 'basic_text') {
      return 'no secret service (GNOME Keyring, KWallet) is running, so Electron would only obfuscate them with a fixed key';
    }
  }
  return null;
}

export class DesktopTokenStore implements TokenStore {
  readonly location: string;
  readonly warnings: readonly string[];
  readonly description: ConnectionStoreDescription;
  private readonly directory: string;
  private readonly openStore: (directory: string) => KeyValueStore;
  private readonly safeStorage: SafeStorageLike;
  private readonly log: LogFn;
  private readonly now: () => Date;
  private readonly lockWaitMs: number;
  private readonly lockStaleMs: number;
  /** Set when no OS encryption exists: the tokens live here and nowhere else. */
  private readonly memoryOnly: boolean;
  private memory: StoredTokens | null = null;
  private kv: KeyValueStore | null = null;
  /** In-process queue in front of the cross-process lock (proper-lockfile is not re-entrant). */
  private lockQueue: Promise<unknown> = Promise.resolve();
  private readonly note: RefreshNoteFile;

  constructor(options: DesktopTokenStoreOptions) {
    this.directory = options.directory;
    this.location = join(options.directory, `${DESKTOP_STORE_NAME}.json`);
    this.description = {
      kind: 'desktop',
      location: this.location,
      encrypted:
        encryptionUnavailableReason(options.safeStorage, options.platform ?? process.platform) === null,
    };
    this.openStore = options.openStore;
    this.safeStorage = options.safeStorage;
    this.log = options.log ?? (() => undefined);
    this.now = options.now ?? (() => new Date());
    this.lockWaitMs = options.lockWaitMs ?? 60_000;
    this.lockStaleMs = options.lockStaleMs ?? 10_000;
    this.note = new RefreshNoteFile(`${this.location}${REFRESHING_NOTE_SUFFIX}`, this.log);
    const reason = encryptionUnavailableReason(options.safeStorage, options.platform ?? process.platform);
    this.memoryOnly = reason !== null;
    this.warnings = reason
      ? [
          `Tokens are kept in memory only because ${reason}; after a restart the app starts again from QB_REFRESH_TOKEN, which may have been rotated away.`,
        ]
      : [];
  }

  async load(): Promise<TokenStoreLoadResult> {
    if (this.memoryOnly) return this.loadInMemoryMode();
    const warnings: string[] = [];
    const kv = this.store(warnings);
    const blob = kv.get(TOKENS_KEY);
    if (blob === undefined) return { tokens: null, warnings };
    try {
      return { tokens: this.decode(blob), warnings };
    } catch (error) {
      if (!(error instanceof UnreadableRecord)) throw error;
      const key = `corrupt-${this.stamp()}`;
      kv.set(key, blob);
      kv.delete(TOKENS_KEY);
      const warning = `The desktop token store could not be decrypted (${error.message}) and was moved aside under the key "${key}" in ${kv.path}; carrying on from the environment's token.`;
      this.log(warning);
      warnings.push(warning);
      return { tokens: null, warnings };
    }
  }

  async save(tokens: StoredTokens): Promise<void> {
    const record = storedTokensSchema.parse(tokens) as StoredTokens;
    if (this.memoryOnly) {
      this.memory = structuredClone(record);
      return;
    }
    const data = this.safeStorage.encryptString(JSON.stringify(record)).toString('base64');
    // electron-store writes the whole file atomically (temp file + rename) before returning.
    this.store([]).set(TOKENS_KEY, { format: FORMAT, cipher: 'safeStorage', data });
  }

  async forget(): Promise<void> {
    this.memory = null;
    if (!this.memoryOnly) this.store([]).delete(TOKENS_KEY);
  }

  // The refresh-in-flight note (no token value): lets the next start explain an invalid_grant
  // after the app was stopped between Intuit's rotation and the save.
  beginRefresh(note: RefreshInFlightNote): void {
    this.note.write(note);
  }

  endRefresh(): void {
    this.note.remove();
  }

  interruptedRefresh(): Promise<RefreshInFlightNote | null> {
    return this.note.read();
  }

  withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lockQueue.then(() => this.crossProcessLock(fn));
    this.lockQueue = run.catch(() => undefined);
    return run;
  }

  private async crossProcessLock<T>(fn: () => Promise<T>): Promise<T> {
    // Checked like ~/.ssh, and a directory this user cannot write to fails at once (not after the wait).
    assertWritableDir(prepareDataDir(this.directory));
    return withFileLock(
      this.location,
      { waitMs: this.lockWaitMs, staleMs: this.lockStaleMs, log: this.log },
      fn,
    );
  }

  private loadInMemoryMode(): TokenStoreLoadResult {
    const warnings: string[] = [];
    // A record written while encryption worked is left exactly as it is: it may be readable again
    // once the keychain is back.
    if (existsSync(this.location)) {
      try {
        if (this.store(warnings).get(TOKENS_KEY) !== undefined) {
          warnings.push(
            `An encrypted token store exists in ${this.location} but cannot be decrypted without OS encryption; it was left untouched.`,
          );
        }
      } catch {
        // store() already reported a file it had to move aside.
      }
    }
    return { tokens: this.memory ? structuredClone(this.memory) : null, warnings };
  }

  /** Opens the file once; a file that is not valid JSON is moved aside and a fresh one started. */
  private store(warnings: string[]): KeyValueStore {
    if (this.kv) return this.kv;
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    try {
      this.kv = this.openStore(this.directory);
    } catch (error) {
      if (!existsSync(this.location)) throw error;
      const aside = `${this.location}.corrupt-${this.stamp()}`;
      renameSync(this.location, aside);
      const warning = `The desktop token store file could not be read (not valid JSON) and was moved aside to ${aside}; carrying on from the environment's token.`;
      this.log(warning);
      warnings.push(warning);
      this.kv = this.openStore(this.directory);
    }
    return this.kv;
  }

  private decode(blob: unknown): StoredTokens {
    const envelope = envelopeSchema.safeParse(blob);
    if (!envelope.success) throw new UnreadableRecord('not a token record of this version');
    let plain: string;
    try {
      plain = this.safeStorage.decryptString(Buffer.from(envelope.data.data, 'base64'));
    } catch {
      throw new UnreadableRecord(
        'the OS keychain could not decrypt it; the keychain or the user may have changed',
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(plain);
    } catch {
      throw new UnreadableRecord('its decrypted content is not valid JSON');
    }
    const tokens = storedTokensSchema.safeParse(json);
    if (!tokens.success) throw new UnreadableRecord('its token record is incomplete');
    return tokens.data as StoredTokens;
  }

  private stamp(): string {
    return this.now().toISOString().replace(/[:.]/g, '-');
  }
}
