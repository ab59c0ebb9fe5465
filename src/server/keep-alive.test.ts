// The headless server's idle connections, over a real socket that a client reuses the way a browser
// does: the server must never be the side that drops an idle connection a client may still write
// its next request to, and closing the server must not leave such connections holding it open.
import { connect, type Socket } from 'node:net';
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { HTTP_PATHS } from '../shared/contract';
import { BROWSER_IDLE_SOCKET_MS } from './keep-alive';
import { startStack, type Stack } from './test-support';

/** Node's own idle deadline for a keep-alive connection: keepAliveTimeout 5 s + its 1 s grace. */
const NODE_DEFAULT_IDLE_DEADLINE_MS = 6_000;

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * One TCP connection speaking HTTP/1.1 by hand, so the test decides exactly when each request is
 * written to the same socket (no client library that would open a new connection or resend).
 */
class RawConnection {
  private buffer = Buffer.alloc(0);
  private waiting: ((error?: Error) => void) | null = null;
  closed = false;
  private closeError: Error | null = null;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiting?.();
    });
    socket.on('error', (error) => {
      this.closeError = error;
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.(this.closeError ?? new Error('the server closed the connection without an answer'));
    });
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  write(stack: Stack, path: string): void {
    this.socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${stack.server.port}\r\n` +
        `Authorization: Bearer ${stack.adminToken}\r\nAccept: application/json\r\n\r\n`,
    );
  }

  /** The next whole answer (the server's answers carry Content-Length). */
  async read(): Promise<RawAnswer> {
    for (;;) {
      const answer = this.take();
      if (answer) return answer;
      if (this.closed)
        throw this.closeError ?? new Error('the server closed the connection without an answer');
      await new Promise<void>((resolve, reject) => {
        this.waiting = (error) => {
          this.waiting = null;
          if (error) reject(error);
          else resolve();
        };
      });
    }
  }

  private take(): RawAnswer | null {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const [statusLine, ...lines] = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
    const headers = Object.fromEntries(
      lines.map((line) => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
      }),
    );
    const length = Number(headers['content-length'] ?? 'NaN');
    if (!Number.isInteger(length)) throw new Error(`answer without Content-Length: ${statusLine}`);
    if (this.buffer.length < end + 4 + length) return null;
    const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
    this.buffer = this.buffer.subarray(end + 4 + length);
    return { status: Number(statusLine.split(' ')[1]), headers, body };
  }
}

/** Resolves when the server has finished sending its next answer (its idle deadline is armed then). */
function nextAnswerSent(stack: Stack): Promise<ServerResponse> {
  return new Promise((resolve) => {
    stack.server.server.once('request', (_req, res: ServerResponse) => {
      res.once('finish', () => resolve(res));
    });
  });
}

function ended(connection: RawConnection): Promise<void> {
  if (connection.closed) return Promise.resolve();
  return new Promise((resolve) => connection.socket.once('close', () => resolve()));
}

/** Stops this whole process (server included) without using the CPU, as a stalled event loop would. */
function stallEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

let stack: Stack | null = null;
const connections: RawConnection[] = [];
/** The server's side of every connection a test opened. */
const serverSockets: Socket[] = [];

afterEach(async () => {
  for (const connection of connections.splice(0)) connection.socket.destroy();
  serverSockets.length = 0;
  await stack?.close();
  stack = null;
});

async function openStack(): Promise<Stack> {
  stack = await startStack();
  stack.server.server.on('connection', (socket) => serverSockets.push(socket));
  return stack;
}

async function open(on: Stack): Promise<RawConnection> {
  const connection = await RawConnection.open(on.server.port);
  connections.push(connection);
  return connection;
}

describe('idle keep-alive connections', () => {
  it('are kept longer than a browser keeps them for reuse, and clients are told so', async () => {
    const on = await openStack();
    const connection = await open(on);
    const sent = nextAnswerSent(on);
    connection.write(on, HTTP_PATHS.refreshToken);
    const answer = await connection.read();
    expect(answer.status).toBe(200);
    expect(answer.headers.connection).toBe('keep-alive');
    const advertised = /timeout=(\d+)/.exec(answer.headers['keep-alive'] ?? '')?.[1];
    expect(Number(advertised) * 1000).toBeGreaterThan(BROWSER_IDLE_SOCKET_MS);
    // The deadline the server itself armed on the socket once it went idle.
    await sent;
    expect(serverSockets).toHaveLength(1);
    expect(serverSockets[0].timeout).toBeGreaterThan(BROWSER_IDLE_SOCKET_MS);
  });

  it('answer a request that reaches an idle connection just as Node’s default deadline passes', async () => {
    const on = await openStack();
    const connection = await open(on);
    const sent = nextAnswerSent(on);
    connection.write(on, HTTP_PATHS.refreshToken);
    expect((await connection.read()).status).toBe(200);
    await sent; // the server's idle deadline for this connection is armed from here

    // The next request is on the wire, unread, when the loop resumes past the old deadline: the
    // loop runs due timers before reading sockets, so a deadline that has passed drops the
    // connection (and resets the unread request) before the request is seen. Exactly the race.
    connection.write(on, HTTP_PATHS.refreshToken);
    stallEventLoop(NODE_DEFAULT_IDLE_DEADLINE_MS + 500);

    const second = await connection.read();
    expect(second.status).toBe(200);
    expect(JSON.parse(second.body)).toMatchObject({ ok: true });
    expect(connection.closed).toBe(false);
  });

  it('end once the server closes, so close() does not wait for them', async () => {
    const on = await openStack();
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered: () => void = () => {};
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    on.server.router.get('/api/test/held', async ({ res }) => {
      entered();
      await released;
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 2 });
      res.end('{}');
    });
    const idle = await open(on);
    idle.write(on, HTTP_PATHS.refreshToken);
    expect((await idle.read()).status).toBe(200);
    const busy = await open(on);
    busy.write(on, '/api/test/held');
    await inHandler;

    const closed = on.server.close();
    await ended(idle);
    release();
    // The answer in flight is delivered, then its connection ends instead of idling on.
    expect((await busy.read()).status).toBe(200);
    await ended(busy);
    await closed;
  });
});
