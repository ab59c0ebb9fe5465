import { request as httpRequest } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from './index';
import { apiGet, companyInfoPath, control, refresh, str } from './test-support';
import type { EmulatorHandle } from './types';

let emu: EmulatorHandle;

beforeEach(async () => {
  emu = await startEmulator();
});
afterEach(async () => {
  await emu.close();
});

describe('control handle', () => {
  it('issues new authorizations whose tokens work, and tells valid refresh tokens apart', async () => {
    const issued = emu.control.issueAuthorization();
    expect(issued.realmId).toBe(emu.realmId);
    expect(emu.control.isRefreshTokenValid(issued.refreshToken)).toBe(true);
    expect(emu.control.isRefreshTokenValid('RT1-unknown')).toBe(false);
    expect((await apiGet(emu, companyInfoPath(emu.realmId), issued.accessToken)).status).toBe(200);
    const other = emu.control.issueAuthorization('4620816365178447450');
    expect((await apiGet(emu, companyInfoPath(other.realmId), other.accessToken)).status).toBe(200);
  });

  it('counts token calls by grant type, successes, API calls and issued refresh tokens', async () => {
    emu.control.configure({ rotateAfterSeconds: 0 });
    const first = await refresh(emu, emu.refreshToken);
    await refresh(emu, 'RT1-bad');
    await apiGet(emu, companyInfoPath(emu.realmId), str(first.json?.access_token));
    await apiGet(emu, companyInfoPath(emu.realmId));
    const counters = emu.control.counters();
    expect(counters.tokenCalls).toEqual({ refresh_token: 2, authorization_code: 0, other: 0 });
    expect(counters.tokenSuccesses).toBe(1);
    expect(counters.apiCalls).toBe(2);
    expect(counters.api401s).toBe(1);
    expect(counters.refreshTokensIssued).toBe(1);
    expect(counters.maxApiInFlightByRealm[emu.realmId]).toBe(1);
    emu.control.resetCounters();
    expect(emu.control.counters().apiCalls).toBe(0);
    expect(emu.control.counters().refreshTokensIssued).toBe(0);
  });

  it('lists every value it handed out, for leak scans', async () => {
    const first = await refresh(emu, emu.refreshToken);
    const values = emu.control.issuedTokenValues();
    expect(values).toContain(emu.clientSecret);
    expect(values).toContain(emu.refreshToken);
    expect(values).toContain(first.json?.access_token);
  });

  it('moves the clock', () => {
    const before = emu.control.now();
    emu.control.advanceClock(3600);
    expect(emu.control.now() - before).toBeGreaterThanOrEqual(3600_000);
  });

  it('rejects bad configure input with the field named', () => {
    expect(() => emu.control.configure({ oldRefreshTokenPolicy: 'never' as 'grace' })).toThrow(
      /oldRefreshTokenPolicy/,
    );
    expect(() => emu.control.configure({ accessTokenTtlSeconds: -1 })).toThrow(/accessTokenTtlSeconds/);
  });
});

describe('control endpoint over HTTP', () => {
  it('injects faults, revokes access, shifts the clock, configures and issues authorizations', async () => {
    expect(
      (await control(emu, 'POST', '/faults', { fault: { kind: 'status', status: 503 }, count: 1 })).status,
    ).toBe(200);
    expect((await refresh(emu, emu.refreshToken)).status).toBe(503);
    expect((await refresh(emu, emu.refreshToken)).status).toBe(200);

    const issued = await control(emu, 'POST', '/authorizations', {});
    expect(issued.status).toBe(200);
    const accessToken = str(issued.json?.accessToken);
    expect((await apiGet(emu, companyInfoPath(emu.realmId), accessToken)).status).toBe(200);
    expect((await control(emu, 'POST', '/revoke-access', {})).status).toBe(200);
    expect((await apiGet(emu, companyInfoPath(emu.realmId), accessToken)).status).toBe(401);

    const valid = await control(emu, 'POST', '/refresh-token-valid', {
      refreshToken: issued.json?.refreshToken,
    });
    expect(valid.json).toEqual({ valid: true });

    const before = emu.control.now();
    const clock = await control(emu, 'POST', '/clock', { advanceSeconds: 60 });
    expect(clock.json?.now as number).toBeGreaterThanOrEqual(before + 60_000);

    expect((await control(emu, 'POST', '/configure', { faultSpelling: 'capital' })).status).toBe(200);
    expect((await apiGet(emu, companyInfoPath(emu.realmId))).json).toHaveProperty('Fault');

    const counters = await control(emu, 'GET', '/counters');
    expect(counters.json?.tokenCalls).toEqual({ refresh_token: 2, authorization_code: 0, other: 0 });
    const reset = await control(emu, 'DELETE', '/counters');
    expect(reset.json?.apiCalls).toBe(0);
  });

  it('injects API faults, clears faults and lists issued values', async () => {
    const issued = emu.control.issueAuthorization();
    const injected = await control(emu, 'POST', '/api-faults', {
      fault: { kind: 'status', status: 403 },
      count: 2,
    });
    expect(injected.status).toBe(200);
    expect((await apiGet(emu, companyInfoPath(emu.realmId), issued.accessToken)).status).toBe(403);
    expect((await control(emu, 'DELETE', '/faults')).status).toBe(200);
    expect((await apiGet(emu, companyInfoPath(emu.realmId), issued.accessToken)).status).toBe(200);
    await control(emu, 'POST', '/faults', { fault: { kind: 'hang' }, count: 3 });
    await control(emu, 'DELETE', '/faults');
    expect((await refresh(emu, emu.refreshToken)).status).toBe(200);
    const values = await control(emu, 'GET', '/issued-values');
    expect(values.json?.values).toContain(issued.refreshToken);
  });

  it('answers bad control input with 400 naming the field', async () => {
    const bad = await control(emu, 'POST', '/faults', { fault: { kind: 'explode' } });
    expect(bad.status).toBe(400);
    expect(bad.json?.error_description).toMatch(/fault/);
    const conf = await control(emu, 'POST', '/configure', { rotateAfterSecond: 5 });
    expect(conf.status).toBe(400);
    expect(conf.json?.error_description).toMatch(/rotateAfterSecond/);
    const notJson = await fetch(`${emu.controlUrl}/clock`, { method: 'POST', body: 'nope' });
    expect(notJson.status).toBe(400);
    expect((await control(emu, 'GET', '/nothing')).status).toBe(404);
  });
});

/** A request with hand-set Host and Origin headers, as a DNS-rebinding or cross-site page would send. */
function requestAs(
  path: string,
  headers: Record<string, string>,
  method = 'GET',
  body = '',
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: emu.port, path, method, headers, setHost: false },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('who may talk to the emulator (DNS rebinding, cross-site posts)', () => {
  it('refuses a foreign Host on every route, the control API first of all, without echoing it', async () => {
    const issued = emu.control.issueAuthorization();
    for (const path of [
      '/__control/issued-values',
      '/__control/counters',
      '/.well-known/openid_configuration',
      '/',
    ]) {
      const answer = await requestAs(path, { host: `rebind.example:${emu.port}` });
      expect(answer.status, path).toBe(403);
      expect(answer.text).toContain('Host header refused');
      expect(answer.text).not.toContain('rebind.example');
      expect(answer.text).not.toContain(issued.refreshToken);
    }
    // no Host at all: node:http itself refuses an HTTP/1.1 request without one
    expect((await requestAs('/__control/issued-values', {})).status).toBe(400);
    expect((await requestAs('/__control/issued-values', { host: '127.0.0.1' })).status).toBe(403); // wrong port
    const post = await requestAs(
      '/__control/authorizations',
      { host: `evil.example`, 'content-type': 'application/json' },
      'POST',
      '{}',
    );
    expect(post.status).toBe(403);
  });

  it('answers its own names: 127.0.0.1 and localhost with its port', async () => {
    for (const host of [`127.0.0.1:${emu.port}`, `localhost:${emu.port}`, `LOCALHOST:${emu.port}`]) {
      expect((await requestAs('/__control/counters', { host })).status, host).toBe(200);
    }
  });

  it('refuses a cross-origin post to the control API, and accepts its own origin', async () => {
    const host = `127.0.0.1:${emu.port}`;
    for (const origin of ['https://evil.example', 'null', `http://127.0.0.1:${emu.port + 1}`]) {
      const answer = await requestAs(
        '/__control/authorizations',
        { host, origin, 'content-type': 'text/plain' },
        'POST',
        '{}',
      );
      expect(answer.status, origin).toBe(403);
      expect(answer.text).toContain('Origin header refused');
    }
    const own = await requestAs('/__control/clock', { host, origin: `http://localhost:${emu.port}` });
    expect(own.status).toBe(200);
  });
});
