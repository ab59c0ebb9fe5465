// Watches every connection's conditions (src/shared/conditions.ts) and announces each change:
// raised, and cleared (recovery). Checks on every status change and once a minute (some
// conditions begin by time alone: a refresh token entering its last 14 days, Intuit silent for
// ten minutes). Shared conditions go through the ledger, so one server of many sends each alert;
// store_unreachable is this server's own and is announced from memory.
import {
  activeConditions,
  diffConditions,
  type ActiveCondition,
  type ConditionChanges,
} from '../../shared/conditions';
import type { ConnectionId, TokenStatus } from '../../shared/contract';
import type { LogFn } from '../../core/log';
import { isSharedCondition, type AnnouncementLedger, type Settled } from './alert-ledger';
import { alertPayload, type AlertEvent, type AlertPayload } from './alert-payload';

interface AlertMonitorOptions {
  /** Every connection's current status. */
  statuses: () => readonly TokenStatus[];
  /** Calls the listener on every status change; returns the unsubscribe function. */
  subscribe: (listener: () => void) => () => void;
  ledger: AnnouncementLedger;
  /** Sends one alert (the webhook); may take minutes of retries: not awaited by checks. */
  deliver: (payload: AlertPayload) => Promise<unknown>;
  /** This server, as alerts name it. */
  instance: string;
  log: LogFn;
  now?: () => number;
  /** Default 60 s. */
  checkEveryMs?: number;
}

const kindsOf = (conditions: readonly ActiveCondition[]) =>
  conditions
    .map((c) => c.kind)
    .sort()
    .join(',');

export class AlertMonitor {
  private readonly now: () => number;
  /** Shared conditions this server believes announced (what the ledger last told it). */
  private readonly believed = new Map<ConnectionId, string>();
  /** This server's own conditions, as last announced. */
  private readonly own = new Map<ConnectionId, ActiveCondition[]>();
  /** Connections whose ledger could not be reached, so the failure is logged once per spell. */
  private readonly ledgerDown = new Set<ConnectionId>();
  private readonly deliveries = new Set<Promise<unknown>>();
  private unsubscribe: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;

  constructor(private readonly options: AlertMonitorOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Subscribes, arms the minute timer and runs the first check. */
  start(): Promise<void> {
    this.unsubscribe = this.options.subscribe(() => void this.check());
    this.timer = setInterval(() => void this.check(), this.options.checkEveryMs ?? 60_000);
    this.timer.unref();
    return this.check();
  }

  /**
   * Compares the conditions with what was announced and sends the changes. Checks never overlap:
   * one asked for while another runs starts again right after it, with the newest statuses.
   */
  check(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.checkOnce();
      } while (this.again && !this.closed);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Stops watching; waits for the check in progress and for deliveries (their retries end at once on the sender's close). */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await Promise.all(this.deliveries);
  }

  /** Resolves once every alert handed to `deliver` so far has settled (tests, shutdown). */
  async idle(): Promise<void> {
    await this.running;
    await Promise.all(this.deliveries);
  }

  private async checkOnce(): Promise<void> {
    const nowMs = this.now();
    for (const status of this.options.statuses()) {
      const id = status.connection.id;
      const conditions = activeConditions(status, nowMs);
      const own = conditions.filter((c) => !isSharedCondition(c));
      this.announce(status, diffConditions(this.own.get(id) ?? [], own), nowMs);
      this.own.set(id, own);

      const shared = conditions.filter(isSharedCondition);
      if (this.believed.get(id) === kindsOf(shared)) continue;
      let settled: Settled;
      try {
        settled = await this.options.ledger.settle(id, shared);
      } catch (err) {
        // The belief stays as it was, so the next check (a status change, or the minute) tries again.
        if (!this.ledgerDown.has(id)) {
          this.ledgerDown.add(id);
          this.options.log(
            `Alerts: could not record the announced conditions in the token store (${err instanceof Error ? err.name : 'error'}); will try again.`,
            { level: 'warn', connection: id },
          );
        }
        continue;
      }
      this.ledgerDown.delete(id);
      // What the record now says, which may differ from this process's view of it: while they
      // differ, every check settles again, so a change that reaches the record later is announced.
      this.believed.set(id, kindsOf(settled.announced));
      this.announce(status, settled, nowMs);
    }
  }

  private announce(status: TokenStatus, changes: ConditionChanges, nowMs: number): void {
    const send = (event: AlertEvent, condition: ActiveCondition) => {
      const payload = alertPayload(event, condition, status, nowMs, this.options.instance);
      this.options.log(`Alert: ${payload.text}`, {
        level: event === 'raised' ? 'warn' : 'info',
        connection: status.connection.id,
        intuitTid: payload.intuit_tid,
      });
      const delivery = this.options.deliver(payload).catch(() => undefined);
      this.deliveries.add(delivery);
      void delivery.finally(() => this.deliveries.delete(delivery));
    };
    for (const condition of changes.cleared) send('cleared', condition);
    for (const condition of changes.raised) send('raised', condition);
  }
}
