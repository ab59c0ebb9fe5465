// The webhook sender against a real receiver on loopback: signing, retries with back-off, what
// is and is not retried, and shutdown during a back-off wait.
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebhookSender, type WebhookSenderOptions } from './alert-webhook';
import { startWebhookReceiver, type WebhookReceiver } from './testing/webhook-receiver';

const SECRET = 'hmac-key-0123456789abcdef';
/** Short waits: the policy's shape is what is tested, not its durations. */
const FAST = { baseDelayMs: 5, maxDelayMs: 20, maxAttempts: 4 };

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function receiver(secret?: string): Promise<WebhookReceiver> {
  const started = await startWebhookReceiver({ secret });
  cleanups.push(() => started.close());
  return started;
}

function sender(url: string, overrides: Partial<WebhookSenderOptions> = {}) {
  const lines: string[] = [];
  const made = new WebhookSender({
    url,
    secret: SECRET,
    log: (line) => lines.push(line),
    retry: FAST,
    ...overrides,
  });
  cleanups.push(() => made.close());
  return { sender: made, lines };
}

describe('alert webhook sender', () => {
  it('POSTs the JSON body, signed, with a delivery id', async () => {
    const hook = await receiver(SECRET);
    const { sender: s } = sender(hook.url);
    const outcome = await s.send({ text: 'hello', condition: 'refresh_failing' }, 'test');
    expect(outcome).toEqual({ delivered: true, attempts: 1, status: 200 });
    expect(hook.requests).toHaveLength(1);
    const [request] = hook.requests;
    expect(request.method).toBe('POST');
    expect(request.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request.body)).toEqual({ text: 'hello', condition: 'refresh_failing' });
    expect(request.signature).toBe('ok');
    expect(request.delivery).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sends no signature headers without a secret', async () => {
    const hook = await receiver(SECRET);
    const { sender: s } = sender(hook.url, { secret: null });
    await s.send({ text: 'unsigned' }, 'test');
    expect(hook.requests[0].signature).toBe('missing');
  });

  it('retries 5xx, 408 and 429 with back-off, each attempt signed afresh, one delivery id throughout', async () => {
    const hook = await receiver(SECRET);
    hook.script({ status: 503 }, { status: 429, headers: { 'retry-after': '1' } }, { status: 408 });
    const { sender: s, lines } = sender(hook.url);
    const outcome = await s.send({ text: 'eventually' }, 'raised refresh_failing (default)');
    expect(outcome).toEqual({ delivered: true, attempts: 4, status: 200 });
    expect(hook.requests.map((r) => r.answered)).toEqual([503, 429, 408, 200]);
    expect(new Set(hook.requests.map((r) => r.delivery)).size).toBe(1);
    expect(hook.requests.every((r) => r.signature === 'ok')).toBe(true);
    expect(lines.filter((line) => line.includes('failed (HTTP'))).toHaveLength(3);
    expect(lines.at(-1)).toMatch(/delivered to http:\/\/127\.0\.0\.1:\d+ on attempt 4/);
    // The URL's path may be a secret (Slack's is): lines name the origin only.
    expect(lines.join('\n')).not.toContain('/hooks/alerts');
  });

  it('gives up after the last attempt', async () => {
    const hook = await receiver();
    hook.script(...Array.from({ length: 4 }, () => ({ status: 500 })));
    const { sender: s, lines } = sender(hook.url);
    expect(await s.send({ text: 'lost' }, 'test')).toEqual({
      delivered: false,
      attempts: 4,
      reason: 'HTTP 500',
    });
    expect(hook.requests).toHaveLength(4);
    expect(lines.at(-1)).toMatch(/was not delivered .* \(HTTP 500\)/);
  });

  it('does not retry a refusal (another 4xx, a redirect)', async () => {
    const hook = await receiver();
    hook.script({ status: 404 }, { status: 302, headers: { location: 'https://example.com/' } });
    const { sender: s, lines } = sender(hook.url);
    expect(await s.send({ text: 'refused' }, 'test')).toEqual({
      delivered: false,
      attempts: 1,
      reason: 'HTTP 404',
    });
    expect(await s.send({ text: 'redirected' }, 'test')).toEqual({
      delivered: false,
      attempts: 1,
      reason: 'HTTP 302',
    });
    expect(hook.requests).toHaveLength(2);
    expect(lines[0]).toMatch(/refused "test" \(HTTP 404\); not retried/);
  });

  it('retries when nothing listens, and stops waiting at once on close()', async () => {
    const port = await freePort();
    const { sender: s } = sender(`http://127.0.0.1:${port}/hook`, {
      retry: { maxAttempts: 5, baseDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    const sending = s.send({ text: 'nobody home' }, 'test');
    await s.close();
    expect(await sending).toEqual({ delivered: false, attempts: 1, reason: 'the server is shutting down' });
  });
});

/** A port that was free a moment ago (nothing listens on it now). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
