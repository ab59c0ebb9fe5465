// The per-connection gate on its own, on the real clock with short windows: first in, first out;
// never more in flight than allowed; every sliding-window limit kept, counting each request from its
// start until the window's span after it ended; a pause after a 429 holds everyone; a retry goes
// first; a caller's abort takes its request out of the line.
import { describe, expect, it } from 'vitest';
import { RateWindow } from './rate-window';
import { RequestQueue } from './request-queue';

const tick = () => new Promise((resolve) => setImmediate(resolve));

interface Span {
  id: number;
  start: number;
  end: number;
}

/** Runs `count` tasks of `workMs` each through the queue at once; their spans in start order. */
async function burst(queue: RequestQueue, count: number, workMs = 0): Promise<Span[]> {
  const spans: Span[] = [];
  await Promise.all(
    Array.from({ length: count }, (_, id) =>
      queue.run(async () => {
        const start = Date.now();
        if (workMs > 0) await new Promise((resolve) => setTimeout(resolve, workMs));
        else await tick();
        spans.push({ id, start, end: Date.now() });
      }),
    ),
  );
  return spans.sort((a, b) => a.start - b.start || a.id - b.id);
}

describe('RequestQueue', () => {
  it('serves waiters first in, first out and never exceeds its ceiling', async () => {
    const queue = new RequestQueue({ maxConcurrent: 2 });
    const order: number[] = [];
    const gates: (() => void)[] = [];
    const tasks = Array.from({ length: 6 }, (_, i) =>
      queue.run(async () => {
        order.push(i);
        await new Promise<void>((resolve) => gates.push(resolve));
      }),
    );
    while (order.length < 6) {
      await tick();
      expect(queue.inFlight).toBeLessThanOrEqual(2);
      gates.shift()?.();
    }
    gates.forEach((open) => open());
    await Promise.all(tasks);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(queue.peakInFlight).toBe(2);
    expect(() => new RequestQueue({ maxConcurrent: 0 })).toThrow(/maxConcurrent/);
  });

  it('keeps every window: a request starts only once the one `limit` places before it ended a span ago', async () => {
    const queue = new RequestQueue({
      maxConcurrent: 10,
      limits: [
        { limit: 3, spanMs: 100 },
        { limit: 5, spanMs: 400 },
      ],
    });
    const spans = await burst(queue, 12, 5);
    expect(spans.map((span) => span.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    for (let i = 0; i < spans.length; i += 1) {
      const start = spans[i].start;
      if (i >= 3) expect(start, `request ${i}, 3 a 100 ms`).toBeGreaterThanOrEqual(spans[i - 3].end + 100);
      if (i >= 5) expect(start, `request ${i}, 5 a 400 ms`).toBeGreaterThanOrEqual(spans[i - 5].end + 400);
    }
    // The first three went at once: an empty window holds nothing back.
    expect(queue.peakInFlight).toBe(3);
    expect(queue).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('a pause holds every request until it ends, and a retry goes before those already waiting', async () => {
    const queue = new RequestQueue({ maxConcurrent: 4 });
    const order: string[] = [];
    const pausedAt = Date.now();
    queue.pauseUntil(pausedAt + 150);
    const started: number[] = [];
    const run = (name: string, first = false) =>
      queue.run(
        async () => {
          order.push(name);
          started.push(Date.now());
        },
        { first },
      );
    const waiting = [run('a'), run('b')];
    waiting.push(run('retry', true));
    await tick();
    expect(queue.queued).toBe(3);
    await Promise.all(waiting);
    expect(order).toEqual(['retry', 'a', 'b']);
    expect(Math.min(...started)).toBeGreaterThanOrEqual(pausedAt + 150);
  });

  it("a caller's abort takes its waiting request out of the line; the others go on", async () => {
    const queue = new RequestQueue({ maxConcurrent: 1 });
    let release = () => {};
    const holder = queue.run(() => new Promise<void>((resolve) => (release = resolve)));
    const controller = new AbortController();
    const ran: string[] = [];
    const aborted = queue.run(async () => void ran.push('aborted'), { signal: controller.signal });
    const next = queue.run(async () => void ran.push('next'));
    await tick();
    expect(queue.queued).toBe(2);
    controller.abort(new Error('the caller gave up'));
    await expect(aborted).rejects.toThrow('the caller gave up');
    expect(queue.queued).toBe(1);
    release();
    await Promise.all([holder, next]);
    expect(ran).toEqual(['next']);
    const already = new AbortController();
    already.abort(new Error('too late'));
    await expect(queue.run(async () => void ran.push('late'), { signal: already.signal })).rejects.toThrow(
      'too late',
    );
    expect(ran).toEqual(['next']);
  });

  it('names a bad limit', () => {
    expect(() => new RateWindow(0, 1000)).toThrow(/positive integer, got 0/);
    expect(() => new RateWindow(2.5, 1000)).toThrow(/positive integer/);
    expect(() => new RateWindow(10, 0)).toThrow(/positive number of ms/);
    expect(new RateWindow(Infinity, 1000).openAt(5, 1_000_000)).toBe(5);
  });
});
