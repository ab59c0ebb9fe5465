// A first-in-first-out concurrency limiter. Intuit throttles a company at 10 concurrent
// requests per app, so the client keeps its own ceiling below that instead of provoking 429s.

export class RequestQueue {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private peak = 0;

  constructor(readonly maxConcurrent: number) {
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
      throw new RangeError(`maxConcurrent must be a positive integer, got ${maxConcurrent}`);
    }
  }

  /** Requests running right now. */
  get inFlight(): number {
    return this.active;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** The highest number of requests that ran at once. */
  get peakInFlight(): number {
    return this.peak;
  }

  /** Runs `task` once a slot is free; callers are served in the order they arrived. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.active < this.maxConcurrent) {
      this.take();
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private take(): void {
    this.active += 1;
    this.peak = Math.max(this.peak, this.active);
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) {
      // The slot passes straight to the next waiter, so a newcomer cannot jump the queue.
      this.peak = Math.max(this.peak, this.active);
      next();
    } else {
      this.active -= 1;
    }
  }
}
