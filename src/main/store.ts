// The desktop connection store: electron-store (a JSON file in the app's data directory, written
// atomically, mode 0600) holding one record per connection under `connection:<id>`. The token chain
// inside is protected by the best means there is, and always persisted (a chain kept in memory only
// is lost at the next restart, and Intuit then answers invalid_grant):
// - safeStorage, where the OS really encrypts (a keychain, or a secret service on Linux);
// - else QB_STORE_KEY (AES-256-GCM, as the file store), when it is set;
// - else plaintext in the 0600 file, with the same warning as the file store.
// A record that cannot be read is moved aside under a `corrupt-<timestamp>` key (or the file to a
// `.corrupt-<timestamp>` name), never deleted; a chain that cannot be decrypted (keychain locked,
// changed or gone; a wrong QB_STORE_KEY) is left where it is and nothing is refreshed (StoreKeyError).
// The single-connection layout of 0.1 (`tokens`) is upgraded into the default connection's record.
// A store file that is a symbolic link is refused (StoreConfigError), never followed nor replaced.
//
// Both electron-store and safeStorage are injected: this module never imports electron, so its
// logic is tested on Node (with `conf`, which electron-store extends, and a stand-in safeStorage).
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { ConnectionId, QbEnvironment } from '../shared/contract';
import { isValidConnectionId } from '../shared/ids';
import {
  checkedConnectionId,
  defaultProfile,
  newConnectionRecord,
  checkRecordForSave,
  parseConnectionRecord,
  type ConnectionRecord,
} from '../core/connection-record';
import type {
  ConnectionStore,
  ConnectionStoreDescription,
  LockOptions,
  RecordChange,
  RecordLoadResult,
} from '../core/connection-store';
import { ConnectionLockQueue } from '../core/connection-lock-queue';
import { StoreKeyError } from '../core/errors';
import { assertWritableDir, prepareDataDir, storeFsError } from '../core/fs/data-dir';
import { refuseSymlink } from '../core/fs/safe-open';
import type { LogFn } from '../core/log';
import { withFileLock } from '../core/refresh-lock';
import { RefreshNoteFile, REFRESHING_NOTE_SUFFIX } from '../core/refresh-note';
import { sealedSchema, StoreCipher } from '../core/store-crypto';
import { openSealedChain } from '../core/token-envelope';
import { storedTokensSchema, type RefreshInFlightNote, type StoredTokens } from '../core/token-store';

/** The part of electron-store (and conf) the store uses. */
interface KeyValueStore {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  delete(key: string): void;
  readonly store: Record<string, unknown>;
  readonly path: string;
}

/** The part of Electron's safeStorage the store uses. */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  getSelectedStorageBackend?(): string;
  encryptString(plainText: string): Buffer;
  decryptString(encrypted: Buffer): string;
}

interface DesktopConnectionStoreOptions {
  /** The store's directory (the data dir); holds the electron-store file, the locks and notes. */
  directory: string;
  /** Opens the electron-store file in `directory` (mode 0600); may throw when the file is not valid JSON. */
  openStore: (directory: string) => KeyValueStore;
  safeStorage: SafeStorageLike;
  /** QB_STORE_KEY: protects the chain where safeStorage cannot. */
  storeKey?: string | null;
  platform?: NodeJS.Platform;
  log?: LogFn;
  now?: () => Date;
  /** How long to wait for another process's lock, ms, unless the caller says (default 60 s). */
  lockWaitMs?: number;
  /** A lock not updated for this long is taken over (its holder crashed), ms (default 10 s). */
  lockStaleMs?: number;
  /** The environment the QB_* variables name: the profile of a 0.1 record upgraded to the default connection. */
  environment?: QbEnvironment;
}

export const DESKTOP_STORE_NAME = 'desktop-tokens';
/** The key of 0.1's single record; upgraded by open(). */
export const LEGACY_TOKENS_KEY = 'tokens';
const KEY_PREFIX = 'connection:';
const FORMAT = 'qb-token-desk/desktop-connection-v2';
const LEGACY_FORMAT = 'qb-token-desk/desktop-v1';

/** How the chain is kept, best first. */
type DesktopProtection = 'safeStorage' | 'storeKey' | 'plaintext';

const tokensSchema = z.discriminatedUnion('protection', [
  z.object({ protection: z.literal('safeStorage'), data: z.string().min(1) }),
  sealedSchema.extend({ protection: z.literal('storeKey') }),
  z.object({ protection: z.literal('plaintext'), chain: z.unknown() }),
]);

const entrySchema = z.object({
  format: z.literal(FORMAT),
  record: z.looseObject({}),
  tokens: tokensSchema.nullable(),
});

const legacySchema = z.object({
  format: z.literal(LEGACY_FORMAT),
  cipher: z.literal('safeStorage'),
  data: z.string().min(1),
});

class UnreadableRecord extends Error {}

/** Why the OS cannot protect the tokens, or null when it can. */
function encryptionUnavailableReason(safeStorage: SafeStorageLike, platform: NodeJS.Platform): string | null {
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

export class DesktopConnectionStore implements ConnectionStore {
  readonly location: string;
  readonly warnings: readonly string[];
  readonly description: ConnectionStoreDescription;
  readonly protection: DesktopProtection;
  private readonly directory: string;
  private readonly openStore: (directory: string) => KeyValueStore;
  private readonly safeStorage: SafeStorageLike;
  private readonly cipher: StoreCipher | null;
  private readonly log: LogFn;
  private readonly now: () => Date;
  private readonly lockWaitMs: number;
  private readonly lockStaleMs: number;
  private readonly environment: QbEnvironment;
  private kv: KeyValueStore | null = null;
  private opening: Promise<void> | null = null;
  /** What opening found, reported by the next load (a file moved aside, an unreadable 0.1 record). */
  private readonly openWarnings: string[] = [];
  private readonly lockQueue = new ConnectionLockQueue();
  private readonly notes = new Map<ConnectionId, RefreshNoteFile>();

  constructor(options: DesktopConnectionStoreOptions) {
    this.directory = options.directory;
    this.location = join(options.directory, `${DESKTOP_STORE_NAME}.json`);
    this.openStore = options.openStore;
    this.safeStorage = options.safeStorage;
    this.cipher = options.storeKey ? new StoreCipher(options.storeKey) : null;
    this.log = options.log ?? (() => undefined);
    this.now = options.now ?? (() => new Date());
    this.lockWaitMs = options.lockWaitMs ?? 60_000;
    this.lockStaleMs = options.lockStaleMs ?? 10_000;
    this.environment = options.environment ?? 'sandbox';
    const reason = encryptionUnavailableReason(options.safeStorage, options.platform ?? process.platform);
    this.protection = reason === null ? 'safeStorage' : this.cipher ? 'storeKey' : 'plaintext';
    this.description = {
      kind: 'desktop',
      location: this.location,
      encrypted: this.protection !== 'plaintext',
    };
    this.warnings =
      this.protection === 'plaintext'
        ? [
            `Tokens are stored unencrypted in ${this.location} because ${reason}; set QB_STORE_KEY to encrypt them.`,
          ]
        : [];
  }

  open(): Promise<void> {
    this.opening ??= Promise.resolve()
      .then(() => this.upgradeLegacyRecord())
      .catch((err: unknown) => {
        this.opening = null;
        throw err;
      });
    return this.opening;
  }

  async list(): Promise<ConnectionId[]> {
    await this.open();
    return Object.keys(this.store().store)
      .filter((key) => key.startsWith(KEY_PREFIX))
      .map((key) => key.slice(KEY_PREFIX.length))
      .filter(isValidConnectionId)
      .sort();
  }

  async load(id: ConnectionId): Promise<RecordLoadResult> {
    await this.open();
    const warnings = this.openWarnings.splice(0);
    const kv = this.store(warnings);
    const key = keyOf(id);
    const entry = kv.get(key);
    if (entry === undefined) return { record: null, warnings };
    try {
      return { record: this.decode(entry, id), warnings };
    } catch (error) {
      if (!(error instanceof UnreadableRecord)) throw error;
      warnings.push(this.moveAside(kv, key, entry, error.message));
      return { record: null, warnings };
    }
  }

  async save(record: ConnectionRecord): Promise<void> {
    checkRecordForSave(record);
    // electron-store writes the whole file atomically (temp file + rename) before returning.
    this.store([]).set(keyOf(record.id), this.encode(record));
  }

  async remove(id: ConnectionId): Promise<void> {
    this.store([]).delete(keyOf(id));
    this.note(id).remove();
  }

  withLock<T>(id: ConnectionId, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
    const lockPath = join(this.directory, `${DESKTOP_STORE_NAME}.${checkedConnectionId(id)}`);
    return this.lockQueue.run(id, () => this.fileLock(lockPath, options.waitMs ?? this.lockWaitMs, fn));
  }

  /** The desktop app runs one instance and is the store's only writer: there is nothing to hear. */
  watch(_listener: (change: RecordChange) => void): () => void {
    return () => undefined;
  }

  // The refresh-in-flight note (no token value): lets the next start explain an invalid_grant
  // after the app was stopped between Intuit's rotation and the save.
  beginRefresh(id: ConnectionId, note: RefreshInFlightNote): void {
    this.note(id).write(note);
  }

  endRefresh(id: ConnectionId): void {
    this.note(id).remove();
  }

  interruptedRefresh(id: ConnectionId): Promise<RefreshInFlightNote | null> {
    return this.note(id).read();
  }

  async close(): Promise<void> {
    // electron-store keeps no handle open between writes.
  }

  // ---------------------------------------------------------------- encoding

  private encode(record: ConnectionRecord): object {
    const { tokens, ...rest } = record;
    let protectedTokens: object | null = null;
    if (tokens) {
      const json = JSON.stringify(tokens);
      switch (this.protection) {
        case 'safeStorage':
          protectedTokens = {
            protection: 'safeStorage',
            data: this.safeStorage.encryptString(json).toString('base64'),
          };
          break;
        case 'storeKey':
          protectedTokens = {
            protection: 'storeKey',
            ...(this.cipher as StoreCipher).sealTokens(tokens, record.id),
          };
          break;
        case 'plaintext':
          protectedTokens = { protection: 'plaintext', chain: tokens };
      }
    }
    return { format: FORMAT, record: rest, tokens: protectedTokens };
  }

  private decode(entry: unknown, id: ConnectionId): ConnectionRecord {
    const parsed = entrySchema.safeParse(entry);
    if (!parsed.success) throw new UnreadableRecord('not a connection record of this version');
    const onDisk = parsed.data.tokens;
    let chain: unknown = null;
    if (onDisk?.protection === 'safeStorage') chain = this.openWithSafeStorage(onDisk.data);
    else if (onDisk?.protection === 'storeKey') {
      const { protection: _protection, ...sealed } = onDisk;
      chain = openSealedChain(sealed, id, this.location, this.cipher);
      if (chain === null) throw new UnreadableRecord('its token chain is incomplete');
    } else if (onDisk) chain = onDisk.chain;
    const tokens = chain === null ? null : storedTokensSchema.safeParse(chain);
    if (tokens && !tokens.success) throw new UnreadableRecord('its token chain is incomplete');
    let record: ConnectionRecord;
    try {
      record = parseConnectionRecord({ ...parsed.data.record, tokens: tokens ? tokens.data : null });
    } catch {
      throw new UnreadableRecord('its record is incomplete');
    }
    if (record.id !== id) throw new UnreadableRecord(`it holds the record of connection "${record.id}"`);
    return record;
  }

  /**
   * The chain as JSON. A keychain that cannot open it is a key problem, not corruption: nothing is
   * moved. That includes "decrypted" text that is not JSON: the OS cipher (AES-CBC in Chromium's
   * OSCrypt) carries no integrity check, so a changed or reset keychain key can yield garbage instead
   * of an error, and what was sealed was always a JSON chain.
   */
  private openWithSafeStorage(data: string): unknown {
    if (this.protection !== 'safeStorage') {
      throw new StoreKeyError(
        `The tokens in ${this.location} were encrypted by the operating system's keychain, which is not available now; nothing was changed and nothing is refreshed. Start the keychain (on Linux: GNOME Keyring or KWallet, unlocked in this session) and restart the app.`,
      );
    }
    let plain: string;
    try {
      plain = this.safeStorage.decryptString(Buffer.from(data, 'base64'));
    } catch {
      throw this.keychainCannotOpen();
    }
    try {
      return JSON.parse(plain);
    } catch {
      throw this.keychainCannotOpen();
    }
  }

  private keychainCannotOpen(): StoreKeyError {
    return new StoreKeyError(
      `The tokens in ${this.location} could not be decrypted by the operating system's keychain: it is locked, or it (or the user account) changed since they were saved; nothing was changed and nothing is refreshed. Unlock the keychain (on Linux: GNOME Keyring or KWallet, unlocked in this session) and restart the app. If the keychain was reset, these tokens cannot be opened again: move ${this.location} aside and connect to QuickBooks again.`,
    );
  }

  // ---------------------------------------------------------------- upgrade from 0.1

  /** 0.1 kept one safeStorage-encrypted chain under `tokens`: it becomes the default connection's record. */
  private async upgradeLegacyRecord(): Promise<void> {
    const kv = this.store(this.openWarnings);
    if (kv.get(LEGACY_TOKENS_KEY) === undefined) return;
    await this.withLock('default', async () => {
      const blob = kv.get(LEGACY_TOKENS_KEY);
      if (blob === undefined) return;
      if (kv.get(keyOf('default')) === undefined) {
        let tokens: StoredTokens;
        try {
          tokens = this.decodeLegacy(blob);
        } catch (error) {
          if (!(error instanceof UnreadableRecord)) throw error;
          this.openWarnings.push(this.moveAside(kv, LEGACY_TOKENS_KEY, blob, error.message));
          return;
        }
        const record = newConnectionRecord(
          'default',
          defaultProfile(this.environment, tokens.realmId),
          tokens,
        );
        await this.save({ ...record, revision: 1 });
        const legacyNote = `${this.location}${REFRESHING_NOTE_SUFFIX}`;
        if (existsSync(legacyNote)) renameSync(legacyNote, this.notePath('default'));
        this.log(
          `Upgraded the single-connection desktop token store in ${this.location} to the default connection.`,
        );
      }
      // The new record is written (electron-store renames it into place): the old one can go.
      kv.delete(LEGACY_TOKENS_KEY);
    });
  }

  private decodeLegacy(blob: unknown): StoredTokens {
    const envelope = legacySchema.safeParse(blob);
    if (!envelope.success) throw new UnreadableRecord('not a token record of version 0.1');
    const tokens = storedTokensSchema.safeParse(this.openWithSafeStorage(envelope.data.data));
    if (!tokens.success) throw new UnreadableRecord('its token record is incomplete');
    return tokens.data as StoredTokens;
  }

  // ---------------------------------------------------------------- files

  private moveAside(kv: KeyValueStore, key: string, entry: unknown, why: string): string {
    const aside = `corrupt-${this.stamp()}`;
    kv.set(aside, entry);
    kv.delete(key);
    const warning = `The desktop token store record "${key}" could not be read (${why}) and was moved aside under the key "${aside}" in ${kv.path}; carrying on from the environment's token.`;
    this.log(warning);
    return warning;
  }

  /**
   * Opens the file once; a file that is not valid JSON is moved aside and a fresh one started.
   * A store file that is a symbolic link is refused on every use, as the file store refuses one:
   * conf reads through it at each access and its atomic write resolves the link and replaces the
   * target, so the tokens would be read from, and written to, wherever the link points.
   */
  private store(warnings: string[] = []): KeyValueStore {
    refuseSymlink(this.location, 'QB_DATA_DIR');
    if (this.kv) return this.kv;
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    try {
      this.kv = this.openStore(this.directory);
    } catch (error) {
      // Only a file that is not JSON is corrupt; one that cannot be read (EACCES, EIO) is left in
      // place and the error says why: moving it aside would carry on from the environment's token.
      if (!existsSync(this.location) || !(error instanceof SyntaxError)) {
        throw storeFsError(error, this.directory, 'QB_DATA_DIR', `reading ${this.location}`);
      }
      const aside = `${this.location}.corrupt-${this.stamp()}`;
      renameSync(this.location, aside);
      const warning = `The desktop token store file could not be read (not valid JSON) and was moved aside to ${aside}; carrying on from the environment's token.`;
      this.log(warning);
      warnings.push(warning);
      this.kv = this.openStore(this.directory);
    }
    return this.kv;
  }

  private async fileLock<T>(path: string, waitMs: number, fn: () => Promise<T>): Promise<T> {
    // Checked like ~/.ssh, and a directory this user cannot write to fails at once (not after the wait).
    assertWritableDir(prepareDataDir(this.directory));
    return withFileLock(path, { waitMs, staleMs: this.lockStaleMs, log: this.log }, fn);
  }

  private notePath(id: ConnectionId): string {
    return join(this.directory, `${DESKTOP_STORE_NAME}.${checkedConnectionId(id)}${REFRESHING_NOTE_SUFFIX}`);
  }

  private note(id: ConnectionId): RefreshNoteFile {
    let note = this.notes.get(id);
    if (!note) {
      note = new RefreshNoteFile(this.notePath(id), this.log);
      this.notes.set(id, note);
    }
    return note;
  }

  private stamp(): string {
    return this.now().toISOString().replace(/[:.]/g, '-');
  }
}

function keyOf(id: ConnectionId): string {
  return `${KEY_PREFIX}${checkedConnectionId(id)}`;
}
