// Per-request timeouts without a timer per request: each request registers a deadline and what to
// do when it passes, and one timer (set for the earliest deadline) expires whatever has run past
// its own. Arming and dropping a timer for every call was a measurable share of a loopback round
// trip on the authorized-request hot path.

interface Tracked {
  deadline: number;
  onExpire: () => void;
}

export class RequestDeadlines {
  private readonly live = new Set<Tracked>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerAt = Infinity;

  /** Calls `onExpire` once `ms` have passed, unless `done` is called first. */
  start(ms: number, onExpire: () => void): { done: () => void } {
    const tracked: Tracked = { deadline: Date.now() + ms, onExpire };
    this.live.add(tracked);
    if (tracked.deadline < this.timerAt) this.arm(tracked.deadline);
    return {
      // The timer stays armed when the last request is done: it is unref'd, finds nothing due when it
      // fires, and serial requests (the common case) then set no timer at all.
      done: () => {
        this.live.delete(tracked);
      },
    };
  }

  private arm(at: number): void {
    this.disarm();
    this.timerAt = at;
    this.timer = setTimeout(() => this.expire(), Math.max(0, at - Date.now()));
    // A pending deadline never keeps a process alive on its own (the request itself does).
    this.timer.unref?.();
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  private expire(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const now = Date.now();
    const due: Tracked[] = [];
    let next = Infinity;
    for (const tracked of this.live) {
      if (tracked.deadline <= now) due.push(tracked);
      else next = Math.min(next, tracked.deadline);
    }
    for (const tracked of due) this.live.delete(tracked);
    if (next !== Infinity) this.arm(next);
    for (const tracked of due) tracked.onExpire();
  }
}
