// The headless API over real HTTP: the real engine against the real emulator.
import { networkInterfaces } from 'node:os';
import { connect } from 'node:net';
import { request } from 'node:http';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStoredRecord } from '../core/testing/stored-chain';
import { HTTP_PATHS, type ConnectionTestResult, type TokenStatus } from '../shared/contract';
import { previewToken } from '../shared/preview';
import { readStatusEvents, startStack, type Stack } from './test-support';

const { refreshToken: STATUS, companyInfo: COMPANY, events: EVENTS } = HTTP_PATHS;

/** Every body the suite receives, checked at the end for token values. */
const bodies: string[] = [];
/** Every token value the suite learns of (the emulator's and the store's). */
const secrets = new Set<string>();

async function learnTokens(stack: Stack): Promise<void> {
  secrets.add(stack.emulator.refreshToken);
  secrets.add(stack.emulator.clientSecret);
  const { tokens } = await readStoredRecord(stack.dataDir);
  if (tokens?.refreshToken) secrets.add(tokens.refreshToken);
  if (tokens?.accessToken) secrets.add(tokens.accessToken);
}

async function getJson<T>(stack: Stack, path: string, init?: RequestInit & { auth?: boolean }) {
  const answer = await stack.json<T>(path, init);
  bodies.push(answer.text);
  return answer;
}

/** node:http, because fetch will not send a Host header of our choosing. */
function rawRequest(
  stack: Stack,
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: stack.server.port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function value<T>(answer: { body: { ok: boolean; value?: T } }): T {
  if (!answer.body.ok) throw new Error(`expected ok, got ${JSON.stringify(answer.body)}`);
  return answer.body.value as T;
}

describe('headless API', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ emulator: { rotateAfterSeconds: 0 } });
  });

  afterAll(async () => {
    await learnTokens(stack);
    await stack.close();
    expect(bodies.length).toBeGreaterThan(10);
    for (const body of bodies) for (const secret of secrets) expect(body).not.toContain(secret);
  });

  it('GET refresh-token answers the status as a Result', async () => {
    const answer = await getJson<TokenStatus>(stack, STATUS);
    expect(answer.status).toBe(200);
    const status = value(answer);
    expect(status.realmId).toBe(stack.emulator.realmId);
    expect(status.demo).toBe(false);
    const { tokens } = await readStoredRecord(stack.dataDir);
    expect(status.refreshToken?.preview).toBe(previewToken(tokens?.refreshToken ?? ''));
  });

  it('POST refresh-token forces one refresh and answers the new status', async () => {
    const before = stack.emulator.control.counters().tokenCalls.refresh_token;
    const answer = await getJson<TokenStatus>(stack, STATUS, { method: 'POST' });
    expect(answer.status).toBe(200);
    const status = value(answer);
    expect(status.lastRefresh).toMatchObject({ ok: true, trigger: 'manual' });
    expect(status.accessToken).not.toBeNull();
    expect(stack.emulator.control.counters().tokenCalls.refresh_token).toBe(before + 1);
    await learnTokens(stack);
  });

  it('DELETE refresh-token drops the access token and keeps the refresh token', async () => {
    const answer = await getJson<TokenStatus>(stack, STATUS, { method: 'DELETE' });
    expect(answer.status).toBe(200);
    const status = value(answer);
    expect(status.accessToken).toBeNull();
    expect(status.refreshToken).not.toBeNull();
    const { tokens } = await readStoredRecord(stack.dataDir);
    expect(tokens?.refreshToken).toBeTruthy();
    expect(stack.emulator.control.isRefreshTokenValid(tokens?.refreshToken ?? '')).toBe(true);
  });

  it('GET company-info tests the connection through the auto-refreshing client', async () => {
    const answer = await getJson<ConnectionTestResult>(stack, COMPANY);
    expect(answer.status).toBe(200);
    const result = value(answer);
    expect(result.realmId).toBe(stack.emulator.realmId);
    expect(result.companyName).toBeTruthy();
    await learnTokens(stack);
  });

  it('GET events sends the status on connect and a change within a second of a refresh', async () => {
    const controller = new AbortController();
    const response = await stack.call(EVENTS, { signal: controller.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = readStatusEvents(response);
    const first = (await events.next()).value as TokenStatus;
    bodies.push(JSON.stringify(first));
    expect(first.realmId).toBe(stack.emulator.realmId);
    const refreshesBefore = first.stats.refreshes;

    const refreshed = await getJson<TokenStatus>(stack, STATUS, { method: 'POST' });
    expect(refreshed.status).toBe(200);
    // The stream pushes the refreshed status by itself (the test's timeout bounds the wait; how fast
    // is the bench's business, not a test's).
    let seen: TokenStatus | null = null;
    for await (const event of events) {
      bodies.push(JSON.stringify(event));
      const status = event as TokenStatus;
      if (status.stats.refreshes > refreshesBefore && status.state !== 'refreshing') {
        seen = status;
        break;
      }
    }
    controller.abort();
    expect(seen, 'a status event with the new refresh').not.toBeNull();
    expect(seen?.lastRefresh?.at).toBe(value(refreshed).lastRefresh?.at);
    await learnTokens(stack);
  });

  it('50 concurrent forced refreshes make one token call', async () => {
    stack.emulator.control.injectTokenFault({ kind: 'delay', ms: 300 });
    const before = stack.emulator.control.counters().tokenCalls.refresh_token;
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => getJson<TokenStatus>(stack, STATUS, { method: 'POST' })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
    expect(stack.emulator.control.counters().tokenCalls.refresh_token).toBe(before + 1);
    await learnTokens(stack);
  });

  describe('refusals leave the token state alone', () => {
    const cases: [string, string, RequestInit & { auth?: boolean }, number, string][] = [
      ['no secret', STATUS, { method: 'POST', auth: false }, 401, 'unauthorized'],
      [
        'a wrong secret',
        STATUS,
        { method: 'POST', headers: { authorization: 'Bearer not-the-secret' } },
        401,
        'unauthorized',
      ],
      [
        'a wrong cookie',
        STATUS,
        { method: 'POST', auth: false, headers: { cookie: 'qbtd_session_1=x' } },
        401,
        'unauthorized',
      ],
      [
        'a foreign Origin',
        STATUS,
        { method: 'POST', headers: { origin: 'http://evil.example' } },
        403,
        'forbidden',
      ],
      ['an opaque Origin', STATUS, { method: 'DELETE', headers: { origin: 'null' } }, 403, 'forbidden'],
      ['an unknown route', '/api/integrations/quickbooks/nope', { method: 'GET' }, 404, 'bad_request'],
      ['a wrong method', STATUS, { method: 'PUT' }, 405, 'bad_request'],
      [
        'a malformed body',
        STATUS,
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"oops' },
        400,
        'bad_request',
      ],
      [
        'a non-object body',
        STATUS,
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[1]' },
        400,
        'bad_request',
      ],
      [
        'an unknown field',
        STATUS,
        { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: '{"all":true}' },
        400,
        'bad_request',
      ],
      [
        'an oversized body',
        STATUS,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: `{"x":"${'a'.repeat(100_000)}"}`,
        },
        400,
        'bad_request',
      ],
    ];
    for (const [name, path, init, status, code] of cases) {
      it(`refuses ${name} with ${status}`, async () => {
        const statusBefore = value(await getJson<TokenStatus>(stack, STATUS));
        const countersBefore = stack.emulator.control.counters();
        const answer = await getJson<TokenStatus>(stack, path, init);
        expect(answer.status).toBe(status);
        expect(answer.body).toMatchObject({ ok: false, error: { code } });
        if (!answer.body.ok) expect(answer.body.error.message).not.toMatch(/\n\s+at /);
        const statusAfter = value(await getJson<TokenStatus>(stack, STATUS));
        expect(statusAfter.accessToken).toEqual(statusBefore.accessToken);
        expect(statusAfter.stats).toEqual(statusBefore.stats);
        expect(stack.emulator.control.counters().tokenCalls).toEqual(countersBefore.tokenCalls);
      });
    }

    it('refuses a foreign Host (DNS rebinding) with 403', async () => {
      const countersBefore = stack.emulator.control.counters();
      for (const host of ['evil.example', `evil.example:${stack.server.port}`, '127.0.0.1:1', 'localhost']) {
        const answer = await rawRequest(stack, 'POST', STATUS, {
          host,
          authorization: `Bearer ${stack.adminToken}`,
        });
        bodies.push(answer.body);
        expect(answer.status, host).toBe(403);
        expect(JSON.parse(answer.body)).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      }
      const ok = await rawRequest(stack, 'GET', STATUS, {
        host: `localhost:${stack.server.port}`,
        authorization: `Bearer ${stack.adminToken}`,
      });
      expect(ok.status).toBe(200);
      expect(stack.emulator.control.counters().tokenCalls).toEqual(countersBefore.tokenCalls);
    });

    it('answers 405 with an Allow header', async () => {
      const response = await stack.call(COMPANY, { method: 'POST' });
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('GET');
      bodies.push(await response.text());
    });
  });

  it('marks API answers no-store and sets the security headers', async () => {
    const response = await stack.call(STATUS);
    bodies.push(await response.text());
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('maps rejected client keys to 424', async () => {
    stack.emulator.control.injectTokenFault({ kind: 'invalid_client' });
    const answer = await getJson<TokenStatus>(stack, STATUS, { method: 'POST' });
    expect(answer.status).toBe(424);
    expect(answer.body).toMatchObject({ ok: false, error: { code: 'invalid_client' } });
  });

  it('is bound to 127.0.0.1 only', async () => {
    const address = stack.server.server.address();
    expect(address).toMatchObject({ address: '127.0.0.1', family: 'IPv4' });
    const others = Object.values(networkInterfaces())
      .flat()
      .flatMap((i) => (i && !i.internal ? [i.address] : []));
    for (const host of [...others, '::1']) {
      const reached = await new Promise<boolean>((resolve) => {
        const socket = connect({ host, port: stack.server.port });
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
      expect(reached, `reachable on ${host}`).toBe(false);
    }
  });
});

describe('refresh failures', () => {
  it('a rejected refresh token answers 409 and leaves the status saying so', async () => {
    const stack = await startStack();
    try {
      stack.emulator.control.injectTokenFault({ kind: 'invalid_grant' });
      const answer = await getJson<TokenStatus>(stack, STATUS, { method: 'POST' });
      expect(answer.status).toBe(409);
      expect(answer.body.ok).toBe(false);
      if (!answer.body.ok)
        expect(['invalid_grant', 'reauthorization_required']).toContain(answer.body.error.code);
      const status = value(await getJson<TokenStatus>(stack, STATUS));
      expect(status.state).toBe('reauthorization_required');
      await learnTokens(stack);
      for (const secret of secrets) expect(answer.text).not.toContain(secret);
    } finally {
      await stack.close();
    }
  });
});

describe('browser sign-in and the UI', () => {
  let stack: Stack;
  let staticDir: string;

  beforeAll(async () => {
    staticDir = await mkdtemp(join(tmpdir(), 'qbtd-static-'));
    await mkdir(join(staticDir, 'assets'));
    await writeFile(
      join(staticDir, 'index.html'),
      '<!doctype html><title>QB Token Desk</title><script type="module" src="./assets/app.js"></script>',
    );
    await writeFile(join(staticDir, 'assets', 'app.js'), 'console.log("ui")');
    stack = await startStack({ staticDir });
  });

  afterAll(async () => {
    await stack.close();
    await rm(staticDir, { recursive: true, force: true });
  });

  it('the start-up URL sets an HttpOnly SameSite=Strict cookie and redirects to a clean URL', async () => {
    expect(stack.server.uiUrl).toContain(encodeURIComponent(stack.adminToken));
    const response = await fetch(stack.server.uiUrl, { redirect: 'manual' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/');
    const cookie = response.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toContain(stack.adminToken);
    const session = cookie.split(';')[0];

    const page = await stack.call('/', { auth: false, headers: { cookie: session } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('QB Token Desk');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const asset = await stack.call('/assets/app.js', { auth: false, headers: { cookie: session } });
    expect(asset.headers.get('content-type')).toMatch(/^text\/javascript/);
    const api = await stack.json<TokenStatus>(STATUS, { auth: false, headers: { cookie: session } });
    expect(api.status).toBe(200);
  });

  it('the sign-in redirect stays on this server', async () => {
    const token = encodeURIComponent(stack.adminToken);
    const response = await fetch(`${stack.server.baseUrl}//evil.example/x?auth=${token}&tab=1`, {
      redirect: 'manual',
    });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/evil.example/x?tab=1');
  });

  it('a wrong sign-in link and an unsigned browser are refused', async () => {
    const wrong = await fetch(`${stack.server.baseUrl}/?auth=wrong`, { redirect: 'manual' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const page = await stack.call('/', { auth: false });
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('npm run serve');
  });

  it('serves nothing outside the build directory', async () => {
    for (const path of [
      '/../package.json',
      '/%2e%2e/package.json',
      '/assets/../../package.json',
      '/nope.js',
    ]) {
      const response = await stack.call(path);
      expect(response.status, path).toBe(404);
    }
  });

  it('says how to build the UI when it is missing', async () => {
    const bare = await startStack({ staticDir: join(staticDir, 'missing') });
    try {
      const page = await bare.call('/');
      expect(page.status).toBe(503);
      expect(await page.text()).toContain('npm run build');
    } finally {
      await bare.close();
    }
  });
});
