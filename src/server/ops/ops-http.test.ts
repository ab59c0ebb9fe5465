// Health probes and /metrics over real HTTP: the real engine against the emulator, the headless
// server with the ops routes, scrapes read by the Prometheus client's own parser.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeakScan } from '../../core/testing/leak-scan';
import { HTTP_PATHS } from '../../shared/contract';
import { statusAt } from '../../shared/testing/status-fixture';
import { startStack, type Stack } from '../test-support';
import { notReadyReason } from './probes';
import { ServiceOps } from './service-ops';
import { parseScrape } from './testing/scrape';

const METRICS_TOKEN = 'scrape-only-secret-0123456789';
const leaks = new LeakScan();

/** node:http, because fetch will not send a Host header of our choosing. */
function rawGet(
  port: number,
  path: string,
  headers: Record<string, string>,
  method = 'GET',
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('ops routes on the headless server', () => {
  let stack: Stack;
  let ops: ServiceOps;

  async function scrape(bearer = METRICS_TOKEN) {
    const response = await stack.call(HTTP_PATHS.metrics, { headers: { authorization: `Bearer ${bearer}` } });
    expect(response.status).toBe(200);
    const text = await response.text();
    leaks.collect('scrape', text);
    return parseScrape(text);
  }

  beforeAll(async () => {
    stack = await startStack({ emulator: { rotateAfterSeconds: 0 } });
    leaks.addEmulator(stack.emulator).addSecrets(stack.adminToken, METRICS_TOKEN);
    ops = new ServiceOps({
      ops: {
        metricsToken: METRICS_TOKEN,
        alertWebhookUrl: null,
        alertWebhookSecret: null,
        logFormat: 'text',
      },
    });
    ops.registerRoutes(stack.server.router);
  });

  afterAll(async () => {
    await ops.close();
    await stack.close();
    leaks.collect('log', stack.logLines);
    leaks.assertClean();
  });

  it('readyz says "starting" until the engine is attached, then ready', async () => {
    const before = await stack.call(HTTP_PATHS.readyz, { auth: false });
    expect([before.status, await before.text()]).toEqual([503, 'not ready: the token engine is starting\n']);
    await ops.attach({
      statuses: () => [stack.desk.getStatus()],
      subscribe: (listener) => stack.desk.onStatusChanged(listener),
      log: () => undefined,
    });
    const after = await stack.call(HTTP_PATHS.readyz, { auth: false });
    expect([after.status, await after.text()]).toEqual([200, 'ready\n']);
  });

  it('healthz and readyz answer without a secret, for any Host and Origin (a load balancer forwarding its own name)', async () => {
    const plain = await stack.call(HTTP_PATHS.healthz, { auth: false });
    expect(plain.status).toBe(200);
    expect(plain.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await plain.text()).toBe('ok\n');
    const lb = { host: 'qb-desk.internal.example:443', origin: 'https://elsewhere.example' };
    expect(await rawGet(stack.server.port, HTTP_PATHS.healthz, lb)).toEqual({ status: 200, body: 'ok\n' });
    expect(await rawGet(stack.server.port, HTTP_PATHS.readyz, lb)).toEqual({ status: 200, body: 'ready\n' });
    expect(await rawGet(stack.server.port, HTTP_PATHS.healthz, lb, 'HEAD')).toEqual({
      status: 200,
      body: '',
    });
    // Only the probes: the API behind them still refuses a foreign Host.
    expect((await rawGet(stack.server.port, HTTP_PATHS.refreshToken, lb)).status).toBe(403);
    expect((await rawGet(stack.server.port, HTTP_PATHS.metrics, lb)).status).toBe(403);
  });

  it('/metrics opens to the admin secret or QB_METRICS_TOKEN, and the scraper secret opens nothing else', async () => {
    expect((await stack.call(HTTP_PATHS.metrics, { auth: false })).status).toBe(401);
    const wrong = await stack.call(HTTP_PATHS.metrics, {
      headers: { authorization: 'Bearer wrong-secret-0123456789' },
    });
    expect(wrong.status).toBe(401);
    const admin = await stack.call(HTTP_PATHS.metrics);
    expect(admin.status).toBe(200);
    expect(admin.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    leaks.collect('admin scrape', await admin.text());
    expect((await scrape()).value('qb_token_desk_state', { connection: 'default', state: 'valid' })).toBe(1);
    const api = await stack.call(HTTP_PATHS.refreshToken, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(api.status).toBe(401);
  });

  it('lists the per-connection series and the process metrics', async () => {
    const s = await scrape();
    const left = s.value('qb_token_desk_access_token_seconds_left', { connection: 'default' });
    expect(left).toBeGreaterThan(3500);
    expect(left).toBeLessThanOrEqual(3600);
    expect(s.value('qb_token_desk_refresh_token_seconds_left', { connection: 'default' })).toBeGreaterThan(
      99 * 86_400,
    );
    expect(
      s.value('qb_token_desk_refresh_token_cap_seconds_left', { connection: 'default' }),
    ).toBeGreaterThan(4 * 365 * 86_400);
    expect(s.value('qb_token_desk_refresh_consecutive_failures', { connection: 'default' })).toBe(0);
    expect(s.samples('process_resident_memory_bytes')).toHaveLength(1);
  });

  it('readyz fails with one line once the server is shutting down', async () => {
    await ops.close();
    const response = await stack.call(HTTP_PATHS.readyz, { auth: false });
    expect([response.status, await response.text()]).toEqual([
      503,
      'not ready: the server is shutting down\n',
    ]);
    expect((await stack.call(HTTP_PATHS.healthz, { auth: false })).status).toBe(200);
  });
});

describe('readiness', () => {
  const now = Date.parse('2026-11-30T12:00:00.000Z');

  it('needs the engine running and every store reachable; a reconnect-needed connection is still ready', () => {
    const ok = statusAt(now);
    const reconnect = statusAt(now, { state: 'reauthorization_required' });
    const unreachable = statusAt(now, {
      store: {
        kind: 'postgres',
        location: 'db.internal:5432/qb',
        encrypted: true,
        reachable: false,
        misconfigured: false,
        problem: null,
      },
    });
    expect(notReadyReason('running', [ok, reconnect])).toBeNull();
    expect(notReadyReason('running', [ok, unreachable])).toBe('the token store cannot be reached');
    const misconfigured = { ...ok, store: ok.store && { ...ok.store, misconfigured: true } };
    expect(notReadyReason('running', [ok, misconfigured])).toBe(
      'the token store cannot be used as configured',
    );
    expect(notReadyReason('starting', [ok])).toBe('the token engine is starting');
    expect(notReadyReason('stopping', [ok])).toBe('the server is shutting down');
    // One line, without the store's location or any configuration detail.
    expect(notReadyReason('running', [unreachable])).not.toContain('db.internal');
  });
});
