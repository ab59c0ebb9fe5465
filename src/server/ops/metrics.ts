// Prometheus metrics for operators, through prom-client. Two kinds of series, both labelled by
// connection id (never a token):
// - gauges read from TokenStatus at scrape time (seconds left on each token, the state, the
//   conditions an admin must hear about), so they are never stale and need no timer;
// - counters and histograms fed by the engine through EngineTelemetry (PromTelemetry below).
// Each server owns its own Registry (tests start several in one process); the process metrics
// (CPU, memory, event loop, GC) come from prom-client's default collectors.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { activeConditions, CONDITION_KINDS } from '../../shared/conditions';
import type { TokenState, TokenStatus } from '../../shared/contract';
import type { EngineTelemetry } from '../../core/telemetry';

/** Every metric of ours starts with this (process metrics keep prom-client's standard names). */
const METRIC_PREFIX = 'qb_token_desk_';

// A record rather than an array, so a state added to the contract fails to compile here until the
// metrics know it too.
const TOKEN_STATES = Object.keys({
  valid: true,
  expiring: true,
  expired: true,
  no_token: true,
  refreshing: true,
  reauthorization_required: true,
  not_configured: true,
} satisfies Record<TokenState, true>) as TokenState[];

interface OpsMetricsOptions {
  /** Every connection's current status, read at each scrape. */
  statuses: () => readonly TokenStatus[];
  now?: () => number;
  /** Default true; off in unit tests that compare whole scrapes. */
  processMetrics?: boolean;
}

export interface OpsMetrics {
  readonly registry: Registry;
  /** Hand this to the engine (startDesk's telemetry option). */
  readonly telemetry: EngineTelemetry;
  /** One scrape: the Prometheus text exposition and its content type. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

const secondsUntil = (iso: string | null | undefined, nowMs: number): number | null => {
  if (!iso) return null;
  const at = Date.parse(iso);
  return Number.isFinite(at) ? (at - nowMs) / 1000 : null;
};

export function createOpsMetrics(options: OpsMetricsOptions): OpsMetrics {
  const registry = new Registry();
  const now = options.now ?? Date.now;
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const name = (suffix: string) => `${METRIC_PREFIX}${suffix}`;

  // One read of the statuses per scrape, shared by every gauge's collect(): a scrape then shows
  // one consistent moment.
  let snapshot: { at: number; statuses: readonly TokenStatus[] } | null = null;
  const current = () => {
    snapshot ??= { at: now(), statuses: options.statuses() };
    return snapshot;
  };

  const secondsLeft = (
    suffix: string,
    help: string,
    pick: (status: TokenStatus) => string | null | undefined,
  ) =>
    new Gauge({
      name: name(suffix),
      help,
      labelNames: ['connection'],
      registers,
      collect() {
        this.reset();
        const { at, statuses } = current();
        for (const status of statuses) {
          const left = secondsUntil(pick(status), at);
          // No token (or an unknown expiry) has no series: a made-up 0 would look like "expired".
          if (left !== null) this.set({ connection: status.connection.id }, left);
        }
      },
    });

  secondsLeft(
    'access_token_seconds_left',
    'Seconds until the access token in use expires (negative once expired).',
    (status) => status.accessToken?.expiresAt,
  );
  secondsLeft(
    'refresh_token_seconds_left',
    "Seconds until the refresh token's rolling expiry (about 100 days after its last issue).",
    (status) => status.refreshToken?.expiresAt,
  );
  secondsLeft(
    'refresh_token_cap_seconds_left',
    "Seconds until the connection's absolute 5-year cap, after which someone must reconnect.",
    (status) => status.refreshToken?.hardExpiresAt,
  );

  new Gauge({
    name: name('state'),
    help: 'The connection state: 1 for the current state, 0 for the others.',
    labelNames: ['connection', 'state'],
    registers,
    collect() {
      this.reset();
      for (const status of current().statuses) {
        for (const state of TOKEN_STATES) {
          this.set({ connection: status.connection.id, state }, status.state === state ? 1 : 0);
        }
      }
    },
  });

  new Gauge({
    name: name('condition'),
    help: 'Conditions an admin must hear about (the alert webhook sends the same): 1 while active.',
    labelNames: ['connection', 'condition'],
    registers,
    collect() {
      this.reset();
      const { at, statuses } = current();
      for (const status of statuses) {
        const active = new Set(activeConditions(status, at).map((c) => c.kind));
        for (const condition of CONDITION_KINDS) {
          this.set({ connection: status.connection.id, condition }, active.has(condition) ? 1 : 0);
        }
      }
    },
  });

  new Gauge({
    name: name('refresh_consecutive_failures'),
    help: 'Failed refresh attempts in a row (a success resets it).',
    labelNames: ['connection'],
    registers,
    collect() {
      this.reset();
      for (const status of current().statuses) {
        this.set({ connection: status.connection.id }, status.stats.consecutiveFailures);
      }
    },
  });

  const telemetry = new PromTelemetry(registry);
  return {
    registry,
    telemetry,
    async scrape() {
      snapshot = null;
      try {
        return { contentType: registry.contentType, body: await registry.metrics() };
      } finally {
        snapshot = null;
      }
    },
  };
}

/** Seconds; a refresh is one HTTPS round trip to Intuit, with a 15 s timeout by default. */
const REFRESH_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60];
/** Seconds; mostly zero, long only while another process or machine refreshes. */
const LOCK_WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30];

/** The engine's telemetry as prom-client counters and histograms. */
class PromTelemetry implements EngineTelemetry {
  private readonly refreshes: Counter<'connection' | 'trigger' | 'outcome'>;
  private readonly refreshSeconds: Histogram<'connection' | 'outcome'>;
  private readonly apiRequests: Counter<'connection' | 'status'>;
  private readonly retries401: Counter<'connection'>;
  private readonly lockWait: Histogram<'connection'>;
  private readonly storeErrors: Counter<'connection' | 'kind'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.refreshes = new Counter({
      name: `${METRIC_PREFIX}refreshes_total`,
      help: 'Refresh attempts by trigger and outcome (ok, or the error kind); each back-off retry counts.',
      labelNames: ['connection', 'trigger', 'outcome'],
      registers,
    });
    this.refreshSeconds = new Histogram({
      name: `${METRIC_PREFIX}refresh_duration_seconds`,
      help: 'How long one refresh attempt took, from the token call to the stored result.',
      labelNames: ['connection', 'outcome'],
      buckets: REFRESH_BUCKETS,
      registers,
    });
    this.apiRequests = new Counter({
      name: `${METRIC_PREFIX}api_requests_total`,
      help: 'Accounting API requests by HTTP status (0: no response arrived).',
      labelNames: ['connection', 'status'],
      registers,
    });
    this.retries401 = new Counter({
      name: `${METRIC_PREFIX}api_retries_after_401_total`,
      help: 'API calls answered 401 and retried once after a refresh.',
      labelNames: ['connection'],
      registers,
    });
    this.lockWait = new Histogram({
      name: `${METRIC_PREFIX}lock_wait_seconds`,
      help: "How long a refresh waited for the connection's lock (another process or machine held it).",
      labelNames: ['connection'],
      buckets: LOCK_WAIT_BUCKETS,
      registers,
    });
    this.storeErrors = new Counter({
      name: `${METRIC_PREFIX}store_errors_total`,
      help: 'Token store operations that failed, by kind.',
      labelNames: ['connection', 'kind'],
      registers,
    });
  }

  refreshAttempted(event: Parameters<EngineTelemetry['refreshAttempted']>[0]): void {
    const { connectionId: connection, trigger, outcome } = event;
    this.refreshes.inc({ connection, trigger, outcome });
    this.refreshSeconds.observe(
      { connection, outcome: outcome === 'ok' ? 'ok' : 'failed' },
      event.durationMs / 1000,
    );
  }

  lockWaited(event: Parameters<EngineTelemetry['lockWaited']>[0]): void {
    this.lockWait.observe({ connection: event.connectionId }, event.waitMs / 1000);
  }

  storeFailed(event: Parameters<EngineTelemetry['storeFailed']>[0]): void {
    this.storeErrors.inc({ connection: event.connectionId, kind: event.kind });
  }

  apiRequested(event: Parameters<EngineTelemetry['apiRequested']>[0]): void {
    this.apiRequests.inc({ connection: event.connectionId, status: String(event.status) });
  }

  retriedAfter401(event: Parameters<EngineTelemetry['retriedAfter401']>[0]): void {
    this.retries401.inc({ connection: event.connectionId });
  }
}
