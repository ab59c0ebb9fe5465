// A webhook receiver on loopback for the alert tests: records every request, answers from a
// script (503, 429, 404... then 200 by default), checks signatures the way the README tells a
// receiver to, and lets a test await the n-th delivery instead of sleeping.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DELIVERY_HEADER,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  verifyAlertSignature,
  type SignatureCheck,
} from '../alert-signature';

export interface ReceivedRequest {
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The delivery id (stable across retries of one alert). */
  delivery: string | undefined;
  /** The signature check with the receiver's secret; null when it has none. */
  signature: SignatureCheck | null;
  /** The status it was answered with. */
  answered: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
}

export interface WebhookReceiver {
  url: string;
  requests: ReceivedRequest[];
  /** Answers for the next requests, in order; afterwards 200. */
  script(...answers: Answer[]): void;
  /** Resolves once `count` requests (of any answer) have arrived. */
  waitForRequests(count: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  /** The JSON bodies of the requests answered 2xx. */
  delivered<T = Record<string, unknown>>(): T[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(options: { secret?: string } = {}): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  const queue: Answer[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const answer = queue.shift() ?? { status: 200 };
      const header = (name: string) => {
        const value = req.headers[name];
        return Array.isArray(value) ? value[0] : value;
      };
      requests.push({
        method: req.method ?? '',
        headers: req.headers,
        body,
        delivery: header(DELIVERY_HEADER),
        signature: options.secret
          ? verifyAlertSignature({
              secret: options.secret,
              body,
              timestamp: header(TIMESTAMP_HEADER),
              signature: header(SIGNATURE_HEADER),
              nowMs: Date.now(),
            })
          : null,
        answered: answer.status,
      });
      res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
      res.end(answer.status < 300 ? 'ok' : 'no');
      for (const waiter of [...waiters]) {
        if (requests.length >= waiter.count) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/alerts`,
    requests,
    script: (...answers) => queue.push(...answers),
    waitForRequests(count, timeoutMs = 10_000) {
      if (requests.length >= count) return Promise.resolve(requests.slice());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(`the receiver got ${requests.length} of ${count} requests within ${timeoutMs} ms`),
            ),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve(requests.slice());
          },
        });
      });
    },
    delivered<T>() {
      return requests.filter((r) => r.answered < 300).map((r) => JSON.parse(r.body) as T);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
