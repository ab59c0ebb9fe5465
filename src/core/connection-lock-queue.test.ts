// The in-process queue in front of a store's cross-process lock: one holder per connection at a
// time, in the order asked; a failed holder does not stop the ones behind it; connections do not wait
// for each other.
import { describe, expect, it } from 'vitest';
import { ConnectionLockQueue } from './connection-lock-queue';

function gate(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open: () => open() };
}

describe('ConnectionLockQueue', () => {
  it('runs one holder per connection at a time, in the order asked, past a holder that failed', async () => {
    const queue = new ConnectionLockQueue();
    const seen: string[] = [];
    const first = gate();
    const a = queue.run('alpha', async () => {
      seen.push('a in');
      await first.opened;
      seen.push('a out');
      throw new Error('a failed');
    });
    const b = queue.run('alpha', async () => {
      seen.push('b in');
      return 'b';
    });
    const other = await queue.run('beta', async () => {
      seen.push('beta');
      return 'beta';
    });
    expect(other).toBe('beta');
    expect(seen).toEqual(['a in', 'beta']);
    first.open();
    await expect(a).rejects.toThrow('a failed');
    await expect(b).resolves.toBe('b');
    expect(seen).toEqual(['a in', 'beta', 'a out', 'b in']);
  });
});
