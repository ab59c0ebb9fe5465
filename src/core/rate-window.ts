// One of Intuit's rate limits as the client keeps to it: at most `limit` requests in any `spanMs`
// (10 a second, 500 a minute), over a sliding window as Intuit (and the emulator) count them.
//
// Intuit counts a request when it arrives, a moment the client cannot see: somewhere between
// sending it and reading its answer. So a request counts here from the moment it is sent until
// `spanMs` after its answer came (or it failed). Counted that way, no `spanMs` at Intuit can hold more
// than `limit` of them, whatever the network's delays; the price is the answer's latency per window
// (10 per 1.3 s rather than per 1 s when Intuit answers in 300 ms), cheaper than a 429, after which
// Intuit asks for a minute's wait.

export interface RateLimit {
  limit: number;
  spanMs: number;
}

export class RateWindow {
  /** When recent answers came, oldest first, from index `head` on; never more than `limit` kept. */
  private readonly answeredAt: number[] = [];
  private head = 0;

  constructor(
    readonly limit: number,
    readonly spanMs: number,
  ) {
    if (!(Number.isInteger(limit) && limit >= 1) && limit !== Infinity) {
      throw new RangeError(`a rate limit must be a positive integer, got ${limit}`);
    }
    if (!Number.isFinite(spanMs) || spanMs <= 0) {
      throw new RangeError(`a rate window must be a positive number of ms, got ${spanMs}`);
    }
  }

  /**
   * The earliest time (>= now) another request may be sent while `running` are on the wire (each
   * counts), or Infinity when only an answer can make room.
   */
  openAt(now: number, running: number): number {
    if (this.limit === Infinity) return now;
    this.prune(now);
    const answered = this.answeredAt.length - this.head;
    const over = running + answered - this.limit;
    if (over < 0) return now;
    // Room opens when `over + 1` answers have left the window; running ones have not started to.
    if (over >= answered) return Infinity;
    return (this.answeredAt[this.head + over] as number) + this.spanMs;
  }

  /** A request that counted since it was sent got its answer (or failed) at `at`. */
  answered(at: number): void {
    if (this.limit === Infinity) return;
    this.answeredAt.push(at);
    // Only the newest `limit` decide when room opens: older ones leave the window first.
    if (this.answeredAt.length - this.head > this.limit) this.head += 1;
    if (this.head > 64 && this.head * 2 > this.answeredAt.length) {
      this.answeredAt.splice(0, this.head);
      this.head = 0;
    }
  }

  private prune(now: number): void {
    const oldestKept = now - this.spanMs;
    while (this.head < this.answeredAt.length && (this.answeredAt[this.head] as number) <= oldestKept) {
      this.head += 1;
    }
  }
}
