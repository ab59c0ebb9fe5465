// A headless server wired the way `npm run serve` wires it (src/server/cli.ts): the real engine
// (startDesk) with the ops' telemetry, the ops routes, the alert monitor. Several stacks can share
// one emulator and one data directory (several servers on one store).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDesk, type StartDeskOptions, type StartedDesk } from '../../../core/bootstrap';
import type { OpsConfig } from '../../../core/ops-config';
import { startEmulator } from '../../../emulator';
import { emulatorEnv } from '../../../emulator/app-env';
import type { EmulatorHandle } from '../../../emulator/types';
import { HTTP_PATHS } from '../../../shared/contract';
import type { HeadlessServer } from '../../server';
import { serveWithAdmin, startUpRefreshDone } from '../../test-support';
import { deskViewOf } from '../desk-view';
import { ServiceOps, type ServiceOpsOptions } from '../service-ops';
import { parseScrape, type Scrape } from './scrape';

export interface OpsStackOptions {
  /** Shared with other stacks; started (and closed) by this one when omitted. */
  emulator?: EmulatorHandle;
  /** Shared with other stacks; a temp dir (removed on close) when omitted. */
  dataDir?: string;
  env?: Record<string, string>;
  ops?: Partial<OpsConfig>;
  manager?: StartDeskOptions['manager'];
  /** The connection store (default: startDesk's choice from the environment). */
  store?: StartDeskOptions['store'];
  instance?: string;
  serviceOps?: Partial<ServiceOpsOptions>;
  /** Wait for the engine's start-up refresh to finish, so tests see only their own (default true). */
  settle?: boolean;
}

export interface OpsStack {
  emulator: EmulatorHandle;
  started: StartedDesk;
  server: HeadlessServer;
  ops: ServiceOps;
  adminToken: string;
  dataDir: string;
  logLines: string[];
  call(path: string, init?: RequestInit & { auth?: boolean }): Promise<Response>;
  /** GET /metrics with the admin secret, parsed by the Prometheus parser. */
  scrape(): Promise<Scrape>;
  close(): Promise<void>;
}

export async function startOpsStack(options: OpsStackOptions = {}): Promise<OpsStack> {
  const ownEmulator = options.emulator === undefined;
  const emulator = options.emulator ?? (await startEmulator({ rotateAfterSeconds: 0 }));
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'qbtd-ops-')));
  const logLines: string[] = [];
  const ops = new ServiceOps({
    ops: {
      metricsToken: null,
      alertWebhookUrl: null,
      alertWebhookSecret: null,
      logFormat: 'text',
      ...options.ops,
    },
    instance: options.instance,
    processMetrics: false,
    ...options.serviceOps,
  });
  const started = await startDesk({
    // cwd is the data dir, so no developer's .env is read.
    env: { ...emulatorEnv(emulator, dataDir), ...options.env },
    cwd: dataDir,
    log: (line) => logLines.push(line),
    manager: options.manager,
    telemetry: ops.telemetry,
    store: options.store,
  });
  if (options.settle ?? true) await startUpRefreshDone(started.desk);
  await ops.attach(deskViewOf(started));
  const { server, adminToken, call } = await serveWithAdmin(started, {
    log: started.log,
    routes: (router) => ops.registerRoutes(router),
  });
  return {
    emulator,
    started,
    server,
    ops,
    adminToken,
    dataDir,
    logLines,
    call,
    async scrape() {
      const response = await call(HTTP_PATHS.metrics);
      if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}`);
      return parseScrape(await response.text());
    },
    async close() {
      const closing = server.close();
      await ops.close();
      await started.close();
      server.closeConnections();
      await closing;
      if (ownEmulator) await emulator.close();
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
