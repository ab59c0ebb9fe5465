// QuickBooksClient over real loopback HTTP against the emulator, with the real TokenManager (file
// store, IntuitOAuth) refreshing at the emulator's token endpoint. Counters come from the emulator, not from the client.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { emulatorEnv } from '../emulator/app-env';
import { startEmulator } from '../emulator/index';
import { seededCustomers } from '../emulator/intuit-bodies';
import type { EmulatorHandle } from '../emulator/types';
import { describeApiFault, parseApiFault } from './api-faults';
import { noTelemetry } from './telemetry';
import { startDesk, type StartedDesk } from './bootstrap';
import { ApiError } from './errors';
import {
  parseRetryAfter,
  QuickBooksClient,
  type AccessTokenSource,
  type QuickBooksClientOptions,
} from './quickbooks-client';

let emulator: EmulatorHandle;
let desk: StartedDesk;
let tokens: AccessTokenSource;
let dataDir: string;

function client(options: Partial<QuickBooksClientOptions> = {}): QuickBooksClient {
  return new QuickBooksClient({
    tokens,
    apiBaseUrl: emulator.apiBaseUrl,
    realmId: emulator.realmId,
    rateLimitBackoffMs: 10,
    maxRetryAfterMs: 2_000,
    ...options,
  });
}

const refreshCalls = () => emulator.control.counters().tokenCalls.refresh_token;

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

beforeAll(async () => {
  emulator = await startEmulator({ apiLatencyMs: 5 });
});

afterAll(async () => {
  await emulator?.close();
});

beforeEach(async () => {
  emulator.control.clearFaults();
  emulator.control.configure({ faultSpelling: 'lower', apiLatencyMs: 5 });
  // The real engine: TokenManager over a FileTokenStore in a fresh directory, refreshing at the emulator.
  dataDir = await mkdtemp(join(tmpdir(), 'qb-client-'));
  desk = await startDesk({
    env: emulatorEnv(emulator, dataDir),
    cwd: dataDir,
    log: () => {},
    manager: { refreshOnStart: false },
  });
  tokens = desk.manager;
  await tokens.getAccessToken();
  emulator.control.resetCounters();
});

afterEach(async () => {
  await desk?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('QuickBooksClient against the emulator', () => {
  it('reads CompanyInfo and captures intuit_tid', async () => {
    const info = await client().getCompanyInfo();
    expect(info.realmId).toBe(emulator.realmId);
    expect(info.companyName).toBeTruthy();
    expect(info.intuitTid).toMatch(/\S+/);
    expect(refreshCalls()).toBe(0);
  });

  it('query returns the seeded customers', async () => {
    const result = await client().query<{ Id: string; DisplayName: string }>('select * from Customer');
    expect(result.entity).toBe('Customer');
    expect(result.intuitTid).toMatch(/\S+/);
    const expected = seededCustomers().map((c) => c.DisplayName);
    expect(result.rows.map((row) => row.DisplayName).sort()).toEqual([...expected].sort());
  });

  it('200 concurrent calls right after a server-side revoke: one refresh, all succeed, never more than 10 in flight', async () => {
    // Concurrency and the one refresh are the point here: at Intuit's 10 a second (which the client
    // keeps to, api-pacing.test.ts) 200 calls take 20 s, so both the emulator and the client allow 1000.
    emulator.control.configure({ apiLatencyMs: 20, maxRequestsPerSecondPerRealm: 1000 });
    const qb = client({ maxRequestsPerSecond: 1000 });
    emulator.control.revokeAccessTokens();
    const results = await Promise.all(Array.from({ length: 200 }, () => qb.getCompanyInfo()));
    expect(results).toHaveLength(200);
    expect(results.every((r) => r.realmId === emulator.realmId)).toBe(true);
    const counters = emulator.control.counters();
    expect(counters.tokenCalls.refresh_token).toBe(1);
    expect(counters.api429s).toBe(0);
    expect(counters.api401s).toBeGreaterThanOrEqual(1);
    expect(counters.maxApiInFlightByRealm[emulator.realmId]).toBeLessThanOrEqual(10);
    expect(qb.load.peakInFlight).toBe(10);
    expect(desk.manager.getStatus().stats.retriedOn401).toBe(1);
    console.info(
      `[figures] 200 calls after revoke: refreshes=${counters.tokenCalls.refresh_token}, 401s=${counters.api401s}, ` +
        `apiCalls=${counters.apiCalls}, maxApiInFlight=${counters.maxApiInFlightByRealm[emulator.realmId]}`,
    );
    emulator.control.configure({ maxRequestsPerSecondPerRealm: 10 });
  });

  it('reports each request by status and duration, and each retry after a 401, to telemetry', async () => {
    // Five calls in a row from a new client: it paces its own calls, not the earlier tests' clients'
    // (each test builds its own, as another app would be), whose calls may still fill this second.
    emulator.control.configure({ maxRequestsPerSecondPerRealm: 1000 });
    const seen: string[] = [];
    const qb = client({
      connectionId: '9130350000000042',
      telemetry: {
        ...noTelemetry,
        apiRequested: (e) => seen.push(`api ${e.connectionId} ${e.status} ${e.durationMs >= 0}`),
        retriedAfter401: (e) => seen.push(`401 ${e.connectionId}`),
      },
    });
    await qb.getCompanyInfo();
    emulator.control.revokeAccessTokens();
    await qb.getCompanyInfo();
    emulator.control.injectApiFault({ kind: 'status', status: 403 });
    await qb.getCompanyInfo().catch(() => undefined);
    expect(seen).toEqual([
      'api 9130350000000042 200 true',
      'api 9130350000000042 401 true',
      '401 9130350000000042',
      'api 9130350000000042 200 true',
      'api 9130350000000042 403 true',
    ]);
    emulator.control.configure({ maxRequestsPerSecondPerRealm: 10 });
  });

  it('a 401 after the refresh surfaces as ApiError 401 instead of looping', async () => {
    emulator.control.injectApiFault({ kind: 'status', status: 401 }, 2);
    const error = await rejection(client().getCompanyInfo());
    expect(error.status).toBe(401);
    expect(error.code).toBe('unauthorized');
    expect(error.faultCode).toBe('3200');
    expect(error.intuitTid).toMatch(/\S+/);
    expect(error.message).toMatch(/again after the access token was refreshed/);
    expect(refreshCalls()).toBe(1);
    expect(emulator.control.counters().apiCalls).toBe(2);
  });

  it('403 (code 3100) is reported and never triggers a refresh', async () => {
    emulator.control.injectApiFault({ kind: 'status', status: 403 });
    const error = await rejection(client().getCompanyInfo());
    expect(error.status).toBe(403);
    expect(error.code).toBe('forbidden');
    expect(error.faultCode).toBe('3100');
    expect(refreshCalls()).toBe(0);
    expect(emulator.control.counters().apiCalls).toBe(1);
  });

  it('429 with Retry-After waits as asked and retries', async () => {
    emulator.control.injectApiFault({ kind: 'status', status: 429, retryAfterSeconds: 1 });
    const lines: string[] = [];
    const info = await client({ log: (line) => lines.push(line) }).getCompanyInfo();
    expect(info.realmId).toBe(emulator.realmId);
    expect(emulator.control.counters().api429s).toBe(1);
    expect(emulator.control.counters().apiCalls).toBe(2);
    expect(lines.some((line) => /429 throttled, retry 1 in 1000 ms/.test(line))).toBe(true);
  });

  it("a 429 holds the connection's other requests too, until Intuit's wait is over", async () => {
    emulator.control.injectApiFault({ kind: 'status', status: 429, retryAfterSeconds: 1 });
    const answers: { status: number; sentAt: number; answeredAt: number }[] = [];
    let second: Promise<unknown> = Promise.resolve();
    const qb = client({
      telemetry: {
        ...noTelemetry,
        apiRequested: ({ status, durationMs }) => {
          const answeredAt = Date.now();
          answers.push({ status, sentAt: answeredAt - durationMs, answeredAt });
        },
      },
      // Another call of the same connection, made while the throttled one waits out its second.
      log: (line) => {
        if (/429 throttled/.test(line)) setImmediate(() => (second = qb.getCompanyInfo()));
      },
    });
    await qb.getCompanyInfo();
    await second;
    expect(answers.map((answer) => answer.status)).toEqual([429, 200, 200]);
    const throttledAt = answers[0].answeredAt;
    for (const answer of answers.slice(1)) expect(answer.sentAt).toBeGreaterThanOrEqual(throttledAt + 1000);
    expect(emulator.control.counters().api429s).toBe(1);
  });

  it('429 with a Retry-After beyond the bound is reported, not waited out', async () => {
    emulator.control.injectApiFault({ kind: 'status', status: 429, retryAfterSeconds: 120 });
    const error = await rejection(client().getCompanyInfo());
    expect(error.code).toBe('rate_limited');
    expect(error.faultCode).toBe('3001');
    expect(error.retryAfterMs).toBe(120_000);
    expect(error.message).toMatch(/retry after 120 s/);
    expect(emulator.control.counters().apiCalls).toBe(1);
  });

  it('429 without Retry-After backs off and retries a bounded number of times', async () => {
    emulator.control.injectApiFault({ kind: 'status', status: 429 }, 2);
    await expect(client().getCompanyInfo()).resolves.toMatchObject({ realmId: emulator.realmId });
    expect(emulator.control.counters().apiCalls).toBe(3);

    emulator.control.resetCounters();
    emulator.control.injectApiFault({ kind: 'status', status: 429 }, 10);
    const error = await rejection(client({ maxRateLimitRetries: 3 }).getCompanyInfo());
    expect(error.code).toBe('rate_limited');
    expect(emulator.control.counters().apiCalls).toBe(4);
    expect(refreshCalls()).toBe(0);
  });

  it('reads the capitalised fault spelling too (401 refreshes, 403 does not)', async () => {
    emulator.control.configure({ faultSpelling: 'capital' });
    emulator.control.revokeAccessTokens();
    await expect(client().getCompanyInfo()).resolves.toMatchObject({ realmId: emulator.realmId });
    expect(refreshCalls()).toBe(1);

    emulator.control.injectApiFault({ kind: 'status', status: 403 });
    const error = await rejection(client().getCompanyInfo());
    expect(error.faultCode).toBe('3100');
    expect(error.code).toBe('forbidden');
    expect(refreshCalls()).toBe(1);
  });

  it('no error message contains the access token', async () => {
    const token = await tokens.getAccessToken();
    emulator.control.injectApiFault({ kind: 'status', status: 401 }, 2);
    const unauthorized = await rejection(client().getCompanyInfo());
    emulator.control.injectApiFault({ kind: 'status', status: 503 });
    const server = await rejection(client().getCompanyInfo());
    expect(server.code).toBe('api_error');
    expect(server.status).toBe(503);
    for (const error of [unauthorized, server]) {
      const text = `${error.message} ${JSON.stringify(error)}`;
      for (const secret of [token, ...emulator.control.issuedTokenValues()])
        expect(text).not.toContain(secret);
    }
  });
});

describe('QuickBooksClient against a misbehaving server', () => {
  let server: Server;
  let baseUrl: string;
  let answer: (res: ServerResponse, req: IncomingMessage) => void;

  beforeAll(async () => {
    server = createServer((req, res) => answer(res, req));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  afterEach(() => server.closeAllConnections());

  const fixedTokens: AccessTokenSource = {
    getAccessToken: async () => 'fixed-access-token-value',
    refreshAfter401: async () => 'fixed-access-token-value',
  };

  const misbehaving = (options: Partial<QuickBooksClientOptions> = {}) =>
    new QuickBooksClient({ tokens: fixedTokens, apiBaseUrl: baseUrl, realmId: '42', ...options });

  it('an HTML page instead of JSON gives a clear error with intuit_tid', async () => {
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'text/html', intuit_tid: 'tid-html' });
      res.end('<html><body>Service temporarily unavailable</body></html>');
    };
    const error = await rejection(misbehaving().getCompanyInfo());
    expect(error.code).toBe('bad_response');
    expect(error.intuitTid).toBe('tid-html');
    expect(error.message).toMatch(/HTML page, not JSON/);
  });

  it('malformed JSON gives a clear error', async () => {
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"CompanyInfo": {');
    };
    const error = await rejection(misbehaving().getCompanyInfo());
    expect(error.code).toBe('bad_response');
    expect(error.message).toMatch(/not valid JSON/);
  });

  it('a server that never answers times out via AbortSignal', async () => {
    answer = () => {};
    const error = await rejection(misbehaving({ fetchTimeoutMs: 200 }).getCompanyInfo());
    expect(error.code).toBe('timeout');
    expect(error.status).toBe(0);
  });

  it('sends the bearer token, Accept: application/json and minorversion=75', async () => {
    let seen: { authorization?: string; accept?: string; url?: string } = {};
    answer = (res, req) => {
      seen = { authorization: req.headers.authorization, accept: req.headers.accept, url: req.url };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ CompanyInfo: { CompanyName: 'Acme' } }));
    };
    await expect(misbehaving().getCompanyInfo()).resolves.toMatchObject({ companyName: 'Acme' });
    expect(seen.authorization).toBe('Bearer fixed-access-token-value');
    expect(seen.accept).toBe('application/json');
    expect(seen.url).toBe('/v3/company/42/companyinfo/42?minorversion=75');
  });
});

describe('QuickBooksClient.fetch (any method, a Response back)', () => {
  let server: Server;
  let baseUrl: string;
  const seen: { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }[] = [];
  let statuses: number[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        const status = statuses.shift() ?? 200;
        res.writeHead(status, { 'content-type': 'application/json', intuit_tid: `tid-${seen.length}` });
        res.end(
          status === 200
            ? JSON.stringify({ echo: body })
            : JSON.stringify({ Fault: { Error: [{ Message: 'No', code: String(status) }], type: 'X' } }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    seen.length = 0;
    statuses = [];
  });

  let refreshed = 0;
  const rotatingTokens: AccessTokenSource = {
    getAccessToken: async () => `access-token-generation-${refreshed}`,
    refreshAfter401: async () => {
      refreshed += 1;
      return `access-token-generation-${refreshed}`;
    },
  };
  const fetcher = () => new QuickBooksClient({ tokens: rotatingTokens, apiBaseUrl: baseUrl, realmId: '42' });

  it('POSTs a string body as JSON and resends the same body after one refresh on 401', async () => {
    statuses = [401, 200];
    const before = refreshed;
    const response = await fetcher().fetch('/v3/company/42/customer', {
      method: 'post',
      body: JSON.stringify({ DisplayName: 'Ada' }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ echo: '{"DisplayName":"Ada"}' });
    expect(refreshed).toBe(before + 1);
    expect(seen.map((request) => request.method)).toEqual(['POST', 'POST']);
    expect(seen.map((request) => request.body)).toEqual(['{"DisplayName":"Ada"}', '{"DisplayName":"Ada"}']);
    expect(seen[0]?.headers['content-type']).toBe('application/json');
    expect(seen[0]?.headers.accept).toBe('application/json');
    expect(seen[0]?.headers.authorization).toBe(`Bearer access-token-generation-${before}`);
    expect(seen[1]?.headers.authorization).toBe(`Bearer access-token-generation-${before + 1}`);
    expect(seen[0]?.url).toBe('/v3/company/42/customer?minorversion=75');
  });

  it("keeps the caller's Accept and Content-Type, resolves paths relative to the company, and drops a caller's Authorization", async () => {
    await fetcher().fetch('query', {
      method: 'POST',
      body: 'select * from Customer',
      headers: { 'Content-Type': 'application/text', Accept: 'application/xml', Authorization: 'Bearer x' },
    });
    expect(seen[0]?.url).toBe('/v3/company/42/query?minorversion=75');
    expect(seen[0]?.headers['content-type']).toBe('application/text');
    expect(seen[0]?.headers.accept).toBe('application/xml');
    expect(seen[0]?.headers.authorization).toMatch(/^Bearer access-token-generation-/);
  });

  it('rejects a non-2xx answer with ApiError (status, fault code, intuit_tid) and a second 401 without looping', async () => {
    statuses = [400];
    const invalid = await rejection(fetcher().fetch('customer/9'));
    expect(invalid).toMatchObject({ status: 400, code: 'bad_request', faultCode: '400', intuitTid: 'tid-1' });
    expect(invalid.message).toMatch(/GET \/v3\/company\/42\/customer\/9/);
    statuses = [401, 401];
    const again = await rejection(fetcher().fetch('customer/9', { method: 'DELETE' }));
    expect(again.status).toBe(401);
    expect(again.message).toMatch(/DELETE .*again after the access token was refreshed/);
    expect(seen).toHaveLength(3);
  });

  it('reports every answer (status 0 when none came) and each retry after a 401 to the telemetry', async () => {
    const answers: { connectionId: string; status: number }[] = [];
    const retries: string[] = [];
    const telemetry = {
      ...noTelemetry,
      apiRequested: (event: { connectionId: string; status: number }) =>
        answers.push({ connectionId: event.connectionId, status: event.status }),
      retriedAfter401: (event: { connectionId: string }) => retries.push(event.connectionId),
    };
    statuses = [401, 200];
    await new QuickBooksClient({
      tokens: rotatingTokens,
      apiBaseUrl: baseUrl,
      realmId: '42',
      telemetry,
      connectionId: '9130',
    }).fetch('companyinfo/42');
    const unreachable = new QuickBooksClient({
      tokens: rotatingTokens,
      apiBaseUrl: 'http://127.0.0.1:9',
      realmId: '42',
      telemetry,
    });
    await expect(unreachable.fetch('companyinfo/42')).rejects.toMatchObject({ code: 'network' });
    expect(answers).toEqual([
      { connectionId: '9130', status: 401 },
      { connectionId: '9130', status: 200 },
      { connectionId: 'default', status: 0 },
    ]);
    expect(retries).toEqual(['9130']);
  });

  it('sends the token to no other origin, and refuses a GET with a body', async () => {
    await expect(fetcher().fetch('https://example.com/v3/company/42/query')).rejects.toThrow(
      /not the QuickBooks API .*QB_API_BASE_URL/,
    );
    await expect(fetcher().fetch('query', { body: 'select' })).rejects.toThrow(
      /GET request cannot have a body/,
    );
    await expect(fetcher().fetch(`${baseUrl}/v3/company/42/companyinfo/42`)).resolves.toMatchObject({
      status: 200,
    });
    expect(seen).toHaveLength(1);
  });
});

describe('fault parsing and helpers', () => {
  it('parses both fault spellings to the same shape', () => {
    const lower = parseApiFault({
      fault: {
        error: [
          { message: 'message=AuthenticationFailed', detail: 'Token expired', code: '3200', element: null },
        ],
        type: 'AUTHENTICATION',
      },
    });
    const capital = parseApiFault({
      Fault: {
        Error: [{ Message: 'message=AuthenticationFailed', Detail: 'Token expired', code: '3200' }],
        type: 'AuthenticationFault',
      },
    });
    expect(lower?.errors[0]).toEqual({
      code: '3200',
      message: 'message=AuthenticationFailed',
      detail: 'Token expired',
      element: null,
    });
    expect(capital?.errors[0]).toEqual(lower?.errors[0]);
    if (!capital) throw new Error('the capitalised fault did not parse');
    expect(describeApiFault(capital)).toBe('message=AuthenticationFailed: Token expired (code 3200)');
    expect(parseApiFault({ QueryResponse: {} })).toBeNull();
    expect(parseApiFault('not an object')).toBeNull();
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(null)).toBeNull();
    expect(parseRetryAfter('soon')).toBeNull();
    const now = Date.parse('2026-11-27T12:00:00Z');
    expect(parseRetryAfter('Fri, 27 Nov 2026 12:00:30 GMT', now)).toBe(30_000);
  });
});
