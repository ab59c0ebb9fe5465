// Who announces a condition change when several servers watch one connection: the first one to
// record it in the connection's shared record, under the connection's lock. The record's
// `health.announced` holds the conditions last announced; a server that finds them equal to what
// holds now stays quiet, so each change is sent once, and a restart does not repeat an alert.
// store_unreachable is the exception: a server that cannot reach the store cannot claim anything
// in it, and whether the store answers is each server's own truth, so each announces its own.
import {
  diffConditions,
  type ActiveCondition,
  type ConditionChanges,
  type ConditionKind,
} from '../../shared/conditions';
import type { ConnectionId } from '../../shared/contract';
import type { ConnectionRecord } from '../../core/connection-record';
import type { ConnectionStore } from '../../core/connection-store';

/** Conditions each server announces for itself (see the header). */
const INSTANCE_CONDITIONS: readonly ConditionKind[] = ['store_unreachable'];

export const isSharedCondition = (condition: ActiveCondition): boolean =>
  !INSTANCE_CONDITIONS.includes(condition.kind);

/** `health.announced` as read back (the record's schema already counts a garbled one as nothing announced). */
function announcedIn(record: ConnectionRecord): ActiveCondition[] {
  return record.health.announced?.conditions ?? [];
}

/** What to send (empty when another server already announced it), and what is now on record. */
export interface Settled extends ConditionChanges {
  announced: ActiveCondition[];
}

export interface AnnouncementLedger {
  /**
   * Records `current` (shared conditions only) as announced for the connection and returns what
   * changed since the last announcement. Rejects when the shared record cannot be read or written
   * (the caller tries again later).
   */
  settle(connectionId: ConnectionId, current: readonly ActiveCondition[]): Promise<Settled>;
}

/** One server on its own (no shared record): what this process announced since it started. */
export class MemoryLedger implements AnnouncementLedger {
  private readonly announced = new Map<ConnectionId, readonly ActiveCondition[]>();

  async settle(connectionId: ConnectionId, current: readonly ActiveCondition[]): Promise<Settled> {
    const changes = diffConditions(this.announced.get(connectionId) ?? [], current);
    this.announced.set(connectionId, [...current]);
    return { ...changes, announced: [...current] };
  }
}

interface StoreLedgerOptions {
  store: Pick<ConnectionStore, 'withLock' | 'load' | 'save'>;
  /** This server, as the alerts name it. */
  instance: string;
  now?: () => number;
  /**
   * The conditions as the record just read under the lock says (token-status from the record and
   * the clock). A server whose in-memory status lags behind another's write then decides on the
   * fresh record instead of announcing a recovery that did not happen. Null: use `current`.
   */
  conditionsOf?: (record: ConnectionRecord, nowMs: number) => ActiveCondition[] | null;
}

/** Several servers on one store (file or PostgreSQL): the claim lives in the shared record. */
export class StoreLedger implements AnnouncementLedger {
  private readonly now: () => number;
  /** Connections the store has no record of (never connected): nothing to claim in, so per server. */
  private readonly unrecorded = new MemoryLedger();

  constructor(private readonly options: StoreLedgerOptions) {
    this.now = options.now ?? Date.now;
  }

  settle(connectionId: ConnectionId, current: readonly ActiveCondition[]): Promise<Settled> {
    const { store } = this.options;
    return store.withLock(connectionId, async () => {
      const { record } = await store.load(connectionId);
      if (record === null) return this.unrecorded.settle(connectionId, current);
      const nowMs = this.now();
      const fresh = (this.options.conditionsOf?.(record, nowMs) ?? [...current]).filter(isSharedCondition);
      const before = announcedIn(record);
      const changes = diffConditions(before, fresh);
      if (changes.raised.length === 0 && changes.cleared.length === 0)
        return { ...changes, announced: before };
      await store.save({
        ...record,
        revision: record.revision + 1,
        health: {
          ...record.health,
          announced: { conditions: fresh, at: new Date(nowMs).toISOString(), by: this.options.instance },
        },
      });
      return { ...changes, announced: fresh };
    });
  }
}
