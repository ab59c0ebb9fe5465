// /metrics over the real engine: the headless server wired as `npm run serve` wires it (the
// engine and its QuickBooks client report to the metrics' EngineTelemetry), against the emulator.
// The values move after a refresh, API calls (a 401 among them) and each kind of failure.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeakScan } from '../../core/testing/leak-scan';
import { HTTP_PATHS } from '../../shared/contract';
import { startOpsStack, type OpsStack } from './testing/ops-stack';
import type { Scrape } from './testing/scrape';

const conn = { connection: 'default' };

describe('/metrics over the real engine', () => {
  let stack: OpsStack;
  let leaks: LeakScan;
  const scrapes: Scrape[] = [];
  const scrape = async () => {
    const s = await stack.scrape();
    scrapes.push(s);
    return s;
  };
  const refresh = () => stack.call(HTTP_PATHS.refreshToken, { method: 'POST' });

  beforeAll(async () => {
    stack = await startOpsStack({
      manager: { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, cooldownMs: 60_000 } },
    });
    leaks = new LeakScan().addEmulator(stack.emulator).addSecrets(stack.adminToken);
  });

  afterAll(async () => {
    await stack.close();
    for (const s of scrapes) leaks.collect('scrape', s.text);
    leaks.collect('log', stack.logLines);
    leaks.assertClean();
  });

  it('a refresh: the refresh counter, its duration, the lock wait and the access token gauge move', async () => {
    const before = await scrape();
    const manualOk = { ...conn, trigger: 'manual', outcome: 'ok' };
    stack.emulator.control.configure({ accessTokenTtlSeconds: 7200 });
    expect((await refresh()).status).toBe(200);
    const after = await scrape();

    expect(after.value('qb_token_desk_refreshes_total', manualOk)).toBe(
      before.valueOr0('qb_token_desk_refreshes_total', manualOk) + 1,
    );
    const okDuration = { ...conn, outcome: 'ok' };
    expect(after.value('qb_token_desk_refresh_duration_seconds_count', okDuration)).toBe(
      before.valueOr0('qb_token_desk_refresh_duration_seconds_count', okDuration) + 1,
    );
    expect(after.value('qb_token_desk_refresh_duration_seconds_sum', okDuration)).toBeGreaterThan(
      before.valueOr0('qb_token_desk_refresh_duration_seconds_sum', okDuration),
    );
    expect(after.value('qb_token_desk_lock_wait_seconds_count', conn)).toBeGreaterThan(
      before.valueOr0('qb_token_desk_lock_wait_seconds_count', conn),
    );
    expect(after.value('qb_token_desk_access_token_seconds_left', conn)).toBeGreaterThan(7100);
    expect(before.value('qb_token_desk_access_token_seconds_left', conn)).toBeLessThanOrEqual(3600);
  });

  it('API calls: counted by status; a 401 counts a retry after a refresh', async () => {
    const before = await scrape();
    const status = (code: string) => ({ ...conn, status: code });
    expect((await stack.call(HTTP_PATHS.companyInfo)).status).toBe(200);
    stack.emulator.control.revokeAccessTokens();
    expect((await stack.call(HTTP_PATHS.companyInfo)).status).toBe(200);
    const after = await scrape();
    expect(after.value('qb_token_desk_api_requests_total', status('200'))).toBe(
      before.valueOr0('qb_token_desk_api_requests_total', status('200')) + 2,
    );
    expect(after.value('qb_token_desk_api_requests_total', status('401'))).toBe(
      before.valueOr0('qb_token_desk_api_requests_total', status('401')) + 1,
    );
    expect(after.value('qb_token_desk_api_retries_after_401_total', conn)).toBe(
      before.valueOr0('qb_token_desk_api_retries_after_401_total', conn) + 1,
    );
    const on401 = { ...conn, trigger: 'on-401', outcome: 'ok' };
    expect(after.value('qb_token_desk_refreshes_total', on401)).toBe(
      before.valueOr0('qb_token_desk_refreshes_total', on401) + 1,
    );
  });

  it('Intuit failing (5xx): each attempt counted by its kind, the failures in a row, the condition', async () => {
    const before = await scrape();
    const server = { ...conn, trigger: 'manual', outcome: 'server' };
    stack.emulator.control.injectTokenFault({ kind: 'status', status: 500 }, 3);
    expect((await refresh()).status).toBe(502);
    const after = await scrape();
    expect(after.value('qb_token_desk_refreshes_total', server)).toBe(
      before.valueOr0('qb_token_desk_refreshes_total', server) + 3,
    );
    expect(after.value('qb_token_desk_refresh_duration_seconds_count', { ...conn, outcome: 'failed' })).toBe(
      before.valueOr0('qb_token_desk_refresh_duration_seconds_count', { ...conn, outcome: 'failed' }) + 3,
    );
    expect(after.value('qb_token_desk_refresh_consecutive_failures', conn)).toBe(3);
    expect(after.value('qb_token_desk_condition', { ...conn, condition: 'refresh_failing' })).toBe(1);

    expect((await refresh()).status).toBe(200);
    const recovered = await scrape();
    expect(recovered.value('qb_token_desk_refresh_consecutive_failures', conn)).toBe(0);
    expect(recovered.value('qb_token_desk_condition', { ...conn, condition: 'refresh_failing' })).toBe(0);
  });

  it('Intuit refusing the refresh token: counted as invalid_grant; state and condition flip', async () => {
    const before = await scrape();
    const refused = { ...conn, trigger: 'manual', outcome: 'invalid_grant' };
    stack.emulator.control.injectTokenFault({ kind: 'invalid_grant' });
    expect((await refresh()).status).toBe(409);
    const after = await scrape();
    expect(after.value('qb_token_desk_refreshes_total', refused)).toBe(
      before.valueOr0('qb_token_desk_refreshes_total', refused) + 1,
    );
    expect(after.value('qb_token_desk_state', { ...conn, state: 'reauthorization_required' })).toBe(1);
    expect(after.value('qb_token_desk_state', { ...conn, state: 'valid' })).toBe(0);
    expect(after.value('qb_token_desk_condition', { ...conn, condition: 'reconnect_required' })).toBe(1);
  });
  it('every connection has its own series: a company added to the desk is scraped with its own label', async () => {
    const issued = stack.emulator.control.issueAuthorization('4620816365312345');
    await stack.started.connections.add({
      name: 'Second company',
      realmId: issued.realmId,
      environment: 'sandbox',
      refreshToken: issued.refreshToken,
    });
    const refreshed = await stack.call(
      `/api/integrations/quickbooks/connections/${issued.realmId}/refresh-token`,
      {
        method: 'POST',
      },
    );
    expect(refreshed.status).toBe(200);
    const after = await scrape();
    const second = { connection: issued.realmId };
    expect(after.value('qb_token_desk_access_token_seconds_left', second)).toBeGreaterThan(0);
    expect(after.value('qb_token_desk_access_token_seconds_left', conn)).toBeDefined();
    leaks.addSecrets(issued.refreshToken, issued.accessToken);
  });
});
