// Test helper: a clock and timers that move only when the test says so. Inject `now` and `timers`
// into the TokenManager; `advance(ms)` moves time and fires every timer that fell due, in order.
import type { Timers } from '../token-manager';

interface Pending {
  id: number;
  at: number;
  fn: () => void;
}

export class ManualClock {
  private current: number;
  private nextId = 1;
  private pending: Pending[] = [];

  constructor(start = Date.now()) {
    this.current = start;
  }

  readonly now = (): number => this.current;

  readonly timers: Timers = {
    setTimeout: (fn, ms) => {
      const id = this.nextId++;
      this.pending.push({ id, at: this.current + Math.max(0, ms), fn });
      return id;
    },
    clearTimeout: (handle) => {
      this.pending = this.pending.filter((timer) => timer.id !== handle);
    },
  };

  /** Moves time forward, firing due timers (including ones they set that also fall due). */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const due = this.pending
        .filter((timer) => timer.at <= target)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.pending = this.pending.filter((timer) => timer !== due);
      this.current = Math.max(this.current, due.at);
      due.fn();
    }
    this.current = target;
  }

  /** Jumps time without firing timers (a suspended machine waking up late). */
  jump(ms: number): void {
    this.current += ms;
  }

  /** When the earliest pending timer is due, or null. */
  nextDue(): number | null {
    return this.pending.reduce<number | null>(
      (min, timer) => (min === null || timer.at < min ? timer.at : min),
      null,
    );
  }

  get pendingCount(): number {
    return this.pending.length;
  }
}

/** Polls until `check` is true (real time; for awaiting background work, not for measuring it). */
export async function waitFor(check: () => boolean, what = 'condition', limitMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > limitMs) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
