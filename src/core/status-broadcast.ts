// Status listeners (the dashboard's push, the tray, SSE, the alert monitor) hear about every change,
// including the ones time makes on its own: valid -> expiring -> expired. The refresh timer covers
// the usual case (it fires at the skew boundary and the refresh announces itself); the boundary timer
// here covers the rest (no keys, rejected keys, the environment's token, a failed refresh waiting out
// its cooldown past expiry). It runs only while someone listens.
import type { TokenStatus } from '../shared/contract';
import type { LogFn } from './log';
import { MAX_TIMER_MS, type Timers } from './refresh-timing';
import { servedSkewMs, servedToken, type ProcessFacts } from './token-status';
import type { StoredTokens } from './token-store';

export type StatusListener<S = TokenStatus> = (status: S) => void;

/**
 * When the status next changes by time alone (the served access token enters its skew window, then
 * expires), or null: no token is served, no such moment is ahead, or the refresh timer (due at
 * `refreshAt`) fires first and announces what happens then anyway.
 */
export function nextStatusBoundary(input: {
  chain: StoredTokens | null;
  facts: Pick<ProcessFacts, 'environmentAccessToken' | 'environmentFallback'>;
  now: number;
  skewSeconds: number;
  refreshAt: number | null;
}): number | null {
  const { chain, now } = input;
  const serving = servedToken(chain, input.facts, now);
  if (!serving) return null;
  const skew = servedSkewMs(chain, serving, input.skewSeconds);
  const next = [serving.expiresAt - skew, serving.expiresAt].find((at) => at > now);
  if (next === undefined) return null;
  if (input.refreshAt !== null && input.refreshAt <= next) return null;
  return next;
}

interface StatusBroadcastOptions<S> {
  timers: Timers;
  now: () => number;
  log: LogFn;
  /** The status to send now. */
  status: () => S;
  /** The next moment the status changes by time alone (see nextStatusBoundary), or null for none to wait for. */
  nextBoundary: (now: number) => number | null;
  /** The boundary came: the owner announces (as it does for any change). */
  onBoundary: () => void;
}

export class StatusBroadcast<S = TokenStatus> {
  private readonly listeners = new Set<StatusListener<S>>();
  private boundaryTimer: unknown = null;

  constructor(private readonly options: StatusBroadcastOptions<S>) {}

  subscribe(listener: StatusListener<S>): () => void {
    this.listeners.add(listener);
    this.armBoundaryTimer();
    return () => this.listeners.delete(listener);
  }

  /** Sends the current status to every listener (one that throws is logged, the others still hear it). */
  emit(): void {
    this.armBoundaryTimer();
    if (this.listeners.size === 0) return;
    const status = this.options.status();
    for (const listener of this.listeners) {
      try {
        listener(status);
      } catch (err) {
        this.options.log(`A status listener threw: ${(err as Error).message}`);
      }
    }
  }

  stopBoundaryTimer(): void {
    if (this.boundaryTimer !== null) this.options.timers.clearTimeout(this.boundaryTimer);
    this.boundaryTimer = null;
  }

  /** No more listeners, no more timer. */
  close(): void {
    this.stopBoundaryTimer();
    this.listeners.clear();
  }

  private armBoundaryTimer(): void {
    this.stopBoundaryTimer();
    if (this.listeners.size === 0) return;
    const now = this.options.now();
    const next = this.options.nextBoundary(now);
    if (next === null) return;
    this.boundaryTimer = this.options.timers.setTimeout(
      () => {
        this.boundaryTimer = null;
        this.options.onBoundary();
      },
      Math.min(MAX_TIMER_MS, next - now + 1),
    );
  }
}
