// The Accounting API's wire: node:http / node:https on the platform's keep-alive agents, one request
// and its whole answer at a time. The platform's fetch would do, but on a loopback round trip its
// Request/Response/stream plumbing and its per-call AbortSignal bookkeeping cost a fifth of the time
// (bench scenario 3); here a timeout is one timer for all requests (request-deadlines.ts) that
// destroys the request, and a caller's signal is honoured the same way.
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { RequestDeadlines } from './request-deadlines';

interface WireRequest {
  url: URL;
  method: string;
  headers: Record<string, string>;
  body: Uint8Array | null;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** An answer's headers, read without building a Headers object unless asked for one. */
export class WireHeaders {
  constructor(private readonly raw: IncomingHttpHeaders) {}

  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }

  toHeaders(): Headers {
    const headers = new Headers();
    for (const [name, value] of Object.entries(this.raw)) {
      if (value === undefined) continue;
      for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
    }
    return headers;
  }
}

interface WireResponse {
  status: number;
  statusText: string;
  headers: WireHeaders;
  bytes: Buffer;
}

/** The request ran past its time; nothing more will be read from it. */
export class WireTimeoutError extends Error {
  override name = 'TimeoutError';
}

export class ApiTransport {
  private readonly deadlines = new RequestDeadlines();

  send(wire: WireRequest): Promise<WireResponse> {
    return new Promise<WireResponse>((resolve, reject) => {
      const { signal } = wire;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const send = wire.url.protocol === 'https:' ? httpsRequest : httpRequest;
      const headers: Record<string, string> = { ...wire.headers };
      if (wire.body) headers['content-length'] = String(wire.body.byteLength);
      const req = send(wire.url, { method: wire.method, headers });
      let settled = false;
      const finish = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        deadline.done();
        signal?.removeEventListener('abort', onAbort);
        outcome();
      };
      const fail = (err: unknown) => finish(() => reject(err));
      const deadline = this.deadlines.start(wire.timeoutMs, () => {
        const timeout = new WireTimeoutError(`no complete answer within ${wire.timeoutMs} ms`);
        fail(timeout);
        req.destroy(timeout);
      });
      const onAbort = () => {
        fail(signal?.reason);
        req.destroy();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', fail);
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', fail);
        res.on('close', () => {
          if (!res.complete) fail(new Error('the connection closed before the answer was complete'));
        });
        res.on('end', () =>
          finish(() =>
            resolve({
              status: res.statusCode ?? 0,
              statusText: res.statusMessage ?? '',
              headers: new WireHeaders(res.headers),
              bytes: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks),
            }),
          ),
        );
      });
      req.end(wire.body ?? undefined);
    });
  }
}
