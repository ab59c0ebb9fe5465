// The headless server's implementation of the renderer's bridge: the same QbTokensBridge as the
// desktop's IPC, spoken over fetch (JSON Result bodies) and Server-Sent Events. It never throws:
// every outcome, including an unreachable server, is a Result. The session cookie set by the
// start-up URL authenticates every call (same-origin only).
import {
  HTTP_PATHS,
  SSE_STATUS_EVENT,
  type ConnectionTestResult,
  type DisconnectOptions,
  type QbTokensBridge,
  type Result,
  type ResultError,
  type TokenStatus,
} from '../../../shared/contract';

/** Refreshes wait on Intuit (with the engine's own retries); beyond this the call is reported as timed out. */
const REQUEST_TIMEOUT_MS = 90_000;
const RECONNECT_MIN_MS = 1_000;
const RECONNECT_MAX_MS = 30_000;

type Listener = (status: TokenStatus) => void;

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
  let source: EventSource | null = null;
  let reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  let reconnectDelay = RECONNECT_MIN_MS;

  function openStream(): void {
    if (source || listeners.size === 0) return;
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
      for (const listener of [...listeners]) {
        try {
          listener(status);
        } catch {
          // One failing subscriber must not starve the others.
        }
      }
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
    if (reconnectTimer !== null || listeners.size === 0) return;
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

  return {
    getStatus: () => call<TokenStatus>('GET', HTTP_PATHS.refreshToken),
    refresh: () => call<TokenStatus>('POST', HTTP_PATHS.refreshToken),
    clear: () => call<TokenStatus>('DELETE', HTTP_PATHS.refreshToken),
    testConnection: () => call<ConnectionTestResult>('GET', HTTP_PATHS.companyInfo),
    async connect() {
      // The authorization-code flow is a top-level navigation: GET /connect redirects to Intuit,
      // whose redirect to /callback lands back on the UI. Check the server first, then leave.
      const status = await call<TokenStatus>('GET', HTTP_PATHS.refreshToken);
      if (status.ok) window.location.assign(base + HTTP_PATHS.connect);
      return status;
    },
    disconnect: (options?: DisconnectOptions) =>
      call<TokenStatus>('POST', HTTP_PATHS.disconnect, options?.force ? { force: true } : {}),
    onStatusChanged(callback) {
      const listener: Listener = (status) => callback(status);
      listeners.add(listener);
      openStream();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) closeStream();
      };
    },
  };
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
