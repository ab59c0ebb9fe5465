// Bad input against the headless HTTP API: wrong types, huge bodies, odd encodings, malformed
// requests and seeded random bytes, over real sockets. Nothing may crash the server, every answer
// must be a clear error (a contract error body naming the problem, or Node's own 400 for requests
// its parser refuses), and the token state must be exactly what it was before.
// Replay with FUZZ_SEED=<printed seed>.
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_PATHS, type TokenStatus } from '../shared/contract';
import { LeakScan } from '../core/testing/leak-scan';
import { startStack, type Stack } from './test-support';
import { seededRandom } from '../core/testing/seeded-random';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const RANDOM_CASES = 150;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

interface FuzzRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Send the body chunked (no Content-Length). */
  chunked?: boolean;
  auth?: boolean;
}

let stack: Stack;
let before: TokenStatus;
let tokenCallsBefore: number;
const scan = new LeakScan();

/** One request over http.request (so bodies, methods and headers are exactly what we say). */
function send(req: FuzzRequest): Promise<Answer> {
  const url = new URL(stack.server.baseUrl);
  const headers: Record<string, string> = { ...req.headers };
  if (req.auth !== false && !('authorization' in headers))
    headers.authorization = `Bearer ${stack.adminToken}`;
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  if (body && !req.chunked) headers['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { host: url.hostname, port: url.port, method: req.method, path: req.path, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    // The server may answer and close before a huge body is fully sent: that is its right.
    outgoing.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') return;
      reject(err);
    });
    if (body) {
      if (req.chunked) {
        for (let i = 0; i < body.length; i += 8192) outgoing.write(body.subarray(i, i + 8192));
      } else outgoing.write(body);
    }
    outgoing.end();
  });
}

/** Raw bytes on a socket, for requests no HTTP client would send. Resolves with whatever came back. */
function sendRaw(bytes: string | Buffer): Promise<string> {
  const url = new URL(stack.server.baseUrl);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('error', () => resolve(text));
    socket.on('close', () => resolve(text));
    socket.setTimeout(5000, () => socket.destroy());
    socket.write(bytes);
    socket.end();
  });
}

/** The answer is a clear error: a 4xx with a contract error body (API paths), naming the problem. */
function expectClearError(answer: Answer, label: string): void {
  scan.collect(label, answer.text);
  expect(answer.status, `${label}: status`).toBeGreaterThanOrEqual(400);
  expect(answer.status, `${label}: no server error`).toBeLessThan(500);
  const type = String(answer.headers['content-type'] ?? '');
  if (type.startsWith('application/json')) {
    const body = JSON.parse(answer.text) as { ok: boolean; error?: { code?: unknown; message?: unknown } };
    expect(body.ok, label).toBe(false);
    expect(typeof body.error?.code, label).toBe('string');
    expect(typeof body.error?.message, label).toBe('string');
    expect(String(body.error?.message).length, label).toBeGreaterThan(10);
  } else {
    expect(type, `${label}: an HTML or text error page`).toMatch(/^text\/(html|plain)/);
  }
}

/** Nothing about the tokens changed. */
async function expectTokenStateUnchanged(label: string): Promise<void> {
  const now = stack.desk.getStatus();
  expect(now.accessToken?.preview, label).toBe(before.accessToken?.preview);
  expect(now.accessToken?.expiresAt, label).toBe(before.accessToken?.expiresAt);
  expect(now.refreshToken?.preview, label).toBe(before.refreshToken?.preview);
  expect(now.stats, label).toEqual(before.stats);
  expect(now.state, label).toBe(before.state);
  expect(stack.emulator.control.counters().tokenCalls.refresh_token, label).toBe(tokenCallsBefore);
  // The server still answers an ordinary request.
  const alive = await send({ method: 'GET', path: HTTP_PATHS.refreshToken });
  expect(alive.status, `${label}: server still answers`).toBe(200);
}

/** True when `body` would be a valid (state-changing) request: empty, or a JSON object with no keys. */
function isValidEmptyBody(body: Buffer): boolean {
  const text = body.toString('utf8').trim();
  if (text === '') return true;
  try {
    const parsed: unknown = JSON.parse(text);
    return (
      typeof parsed === 'object' &&
      parsed !== null &&
      !Array.isArray(parsed) &&
      Object.keys(parsed).length === 0
    );
  } catch {
    return false;
  }
}

const BAD_BODIES: Array<[string, string | Buffer, Record<string, string>?]> = [
  ['array', '[]'],
  ['string', '"refresh"'],
  ['number', '42'],
  ['null', 'null'],
  ['boolean', 'true'],
  ['unknown key', '{"force":true,"extra":1}'],
  ['__proto__ key', '{"__proto__":{"polluted":true}}'],
  ['constructor key', '{"constructor":{"prototype":{"polluted":true}}}'],
  ['truncated json', '{"a":'],
  ['lone brace', '{'],
  ['NUL byte', '\u0000'],
  ['invalid UTF-8', Buffer.from([0xff, 0xfe, 0xfd, 0x7b, 0x7d])],
  ['UTF-16LE with BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"a":1}', 'utf16le')])],
  ['UTF-8 BOM then object with a key', '\ufeff{"a":1}'],
  ['deeply nested arrays', '['.repeat(5000) + ']'.repeat(5000)],
  ['form encoded', 'a=1&b=2', { 'content-type': 'application/x-www-form-urlencoded' }],
  ['text/plain JSON', '{"a":1}', { 'content-type': 'text/plain' }],
  [
    'multipart',
    '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--',
    { 'content-type': 'multipart/form-data; boundary=x' },
  ],
  ['json with utf-16 charset', '{"a":1}', { 'content-type': 'application/json; charset=utf-16' }],
  [
    'gzip-encoded garbage',
    Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02]),
    { 'content-encoding': 'gzip', 'content-type': 'application/json' },
  ],
  ['emoji keys', '{"🔑":"☃"}'],
  ['just over the limit', `{"a":"${'x'.repeat(16 * 1024)}"}`],
];

beforeAll(async () => {
  stack = await startStack();
  before = stack.desk.getStatus();
  tokenCallsBefore = stack.emulator.control.counters().tokenCalls.refresh_token;
  scan.addEmulator(stack.emulator).addSecrets(stack.adminToken);
  console.log(`[fuzz] seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
});

afterAll(async () => {
  scan.assertClean();
  await stack?.close();
});

describe('headless API under bad input (nothing crashes, clear errors, token state unchanged)', () => {
  for (const [name, body, headers] of BAD_BODIES) {
    for (const [method, path] of [
      ['POST', HTTP_PATHS.refreshToken],
      ['DELETE', HTTP_PATHS.refreshToken],
    ] as const) {
      it(`${method} ${path.split('/').pop()} with ${name}`, async () => {
        const answer = await send({
          method,
          path,
          body,
          headers: { 'content-type': 'application/json', ...headers },
        });
        expectClearError(answer, `${method} ${path} ${name}`);
        await expectTokenStateUnchanged(name);
      });
    }
  }

  it('huge bodies: declared, chunked without a length, and a lying Content-Length', async () => {
    const huge = Buffer.alloc(8 * 1024 * 1024, 0x61);
    const declared = await send({ method: 'POST', path: HTTP_PATHS.refreshToken, body: huge });
    expectClearError(declared, 'declared 8 MiB');
    const chunked = await send({ method: 'POST', path: HTTP_PATHS.refreshToken, body: huge, chunked: true });
    expectClearError(chunked, 'chunked 8 MiB');
    const lying = await sendRaw(
      `POST ${HTTP_PATHS.refreshToken} HTTP/1.1\r\nHost: ${new URL(stack.server.baseUrl).host}\r\n` +
        `Authorization: Bearer ${stack.adminToken}\r\nContent-Length: abc\r\n\r\n{}`,
    );
    expect(lying).toMatch(/^HTTP\/1\.1 400/);
    await expectTokenStateUnchanged('huge');
  });

  it('wrong methods, odd paths and odd query strings', async () => {
    const cases: FuzzRequest[] = [
      { method: 'PUT', path: HTTP_PATHS.refreshToken },
      { method: 'PATCH', path: HTTP_PATHS.refreshToken, body: '{}' },
      { method: 'POST', path: HTTP_PATHS.companyInfo },
      { method: 'DELETE', path: HTTP_PATHS.events },
      { method: 'GET', path: '/api/%00' },
      { method: 'GET', path: `/api/${'a'.repeat(4000)}` },
      { method: 'GET', path: '/api/integrations/quickbooks/refresh-token%2F..%2F..%2Fetc%2Fpasswd' },
      { method: 'POST', path: `${HTTP_PATHS.refreshToken}?%ZZ=%E0%A4%A`, body: '[]' },
      { method: 'POST', path: `${HTTP_PATHS.refreshToken}?x=${'y'.repeat(6000)}`, body: '"x"' },
      { method: 'GET', path: `${HTTP_PATHS.callback}?code=x&state=not-a-state&realmId=1` },
      { method: 'GET', path: `${HTTP_PATHS.callback}?error=access_denied&state=${'%FF'.repeat(50)}` },
      { method: 'GET', path: HTTP_PATHS.callback },
    ];
    for (const c of cases) expectClearError(await send(c), `${c.method} ${c.path.slice(0, 80)}`);
    await expectTokenStateUnchanged('methods and paths');
  });

  it('bad credentials, hosts and origins', async () => {
    const cases: FuzzRequest[] = [
      { method: 'POST', path: HTTP_PATHS.refreshToken, auth: false },
      { method: 'POST', path: HTTP_PATHS.refreshToken, headers: { authorization: 'Bearer ' } },
      { method: 'POST', path: HTTP_PATHS.refreshToken, headers: { authorization: 'Basic YTpi' } },
      {
        method: 'DELETE',
        path: HTTP_PATHS.refreshToken,
        headers: { authorization: `Bearer ${'x'.repeat(6000)}` },
      },
      {
        method: 'DELETE',
        path: HTTP_PATHS.refreshToken,
        headers: { authorization: `Bearer ${stack.adminToken}x` },
      },
      {
        method: 'POST',
        path: HTTP_PATHS.refreshToken,
        headers: { authorization: `bearer  ${stack.adminToken} extra` },
      },
      { method: 'POST', path: HTTP_PATHS.refreshToken, headers: { host: 'evil.example' } },
      { method: 'POST', path: HTTP_PATHS.refreshToken, headers: { origin: 'http://evil.example' } },
      { method: 'DELETE', path: HTTP_PATHS.refreshToken, headers: { origin: 'null' } },
    ];
    for (const c of cases)
      expectClearError(await send(c), `${c.method} ${JSON.stringify(c.headers ?? {}).slice(0, 60)}`);
    await expectTokenStateUnchanged('credentials');
  });

  it("malformed requests on the wire get Node's 400 and the server keeps serving", async () => {
    const host = new URL(stack.server.baseUrl).host;
    const raw = [
      'GARBAGE\r\n\r\n',
      `POST ${HTTP_PATHS.refreshToken} HTTP/9.9\r\nHost: ${host}\r\n\r\n`,
      `POST ${HTTP_PATHS.refreshToken} HTTP/1.1\r\nHost: ${host}\r\nBad Header\r\n\r\n`,
      `POST ${HTTP_PATHS.refreshToken} HTTP/1.1\r\nHost: ${host}\r\nX: a\u0000b\r\n\r\n`,
      `POST ${HTTP_PATHS.refreshToken} HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\nzz\r\n`,
      `POST ${HTTP_PATHS.refreshToken} HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'h'.repeat(20_000)}\r\n\r\n`,
    ];
    for (const bytes of raw) {
      const answer = await sendRaw(bytes);
      expect(answer, JSON.stringify(bytes.slice(0, 60))).toMatch(/^HTTP\/1\.1 4\d\d/);
      scan.collect('raw answer', answer);
    }
    await expectTokenStateUnchanged('raw');
  });

  it(`${RANDOM_CASES} seeded random bodies (seed ${SEED})`, async () => {
    const random = seededRandom(SEED);
    const alphabet = [
      '{',
      '}',
      '[',
      ']',
      '"',
      ':',
      ',',
      'a',
      '1',
      ' ',
      '\\',
      'n',
      'u',
      '\u00e9',
      '\ud83d',
      'null',
    ];
    const types = [
      'application/json',
      'application/json; charset=latin1',
      'text/plain',
      '',
      'application/jsonp',
    ];
    let sent = 0;
    for (let i = 0; i < RANDOM_CASES; i += 1) {
      const length = Math.floor(random() * 400);
      const body =
        random() < 0.5
          ? Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)))
          : Buffer.from(
              Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join(''),
            );
      if (isValidEmptyBody(body)) continue;
      const type = types[Math.floor(random() * types.length)] ?? '';
      const method = random() < 0.5 ? 'POST' : 'DELETE';
      const answer = await send({
        method,
        path: HTTP_PATHS.refreshToken,
        body,
        headers: type ? { 'content-type': type } : {},
      });
      expectClearError(answer, `random #${i} (seed ${SEED})`);
      sent += 1;
    }
    expect(sent).toBeGreaterThan(RANDOM_CASES / 2);
    await expectTokenStateUnchanged('random');
  });
});
