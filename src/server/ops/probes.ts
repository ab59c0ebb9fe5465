// Health probes for load balancers and orchestrators. No secret, any Host (see the 'probe' route
// access), and answers that reveal nothing: "ok", "ready", or one line saying what is missing,
// never a token, a store location or a configuration value.
import type { ServerResponse } from 'node:http';
import { HTTP_PATHS, type TokenStatus } from '../../shared/contract';
import { securityHeaders } from '../headers';
import type { Router } from '../router';

/** Whether the engine behind the server runs: readiness drops first thing on shutdown, so a load balancer drains. */
export type EngineLifecycle = 'starting' | 'running' | 'stopping';

/**
 * Null when the server can do its job (the engine runs, the token store answers), else one short
 * reason. A connection that needs a reconnect does not make the server unready: it still serves
 * the dashboard the reconnect happens in.
 */
export function notReadyReason(lifecycle: EngineLifecycle, statuses: readonly TokenStatus[]): string | null {
  if (lifecycle === 'starting') return 'the token engine is starting';
  if (lifecycle === 'stopping') return 'the server is shutting down';
  if (statuses.some((status) => status.store !== null && !status.store.reachable)) {
    return 'the token store cannot be reached';
  }
  if (statuses.some((status) => status.store?.misconfigured === true)) {
    return 'the token store cannot be used as configured';
  }
  return null;
}

function sendText(res: ServerResponse, status: number, text: string, head: boolean): void {
  res.writeHead(status, {
    ...securityHeaders('api'),
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(head ? undefined : text);
}

export function registerProbeRoutes(router: Router, readiness: () => string | null): void {
  for (const method of ['GET', 'HEAD'] as const) {
    const head = method === 'HEAD';
    // Liveness: the process answers. Nothing else is checked, so a slow store never gets a
    // healthy process restarted.
    router.add(method, HTTP_PATHS.healthz, ({ res }) => sendText(res, 200, 'ok\n', head), {
      access: 'probe',
    });
    router.add(
      method,
      HTTP_PATHS.readyz,
      ({ res }) => {
        const reason = readiness();
        if (reason === null) sendText(res, 200, 'ready\n', head);
        else sendText(res, 503, `not ready: ${reason}\n`, head);
      },
      { access: 'probe' },
    );
  }
}
