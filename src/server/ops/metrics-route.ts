// GET /metrics: the Prometheus text exposition. Opens to the admin secret (Bearer or the signed-in
// browser's cookie) or to QB_METRICS_TOKEN, a scraper's own secret that opens nothing else.
import { HTTP_PATHS } from '../../shared/contract';
import { securityHeaders } from '../headers';
import type { Router } from '../router';
import type { OpsMetrics } from './metrics';

export function registerMetricsRoute(router: Router, metrics: OpsMetrics, metricsToken: string | null): void {
  router.get(
    HTTP_PATHS.metrics,
    async ({ res }) => {
      const { contentType, body } = await metrics.scrape();
      res.writeHead(200, {
        ...securityHeaders('api'),
        'Content-Type': contentType,
        'Content-Length': Buffer.byteLength(body),
        'Cache-Control': 'no-store',
      });
      res.end(body);
    },
    { access: 'admin', alsoBearer: metricsToken },
  );
}
