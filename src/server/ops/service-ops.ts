// Everything that makes the headless server runnable as a service, in one object the CLI wires
// around the desk: health probes, the metrics registry (and the EngineTelemetry it gives the
// engine, created before the engine starts), and the alert webhook with its monitor.
import { hostname } from 'node:os';
import { activeConditions } from '../../shared/conditions';
import type { TokenStatus } from '../../shared/contract';
import type { ConnectionRecord } from '../../core/connection-record';
import type { ConnectionStore } from '../../core/connection-store';
import type { LogFn } from '../../core/log';
import type { OpsConfig } from '../../core/ops-config';
import type { EngineTelemetry } from '../../core/telemetry';
import type { Router } from '../router';
import { MemoryLedger, StoreLedger, type AnnouncementLedger } from './alert-ledger';
import { AlertMonitor } from './alert-monitor';
import { WebhookSender, type WebhookRetryPolicy } from './alert-webhook';
import { createOpsMetrics, type OpsMetrics } from './metrics';
import { registerMetricsRoute } from './metrics-route';
import { notReadyReason, registerProbeRoutes, type EngineLifecycle } from './probes';

export interface ServiceOpsOptions {
  ops: OpsConfig;
  /** How alerts name this server; default `<host name>:<pid>`. */
  instance?: string;
  now?: () => number;
  webhookRetry?: Partial<WebhookRetryPolicy>;
  /** Default 60 s. */
  alertCheckEveryMs?: number;
  processMetrics?: boolean;
}

/** What the ops need from the running desk. */
export interface DeskView {
  /** Every connection's status. */
  statuses: () => readonly TokenStatus[];
  /** Status changes of any connection; returns the unsubscribe function. */
  subscribe: (listener: () => void) => () => void;
  /**
   * The store the connections' records live in: alert announcements are claimed in them, so
   * several servers on one store send each alert once. Without one, each process announces alone.
   */
  store?: Pick<ConnectionStore, 'withLock' | 'load' | 'save'>;
  /** The status a record just read from the store implies (decides a claim on fresh data). */
  statusFor?: (record: ConnectionRecord) => TokenStatus;
  /** The desk's redacting log. */
  log: LogFn;
}

export class ServiceOps {
  readonly metrics: OpsMetrics;
  readonly instance: string;
  private lifecycle: EngineLifecycle = 'starting';
  private desk: DeskView | null = null;
  private sender: WebhookSender | null = null;
  private monitor: AlertMonitor | null = null;

  constructor(private readonly options: ServiceOpsOptions) {
    this.instance = options.instance ?? `${hostname()}:${process.pid}`;
    this.metrics = createOpsMetrics({
      statuses: () => this.desk?.statuses() ?? [],
      now: options.now,
      processMetrics: options.processMetrics,
    });
  }

  /** For startDesk: the engine reports refreshes, API calls, lock waits and store errors here. */
  get telemetry(): EngineTelemetry {
    return this.metrics.telemetry;
  }

  /** The engine runs: readiness follows the store, and alerts start (when a webhook is set). */
  async attach(desk: DeskView): Promise<void> {
    this.desk = desk;
    this.lifecycle = 'running';
    const { alertWebhookUrl, alertWebhookSecret } = this.options.ops;
    if (alertWebhookUrl === null) return;
    const sender = new WebhookSender({
      url: alertWebhookUrl,
      secret: alertWebhookSecret,
      log: desk.log,
      retry: this.options.webhookRetry,
      now: this.options.now,
    });
    this.sender = sender;
    this.monitor = new AlertMonitor({
      statuses: desk.statuses,
      subscribe: desk.subscribe,
      ledger: this.ledgerFor(desk),
      deliver: (payload) =>
        sender.send(payload, `${payload.event} ${payload.condition} (${payload.connection.id})`),
      instance: this.instance,
      log: desk.log,
      now: this.options.now,
      checkEveryMs: this.options.alertCheckEveryMs,
    });
    await this.monitor.start();
  }

  private ledgerFor(desk: DeskView): AnnouncementLedger {
    if (!desk.store) return new MemoryLedger();
    const { statusFor } = desk;
    return new StoreLedger({
      store: desk.store,
      instance: this.instance,
      now: this.options.now,
      conditionsOf: statusFor ? (record, nowMs) => activeConditions(statusFor(record), nowMs) : undefined,
    });
  }

  /** GET/HEAD /healthz and /readyz (no secret), GET /metrics (admin secret or QB_METRICS_TOKEN). */
  registerRoutes(router: Router): void {
    registerProbeRoutes(router, () => notReadyReason(this.lifecycle, this.desk?.statuses() ?? []));
    registerMetricsRoute(router, this.metrics, this.options.ops.metricsToken);
  }

  /** Waits for alerts handed to the webhook so far (tests; a shutdown does not wait for retries). */
  async idle(): Promise<void> {
    await this.monitor?.idle();
  }

  /** Readiness drops at once (a load balancer stops sending), then alerts stop. */
  async close(): Promise<void> {
    this.lifecycle = 'stopping';
    const monitor = this.monitor;
    this.monitor = null;
    const closing = monitor?.close();
    await this.sender?.close();
    await closing;
  }
}
