// Server-Sent Events: every subscriber gets the list of connections and each connection's current
// status on connect, then one `status` event per change of any connection (the status names its
// connection) and a `connections` event whenever one is added or removed. One subscription to the
// desk fans out to all open streams.
import type { ServerResponse } from 'node:http';
import {
  SSE_CONNECTIONS_EVENT,
  SSE_STATUS_EVENT,
  type ConnectionSummary,
  type TokenStatus,
} from '../shared/contract';
import type { ConnectionsDesk } from '../core/desk';
import { securityHeaders } from './headers';

export interface StatusStreamOptions {
  /** Comment lines keep idle proxies and browsers from dropping the stream (default 15 s). */
  heartbeatMs?: number;
  /** What the browser waits before reconnecting after a drop (default 2 s). */
  retryMs?: number;
  /** A client this far behind is dropped rather than buffered without bound (default 1 MiB). */
  maxBufferedBytes?: number;
}

function formatStatusEvent(status: TokenStatus): string {
  // JSON.stringify never emits a raw newline, so one data line carries the whole object.
  return `event: ${SSE_STATUS_EVENT}\ndata: ${JSON.stringify(status)}\n\n`;
}

function formatConnectionsEvent(connections: ConnectionSummary[]): string {
  return `event: ${SSE_CONNECTIONS_EVENT}\ndata: ${JSON.stringify(connections)}\n\n`;
}

export class StatusStream {
  private readonly clients = new Set<ServerResponse>();
  private readonly unsubscribe: Array<() => void>;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly retryMs: number;
  private readonly maxBufferedBytes: number;
  private closed = false;

  constructor(
    private readonly connections: ConnectionsDesk,
    options: StatusStreamOptions = {},
  ) {
    this.retryMs = options.retryMs ?? 2000;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 1024 * 1024;
    this.unsubscribe = [
      connections.onStatusChanged((status) => this.broadcast(formatStatusEvent(status))),
      connections.onConnectionsChanged((list) => this.broadcast(formatConnectionsEvent(list))),
    ];
    this.heartbeat = setInterval(() => this.broadcast(': keep-alive\n\n'), options.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  /** Takes over the response: headers, the current status, then changes until either side closes. */
  open(res: ServerResponse): void {
    if (this.closed) {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end('The server is shutting down.');
      return;
    }
    res.writeHead(200, {
      ...securityHeaders('api'),
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    res.write(`retry: ${this.retryMs}\n\n`);
    res.write(formatConnectionsEvent(this.connections.list()));
    for (const status of this.connections.statuses()) res.write(formatStatusEvent(status));
  }

  /** Ends every stream (shutdown). The browser's EventSource reconnects if the server comes back. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    clearInterval(this.heartbeat);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private broadcast(chunk: string): void {
    for (const res of this.clients) {
      if (res.writableLength > this.maxBufferedBytes) {
        res.destroy();
        this.clients.delete(res);
        continue;
      }
      res.write(chunk);
    }
  }
}
