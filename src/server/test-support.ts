// What the server's tests share: the real engine (startDesk) against a real emulator, the
// headless server on a free port, and a fetch helper. No mocked fetch anywhere.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDesk, type StartedDesk } from '../core/bootstrap';
import type { EngineKnobs } from '../core/connection-registry';
import { startEmulator } from '../emulator';
import type { EmulatorHandle, EmulatorOptions } from '../emulator/types';
import { emulatorEnv } from '../emulator/app-env';
import type { Result, TokenStatus } from '../shared/contract';
import type { TokenDesk } from '../core/desk';
import { generateAdminToken } from './access';
import { startHeadlessServer, type HeadlessServer, type HeadlessServerOptions } from './server';

export { readStatusEvents } from './testing/status-events';

export interface Stack {
  emulator: EmulatorHandle;
  server: HeadlessServer;
  desk: Awaited<ReturnType<typeof startDesk>>['desk'];
  /** Every connection of the desk (the default one is `desk`). */
  connections: Awaited<ReturnType<typeof startDesk>>['connections'];
  adminToken: string;
  dataDir: string;
  logLines: string[];
  /** fetch against the server with the admin secret (unless `auth: false`). */
  call(path: string, init?: RequestInit & { auth?: boolean }): Promise<Response>;
  json<T>(
    path: string,
    init?: RequestInit & { auth?: boolean },
  ): Promise<{ status: number; body: Result<T>; text: string }>;
  close(): Promise<void>;
}

export async function startStack(
  options: {
    emulator?: EmulatorOptions;
    env?: Record<string, string>;
    staticDir?: string | null;
    /** Wait for the engine's start-up refresh to finish, so tests see only their own refreshes (default true). */
    settle?: boolean;
    /** Engine settings (e.g. a short lockWaitMs). */
    manager?: EngineKnobs;
  } = {},
): Promise<Stack> {
  const emulator = await startEmulator(options.emulator ?? {});
  const dataDir = await mkdtemp(join(tmpdir(), 'qbtd-server-test-'));
  const logLines: string[] = [];
  const log = (line: string) => logLines.push(line);
  // cwd is the temp dir, so no developer's .env is read.
  const started = await startDesk({
    env: { ...emulatorEnv(emulator, dataDir), ...options.env },
    cwd: dataDir,
    log,
    manager: options.manager,
  });
  if (options.settle ?? true) await startUpRefreshDone(started.desk);
  const { server, adminToken, call } = await serveWithAdmin(started, {
    staticDir: options.staticDir ?? null,
    log,
  });

  return {
    emulator,
    server,
    desk: started.desk,
    connections: started.connections,
    adminToken,
    dataDir,
    logLines,
    call,
    async json<T>(path: string, init?: RequestInit & { auth?: boolean }) {
      const response = await call(path, init);
      const text = await response.text();
      return { status: response.status, body: JSON.parse(text) as Result<T>, text };
    },
    async close() {
      await server.close();
      await started.close();
      server.closeConnections();
      await emulator.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The headless server on a free port over `started`'s connections, a fresh admin secret, and a fetch carrying it. */
export async function serveWithAdmin(
  started: Pick<StartedDesk, 'desk' | 'connections'>,
  options: Partial<Omit<HeadlessServerOptions, 'desk' | 'connections' | 'adminToken'>> = {},
): Promise<{ server: HeadlessServer; adminToken: string; call: ReturnType<typeof adminFetch> }> {
  const adminToken = generateAdminToken();
  const server = await startHeadlessServer({
    desk: started.desk,
    connections: started.connections,
    adminToken,
    port: 0,
    staticDir: null,
    ...options,
  });
  return { server, adminToken, call: adminFetch(server.baseUrl, adminToken) };
}

/** fetch against a server with the admin secret (unless `auth: false`); redirects are not followed. */
export function adminFetch(
  baseUrl: string,
  adminToken: string,
): (path: string, init?: RequestInit & { auth?: boolean }) => Promise<Response> {
  return (path, init = {}) => {
    const { auth = true, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (auth && !headers.has('authorization')) headers.set('authorization', `Bearer ${adminToken}`);
    return fetch(baseUrl + path, { ...rest, headers, redirect: 'manual' });
  };
}

/** Waits for the engine's start-up refresh to finish, so a test sees only its own refreshes. */
export function startUpRefreshDone(desk: TokenDesk): Promise<TokenStatus> {
  return waitForStatus(desk, (status) => status.lastRefresh !== null && status.state !== 'refreshing');
}

/** Resolves with the first status (current or pushed) that satisfies `accept`. */
export function waitForStatus(
  desk: TokenDesk,
  accept: (status: TokenStatus) => boolean,
  timeoutMs = 10_000,
): Promise<TokenStatus> {
  return new Promise((resolve, reject) => {
    const current = desk.getStatus();
    if (accept(current)) {
      resolve(current);
      return;
    }
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`status never matched within ${timeoutMs} ms; last state ${desk.getStatus().state}`));
    }, timeoutMs);
    const unsubscribe = desk.onStatusChanged((status) => {
      if (!accept(status)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(status);
    });
  });
}
