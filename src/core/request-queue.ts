// The gate every Accounting API request of one connection passes, first in, first out. Intuit
// throttles a company at 10 requests in flight and 10 a second per app, and 500 a minute, answering
// 429 over any of them; the queue keeps below all three itself, so requests wait here instead.
// After a 429 that came anyway (another app shares the company's minute), `pauseUntil` holds every
// request back until Intuit's wait is over, not only the one that drew it.
import { RateWindow, type RateLimit } from './rate-window';

interface RequestQueueOptions {
  /** Requests on the wire at once. */
  maxConcurrent: number;
  /** Sliding-window rate limits, all kept at once (each counts a request until its span after the answer). */
  limits?: readonly RateLimit[];
  now?: () => number;
}

interface RunOptions {
  /** Aborting it takes a waiting request out of the queue (rejecting with the signal's reason). */
  signal?: AbortSignal;
  /** Goes before every waiting request: a retry keeps the place its first attempt had. */
  first?: boolean;
}

interface Waiter {
  start: () => void;
  cancel: (() => void) | null;
}

export class RequestQueue {
  readonly maxConcurrent: number;
  private readonly windows: RateWindow[];
  private readonly now: () => number;
  private active = 0;
  private readonly waiting: Waiter[] = [];
  private peak = 0;
  private pausedUntil = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;

  constructor(options: RequestQueueOptions) {
    const { maxConcurrent } = options;
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
      throw new RangeError(`maxConcurrent must be a positive integer, got ${maxConcurrent}`);
    }
    this.maxConcurrent = maxConcurrent;
    this.windows = (options.limits ?? []).map(({ limit, spanMs }) => new RateWindow(limit, spanMs));
    this.now = options.now ?? Date.now;
  }

  /** Requests running right now. */
  get inFlight(): number {
    return this.active;
  }

  /** Requests waiting for a slot, for room in a rate window, or for a pause to end. */
  get queued(): number {
    return this.waiting.length;
  }

  /** The highest number of requests that ran at once. */
  get peakInFlight(): number {
    return this.peak;
  }

  /** Runs `task` once its turn comes and the limits allow; callers are served in the order they arrived. */
  async run<T>(task: () => Promise<T>, options: RunOptions = {}): Promise<T> {
    if (options.signal?.aborted) throw options.signal.reason;
    if (this.waiting.length > 0 || this.startsAt(this.now()) !== 0) await this.enqueue(options);
    else this.take();
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  /** Nothing starts before `at` (ms since the epoch): Intuit asked for a wait after a 429. */
  pauseUntil(at: number): void {
    if (at <= this.pausedUntil) return;
    this.pausedUntil = at;
    this.pump();
  }

  /** 0 when a request may start at `now`; else when it may (Infinity: once an answer comes). */
  private startsAt(now: number): number {
    if (this.active >= this.maxConcurrent) return Infinity;
    let at = this.pausedUntil > now ? this.pausedUntil : now;
    for (const window of this.windows) {
      const open = window.openAt(now, this.active);
      if (open > at) at = open;
    }
    return at > now ? at : 0;
  }

  private enqueue(options: RunOptions): Promise<void> {
    const { signal } = options;
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const waiter: Waiter = { start: resolve, cancel: null };
      if (signal) {
        const onAbort = () => {
          const index = this.waiting.indexOf(waiter);
          if (index >= 0) this.waiting.splice(index, 1);
          if (this.waiting.length === 0) this.disarm();
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiter.cancel = () => signal.removeEventListener('abort', onAbort);
        waiter.start = () => {
          waiter.cancel?.();
          resolve();
        };
      }
      if (options.first) this.waiting.unshift(waiter);
      else this.waiting.push(waiter);
      this.pump();
    });
  }

  private take(): void {
    this.active += 1;
    if (this.active > this.peak) this.peak = this.active;
  }

  private release(): void {
    this.active -= 1;
    if (this.windows.length > 0) {
      const now = this.now();
      for (const window of this.windows) window.answered(now);
    }
    if (this.waiting.length > 0) this.pump();
  }

  /** Starts waiting requests while the limits allow, then sleeps until the next one may start. */
  private pump(): void {
    while (this.waiting.length > 0) {
      const now = this.now();
      const at = this.startsAt(now);
      if (at !== 0) {
        // Infinity: a running request's answer calls pump again.
        if (at !== Infinity) this.arm(at, now);
        return;
      }
      const next = this.waiting.shift() as Waiter;
      this.take();
      next.start();
    }
    this.disarm();
  }

  private arm(at: number, now: number): void {
    if (this.timer !== null && this.timerAt === at) return;
    this.disarm();
    this.timerAt = at;
    // Not unref'd: the waiting requests are work the process still has to do.
    this.timer = setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.pump();
    }, at - now);
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }
}
