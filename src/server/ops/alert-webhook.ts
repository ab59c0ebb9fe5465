// Delivers alerts to QB_ALERT_WEBHOOK_URL: one JSON POST per alert, signed when a secret is set
// (alert-signature.ts), retried with exponential back-off and jitter while the receiver is down,
// answers 5xx, 408 or 429 (Retry-After is honoured, within the cap). Another 4xx or a redirect is
// the receiver refusing the alert: retrying would only repeat it. The URL is itself a secret
// (Slack's carries one), so lines about deliveries name its origin only.
import { randomUUID } from 'node:crypto';
import type { LogFn } from '../../core/log';
import { parseRetryAfter } from '../../core/quickbooks-client';
import { DELIVERY_HEADER, signAlert } from './alert-signature';

export interface WebhookRetryPolicy {
  /** Attempts per alert, including the first (default 8: waits of 1, 2, 4 ... 32, 60 s, about two minutes). */
  maxAttempts: number;
  /** First wait, ms (default 1000), doubled per attempt with ±50 % jitter. */
  baseDelayMs: number;
  /** Cap for one wait, ms (default 60 s), also for a receiver's Retry-After. */
  maxDelayMs: number;
}

const DEFAULT_WEBHOOK_RETRY: WebhookRetryPolicy = {
  maxAttempts: 8,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
};

export interface WebhookSenderOptions {
  url: string;
  secret: string | null;
  log: LogFn;
  retry?: Partial<WebhookRetryPolicy>;
  /** One attempt's timeout, ms (default 10 s). */
  timeoutMs?: number;
  now?: () => number;
  random?: () => number;
}

type DeliveryOutcome =
  | { delivered: true; attempts: number; status: number }
  | { delivered: false; attempts: number; reason: string };

const RETRIED_STATUSES = new Set([408, 429]);

export class WebhookSender {
  private readonly retry: WebhookRetryPolicy;
  private readonly origin: string;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly inflight = new Set<Promise<DeliveryOutcome>>();
  /** Aborts back-off waits and attempts in flight on close(). */
  private readonly stopping = new AbortController();

  constructor(private readonly options: WebhookSenderOptions) {
    this.retry = { ...DEFAULT_WEBHOOK_RETRY, ...options.retry };
    this.origin = new URL(options.url).origin;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /** Delivers one JSON body; resolves once delivered or given up. Never rejects. */
  send(payload: object, label: string): Promise<DeliveryOutcome> {
    const delivery = this.deliver(JSON.stringify(payload), label);
    this.inflight.add(delivery);
    void delivery.finally(() => this.inflight.delete(delivery));
    return delivery;
  }

  /** Stops retrying; alerts still waiting for a retry are dropped (and logged as such). */
  async close(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.inflight);
  }

  private async deliver(body: string, label: string): Promise<DeliveryOutcome> {
    const deliveryId = randomUUID();
    const { log } = this.options;
    let lastReason = 'not attempted';
    let attempts = 0;
    for (let attempt = 1; attempt <= this.retry.maxAttempts; attempt += 1) {
      if (this.stopping.signal.aborted) break;
      attempts = attempt;
      const outcome = await this.attempt(body, deliveryId);
      if (outcome.ok) {
        if (attempt > 1) log(`Alert "${label}" delivered to ${this.origin} on attempt ${attempt}.`);
        return { delivered: true, attempts: attempt, status: outcome.status };
      }
      lastReason = outcome.reason;
      if (!outcome.retry) {
        log(`Alert webhook ${this.origin} refused "${label}" (${outcome.reason}); not retried.`, {
          level: 'error',
        });
        return { delivered: false, attempts: attempt, reason: outcome.reason };
      }
      if (attempt === this.retry.maxAttempts) break;
      const waitMs = this.backoffMs(attempt, outcome.retryAfterMs);
      log(
        `Alert "${label}" to ${this.origin} failed (${outcome.reason}); retry ${attempt} of ${this.retry.maxAttempts - 1} in ${waitMs} ms.`,
        { level: 'warn' },
      );
      await this.sleep(waitMs);
    }
    const why = this.stopping.signal.aborted ? 'the server is shutting down' : lastReason;
    log(`Alert "${label}" was not delivered to ${this.origin} (${why}).`, { level: 'error' });
    return { delivered: false, attempts, reason: why };
  }

  private async attempt(
    body: string,
    deliveryId: string,
  ): Promise<
    { ok: true; status: number } | { ok: false; retry: boolean; reason: string; retryAfterMs: number | null }
  > {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'qb-token-desk-alerts',
      [DELIVERY_HEADER]: deliveryId,
      ...(this.options.secret ? signAlert(this.options.secret, body, this.now()) : {}),
    };
    let response: Response;
    try {
      response = await fetch(this.options.url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.any([
          this.stopping.signal,
          AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
        ]),
      });
    } catch (err) {
      const timedOut = err instanceof Error && err.name === 'TimeoutError';
      return { ok: false, retry: true, reason: timedOut ? 'timed out' : 'no answer', retryAfterMs: null };
    }
    // The receiver's body is not ours to keep; reading it frees the connection.
    await response.arrayBuffer().catch(() => undefined);
    if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
    const retry = response.status >= 500 || RETRIED_STATUSES.has(response.status);
    return {
      ok: false,
      retry,
      reason: `HTTP ${response.status}`,
      retryAfterMs: retry ? parseRetryAfter(response.headers.get('retry-after'), this.now()) : null,
    };
  }

  private backoffMs(attempt: number, retryAfter: number | null): number {
    const exponential = this.retry.baseDelayMs * 2 ** (attempt - 1);
    const jittered = exponential * (0.5 + this.random());
    return Math.round(Math.min(this.retry.maxDelayMs, Math.max(jittered, retryAfter ?? 0)));
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.stopping.signal;
    return new Promise((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done);
    });
  }
}
