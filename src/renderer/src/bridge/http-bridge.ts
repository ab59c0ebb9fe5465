// The headless server's implementation of the renderer's bridge: the same QbTokensBridge as the
// desktop's IPC, spoken over fetch (JSON Result bodies) and Server-Sent Events. It never throws:
// every outcome, including an unreachable server, is a Result. The session cookie set by the
// start-up URL authenticates every call (same-origin only).
import {
  HTTP_PATHS,
  SSE_CONNECTIONS_EVENT,
  SSE_STATUS_EVENT,
  type ConnectionId,
  type ConnectionSummary,
  type ConnectionTestResult,
  type ConnectRequest,
  type DisconnectOptions,
  type QbTokensBridge,
  type RemoveConnectionOptions,
  type Result,
  type ResultError,
  type TokenStatus,
} from '../../../shared/contract';
import { connectionPath } from '../../../shared/connections';

/** Refreshes wait on Intuit (with the engine's own retries); beyond this the call is reported as timed out. */
const REQUEST_TIMEOUT_MS = 90_000;
const RECONNECT_MIN_MS = 1_000;
const RECONNECT_MAX_MS = 30_000;

type Listener = (status: TokenStatus) => void;
type ListListener = (connections: ConnectionSummary[]) => void;

/** The seed's path for the default connection (no id), the per-connection path otherwise. */
function pathFor(
  id: ConnectionId | undefined,
  action: 'refreshToken' | 'companyInfo' | 'disconnect',
): string {
  return id === undefined ? HTTP_PATHS[action] : connectionPath(id, action);
}

export function createHttpBridge(baseUrl = ''): QbTokensBridge {
  const base = baseUrl.replace(/\/+$/, '');

  async function call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: object): Promise<Result<T>> {
    let response: Response;
    try {
      response = await fetch(base + path, {
        method,
        credentials: 'same-origin',
        cache: 'no-store',
        headers: body
          ? { Accept: 'application/json', 'Content-Type': 'application/json' }
          : { Accept: 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      const timedOut = err instanceof DOMException && err.name === 'TimeoutError';
      return failure(
        timedOut
          ? {
              code: 'timeout',
              message: `The QB Token Desk server did not answer within ${REQUEST_TIMEOUT_MS / 1000} s.`,
            }
          : {
              code: 'network',
              message: 'Could not reach the QB Token Desk server. Is `npm run serve` still running?',
            },
      );
    }
    let parsed: unknown;
    try {
      parsed = await response.json();
    } catch {
      return failure({
        code: 'internal',
        message: `The QB Token Desk server answered HTTP ${response.status} without a JSON body.`,
      });
    }
    if (isResult(parsed)) return parsed as Result<T>;
    return failure({
      code: 'internal',
      message: `The QB Token Desk server answered HTTP ${response.status} with an unexpected body.`,
    });
  }

  // One EventSource shared by every subscriber; closed when the last one leaves.
  const listeners = new Set<Listener>();
  const listListeners = new Set<ListListener>();
  const subscribers = () => listeners.size + listListeners.size;
  let source: EventSource | null = null;
  let reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  let reconnectDelay = RECONNECT_MIN_MS;

  function openStream(): void {
    if (source || subscribers() === 0) return;
    const es = new EventSource(base + HTTP_PATHS.events);
    source = es;
    es.addEventListener('open', () => {
      reconnectDelay = RECONNECT_MIN_MS;
    });
    es.addEventListener(SSE_STATUS_EVENT, (event) => {
      let status: TokenStatus;
      try {
        status = JSON.parse((event as MessageEvent<string>).data) as TokenStatus;
      } catch {
        return; // A torn or foreign event: skip it, the next one carries the whole status again.
      }
      deliver(listeners, status);
    });
    es.addEventListener(SSE_CONNECTIONS_EVENT, (event) => {
      let connections: ConnectionSummary[];
      try {
        connections = JSON.parse((event as MessageEvent<string>).data) as ConnectionSummary[];
      } catch {
        return;
      }
      deliver(listListeners, connections);
    });
    es.addEventListener('error', () => {
      // The browser retries dropped streams itself, but gives up for good after an HTTP error
      // (e.g. 401 or 503 while the server restarts): then we reconnect with back-off.
      if (es.readyState !== EventSource.CLOSED) return;
      es.close();
      if (source === es) source = null;
      scheduleReconnect();
    });
  }

  function scheduleReconnect(): void {
    if (reconnectTimer !== null || subscribers() === 0) return;
    const delay = reconnectDelay;
    reconnectDelay = Math.min(reconnectDelay * 2, RECONNECT_MAX_MS);
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null;
      openStream();
    }, delay);
  }

  function closeStream(): void {
    if (reconnectTimer !== null) clearTimeout(reconnectTimer);
    reconnectTimer = null;
    source?.close();
    source = null;
    reconnectDelay = RECONNECT_MIN_MS;
  }

  function subscribe<T>(set: Set<T>, listener: T): () => void {
    set.add(listener);
    openStream();
    return () => {
      set.delete(listener);
      if (subscribers() === 0) closeStream();
    };
  }

  return {
    getStatus: (id?: ConnectionId) => call<TokenStatus>('GET', pathFor(id, 'refreshToken')),
    refresh: (id?: ConnectionId) => call<TokenStatus>('POST', pathFor(id, 'refreshToken')),
    clear: (id?: ConnectionId) => call<TokenStatus>('DELETE', pathFor(id, 'refreshToken')),
    testConnection: (id?: ConnectionId) => call<ConnectionTestResult>('GET', pathFor(id, 'companyInfo')),
    async connect(request?: ConnectRequest) {
      // The authorization-code flow is a top-level navigation: GET /connect redirects to Intuit,
      // whose redirect to /callback lands back on the UI. Check the server first, then leave.
      const status = await call<TokenStatus>('GET', pathFor(request?.connectionId, 'refreshToken'));
      if (status.ok) window.location.assign(base + HTTP_PATHS.connect + connectQuery(request));
      return status;
    },
    disconnect: (options?: DisconnectOptions) =>
      call<TokenStatus>(
        'POST',
        pathFor(options?.connectionId, 'disconnect'),
        options?.force ? { force: true } : {},
      ),
    listConnections: () => call<ConnectionSummary[]>('GET', HTTP_PATHS.connections),
    removeConnection: (id: ConnectionId, options?: RemoveConnectionOptions) =>
      call<ConnectionSummary[]>('DELETE', connectionPath(id), options?.force ? { force: true } : {}),
    onStatusChanged: (callback) => subscribe<Listener>(listeners, (status) => callback(status)),
    onConnectionsChanged: (callback) => subscribe<ListListener>(listListeners, (list) => callback(list)),
  };
}

/** `?environment=` (add a company there) or `?connection=` (reconnect that one) for GET /connect. */
function connectQuery(request: ConnectRequest | undefined): string {
  const query = new URLSearchParams();
  if (request?.connectionId !== undefined) query.set('connection', request.connectionId);
  else if (request?.environment !== undefined) query.set('environment', request.environment);
  const text = query.toString();
  return text ? `?${text}` : '';
}

function deliver<T>(set: Set<(value: T) => void>, value: T): void {
  for (const listener of [...set]) {
    try {
      listener(value);
    } catch {
      // One failing subscriber must not starve the others.
    }
  }
}

function failure(error: ResultError): Result<never> {
  return { ok: false, error };
}

function isResult(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  if (record.ok === true) return 'value' in record;
  if (record.ok !== false) return false;
  const error = record.error as Record<string, unknown> | null | undefined;
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof error.code === 'string' &&
    typeof error.message === 'string'
  );
}
