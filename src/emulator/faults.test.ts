import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from './index';
import { apiGet, companyInfoPath, faultOf, refresh, str } from './test-support';
import type { EmulatorHandle } from './types';

let emu: EmulatorHandle;

beforeEach(async () => {
  emu = await startEmulator();
});
afterEach(async () => {
  await emu.close();
});

type Outcome = { kind: 'answer'; status: number; text: string } | { kind: 'aborted' } | { kind: 'network' };

/**
 * Starts a refresh, waits until `ready()` says the emulator got that far (polling its counters, not the
 * wall clock), then gives up as a client timeout would. Reports whether an answer came first.
 */
async function refreshUntil(ready: () => boolean, refreshToken = emu.refreshToken): Promise<Outcome> {
  const controller = new AbortController();
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken });
  const call = fetch(emu.tokenUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${emu.clientId}:${emu.clientSecret}`).toString('base64')}`,
    },
    body: form.toString(),
    signal: controller.signal,
  }).then(
    async (res): Promise<Outcome> => ({ kind: 'answer', status: res.status, text: await res.text() }),
    (error: Error): Outcome => (error.name === 'AbortError' ? { kind: 'aborted' } : { kind: 'network' }),
  );
  let settled: Outcome | null = null;
  void call.then((outcome) => (settled = outcome));
  while (!ready() && settled === null) await sleep(5);
  await sleep(50); // room for a wrong early answer to arrive
  controller.abort();
  return call;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const received = (): boolean => emu.control.counters().tokenCalls.refresh_token >= 1;
const processed = (): boolean => emu.control.counters().refreshTokensIssued >= 1;

describe('token faults', () => {
  it.each([500, 502, 503, 429] as const)('answers %i for the next call only', async (status) => {
    emu.control.injectTokenFault({ kind: 'status', status, retryAfterSeconds: 7 });
    const faulted = await refresh(emu, emu.refreshToken);
    expect(faulted.status).toBe(status);
    expect(faulted.headers.get('retry-after')).toBe('7');
    expect(faulted.headers.get('intuit_tid')).toBeTruthy();
    expect((await refresh(emu, emu.refreshToken)).status).toBe(200);
  });

  it('applies a fault to the next N calls', async () => {
    emu.control.injectTokenFault({ kind: 'status', status: 500 }, 3);
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await refresh(emu, emu.refreshToken)).status);
    expect(statuses).toEqual([500, 500, 500, 200]);
  });

  it('answers invalid_grant and invalid_client without spending the refresh token', async () => {
    emu.control.injectTokenFault({ kind: 'invalid_grant' });
    emu.control.injectTokenFault({ kind: 'invalid_client' });
    const grant = await refresh(emu, emu.refreshToken);
    expect(grant.status).toBe(400);
    expect(grant.json).toEqual({ error: 'invalid_grant' });
    const client = await refresh(emu, emu.refreshToken);
    expect(client.status).toBe(401);
    expect(client.json).toEqual({ error: 'invalid_client' });
    expect(emu.control.isRefreshTokenValid(emu.refreshToken)).toBe(true);
  });

  it('answers an HTML error page', async () => {
    emu.control.injectTokenFault({ kind: 'html' });
    const res = await refresh(emu, emu.refreshToken);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.text).toContain('<html>');
    expect(res.json).toBeNull();
    emu.control.injectTokenFault({ kind: 'html', status: 200 });
    expect((await refresh(emu, emu.refreshToken)).status).toBe(200);
  });

  it('answers malformed JSON with a JSON content type', async () => {
    emu.control.injectTokenFault({ kind: 'malformed_json' });
    const res = await refresh(emu, emu.refreshToken);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(res.json).toBeNull();
    expect(() => JSON.parse(res.text) as unknown).toThrow();
  });

  it('delays before processing: a client that gives up first leaves the refresh token as it was', async () => {
    emu.control.configure({ rotateAfterSeconds: 0 });
    emu.control.injectTokenFault({ kind: 'delay', ms: 300 });
    expect((await refreshUntil(received)).kind).toBe('aborted');
    await sleep(600);
    expect(emu.control.isRefreshTokenValid(emu.refreshToken)).toBe(true);
    expect(emu.control.counters().refreshTokensIssued).toBe(0);
    emu.control.injectTokenFault({ kind: 'delay', ms: 50 });
    const answered = await refresh(emu, emu.refreshToken);
    expect(answered.status).toBe(200);
  });

  it('delays after processing: the token has rotated although the client saw nothing', async () => {
    emu.control.configure({ rotateAfterSeconds: 0 });
    emu.control.injectTokenFault({ kind: 'delay_after_processing', ms: 60_000 });
    expect((await refreshUntil(processed)).kind).toBe('aborted');
    expect(emu.control.isRefreshTokenValid(emu.refreshToken)).toBe(false);
    expect(emu.control.counters().tokenSuccesses).toBe(0);
  });

  it('delays after processing, then answers normally', async () => {
    emu.control.configure({ rotateAfterSeconds: 0 });
    emu.control.injectTokenFault({ kind: 'delay_after_processing', ms: 50 });
    const res = await refresh(emu, emu.refreshToken);
    expect(res.status).toBe(200);
    expect(res.json?.refresh_token).not.toBe(emu.refreshToken);
  });

  it('hangs without processing (the client must time out; the token is unchanged)', async () => {
    emu.control.configure({ rotateAfterSeconds: 0 });
    emu.control.injectTokenFault({ kind: 'hang' });
    expect((await refreshUntil(received)).kind).toBe('aborted');
    expect(emu.control.isRefreshTokenValid(emu.refreshToken)).toBe(true);
    expect(emu.control.counters().refreshTokensIssued).toBe(0);
  });

  it('hangs after processing: the outcome is unknown to the client, the old token is spent', async () => {
    emu.control.configure({ rotateAfterSeconds: 0 });
    emu.control.injectTokenFault({ kind: 'hang_after_processing' });
    expect((await refreshUntil(processed)).kind).toBe('aborted');
    expect(emu.control.isRefreshTokenValid(emu.refreshToken)).toBe(false);
    expect((await refresh(emu, emu.refreshToken)).json?.error).toBe('invalid_grant');
  });

  it('under the grace policy, a retry with the same token after hang_after_processing succeeds', async () => {
    emu.control.configure({ rotateAfterSeconds: 0, oldRefreshTokenPolicy: 'grace', gracePeriodSeconds: 60 });
    emu.control.injectTokenFault({ kind: 'hang_after_processing' });
    expect((await refreshUntil(processed)).kind).toBe('aborted');
    expect((await refresh(emu, emu.refreshToken)).status).toBe(200);
  });

  it('resets the connection', async () => {
    emu.control.injectTokenFault({ kind: 'reset' });
    const result = await refreshUntil(() => false);
    expect(result.kind).toBe('network');
    expect((await refresh(emu, emu.refreshToken)).status).toBe(200);
  });

  it('close() finishes while requests hang', async () => {
    const other = await startEmulator();
    other.control.injectTokenFault({ kind: 'hang' }, 2);
    const pending = new Promise<string>((resolve) => {
      const req = request(other.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      req.on('response', () => resolve('answered'));
      req.on('error', (error) => resolve(`error: ${error.message}`));
      req.end('grant_type=refresh_token');
    });
    while (other.control.counters().tokenCalls.refresh_token < 1) await sleep(5);
    other.control.injectTokenFault({ kind: 'delay', ms: 60_000 });
    await other.close();
    expect(await pending).toMatch(/^error/);
  });

  it('clearFaults drops pending faults', async () => {
    emu.control.injectTokenFault({ kind: 'status', status: 500 }, 5);
    emu.control.clearFaults();
    expect((await refresh(emu, emu.refreshToken)).status).toBe(200);
  });
});

describe('API faults', () => {
  it('answers injected 401, 403, 429 and 503 with Intuit fault bodies', async () => {
    const token = str((await refresh(emu, emu.refreshToken)).json?.access_token);
    const expected: [401 | 403 | 429 | 503, string, 'lower' | 'capital'][] = [
      [401, '3200', 'lower'],
      [403, '3100', 'capital'],
      [429, '3001', 'capital'],
      [503, '10000', 'capital'],
    ];
    for (const [status, code, spelling] of expected) {
      emu.control.injectApiFault({ kind: 'status', status });
      const res = await apiGet(emu, companyInfoPath(emu.realmId), token);
      expect(res.status).toBe(status);
      expect(faultOf(res.json)).toMatchObject({ spelling, error: { code } });
    }
    expect((await apiGet(emu, companyInfoPath(emu.realmId), token)).status).toBe(200);
  });
});
