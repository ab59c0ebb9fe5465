// The API's wire on a real loopback server: answers with their headers and bytes, a timeout that
// really ends the request (the server sees the connection close), a caller's abort, and one timer
// keeping every request's own deadline.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiTransport, WireTimeoutError } from './api-transport';
import { RequestDeadlines } from './request-deadlines';

let server: Server;
let base: string;
let handle: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;

beforeAll(async () => {
  server = createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('ApiTransport', () => {
  it('sends method, headers and body, and reads status, headers and the whole body', async () => {
    handle = (req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        res.writeHead(201, 'Made', {
          'content-type': 'application/json',
          intuit_tid: '1-abc',
          'set-cookie': ['a=1', 'b=2'],
        });
        res.end(JSON.stringify({ method: req.method, auth: req.headers.authorization, body }));
      });
    };
    const answer = await new ApiTransport().send({
      url: new URL(`${base}/v3/x`),
      method: 'POST',
      headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
      body: new TextEncoder().encode('{"a":1}'),
      timeoutMs: 5000,
    });
    expect(answer.status).toBe(201);
    expect(answer.statusText).toBe('Made');
    expect(answer.headers.get('Intuit_Tid')).toBe('1-abc');
    expect(answer.headers.get('missing')).toBeNull();
    expect(answer.headers.toHeaders().get('content-type')).toBe('application/json');
    expect(JSON.parse(answer.bytes.toString())).toEqual({
      method: 'POST',
      auth: 'Bearer t',
      body: '{"a":1}',
    });
  });

  it('ends a request that runs past its time: TimeoutError, and the server sees the connection close', async () => {
    let closed: () => void = () => undefined;
    const serverSawClose = new Promise<void>((resolve) => (closed = resolve));
    handle = (req) => req.socket.on('close', () => closed());
    const error = await new ApiTransport()
      .send({ url: new URL(`${base}/hang`), method: 'GET', headers: {}, body: null, timeoutMs: 100 })
      .catch((err: unknown) => err);
    expect(error).toBeInstanceOf(WireTimeoutError);
    await serverSawClose;
  });

  it("ends a request when the caller's signal aborts, with the caller's reason", async () => {
    handle = () => undefined;
    const controller = new AbortController();
    const pending = new ApiTransport().send({
      url: new URL(`${base}/hang`),
      method: 'GET',
      headers: {},
      body: null,
      timeoutMs: 60_000,
      signal: controller.signal,
    });
    controller.abort(new Error('the caller gave up'));
    await expect(pending).rejects.toThrow('the caller gave up');
  });
});

describe('RequestDeadlines', () => {
  it('expires each request at its own deadline with one timer, and never one that is done', async () => {
    const deadlines = new RequestDeadlines();
    const expired: string[] = [];
    const started = Date.now();
    const at: Record<string, number> = {};
    let bothDone: () => void = () => undefined;
    const both = new Promise<void>((resolve) => (bothDone = resolve));
    const track = (name: string, ms: number) =>
      deadlines.start(ms, () => {
        expired.push(name);
        at[name] = Date.now() - started;
        if (expired.length === 2) bothDone();
      });
    track('late', 150);
    track('early', 50);
    const finished = track('finished', 80);
    finished.done();
    await both;
    // The finished one would have come between the two; give it time to (wrongly) fire.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(expired).toEqual(['early', 'late']);
    expect(at.early).toBeGreaterThanOrEqual(45);
    expect(at.late).toBeGreaterThanOrEqual(145);
  });
});
