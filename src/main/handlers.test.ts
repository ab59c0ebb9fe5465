import { describe, expect, it } from 'vitest';
import type { TokenDesk } from '../core/desk';
import type { TokenStatus } from '../shared/contract';
import { deskHandlers, notConfiguredHandlers, notConfiguredStatus } from './handlers';

describe('notConfiguredHandlers', () => {
  it('answers status with not_configured and refuses actions, naming why', async () => {
    const handlers = notConfiguredHandlers(() => notConfiguredStatus(['QB_CLIENT_SECRET is missing.']));
    const status = await handlers.getStatus();
    expect(status).toMatchObject({
      ok: true,
      value: { state: 'not_configured', source: 'none', accessToken: null },
    });
    await expect(handlers.refresh()).resolves.toEqual({
      ok: false,
      error: { code: 'not_configured', message: 'QB_CLIENT_SECRET is missing.' },
    });
    for (const answer of [await handlers.connect(), await handlers.disconnect({ force: true })]) {
      expect(answer).toEqual({
        ok: false,
        error: { code: 'not_configured', message: 'QB_CLIENT_SECRET is missing.' },
      });
    }
  });
});

describe('deskHandlers', () => {
  it('answers from the desk, refreshing with the manual trigger', async () => {
    const status = { ...notConfiguredStatus(), state: 'valid' } as TokenStatus;
    const triggers: unknown[] = [];
    const desk: Pick<TokenDesk, 'getStatus' | 'refresh' | 'clear' | 'testConnection'> = {
      getStatus: () => status,
      refresh: async (trigger) => (triggers.push(trigger), status),
      clear: async () => status,
      testConnection: async () => ({ companyName: 'Demo Co', realmId: '1', intuitTid: null, durationMs: 3 }),
    };
    const handlers = deskHandlers(desk as TokenDesk);
    await expect(handlers.refresh()).resolves.toEqual({ ok: true, value: status });
    expect(triggers).toEqual(['manual']);
    await expect(handlers.testConnection()).resolves.toMatchObject({
      ok: true,
      value: { companyName: 'Demo Co' },
    });
    await expect(handlers.disconnect()).resolves.toMatchObject({
      ok: false,
      error: { message: 'not available yet' },
    });
  });
});
