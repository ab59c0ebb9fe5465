import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from './index';
import { refresh, str, tokenCall } from './test-support';
import type { EmulatorHandle } from './types';

let emu: EmulatorHandle;
// A frozen base clock: lifetimes below are compared to the second, whatever the machine's load.
const frozen = (): number => Date.UTC(2026, 10, 27, 12, 0, 0);

beforeEach(async () => {
  emu = await startEmulator({ clock: frozen });
});
afterEach(async () => {
  await emu.close();
});

describe('token endpoint: refresh_token grant', () => {
  it('answers a Basic-authenticated refresh with Intuit fields and an intuit_tid header', async () => {
    const res = await refresh(emu, emu.refreshToken);
    expect(res.status).toBe(200);
    expect(res.headers.get('intuit_tid')).toMatch(/^1-[0-9a-f]{8}-[0-9a-f]{24}$/);
    expect(res.headers.get('content-type')).toContain('application/json');
    const body = res.json ?? {};
    expect(Object.keys(body).sort()).toEqual(
      ['access_token', 'expires_in', 'refresh_token', 'token_type', 'x_refresh_token_expires_in'].sort(),
    );
    expect(body.token_type).toBe('bearer');
    expect(body.expires_in).toBe(3600);
    expect(body.x_refresh_token_expires_in).toBe(8_726_400);
    expect(body.refresh_token).toBe(emu.refreshToken); // inside the 24 h window the value is kept
    expect(str(body.access_token).length).toBeGreaterThan(500);
  });

  it('accepts client_secret_post (client id and secret in the form)', async () => {
    const res = await refresh(emu, emu.refreshToken, { auth: 'post' });
    expect(res.status).toBe(200);
  });

  it('counts x_refresh_token_expires_in down while the value is kept', async () => {
    emu.control.advanceClock(3600);
    const res = await refresh(emu, emu.refreshToken);
    expect(res.json?.refresh_token).toBe(emu.refreshToken);
    expect(res.json?.x_refresh_token_expires_in).toBe(8_726_400 - 3600);
  });

  it('adds x_refresh_token_hard_expires_in only when asked by header', async () => {
    const plain = await refresh(emu, emu.refreshToken);
    expect(plain.json).not.toHaveProperty('x_refresh_token_hard_expires_in');
    const asked = await refresh(emu, emu.refreshToken, {
      headers: { 'x-include-refresh-token-hard-expires-in': 'true' },
    });
    expect(asked.status).toBe(200);
    const hard = asked.json?.x_refresh_token_hard_expires_in;
    expect(typeof hard).toBe('number');
    expect(hard as number).toBeGreaterThan(5 * 365 * 86_400 - 10);
    emu.control.advanceClock(86_400 * 10);
    const later = await refresh(emu, str(asked.json?.refresh_token), {
      headers: { 'x-include-refresh-token-hard-expires-in': 'true' },
    });
    expect(later.json?.x_refresh_token_hard_expires_in).toBe((hard as number) - 86_400 * 10);
  });
});

describe('rotation and the previous refresh token', () => {
  it('rotates after rotateAfterSeconds and kills the old value at once (immediate, the default)', async () => {
    emu.control.advanceClock(86_400);
    const rotated = await refresh(emu, emu.refreshToken);
    expect(rotated.status).toBe(200);
    const next = str(rotated.json?.refresh_token);
    expect(next).not.toBe(emu.refreshToken);
    expect(next).toMatch(/^RT1-/);
    expect(rotated.json?.x_refresh_token_expires_in).toBe(8_726_400);
    const stale = await refresh(emu, emu.refreshToken);
    expect(stale.status).toBe(400);
    expect(stale.json?.error).toBe('invalid_grant');
    expect(emu.control.isRefreshTokenValid(emu.refreshToken)).toBe(false);
    expect(emu.control.isRefreshTokenValid(next)).toBe(true);
    expect((await refresh(emu, next)).status).toBe(200);
  });

  it('rotates on every refresh with rotateAfterSeconds 0', async () => {
    emu.control.configure({ rotateAfterSeconds: 0 });
    const first = await refresh(emu, emu.refreshToken);
    const second = await refresh(emu, str(first.json?.refresh_token));
    expect(new Set([emu.refreshToken, first.json?.refresh_token, second.json?.refresh_token]).size).toBe(3);
    expect(emu.control.counters().refreshTokensIssued).toBe(2);
  });

  it('rotates every Nth refresh with rotateEveryRefreshes', async () => {
    emu.control.configure({ rotateEveryRefreshes: 3 });
    const values: string[] = [];
    let current = emu.refreshToken;
    for (let i = 0; i < 4; i += 1) {
      const res = await refresh(emu, current);
      current = str(res.json?.refresh_token);
      values.push(current);
    }
    expect(values[0]).toBe(emu.refreshToken);
    expect(values[1]).toBe(emu.refreshToken);
    expect(values[2]).not.toBe(emu.refreshToken);
    expect(values[3]).toBe(values[2]);
  });

  it('keeps the previous value working for the grace period under the grace policy', async () => {
    emu.control.configure({ rotateAfterSeconds: 0, oldRefreshTokenPolicy: 'grace', gracePeriodSeconds: 600 });
    const first = await refresh(emu, emu.refreshToken);
    const next = str(first.json?.refresh_token);
    expect(next).not.toBe(emu.refreshToken);
    emu.control.configure({ rotateAfterSeconds: 86_400 });
    emu.control.advanceClock(599);
    const replay = await refresh(emu, emu.refreshToken);
    expect(replay.status).toBe(200);
    expect(replay.json?.refresh_token).toBe(next); // the old value leads to the chain's current value
    emu.control.advanceClock(2);
    const late = await refresh(emu, emu.refreshToken);
    expect(late.status).toBe(400);
    expect(late.json?.error).toBe('invalid_grant');
    expect((await refresh(emu, next)).status).toBe(200);
  });

  it('ends a chain at the rolling lifetime and at the hard cap', async () => {
    emu.control.advanceClock(8_726_400);
    expect((await refresh(emu, emu.refreshToken)).json?.error).toBe('invalid_grant');

    const fresh = emu.control.issueAuthorization();
    emu.control.configure({ refreshTokenHardTtlSeconds: 100 });
    emu.control.advanceClock(99);
    const near = await refresh(emu, fresh.refreshToken, {
      headers: { 'x-include-refresh-token-hard-expires-in': 'true' },
    });
    expect(near.json?.x_refresh_token_hard_expires_in).toBe(1);
    expect(near.json?.x_refresh_token_expires_in).toBe(1); // never beyond the hard cap
    emu.control.advanceClock(1);
    const capped = await refresh(emu, fresh.refreshToken);
    expect(capped.status).toBe(400);
    expect(capped.json?.error).toBe('invalid_grant');
  });
});

describe('concurrency and logs', () => {
  it('of two concurrent refreshes with the same token at rotation time, one wins and one gets invalid_grant', async () => {
    emu.control.configure({ rotateAfterSeconds: 0 });
    const [a, b] = await Promise.all([refresh(emu, emu.refreshToken), refresh(emu, emu.refreshToken)]);
    expect([a.status, b.status].sort()).toEqual([200, 400]);
    expect([a.json?.error, b.json?.error]).toContain('invalid_grant');
  });

  it('logs method, path and status but never a token value', async () => {
    const lines: string[] = [];
    const logged = await startEmulator({ logger: (line) => lines.push(line), autoApprove: true });
    try {
      const first = await refresh(logged, logged.refreshToken);
      await refresh(logged, 'RT1-bogus-value-123');
      const url = new URL(logged.authorizeUrl);
      url.searchParams.set('client_id', logged.clientId);
      url.searchParams.set('redirect_uri', 'http://127.0.0.1:1/cb');
      await fetch(url, { redirect: 'manual' });
      await fetch(`${logged.url}/v3/company/${logged.realmId}/companyinfo/${logged.realmId}`, {
        headers: { authorization: `Bearer ${str(first.json?.access_token)}` },
      });
      expect(lines.length).toBeGreaterThanOrEqual(4);
      expect(lines).toContain('POST /oauth2/v1/tokens/bearer 200');
      const text = lines.join('\n');
      for (const secret of [...logged.control.issuedTokenValues(), 'RT1-bogus-value-123']) {
        expect(text).not.toContain(secret);
      }
    } finally {
      await logged.close();
    }
  });

  it('starts from fixed demo credentials', async () => {
    const fixed = await startEmulator({
      demo: {
        clientId: 'demo-client',
        clientSecret: 'demo-secret',
        refreshToken: 'RT1-fixed',
        realmId: '42',
      },
    });
    try {
      expect(fixed.realmId).toBe('42');
      const res = await refresh(fixed, 'RT1-fixed');
      expect(res.status).toBe(200);
      expect(res.json?.refresh_token).toBe('RT1-fixed');
    } finally {
      await fixed.close();
    }
  });
});

describe('bad input', () => {
  it('answers 401 invalid_client without client auth, with a wrong secret, or a malformed Basic header', async () => {
    for (const res of [
      await refresh(emu, emu.refreshToken, { auth: 'none' }),
      await refresh(emu, emu.refreshToken, { clientSecret: 'wrong' }),
      await refresh(emu, emu.refreshToken, { auth: 'post', clientId: 'someone-else' }),
      await refresh(emu, emu.refreshToken, { auth: 'none', headers: { authorization: 'Basic !!!' } }),
    ]) {
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ error: 'invalid_client' });
      expect(res.headers.get('intuit_tid')).toBeTruthy();
    }
    // a failed client auth does not cost the refresh token
    expect((await refresh(emu, emu.refreshToken)).status).toBe(200);
  });

  it('answers 400 invalid_grant for unknown refresh tokens', async () => {
    const res = await refresh(emu, 'RT1-nope');
    expect(res.status).toBe(400);
    expect(res.json?.error).toBe('invalid_grant');
  });

  it('answers 400 with error set for a missing grant_type, a missing refresh_token, an unknown grant or a wrong content type', async () => {
    const missing = await tokenCall(emu, { refresh_token: emu.refreshToken });
    expect(missing.status).toBe(400);
    expect(missing.json?.error).toBe('invalid_request');
    const noToken = await tokenCall(emu, { grant_type: 'refresh_token' });
    expect(noToken.status).toBe(400);
    expect(noToken.json?.error).toBe('invalid_request');
    const unknown = await tokenCall(emu, { grant_type: 'password' });
    expect(unknown.status).toBe(400);
    expect(unknown.json?.error).toBe('unsupported_grant_type');
    const json = await fetch(emu.tokenUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(`${emu.clientId}:${emu.clientSecret}`).toString('base64')}`,
      },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: emu.refreshToken }),
    });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { error: string }).error).toBe('invalid_request');
    const get = await fetch(emu.tokenUrl);
    expect(get.status).toBe(405);
    expect(((await get.json()) as { error: string }).error).toBe('invalid_request');
    expect((await refresh(emu, emu.refreshToken)).status).toBe(200);
  });
});
