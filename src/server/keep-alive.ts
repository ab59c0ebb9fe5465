// How long the headless server keeps an idle HTTP/1.1 connection for the client's next request.
//
// Node's default (5 s, plus a 1 s grace Node adds itself) is far shorter than the time a browser
// keeps an idle connection for reuse: Chromium (the dashboard's browser in every test) pools a used
// idle socket for up to 300 s and ignores the `Keep-Alive: timeout=` hint. So the server was the one
// to close, and a request written to the socket as the server dropped it was reset. Chromium resends
// such a request on a new connection itself (no answer had arrived), but a client that does not
// resend (a plain Node http client, a script) gets the reset as its error. Keeping idle connections
// longer than clients keep them makes the client the side that closes, which has no race.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** Chromium's limit for keeping a used idle socket (net/socket/client_socket_pool.cc). */
export const BROWSER_IDLE_SOCKET_MS = 300_000;

/** Past the browser's limit, so the browser always gives up an idle connection first. */
const KEEP_ALIVE_TIMEOUT_MS = BROWSER_IDLE_SOCKET_MS + 10_000;

/**
 * Keeps idle connections for KEEP_ALIVE_TIMEOUT_MS, and ends them once the server closes: an
 * answer that finishes after `close()` began ends its connection rather than leaving it idle for
 * minutes, holding `close()` open that long. Returns the function that marks the server closing.
 */
export function keepIdleConnections(server: Server): () => void {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  let closing = false;
  // Before the request handler runs, so even an answer it sends at once is seen finishing.
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
    res.once('finish', () => {
      if (closing) server.closeIdleConnections();
    });
  });
  return () => {
    closing = true;
    server.closeIdleConnections();
  };
}
