// One process's dealings with the store about one connection: the record as last read or written
// under the lock, the health and profile changes made here that are not in the store yet, and whether
// the store answers. Every write is the record read under the lock plus those changes, one revision up, so a
// change made while the store could not be written is applied, later, to whatever is current then.
// A store failure is tracked (status, telemetry) and the store is asked again on a timer until it
// answers; the owner (TokenManager) decides what to do with what it then finds.
import type { ConnectionId } from '../shared/contract';
import {
  applyHealthChanges,
  newConnectionRecord,
  nextRevision,
  withTokens,
  type ConnectionProfile,
  type ConnectionRecord,
  type HealthChange,
} from './connection-record';
import type { ConnectionStore } from './connection-store';
import {
  StoreConfigError,
  StoreError,
  StoreKeyError,
  StoreLockTimeoutError,
  StoreUnavailableError,
} from './errors';
import type { LogFn } from './log';
import type { EngineTelemetry, StoreErrorKind } from './telemetry';
import type { ProcessFacts } from './token-status';
import type { StoredTokens } from './token-store';

interface SessionTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** What a rename or CompanyInfo's company name changes in the profile. */
export type ProfileEdits = Partial<Pick<ConnectionProfile, 'name' | 'companyName'>>;

interface ConnectionSessionOptions {
  store: ConnectionStore;
  connectionId: ConnectionId;
  now: () => number;
  timers: SessionTimers;
  log: LogFn;
  telemetry: EngineTelemetry;
  /** How long a refresh waits for the lock before StoreLockTimeoutError. */
  lockWaitMs: number;
  /** While the store does not answer, it is asked again this often, ms. */
  retryMs: number;
  /** The profile a write carries before the edits made here (the owner's configuration defines parts of it). */
  profile: (base: ConnectionRecord | null) => ConnectionProfile;
  /** Every record read under the lock passes here first (the owner registers its token values). */
  onRead: (record: ConnectionRecord | null) => void;
  /** The retry timer fired: the owner asks the store again. */
  onRetry: () => void;
  /** The store failed (not a slow lock holder): the owner stops its refresh timer. */
  onFailed: () => void;
}

export class ConnectionSession {
  /** The record as last read or written under the lock (or taken in from another process's write). */
  shared: ConnectionRecord | null = null;
  /** Health changes made here that are not in the store yet (written with the next write). */
  pending: HealthChange[] = [];
  /** What loading found (a record moved aside, an upgrade): shown as warnings. */
  loadWarnings: string[] = [];
  /** Profile edits not in the store yet: shown at once, written with the next write. */
  private profileEdits: ProfileEdits = {};
  /** The record has been read under the lock at least once (a refresh decided on what the store held). */
  readUnderLock = false;
  private fault: StoreError | null = null;
  private reachable = true;
  private retryTimer: unknown = null;
  private closed = false;

  constructor(private readonly options: ConnectionSessionOptions) {}

  /** The record as this process sees it: the shared one, with `chain` and the changes not yet written. */
  view(chain: StoredTokens | null): ConnectionRecord | null {
    if (!this.shared && !chain && this.pending.length === 0) return null;
    const base = this.shared ?? newConnectionRecord(this.options.connectionId, this.profile(null), null);
    const record = applyHealthChanges(withTokens(base, chain), this.pending);
    // A rename or a company name not yet written shows at once.
    if (Object.keys(this.profileEdits).length === 0) return record;
    return { ...record, profile: { ...record.profile, ...this.profileEdits } };
  }

  /** Takes in a rename or a company name; the next write stores it (a newer edit made meanwhile stays). */
  editProfile(edits: ProfileEdits): void {
    this.profileEdits = { ...this.profileEdits, ...edits };
  }

  /**
   * The record was removed from the store: what was read of it and what was meant to be written to it
   * are dropped (a record written later starts anew, from revision 1).
   */
  forgetRecord(): void {
    this.shared = null;
    this.pending = [];
    this.profileEdits = {};
  }

  /** The store works again or has never failed. */
  get healthy(): boolean {
    return this.fault === null;
  }

  /** A configuration fault (wrong QB_STORE_KEY, an unusable QB_DATA_DIR): nothing can be refreshed. */
  get misconfigured(): boolean {
    return this.fault instanceof StoreKeyError || this.fault instanceof StoreConfigError;
  }

  storeFacts(): NonNullable<ProcessFacts['store']> {
    const fault = this.fault;
    const store = this.options.store;
    return {
      description: store.description,
      reachable: this.reachable,
      warnings: [...store.warnings, ...this.loadWarnings],
      problem: fault ? problemSentence(fault) : null,
      misconfigured: this.misconfigured,
    };
  }

  /**
   * Runs `fn` under the connection's lock with the record as it is now in the store, and what the
   * read found about it (a record moved aside as unreadable comes back null, with a warning). Store
   * failures are tracked (status, telemetry, the retry timer) and rethrown.
   */
  async underLock<T>(
    fn: (latest: ConnectionRecord | null, warnings: readonly string[]) => Promise<T>,
    recordWarning: (warning: string) => void,
  ): Promise<T> {
    if (this.misconfigured && this.fault) throw this.fault;
    const { store, connectionId, telemetry, now } = this.options;
    const asked = now();
    try {
      return await store.withLock(
        connectionId,
        async () => {
          telemetry.lockWaited({ connectionId, waitMs: now() - asked });
          const { record, warnings } = await store.load(connectionId);
          this.answered();
          this.readUnderLock = true;
          for (const warning of warnings) recordWarning(warning);
          if (record && record.revision >= (this.shared?.revision ?? 0)) this.shared = record;
          this.options.onRead(record);
          return fn(record, warnings);
        },
        { waitMs: this.options.lockWaitMs },
      );
    } catch (err) {
      if (err instanceof StoreError && !(err instanceof SaveFailed)) this.failed(err);
      throw err;
    }
  }

  /**
   * Writes the record under the lock: `latest` (what the store holds now) with `chain`, the changes
   * not yet written and `changes`, one revision up. On success they are all in the store; on failure
   * they stay pending and SaveFailed is thrown. Synchronous up to the store's save() call (a file
   * store renames before returning): a write started as Intuit's answer arrives leaves no event-loop
   * turn before the rotated chain is in place.
   */
  write(latest: ConnectionRecord | null, chain: StoredTokens | null, changes: HealthChange[]): Promise<void> {
    const { store, connectionId } = this.options;
    const base = latest ?? this.shared ?? newConnectionRecord(connectionId, this.profile(null), null);
    const all = [...this.pending, ...changes];
    const edits = this.profileEdits;
    const record = nextRevision(
      applyHealthChanges({ ...withTokens(base, chain), profile: this.profile(base) }, all),
      latest,
    );
    this.pending = all;
    return store.save(record).then(
      () => {
        this.shared = record;
        this.pending = this.pending.filter((change) => !all.includes(change));
        if (this.profileEdits === edits) this.profileEdits = {};
      },
      (err: unknown) => {
        if (err instanceof StoreUnavailableError) this.failed(err);
        else this.options.telemetry.storeFailed({ connectionId, kind: storeErrorKind(err, 'write') });
        this.options.log(`Writing the connection record failed: ${(err as Error).message}`, {
          level: 'error',
        });
        throw new SaveFailed(err);
      },
    );
  }

  /** A store failure: tracked, and (unless another holder is merely slow) asked again on a timer. */
  failed(err: StoreError): void {
    this.options.telemetry.storeFailed({
      connectionId: this.options.connectionId,
      kind: storeErrorKind(err, 'unavailable'),
    });
    if (err instanceof StoreLockTimeoutError) return; // the store answers; another holder is slow
    const first = this.fault === null;
    this.fault = err;
    if (err instanceof StoreUnavailableError) this.reachable = false;
    if (first) this.options.log(`The token store failed: ${err.message}`, { level: 'error' });
    this.options.onFailed();
    this.armRetry();
  }

  /** The store answered. */
  answered(): void {
    if (this.fault === null) return;
    this.fault = null;
    this.reachable = true;
    this.clearRetry();
    this.options.log('The token store answers again.');
  }

  armRetry(): void {
    if (this.retryTimer !== null || this.closed) return;
    this.retryTimer = this.options.timers.setTimeout(() => {
      this.retryTimer = null;
      if (!this.closed && this.fault !== null) this.options.onRetry();
    }, this.options.retryMs);
  }

  close(): void {
    this.closed = true;
    this.clearRetry();
  }

  private profile(base: ConnectionRecord | null): ConnectionProfile {
    return { ...this.options.profile(base), ...this.profileEdits };
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) this.options.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}

/** A write failed: what was meant to be written stays pending, and the caller hears a StoreError. */
export class SaveFailed extends StoreError {
  override name = 'SaveFailed';
  constructor(override readonly cause: unknown) {
    super('The connection record could not be written.');
  }

  /** What to tell the caller: the store's own error (it may say where a rescued chain went), or a plain one. */
  toStoreError(): StoreError {
    if (this.cause instanceof StoreError) return this.cause;
    return new StoreError(
      'The new tokens could not be saved to the token store; they are kept in memory and saved before anything is handed out.',
    );
  }
}

export function isTransientStoreError(err: unknown): err is StoreError {
  return err instanceof StoreUnavailableError || err instanceof StoreLockTimeoutError;
}

function storeErrorKind(err: unknown, otherwise: StoreErrorKind): StoreErrorKind {
  if (err instanceof StoreUnavailableError) return 'unavailable';
  if (err instanceof StoreLockTimeoutError) return 'lock_timeout';
  if (err instanceof StoreKeyError) return 'key';
  if (err instanceof StoreConfigError) return 'config';
  return otherwise;
}

function problemSentence(err: StoreError): string {
  if (err instanceof StoreUnavailableError) {
    return `The token store cannot be reached (${err.message}); a still-valid access token is served from memory and nothing is refreshed until it answers again.`;
  }
  return err.message;
}
