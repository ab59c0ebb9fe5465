// The metrics registry on its own: gauges from TokenStatus at scrape time, counters and
// histograms from EngineTelemetry events, read back through a Prometheus text-format parser.
import { describe, expect, it } from 'vitest';
import type { TokenStatus } from '../../shared/contract';
import { statusAt } from '../../shared/testing/status-fixture';
import { createOpsMetrics } from './metrics';
import { parseScrape } from './testing/scrape';

const NOW = Date.parse('2026-11-30T12:00:00.000Z');

function metricsFor(statuses: () => TokenStatus[]) {
  return createOpsMetrics({ statuses, now: () => NOW, processMetrics: false });
}

async function scrape(metrics: ReturnType<typeof metricsFor>) {
  const { body, contentType } = await metrics.scrape();
  expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseScrape(body);
}

describe('ops metrics', () => {
  it('gauges per connection: seconds left on each token and to the 5-year cap, state, conditions', async () => {
    const second = statusAt(NOW, {
      connection: { id: '9341453012345678', name: 'QuickBooks production', companyName: 'Acme' },
      state: 'reauthorization_required',
      accessToken: null,
      refreshToken: {
        preview: '…Qq11',
        source: 'stored',
        expiresAt: new Date(NOW + 10 * 86_400_000).toISOString(),
        hardExpiresAt: new Date(NOW + 400 * 86_400_000).toISOString(),
        lastRotatedAt: null,
        rejectedAt: new Date(NOW).toISOString(),
      },
      stats: { refreshes: 3, failures: 4, retriedOn401: 0, consecutiveFailures: 4, failingSince: null },
    });
    const metrics = metricsFor(() => [statusAt(NOW), second]);
    const s = await scrape(metrics);

    expect(s.families.get('qb_token_desk_access_token_seconds_left')?.type).toBe('gauge');
    expect(s.value('qb_token_desk_access_token_seconds_left', { connection: 'default' })).toBe(30 * 60);
    // No access token: no series rather than a 0 that would read as "expired".
    expect(s.samples('qb_token_desk_access_token_seconds_left', { connection: '9341453012345678' })).toEqual(
      [],
    );
    expect(s.value('qb_token_desk_refresh_token_seconds_left', { connection: 'default' })).toBe(50 * 86_400);
    expect(s.value('qb_token_desk_refresh_token_seconds_left', { connection: '9341453012345678' })).toBe(
      10 * 86_400,
    );
    expect(s.value('qb_token_desk_refresh_token_cap_seconds_left', { connection: '9341453012345678' })).toBe(
      400 * 86_400,
    );
    expect(s.value('qb_token_desk_state', { connection: 'default', state: 'valid' })).toBe(1);
    expect(s.value('qb_token_desk_state', { connection: 'default', state: 'expired' })).toBe(0);
    expect(
      s.value('qb_token_desk_state', { connection: '9341453012345678', state: 'reauthorization_required' }),
    ).toBe(1);
    expect(
      s.value('qb_token_desk_condition', { connection: '9341453012345678', condition: 'reconnect_required' }),
    ).toBe(1);
    expect(
      s.value('qb_token_desk_condition', { connection: '9341453012345678', condition: 'refresh_failing' }),
    ).toBe(1);
    expect(
      s.value('qb_token_desk_condition', { connection: 'default', condition: 'reconnect_required' }),
    ).toBe(0);
    expect(s.value('qb_token_desk_refresh_consecutive_failures', { connection: '9341453012345678' })).toBe(4);
  });

  it('reads the statuses afresh at every scrape, and drops connections that went away', async () => {
    let statuses = [statusAt(NOW), statusAt(NOW, { connection: { id: 'b', name: 'B', companyName: null } })];
    const metrics = metricsFor(() => statuses);
    expect((await scrape(metrics)).samples('qb_token_desk_state')).toHaveLength(14);
    statuses = [statusAt(NOW, { state: 'expired' })];
    const s = await scrape(metrics);
    expect(s.samples('qb_token_desk_state')).toHaveLength(7);
    expect(s.value('qb_token_desk_state', { connection: 'default', state: 'expired' })).toBe(1);
  });

  it('counters and histograms move with the engine telemetry', async () => {
    const metrics = metricsFor(() => [statusAt(NOW)]);
    const { telemetry } = metrics;
    telemetry.refreshAttempted({
      connectionId: 'default',
      trigger: 'scheduled',
      outcome: 'ok',
      durationMs: 120,
    });
    telemetry.refreshAttempted({
      connectionId: 'default',
      trigger: 'scheduled',
      outcome: 'ok',
      durationMs: 80,
    });
    telemetry.refreshAttempted({
      connectionId: 'default',
      trigger: 'manual',
      outcome: 'network',
      durationMs: 3000,
    });
    telemetry.apiRequested({ connectionId: 'default', status: 200, durationMs: 50 });
    telemetry.apiRequested({ connectionId: 'default', status: 401, durationMs: 40 });
    telemetry.apiRequested({ connectionId: 'default', status: 0, durationMs: 15000 });
    telemetry.retriedAfter401({ connectionId: 'default' });
    telemetry.lockWaited({ connectionId: 'default', waitMs: 2 });
    telemetry.lockWaited({ connectionId: 'default', waitMs: 700 });
    telemetry.storeFailed({ connectionId: 'default', kind: 'unavailable' });
    const s = await scrape(metrics);

    const refreshes = { connection: 'default', trigger: 'scheduled', outcome: 'ok' };
    expect(s.families.get('qb_token_desk_refreshes')?.type).toBe('counter');
    expect(s.value('qb_token_desk_refreshes_total', refreshes)).toBe(2);
    expect(s.value('qb_token_desk_refreshes_total', { trigger: 'manual', outcome: 'network' })).toBe(1);
    expect(s.families.get('qb_token_desk_refresh_duration_seconds')?.type).toBe('histogram');
    const ok = { connection: 'default', outcome: 'ok' };
    expect(s.value('qb_token_desk_refresh_duration_seconds_count', ok)).toBe(2);
    expect(s.value('qb_token_desk_refresh_duration_seconds_sum', ok)).toBeCloseTo(0.2);
    expect(s.value('qb_token_desk_refresh_duration_seconds_bucket', { ...ok, le: '0.1' })).toBe(1);
    expect(s.value('qb_token_desk_refresh_duration_seconds_bucket', { outcome: 'failed', le: '2.5' })).toBe(
      0,
    );
    expect(s.value('qb_token_desk_refresh_duration_seconds_bucket', { outcome: 'failed', le: '5' })).toBe(1);
    expect(s.value('qb_token_desk_api_requests_total', { connection: 'default', status: '200' })).toBe(1);
    expect(s.value('qb_token_desk_api_requests_total', { status: '0' })).toBe(1);
    expect(s.value('qb_token_desk_api_retries_after_401_total', { connection: 'default' })).toBe(1);
    expect(s.value('qb_token_desk_lock_wait_seconds_count', { connection: 'default' })).toBe(2);
    expect(s.value('qb_token_desk_lock_wait_seconds_bucket', { connection: 'default', le: '0.005' })).toBe(1);
    expect(s.value('qb_token_desk_lock_wait_seconds_bucket', { connection: 'default', le: '1' })).toBe(2);
    expect(s.value('qb_token_desk_store_errors_total', { connection: 'default', kind: 'unavailable' })).toBe(
      1,
    );
  });

  it('adds the default process metrics unless told not to', async () => {
    const withProcess = createOpsMetrics({ statuses: () => [] });
    const s = parseScrape((await withProcess.scrape()).body);
    expect(s.samples('process_cpu_user_seconds_total')).toHaveLength(1);
    expect(s.samples('nodejs_eventloop_lag_seconds')).toHaveLength(1);
    expect((await scrape(metricsFor(() => []))).samples('process_cpu_user_seconds_total')).toEqual([]);
  });
});
