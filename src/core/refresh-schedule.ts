// The refresh that runs on its own: one timer, due at the access token's expiry minus the skew (at
// once on start when there is no usable token, not before the cooldown after a refresh that gave up).
// It stands still while a refresh is in flight (whose end sets it again), and while nothing can
// refresh: no chain, no client keys, keys Intuit refused, a rejected refresh token, a store that does
// not answer. When it is due is refresh-timing.ts's arithmetic; the refresh itself is refresh-flight.ts's.
import { rejectionOf } from './connection-record';
import type { EngineContext } from './engine-context';
import { MAX_TIMER_MS, scheduledRefreshAt, type Timers } from './refresh-timing';
import { skewMs } from './token-status';

interface RefreshScheduleSettings {
  timers: Timers;
  /** The client keys are set (a token endpoint exists). */
  canRefresh: boolean;
  /** Start with a refresh when there is a refresh token but no valid access token. */
  refreshOnStart: boolean;
  /** After a refresh exhausted its attempts, the next try waits this long, ms. */
  cooldownMs: number;
}

interface RefreshScheduleHooks {
  /** The engine was disposed: nothing more is scheduled. */
  closed(): boolean;
  /** A refresh is in flight. */
  refreshing(): boolean;
  /** The timer came due: refresh (joining one in flight). */
  refresh(): Promise<string>;
}

export class RefreshSchedule {
  private timer: unknown = null;
  private dueAt: number | null = null;

  constructor(
    private readonly ctx: EngineContext,
    private readonly settings: RefreshScheduleSettings,
    private readonly hooks: RefreshScheduleHooks,
  ) {}

  /** When the timer fires next (shown as the next refresh time), or null when it is not set. */
  get nextRefreshAt(): number | null {
    return this.dueAt;
  }

  /** Refreshes may run on their own (the status's autoRefresh). */
  allowed(): boolean {
    const { ctx } = this;
    return (
      !this.hooks.closed() &&
      ctx.inUse.chain !== null &&
      this.settings.canRefresh &&
      ctx.session.healthy &&
      !ctx.inUse.clientError &&
      rejectionOf(ctx.view()) === null
    );
  }

  /** Sets the one timer anew for the chain in use (`starting`: the engine's start, see scheduledRefreshAt). */
  reschedule(starting: boolean): void {
    this.stop();
    if (!this.allowed() || this.hooks.refreshing()) return;
    const { ctx, settings } = this;
    const chain = ctx.inUse.chain;
    if (!chain) return;
    const now = ctx.now();
    const at = scheduledRefreshAt({
      chain,
      now,
      skewSeconds: ctx.config.refreshSkewSeconds,
      starting,
      refreshOnStart: settings.refreshOnStart,
      lastRefreshFailed: ctx.view()?.health.lastRefresh?.ok === false,
      cooldownMs: settings.cooldownMs,
    });
    if (at === null) return;
    this.dueAt = at;
    this.timer = settings.timers.setTimeout(
      () => this.onTimer(),
      Math.min(MAX_TIMER_MS, Math.max(0, at - now)),
    );
  }

  stop(): void {
    if (this.timer !== null) this.settings.timers.clearTimeout(this.timer);
    this.timer = null;
    this.dueAt = null;
  }

  private onTimer(): void {
    this.timer = null;
    this.dueAt = null;
    if (!this.allowed()) return;
    const { ctx } = this;
    const chain = ctx.inUse.chain;
    // A timer that fired early (the clamp, a clock change) just sets itself again.
    if (
      chain?.accessTokenExpiresAt &&
      ctx.now() < chain.accessTokenExpiresAt - skewMs(chain, ctx.config.refreshSkewSeconds)
    ) {
      this.reschedule(false);
      return;
    }
    this.hooks.refresh().catch(() => {
      // Recorded in history and lastRefresh; the schedule has already set its next try.
    });
  }
}
