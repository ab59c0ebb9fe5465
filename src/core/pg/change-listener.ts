// LISTEN on the store's channel over a dedicated connection, so a write on one machine reaches every
// other instance at once. The connection is re-made by itself when it drops (the server restarted, a
// network blip): with growing pauses. Each time it starts listening (the first time too) it reports
// every connection's current revision: a write made before the LISTEN took effect, or while the
// connection was away, sends no notification this instance can still receive.
import { z } from 'zod';
import type pg from 'pg';
import type { RecordChange } from '../connection-store';
import type { LogFn } from '../log';
import { CHANGES_CHANNEL } from './schema';

const payloadSchema = z.object({ id: z.string(), revision: z.number(), by: z.string() });

interface ChangeListenerOptions {
  /** A new, unconnected client each time. */
  newClient: () => pg.Client;
  /** The writer id this instance puts in its own notifications (they are not reported back to it). */
  self: string;
  /** Every connection's id and revision, reported after a reconnect. */
  snapshot: (client: pg.Client) => Promise<RecordChange[]>;
  onChange: (change: RecordChange) => void;
  log: LogFn;
  /** Longest pause between reconnection attempts, ms. */
  maxBackoffMs?: number;
}

export class ChangeListener {
  private client: pg.Client | null = null;
  private stopped = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private connected = false;
  private readonly maxBackoffMs: number;

  constructor(private readonly options: ChangeListenerOptions) {
    this.maxBackoffMs = options.maxBackoffMs ?? 5000;
  }

  /** Whether the LISTEN connection is up right now. */
  get listening(): boolean {
    return this.connected;
  }

  start(): void {
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const client = this.client;
    this.client = null;
    this.connected = false;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = this.options.newClient();
    this.client = client;
    // Registered before connecting: a connection refused must not become an unhandled 'error'.
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => this.deliver(message.payload));
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
      if (this.stopped || this.client !== client) {
        await client.end().catch(() => undefined);
        return;
      }
      this.connected = true;
      if (this.attempt > 0) this.options.log('PostgreSQL store: change notifications resumed.');
      this.attempt = 0;
      // Best effort: before the schema exists there is nothing to report, and the LISTEN stays up.
      const changes = await this.options.snapshot(client).catch((): RecordChange[] => []);
      for (const change of changes) this.options.onChange(change);
    } catch {
      this.lost(client);
    }
  }

  private lost(client: pg.Client): void {
    if (this.client !== client || this.stopped) return;
    this.client = null;
    if (this.connected) {
      this.options.log('PostgreSQL store: the change-notification connection dropped; reconnecting.');
    }
    this.connected = false;
    void client.end().catch(() => undefined);
    const delay = Math.min(this.maxBackoffMs, 100 * 2 ** this.attempt);
    this.attempt += 1;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, delay);
    this.timer.unref();
  }

  private deliver(payload: string | undefined): void {
    let parsed: z.infer<typeof payloadSchema>;
    try {
      parsed = payloadSchema.parse(JSON.parse(payload ?? ''));
    } catch {
      return; // Not ours (someone else NOTIFYing on the channel): nothing to re-read.
    }
    if (parsed.by === this.options.self) return;
    this.options.onChange({ id: parsed.id, revision: parsed.revision });
  }
}
