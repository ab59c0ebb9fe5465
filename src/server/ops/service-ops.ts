// Everything that makes the headless server runnable as a service, in one object the CLI wires
// around the desk: health probes, the metrics registry (and the EngineTelemetry it gives the
// engine, created before the engine starts), and the alert webhook with its monitor.
import { hostname } from 'node:os';
import type { TokenStatus } from '../../shared/contract';
import type { LogFn } from '../../core/log';
import type { OpsConfig } from '../../core/ops-config';
import type { EngineTelemetry } from '../../core/telemetry';
import type { Router } from '../router';
import { MemoryLedger, type AnnouncementLedger } from './alert-ledger';
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
  /** Where announced alerts are claimed; default one per process (MemoryLedger). */
  ledger?: AnnouncementLedger;
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
      ledger: desk.ledger ?? new MemoryLedger(),
      deliver: (payload) =>
        sender.send(payload, `${payload.event} ${payload.condition} (${payload.connection.id})`),
      instance: this.instance,
      log: desk.log,
      now: this.options.now,
      checkEveryMs: this.options.alertCheckEveryMs,
    });
    await this.monitor.start();
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
