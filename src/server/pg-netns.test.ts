// Two headless servers on two "machines" (network namespaces, each with its own network stack and
// loopback) share one connection through one PostgreSQL server across a network hop (veth links):
// a refresh on one reaches the other's dashboard stream (SSE) by itself, measured. Needs root and
// iproute2 (the test says why it skips elsewhere). Each server reaches the emulator through a TCP
// forwarder on its own loopback (the configuration allows plain http only to loopback), and the test
// reaches each server the same way in reverse, with the Host header the server expects.
import { type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresServer } from '../core/testing/postgres-server';
import { netnsUnavailableReason, TestNetwork } from '../core/testing/test-network';
import { startEmulator } from '../emulator';
import { emulatorEnv } from '../emulator/app-env';
import type { EmulatorHandle } from '../emulator/types';
import { HTTP_PATHS, type Result, type TokenStatus } from '../shared/contract';
import { cleanEnv, REPO_ROOT, type ServerLine } from './process-support';

const SKIP = netnsUnavailableReason();
if (SKIP) console.log(`[pg-netns] skipped: ${SKIP}`);
const SERVER_PORT = 4317;
const KEY = 'netns store key, 16+ characters';
const TSX = join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');

interface Host {
  index: number;
  address: string;
  line: ServerLine;
  child: ChildProcess;
  dataDir: string;
}

let network: TestNetwork;
let pg: PostgresServer;
let emulator: EmulatorHandle;
const hosts: Host[] = [];
let database = '';

/** An HTTP call to host `h`'s server over its link, as the browser on that machine would make it. */
function call(h: Host, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: h.address,
        port: SERVER_PORT,
        method,
        path,
        headers: { host: `127.0.0.1:${SERVER_PORT}`, authorization: `Bearer ${h.line.adminToken}` },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function status(h: Host): Promise<TokenStatus> {
  const result = JSON.parse((await call(h, 'GET', HTTP_PATHS.refreshToken)).body) as Result<TokenStatus>;
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

/**
 * Follows host `h`'s SSE stream. `next(test, since)` resolves with the arrival time of the first
 * status event received after `since` (a performance.now() time) that passes `test`, including one
 * already received: the stream can be faster than the answer to the request that caused it.
 */
function follow(h: Host): {
  next: (test: (s: TokenStatus) => boolean, since: number) => Promise<number>;
  close: () => void;
} {
  const received: Array<{ at: number; status: TokenStatus }> = [];
  let changed = () => {};
  const req = request({
    host: h.address,
    port: SERVER_PORT,
    path: HTTP_PATHS.events,
    headers: {
      host: `127.0.0.1:${SERVER_PORT}`,
      authorization: `Bearer ${h.line.adminToken}`,
      accept: 'text/event-stream',
    },
  });
  req.on('response', (res) => {
    let buffer = '';
    res.setEncoding('utf8').on('data', (chunk: string) => {
      const at = performance.now();
      buffer += chunk;
      const events = buffer.split('\n\n');
      buffer = events.pop() ?? '';
      for (const event of events) {
        const data = event.split('\n').find((line) => line.startsWith('data: '));
        if (data) received.push({ at, status: JSON.parse(data.slice(6)) as TokenStatus });
      }
      changed();
    });
  });
  req.on('error', () => undefined);
  req.end();
  return {
    next: (test, since) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          changed = () => {};
          reject(new Error(`host ${h.index}'s stream showed no such status in 10 s`));
        }, 10_000);
        changed = () => {
          const found = received.find((event) => event.at >= since && test(event.status));
          if (!found) return;
          clearTimeout(timer);
          changed = () => {};
          resolve(found.at);
        };
        changed();
      }),
    close: () => req.destroy(),
  };
}

async function startHost(index: number): Promise<Host> {
  const dataDir = await mkdtemp(join(tmpdir(), `qbtd-netns-${index}-`));
  // On this "machine": the emulator's port on its own loopback leads to the emulator; its server's port
  // on its link address leads to its server.
  await network.forward(index, [
    {
      listen: { host: '127.0.0.1', port: emulator.port },
      target: { host: network.gatewayAddress(index), port: emulator.port },
    },
    {
      listen: { host: network.hostAddress(index), port: SERVER_PORT },
      target: { host: '127.0.0.1', port: SERVER_PORT },
    },
  ]);
  const env = cleanEnv({
    ...emulatorEnv(emulator, dataDir),
    QB_PORT: String(SERVER_PORT),
    QB_STORE_URL: pg.url(database, network.gatewayAddress(index)),
    QB_STORE_KEY: KEY,
  });
  const child = network.spawnIn(
    index,
    process.execPath,
    ['--import', `file://${TSX}`, join(REPO_ROOT, 'src/server/cli.ts'), '--json'],
    env,
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const line = await new Promise<ServerLine>((resolve, reject) => {
    lines.on('line', (text) => {
      try {
        resolve(JSON.parse(text) as ServerLine);
      } catch {
        // a log line
      }
    });
    child.once('exit', (code) =>
      reject(new Error(`server in host ${index} exited (${code}):\n${stderr.slice(-3000)}`)),
    );
  });
  return { index, address: network.hostAddress(index), line, child, dataDir };
}

describe.skipIf(SKIP !== null)(
  'two headless servers on two network namespaces, one PostgreSQL across the link',
  () => {
    beforeAll(async () => {
      network = TestNetwork.create(2);
      pg = await PostgresServer.start({
        listen: ['127.0.0.1', network.gatewayAddress(1), network.gatewayAddress(2)],
        allowNetworks: [network.cidr],
      });
      database = new URL(await pg.createDatabase('qbtd_netns')).pathname.slice(1);
      emulator = await startEmulator({ rotateAfterSeconds: 0 });
      await network.forward(
        0,
        [1, 2].map((i) => ({
          listen: { host: network.gatewayAddress(i), port: emulator.port },
          target: { host: '127.0.0.1', port: emulator.port },
        })),
      );
      hosts.push(await startHost(1), await startHost(2));
    }, 120_000);

    afterAll(async () => {
      for (const h of hosts) {
        h.child.kill('SIGTERM');
        if (h.child.exitCode === null) await once(h.child, 'exit');
        await rm(h.dataDir, { recursive: true, force: true });
      }
      await network?.close();
      await emulator?.close();
      await pg?.close();
    });

    it("a refresh on one machine shows on the other's dashboard stream, with no token call of its own", async () => {
      const [a, b] = hosts as [Host, Host];
      expect((await status(b)).store).toMatchObject({
        kind: 'postgres',
        location: `${network.gatewayAddress(2)}:${pg.port}/${database}`,
        reachable: true,
      });
      // Each server refreshes at start when it finds no access token: the second adopts the first's.
      const stream = follow(b);
      const streamA = follow(a);
      try {
        await streamA.next((s) => s.accessToken !== null, 0);
        const preview = (await status(a)).accessToken?.preview;
        await stream.next((s) => s.accessToken?.preview === preview, 0);
      } finally {
        streamA.close();
      }
      emulator.control.resetCounters();
      const latencies: number[] = [];
      try {
        for (let i = 0; i < 5; i += 1) {
          const startedAt = performance.now();
          const refreshed = await call(a, 'POST', HTTP_PATHS.refreshToken);
          const result = JSON.parse(refreshed.body) as Result<TokenStatus>;
          if (!result.ok) throw new Error(result.error.message);
          const at = result.value.lastRefresh?.at;
          const shown = await stream.next((s) => s.lastRefresh?.at === at, startedAt);
          latencies.push(shown - startedAt);
        }
      } finally {
        stream.close();
      }
      latencies.sort((x, y) => x - y);
      console.log(
        `[pg-netns] POST refresh on host 1 -> host 2's SSE shows it: p50 ${latencies[2]?.toFixed(1)} ms, max ${latencies.at(-1)?.toFixed(1)} ms (5 refreshes, over veth links)`,
      );
      expect(emulator.control.counters().tokenCalls.refresh_token).toBe(5);
      expect((await status(b)).accessToken?.preview).toBe((await status(a)).accessToken?.preview);
    }, 60_000);
  },
);
