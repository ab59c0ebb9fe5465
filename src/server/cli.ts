// `npm run serve`: the token engine, its HTTP API, SSE and the built UI on 127.0.0.1.
//   --json   print one JSON line {"url","port","adminToken"} once listening (url signs a browser in)
// Configuration comes from the environment, then .env.local, then .env (see README).
import { resolve } from 'node:path';
import { startDesk } from '../core/bootstrap';
import { loadConfig } from '../core/config';
import { ConfigError, StoreConfigError, StoreKeyError } from '../core/errors';
import { logSink } from '../core/json-log';
import { defaultLog, type LogFn } from '../core/log';
import { generateAdminToken } from './access';
import { registerConnectRoutes } from './connect-routes';
import { deskViewOf } from './ops/desk-view';
import { ServiceOps } from './ops/service-ops';
import { startHeadlessServer, type HeadlessServer } from './server';

const DEFAULT_PORT = 4317;
/** After this long a shutdown gives up waiting (the store is written atomically, so exiting is safe). */
const SHUTDOWN_GRACE_MS = 20_000;

const USAGE = `Usage: npm run serve [-- --json]

Starts QB Token Desk headless on http://127.0.0.1:$QB_PORT (default ${DEFAULT_PORT}; 0 picks a free port).
Every API call needs the admin secret (QB_ADMIN_TOKEN, or one generated at start) as
"Authorization: Bearer <secret>"; the printed URL carries it and signs a browser in.
With no QB_CLIENT_ID, demo mode starts a local Intuit emulator.
Running it as a service: GET /healthz and /readyz answer without a secret; GET /metrics takes the
admin secret or QB_METRICS_TOKEN; QB_ALERT_WEBHOOK_URL receives alerts; QB_LOG_FORMAT=json (README).

  --json   print one JSON line {"url","port","adminToken"} once listening
  --help   show this text`;

async function main(argv: string[]): Promise<void> {
  const unknown = argv.filter((arg) => arg !== '--json' && arg !== '--help' && arg !== '-h');
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return;
  }
  if (unknown.length > 0) {
    console.error(`Unknown argument(s): ${unknown.join(' ')}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const json = argv.includes('--json');

  let started: Awaited<ReturnType<typeof startDesk>>;
  let ops: ServiceOps;
  try {
    // Read once before the engine starts: the log format and the metrics' telemetry are needed
    // by the engine itself (startDesk reads the same sources again and validates everything).
    const opsConfig = loadConfig(process.env, process.cwd()).ops;
    ops = new ServiceOps({ ops: opsConfig });
    started = await startDesk({
      env: process.env,
      cwd: process.cwd(),
      log: logSink(opsConfig.logFormat, defaultLog),
      telemetry: ops.telemetry,
      clientName: 'qb-token serve',
    });
  } catch (err) {
    // A wrong QB_STORE_KEY or an unusable QB_DATA_DIR is configuration too: exit 2, nothing touched.
    if (err instanceof ConfigError || err instanceof StoreKeyError || err instanceof StoreConfigError) {
      console.error(`Configuration error: ${err.message}`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }

  // Every line from here on passes the desk's secret redactor (and its JSON sink, when chosen).
  const log: LogFn = started.log;
  const adminToken = started.config.adminToken ?? generateAdminToken();
  const port = started.config.port ?? DEFAULT_PORT;
  let server: HeadlessServer;
  try {
    server = await startHeadlessServer({
      desk: started.desk,
      connections: started.connections,
      adminToken,
      port,
      staticDir: resolve(import.meta.dirname, '../../out/renderer'),
      log,
      routes: (router) => {
        registerConnectRoutes(router, {
          flow: started.connectFlow,
          redirectUri: started.config.redirectUri,
          log,
        });
        ops.registerRoutes(router);
      },
    });
  } catch (err) {
    await ops.close();
    await started.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      console.error(
        `Cannot listen on 127.0.0.1:${port} (${code === 'EADDRINUSE' ? 'port in use' : 'permission denied'}): set QB_PORT to another port, or 0 for a free one.`,
      );
      process.exitCode = 1;
      return;
    }
    throw err;
  }

  // After listening: the alert monitor's first check settles each connection under its lock, which
  // a slow store or another server's lock can stretch; /healthz answers meanwhile, /readyz says
  // "starting".
  await ops.attach(deskViewOf(started));

  // The one place the admin secret is ever printed: the start-up line the user needs.
  if (json) {
    process.stdout.write(`${JSON.stringify({ url: server.uiUrl, port: server.port, adminToken })}\n`);
  } else {
    const mode = started.config.demo ? ' in demo mode (local Intuit emulator, short token lifetimes)' : '';
    process.stdout.write(
      `QB Token Desk is serving on ${server.baseUrl}${mode}.\nOpen this URL to sign in (it carries the admin secret): ${server.uiUrl}\n`,
    );
  }

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) {
      log(`${signal} again: exiting now.`);
      process.exit(130);
    }
    stopping = true;
    log(`${signal}: shutting down (finishing any refresh in flight).`);
    setTimeout(() => {
      log('Shutdown is taking too long; exiting. The token store is written atomically.');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
    // Readiness drops first, while the server still answers, so a load balancer sees the 503 and
    // drains; alerts still waiting for a retry are dropped (and logged).
    const opsClosing = ops.close();
    const closing = server.close();
    try {
      await opsClosing;
      // Stops timers and waits for an in-flight refresh to be stored; closes the demo emulator.
      await started.close();
    } catch (err) {
      log(`Shutdown: ${err instanceof Error ? err.message : 'unexpected error'}`);
    }
    server.closeConnections();
    await closing;
    process.exit(0);
  };
  process.on('SIGINT', (signal) => void shutdown(signal));
  process.on('SIGTERM', (signal) => void shutdown(signal));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`QB Token Desk could not start: ${err instanceof Error ? err.message : 'unexpected error'}`);
  process.exit(1);
});
