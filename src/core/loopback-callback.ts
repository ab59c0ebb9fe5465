// The desktop side of Connect: a one-shot HTTP listener on the loopback redirect URI
// (QB_REDIRECT_URI, default http://localhost:<free port>/callback). It accepts only the redirect that
// carries its own flow's `state`, completes the flow once, answers the browser with a small page,
// and closes. A wrong state is refused (and the listener keeps waiting for the real answer); a second
// hit of the same redirect is refused as a replay; if nobody comes back in time it closes with a
// clear message. Node only (no electron), bound to 127.0.0.1.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ConnectRequest, TokenStatus } from '../shared/contract';
import { ConnectRefusedError, type ConnectRefusalReason } from './connect-flow';
import { CONNECT_PAGE_CSP, refusedPage, successPage, type ConnectPage } from './connect-pages';
import type { ConnectFlow } from './desk';
import { ConnectError, toResultError } from './errors';
import type { LogFn } from './log';

const DEFAULT_CALLBACK_PATH = '/callback';
/** How long the listener waits for the browser to come back (default 5 minutes). */
const DEFAULT_LOOPBACK_TIMEOUT_MS = 5 * 60_000;
const LOOPBACK_BIND = '127.0.0.1';
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1']);

interface LoopbackCallbackOptions {
  flow: Pick<ConnectFlow, 'begin' | 'complete'>;
  /** QB_REDIRECT_URI; null = http://localhost:<free port>/callback. */
  redirectUri?: string | null;
  /** Which environment (or connection) the flow is for; the company is the one picked at Intuit. */
  request?: ConnectRequest;
  timeoutMs?: number;
  log?: LogFn;
}

export interface LoopbackCallback {
  /** The redirect URI the authorize URL carries (with the port actually bound). */
  redirectUri: string;
  /** Where to send the user (Intuit's consent page). */
  authorizeUrl: string;
  /** The connected status; rejects with a ConnectError (refused, Intuit's error, timed out, cancelled). */
  result: Promise<TokenStatus>;
  /** Stops listening; a result still pending rejects as cancelled. */
  close(): Promise<void>;
}

const NEXT_DESKTOP = 'You can close this tab and return to QB Token Desk.';

/** Parses and checks QB_REDIRECT_URI for a loopback listener. Throws a ConnectError naming the variable. */
export function parseLoopbackRedirect(redirectUri: string | null | undefined): {
  hostname: string;
  port: number;
  path: string;
} {
  if (redirectUri === null || redirectUri === undefined || redirectUri === '') {
    return { hostname: 'localhost', port: 0, path: DEFAULT_CALLBACK_PATH };
  }
  let url: URL;
  try {
    url = new URL(redirectUri);
  } catch {
    throw new ConnectError(
      'connect_failed',
      'QB_REDIRECT_URI must be an absolute URL such as http://localhost:8765/callback.',
    );
  }
  if (url.protocol !== 'http:' || !LOOPBACK_NAMES.has(url.hostname)) {
    throw new ConnectError(
      'connect_failed',
      `QB_REDIRECT_URI must be a plain-http loopback URL on localhost or 127.0.0.1 (such as http://localhost:8765/callback) for the desktop app to receive the redirect; got one for ${url.protocol}//${url.host}.`,
    );
  }
  if (url.search || url.hash) {
    throw new ConnectError('connect_failed', 'QB_REDIRECT_URI must not carry a query or a fragment.');
  }
  return { hostname: url.hostname, port: url.port === '' ? 80 : Number(url.port), path: url.pathname };
}

export async function startLoopbackCallback(options: LoopbackCallbackOptions): Promise<LoopbackCallback> {
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOOPBACK_TIMEOUT_MS;
  const target = parseLoopbackRedirect(options.redirectUri);

  let settle: { resolve: (status: TokenStatus) => void; reject: (err: ConnectError) => void };
  const result = new Promise<TokenStatus>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // The caller may attach later (or never, when it closes first): no unhandled rejection meanwhile.
  result.catch(() => undefined);

  let expectedState = '';
  /** 'waiting' until the first redirect with the right state; then it is used, whatever its outcome. */
  let phase: 'waiting' | 'completing' | 'done' = 'waiting';
  let timer: ReturnType<typeof setTimeout> | null = null;

  const server = createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://loopback.invalid');
    if (url.pathname !== target.path) {
      // Browsers also ask for /favicon.ico and the like: not ours, and not the end of the flow.
      send(res, { status: 404, html: '<!DOCTYPE html><title>Not found</title><p>Not found.</p>' });
      return;
    }
    if (req.method !== 'GET') {
      send(res, { status: 405, html: '<!DOCTYPE html><title>Method not allowed</title><p>GET only.</p>' });
      return;
    }
    if (phase !== 'waiting') {
      send(
        res,
        refusedPage({
          reason: 'replay',
          message:
            'This sign-in answer was already used, so it was refused. An authorization code is exchanged once only; nothing was changed.',
          next: NEXT_DESKTOP,
        }),
      );
      return;
    }
    if (url.searchParams.get('state') !== expectedState) {
      log('Connect: refused a redirect whose state does not match the attempt in progress.');
      send(
        res,
        refusedPage({
          reason: 'state_mismatch',
          message:
            'The sign-in answer does not belong to the Connect attempt in progress (state mismatch), so it was refused. Nothing was changed.',
          next: 'If you started Connect from QB Token Desk, finish it in the browser tab it opened.',
        }),
      );
      return;
    }
    phase = 'completing';
    try {
      const status = await options.flow.complete(url.searchParams);
      send(res, successPage({ realmId: status.realmId, next: NEXT_DESKTOP }));
      finish(res, () => settle.resolve(status));
    } catch (err) {
      const failure = asConnectError(err);
      const reason: ConnectRefusalReason | null =
        failure instanceof ConnectRefusedError ? failure.reason : null;
      send(
        res,
        refusedPage({ reason, message: failure.message, next: 'Start Connect again from QB Token Desk.' }),
      );
      finish(res, () => settle.reject(failure));
    }
  }

  function send(res: ServerResponse, page: ConnectPage): void {
    res.writeHead(page.status, {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': Buffer.byteLength(page.html),
      'Content-Security-Policy': CONNECT_PAGE_CSP,
      'Cache-Control': 'no-store',
      'Referrer-Policy': 'no-referrer',
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(page.html);
  }

  let closing: Promise<void> | null = null;
  function stop(): Promise<void> {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Answers already written are flushed; idle keep-alive sockets would hold the port open.
      server.closeIdleConnections();
      setImmediate(() => server.closeAllConnections());
    });
    return closing;
  }

  /** Marks the attempt done at once; settles the result once the answer is flushed and the port closed. */
  function finish(res: ServerResponse | null, outcome: () => void): void {
    phase = 'done';
    const flushed =
      res === null || res.writableFinished
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            res.once('finish', resolve);
            res.once('close', resolve);
          });
    void flushed.then(stop).then(outcome);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(target.port, LOOPBACK_BIND, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((err: NodeJS.ErrnoException) => {
    const why =
      err.code === 'EADDRINUSE'
        ? 'the port is in use'
        : err.code === 'EACCES'
          ? 'permission denied'
          : 'it failed';
    throw new ConnectError(
      'connect_failed',
      `Cannot receive Intuit's redirect: listening on ${LOOPBACK_BIND}:${target.port} for QB_REDIRECT_URI failed (${why}).`,
    );
  });
  const port = (server.address() as AddressInfo).port;
  const redirectUri = `http://${target.hostname}:${port}${target.path}`;

  let begun: { authorizeUrl: string; state: string };
  try {
    begun = options.flow.begin(redirectUri, options.request);
  } catch (err) {
    await stop();
    throw err;
  }
  expectedState = begun.state;
  timer = setTimeout(() => {
    if (phase !== 'waiting') return;
    const minutes =
      timeoutMs >= 60_000
        ? `${Math.round(timeoutMs / 60_000)} minutes`
        : `${Math.round(timeoutMs / 1000)} seconds`;
    log(`Connect timed out after ${minutes}; the listener on ${redirectUri} was closed.`);
    finish(null, () =>
      settle.reject(
        new ConnectRefusedError(
          'timeout',
          `Nobody came back from Intuit's sign-in page within ${minutes}, so the Connect attempt timed out and stopped listening. Nothing was changed; start Connect again.`,
        ),
      ),
    );
  }, timeoutMs);
  timer.unref?.();

  return {
    redirectUri,
    authorizeUrl: begun.authorizeUrl,
    result,
    async close() {
      if (phase === 'waiting') {
        finish(null, () =>
          settle.reject(
            new ConnectError('connect_failed', 'The Connect attempt was cancelled before Intuit answered.'),
          ),
        );
      }
      await stop();
    },
  };
}

function asConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  return new ConnectError('connect_failed', `Connecting failed: ${toResultError(err).message}`);
}
