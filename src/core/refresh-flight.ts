// One refresh at a time in this process: whoever needs one while it runs (callers, the schedule, a
// 401, the UI's button) shares its promise, so a stampede makes one token call. A transient failure is
// retried after a bounded back-off with the same refresh token; the wait shows in the status and
// dispose cuts it short. One attempt inside the cross-process lock is refresh-attempt.ts's; when
// refreshes start on their own is refresh-schedule.ts's.
import type { RefreshTrigger } from '../shared/contract';
import { SaveFailed } from './connection-session';
import type { EngineContext } from './engine-context';
import { ConnectionRemovedError, NotConfiguredError, TokenError } from './errors';
import type { TokenEndpoint } from './intuit-oauth';
import { RefreshAttempts } from './refresh-attempt';
import { BackoffSleep, backoffDelay, type RetryPolicy, type Timers } from './refresh-timing';

interface RefreshFlightSettings {
  /** The token endpoint; null when the client keys are missing (refreshes fail as not configured). */
  oauth: TokenEndpoint | null;
  retry: RetryPolicy;
  /** 0..1, for the back-off's jitter. */
  random: () => number;
  timers: Timers;
}

interface RefreshFlightHooks {
  /** The engine was disposed: no further attempt. */
  closed(): boolean;
  /** A refresh took off: the schedule's timer stops and the listeners hear it. */
  started(): void;
  /** An attempt failed and the next waits out its back-off: the listeners hear it. */
  waiting(): void;
  /** The refresh landed, whatever its outcome: the schedule follows the chain and the listeners hear it. */
  ended(): void;
  /** A terminal failure (invalid_grant, invalid_client): the schedule stops. */
  stopSchedule(): void;
}

export class RefreshFlight {
  private inflight: Promise<string> | null = null;
  private pendingRetry: { attempt: number; maxAttempts: number } | null = null;
  /** When the back-off wait of a failing refresh ends (shown as the next refresh time). */
  private backoffEndsAt: number | null = null;
  private readonly backoff: BackoffSleep;
  private readonly attempts: RefreshAttempts;

  constructor(
    private readonly ctx: EngineContext,
    private readonly settings: RefreshFlightSettings,
    private readonly hooks: RefreshFlightHooks,
  ) {
    this.backoff = new BackoffSleep(settings.timers);
    this.attempts = new RefreshAttempts(ctx, { stopSchedule: () => hooks.stopSchedule() });
  }

  /** The refresh in flight, or null. */
  get current(): Promise<string> | null {
    return this.inflight;
  }

  /** The attempt a failing refresh is waiting to make, or null (for the status). */
  get retrying(): { attempt: number; maxAttempts: number } | null {
    return this.pendingRetry;
  }

  /** When the back-off wait of a failing refresh ends, or null. */
  get retryAt(): number | null {
    return this.backoffEndsAt;
  }

  /** Joins the refresh in flight, or starts one. Resolves with the access token to hand out. */
  run(trigger: RefreshTrigger, staleAccessToken: string | null = null): Promise<string> {
    if (this.inflight) return this.inflight;
    const run = this.withRetries(trigger, staleAccessToken).finally(() => {
      this.inflight = null;
      this.pendingRetry = null;
      this.hooks.ended();
    });
    this.inflight = run;
    this.hooks.started();
    return run;
  }

  /** Waits for the refresh in flight, ignoring its outcome. */
  async settle(): Promise<void> {
    while (this.inflight) await this.inflight.catch(() => undefined);
  }

  /** Ends a back-off wait now (dispose does not wait one out). */
  cutBackoff(): void {
    this.backoff.cut();
  }

  /** Attempts with bounded back-off; transient failures retry with the same refresh token. */
  private async withRetries(trigger: RefreshTrigger, staleAccessToken: string | null): Promise<string> {
    const { ctx } = this;
    const { retry } = this.settings;
    for (let attempt = 1; ; attempt += 1) {
      const started = ctx.now();
      try {
        const token = await this.attempt(trigger, staleAccessToken);
        this.pendingRetry = null;
        return token;
      } catch (err) {
        const error = err instanceof TokenError ? err : null;
        if (error === null) {
          this.attempts.reportAttempt(
            trigger,
            err instanceof NotConfiguredError || err instanceof ConnectionRemovedError
              ? 'not_configured'
              : 'store_error',
            started,
          );
          if (err instanceof SaveFailed) throw err.toStoreError();
          throw err;
        }
        if (!error.transient || attempt >= retry.maxAttempts || this.hooks.closed()) throw error;
        const delay = backoffDelay(attempt, retry, this.settings.random, error.retryAfterMs);
        this.pendingRetry = { attempt: attempt + 1, maxAttempts: retry.maxAttempts };
        this.backoffEndsAt = ctx.now() + delay;
        ctx.log(
          `Refresh attempt ${attempt} failed (${error.kind}); retrying in ${delay} ms with the same refresh token.`,
          { level: 'warn', trigger, intuitTid: error.intuitTid },
        );
        this.hooks.waiting();
        try {
          await this.backoff.sleep(delay);
        } finally {
          this.backoffEndsAt = null;
        }
        if (this.hooks.closed()) throw error;
      }
    }
  }

  /** One attempt inside the cross-process lock (refresh-attempt.ts). Returns the access token to hand out. */
  private async attempt(trigger: RefreshTrigger, staleAccessToken: string | null): Promise<string> {
    const { oauth } = this.settings;
    if (!oauth)
      throw new NotConfiguredError(
        'QB_CLIENT_ID and QB_CLIENT_SECRET are not set: the refresh token cannot be used.',
      );
    return this.ctx.underLock((latest) => this.attempts.run(latest, trigger, staleAccessToken, oauth));
  }
}
