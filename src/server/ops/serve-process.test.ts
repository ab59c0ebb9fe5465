// `npm run serve` as a real process, run as a service would run it: JSON logs, a scraper secret,
// an alert webhook. The emulator and the webhook receiver run in this process.
import { afterEach, describe, expect, it } from 'vitest';
import { LeakScan } from '../../core/testing/leak-scan';
import { startEmulator } from '../../emulator';
import { HTTP_PATHS } from '../../shared/contract';
import { serverEnvFor, startServerProcess } from '../process-support';
import type { AlertPayload } from './alert-payload';
import { parseScrape } from './testing/scrape';
import { startWebhookReceiver } from './testing/webhook-receiver';

const METRICS_TOKEN = 'scrape-only-secret-0123456789';
const WEBHOOK_SECRET = 'hmac-key-0123456789abcdef';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe('npm run serve as a service', () => {
  it('answers /healthz without a secret, serves /metrics to the scraper secret, alerts, and logs JSON lines without a token', async () => {
    const emulator = await startEmulator({ rotateAfterSeconds: 0 });
    cleanups.push(() => emulator.close());
    const hook = await startWebhookReceiver({ secret: WEBHOOK_SECRET });
    cleanups.push(() => hook.close());
    const server = await startServerProcess({
      ...serverEnvFor(emulator),
      QB_LOG_FORMAT: 'json',
      QB_METRICS_TOKEN: METRICS_TOKEN,
      QB_ALERT_WEBHOOK_URL: hook.url,
      QB_ALERT_WEBHOOK_SECRET: WEBHOOK_SECRET,
    });
    cleanups.push(() => server.stop({ signal: 'SIGKILL' }));
    const leaks = new LeakScan()
      .addEmulator(emulator)
      .addSecrets(server.adminToken, METRICS_TOKEN, WEBHOOK_SECRET);

    // What `curl -s 127.0.0.1:$PORT/healthz` sends: no secret.
    const health = await fetch(`http://127.0.0.1:${server.port}${HTTP_PATHS.healthz}`);
    expect([health.status, await health.text()]).toEqual([200, 'ok\n']);
    const ready = await fetch(`http://127.0.0.1:${server.port}${HTTP_PATHS.readyz}`);
    expect([ready.status, await ready.text()]).toEqual([200, 'ready\n']);

    expect((await server.api(HTTP_PATHS.refreshToken, { method: 'POST' })).status).toBe(200);
    emulator.control.injectTokenFault({ kind: 'invalid_grant' });
    expect((await server.api(HTTP_PATHS.refreshToken, { method: 'POST' })).status).toBe(409);
    await hook.waitForRequests(1);

    const scraped = await fetch(server.baseUrl + HTTP_PATHS.metrics, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(scraped.status).toBe(200);
    const text = await scraped.text();
    const metrics = parseScrape(text);
    expect(
      metrics.value('qb_token_desk_state', { connection: 'default', state: 'reauthorization_required' }),
    ).toBe(1);
    expect(
      metrics.samples('qb_token_desk_refresh_token_seconds_left', { connection: 'default' }),
    ).toHaveLength(1);
    expect(metrics.samples('process_cpu_user_seconds_total')).toHaveLength(1);

    const [alert] = hook.delivered<AlertPayload>();
    expect(alert).toMatchObject({
      event: 'raised',
      condition: 'reconnect_required',
      state: 'reauthorization_required',
    });
    expect(hook.requests[0].signature).toBe('ok');

    expect((await server.stop({ signal: 'SIGTERM' })).code).toBe(0);
    const lines = server.process
      .stderr()
      .split('\n')
      .filter((line) => line !== '');
    expect(lines.length).toBeGreaterThan(3);
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const entry of parsed) {
      expect(typeof entry.message).toBe('string');
      expect(['debug', 'info', 'warn', 'error']).toContain(entry.level);
      expect(new Date(String(entry.time)).toISOString()).toBe(entry.time);
    }
    expect(parsed.some((entry) => String(entry.message).startsWith('Alert: '))).toBe(true);
    // The engine's refresh lines carry their fields as keys of their own.
    const refreshed = parsed.find((entry) => String(entry.message).startsWith('Refreshed ('));
    expect(refreshed).toMatchObject({ level: 'info', connection: 'default' });
    expect(['scheduled', 'manual']).toContain(refreshed?.trigger);
    expect(refreshed?.intuit_tid).toMatch(/^1-/);
    const refused = parsed.find((entry) =>
      String(entry.message).startsWith('Refresh failed (manual, invalid_grant)'),
    );
    expect(refused).toMatchObject({ level: 'error', connection: 'default', trigger: 'manual' });
    expect(refused?.intuit_tid).toMatch(/^1-/);
    expect(parsed.at(-1)?.message).toMatch(/^SIGTERM: shutting down/);

    leaks.collect('stderr', server.process.stderr());
    leaks.collect('stdout after the start-up line', server.process.stdout().split('\n').slice(1));
    leaks.collect('metrics', text);
    leaks.collect(
      'alerts',
      hook.requests.map((request) => request.body),
    );
    leaks.assertClean();
  });
});
