// When refreshes happen: the timers the engine runs on (injectable, so tests move time by hand),
// the back-off between attempts of a failing refresh, and when the schedule's next refresh is due.
// Pure where it can be: the functions take the clock and the chain as arguments.
import { skewMs } from './token-status';
import type { StoredTokens } from './token-store';

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    // The schedule never keeps a CLI process alive on its own.
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** The longest a timer can wait without overflowing. */
export const MAX_TIMER_MS = 2_147_483_647;

export interface RetryPolicy {
  /** Attempts per refresh, including the first (default 4). */
  maxAttempts: number;
  /** First back-off delay, ms (default 1000); doubles per attempt, with jitter. */
  baseDelayMs: number;
  /** Cap for one back-off delay, ms (default 30 s); also caps a server's Retry-After. */
  maxDelayMs: number;
  /** After a refresh exhausted its attempts, the schedule tries again this much later, ms (default 60 s). */
  cooldownMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  cooldownMs: 60_000,
};

/**
 * The wait before attempt `attempt + 1`: exponential with "equal jitter" (at least half the step,
 * so retries from several processes spread out), and at least what the server asked (Retry-After),
 * both capped.
 */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number,
  retryAfterMs: number | null,
): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = Math.round(exponential / 2 + (random() * exponential) / 2);
  const asked = retryAfterMs !== null ? Math.min(policy.maxDelayMs, retryAfterMs) : 0;
  return Math.max(jittered, asked);
}

/**
 * When the schedule's next refresh is due, or null for none: at access expiry minus the skew; at
 * once on start when there is no access token (if the start refreshes); and after a refresh that
 * exhausted its retries, not before the cooldown.
 */
export function scheduledRefreshAt(input: {
  chain: StoredTokens;
  now: number;
  skewSeconds: number;
  starting: boolean;
  refreshOnStart: boolean;
  lastRefreshFailed: boolean;
  cooldownMs: number;
}): number | null {
  const { chain, now } = input;
  let at: number | null;
  if (chain.accessToken && chain.accessTokenExpiresAt !== null) {
    at = Math.max(now, chain.accessTokenExpiresAt - skewMs(chain, input.skewSeconds));
  } else if (input.starting && input.refreshOnStart) {
    at = now;
  } else {
    at = null;
  }
  if (input.lastRefreshFailed && (at === null || at <= now)) at = now + input.cooldownMs;
  return at;
}

/** One back-off wait at a time that can be cut short (dispose does not wait out a back-off). */
export class BackoffSleep {
  private wake: (() => void) | null = null;
  private handle: unknown = null;

  constructor(private readonly timers: Timers) {}

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = null;
        if (this.handle !== null) this.timers.clearTimeout(this.handle);
        this.handle = null;
        resolve();
      };
      this.handle = this.timers.setTimeout(() => this.wake?.(), ms);
    });
  }

  /** Ends the current wait now. */
  cut(): void {
    this.wake?.();
  }
}
