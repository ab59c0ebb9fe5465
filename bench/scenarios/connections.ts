// Scenario 7, several companies: what each connection costs the desk, and whether the dashboard's
// list of 100 companies keeps up in a real browser.
// - Memory: a child process (--expose-gc) starts the desk as the server does and adds connections
//   (each its own authorization at the emulator, stored and refreshed once); the heap after a full GC
//   at each step, per connection above the one-connection baseline.
// - The list of 100: the headless server (its own process) over a store seeded with 100 companies,
//   the built dashboard in Debian's Chromium: the time until all rows are on the page, the frames and
//   long tasks while the 1-second countdowns tick and while all 100 refresh at once, and the time from
//   clicking a company to its dashboard.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Page } from '@playwright/test';
import { defaultProfile, newConnectionRecord } from '../../src/core/connection-record';
import { FileConnectionStore } from '../../src/core/file-connection-store';
import { chainFromEnvironment } from '../../src/core/token-chain';
import { startEmulator } from '../../src/emulator';
import {
  serverEnvFor,
  startEmulatorProcess,
  startServerProcess,
  type EmulatorProcess,
  type ServerProcess,
} from '../../src/server/process-support';
import { connectionPath } from '../../src/shared/connections';
import { BENCH_ROOT, runHeapChild } from '../heap-child-runner';
import { percentile, round } from '../stats';

export interface ConnectionsResult {
  scenario: 'connections';
  memory: {
    gcExposed: boolean;
    store: 'file';
    baselineBytes: number;
    after: Record<string, number>;
    /** (heap with N added connections - heap with the default one alone) / N. */
    bytesPerConnection: Record<string, number>;
    /** Between one step and the next: (heap difference) / (connections added), the cost of one more. */
    marginalBytesPerConnection: Record<string, number>;
    /** Adding N connections and getting each its first access token, ms. */
    addMs: Record<string, number>;
    notValid: number;
  };
  list: {
    connections: number;
    browser: string;
    /** Navigation start to every row on the page, ms. */
    firstFullListMs: number;
    /** While the countdowns tick (5 s): frame intervals and long tasks (> 50 ms). */
    ticking: FrameStats;
    /** While all 100 companies refresh at once (their status pushes arriving). */
    refreshingAll: FrameStats;
    /** Click on a company to its dashboard showing its realm, ms (10 clicks). */
    switchMs: { median: number; max: number };
  } | null;
  /** Why the browser part did not run (no Chromium, no build). */
  listSkipped?: string;
}

interface FrameStats {
  frames: number;
  p95FrameMs: number;
  maxFrameMs: number;
  longTasks: number;
  longestTaskMs: number;
}

async function memoryPerConnection(steps: number[]): Promise<ConnectionsResult['memory']> {
  const emulator = await startEmulator();
  try {
    const line = await runHeapChild('connections-child.ts', {
      QB_BENCH_EMULATOR: JSON.stringify({
        clientId: emulator.clientId,
        clientSecret: emulator.clientSecret,
        refreshToken: emulator.refreshToken,
        realmId: emulator.realmId,
        url: emulator.url,
        tokenUrl: emulator.tokenUrl,
        revokeUrl: emulator.revokeUrl,
        authorizeUrl: emulator.authorizeUrl,
        apiBaseUrl: emulator.apiBaseUrl,
        controlUrl: emulator.controlUrl,
      }),
      QB_BENCH_CONTROL: emulator.controlUrl,
      QB_BENCH_STEPS: steps.join(','),
    });
    const parsed = JSON.parse(line) as {
      gcExposed: boolean;
      baseline: number;
      heap: Record<string, number>;
      addMs: Record<string, number>;
      failing: number;
    };
    const bytesPerConnection: Record<string, number> = {};
    const marginalBytesPerConnection: Record<string, number> = {};
    let previous: [number, number] = [0, parsed.baseline];
    for (const [count, bytes] of Object.entries(parsed.heap)) {
      bytesPerConnection[count] = Math.round((bytes - parsed.baseline) / Number(count));
      marginalBytesPerConnection[count] = Math.round((bytes - previous[1]) / (Number(count) - previous[0]));
      previous = [Number(count), bytes];
    }
    return {
      gcExposed: parsed.gcExposed,
      store: 'file',
      baselineBytes: parsed.baseline,
      after: parsed.heap,
      bytesPerConnection,
      marginalBytesPerConnection,
      addMs: parsed.addMs,
      notValid: parsed.failing,
    };
  } finally {
    await emulator.close();
  }
}

/** Writes `count` companies into the server's store, as `qb-token connections add` would. */
async function seedCompanies(emulator: EmulatorProcess, dataDir: string, count: number): Promise<string[]> {
  const store = new FileConnectionStore({ dataDir, storeKey: null });
  const ids: string[] = [];
  try {
    await store.open();
    for (let i = 0; i < count; i += 1) {
      const realmId = String(9_100_000 + i);
      const issued = await emulator.control.issueAuthorization(realmId);
      const record = newConnectionRecord(
        realmId,
        { ...defaultProfile('sandbox', realmId), name: `Company ${String(i).padStart(3, '0')}` },
        chainFromEnvironment(issued.refreshToken, realmId, Date.now()),
      );
      await store.save({ ...record, revision: 1 });
      ids.push(realmId);
    }
  } finally {
    await store.close();
  }
  return ids;
}

function chromiumPath(): string | undefined {
  const configured = process.env.CHROMIUM_PATH?.trim();
  if (configured) return existsSync(configured) ? configured : undefined;
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  const bundled = chromium.executablePath();
  return bundled && existsSync(bundled) ? bundled : undefined;
}

// In-page code, as text: this file compiles for Node, without the DOM's types.
const SAMPLE_FRAMES = `(duration) => new Promise((resolve) => {
  const gaps = [];
  const tasks = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) tasks.push(entry.duration);
  });
  observer.observe({ type: 'longtask', buffered: false });
  let last = performance.now();
  const end = last + duration;
  const frame = (now) => {
    gaps.push(now - last);
    last = now;
    if (now < end) requestAnimationFrame(frame);
    else {
      observer.disconnect();
      resolve({ gaps, tasks });
    }
  };
  requestAnimationFrame(frame);
})`;

const ROWS_SHOWN = `(n) => document.querySelectorAll('[data-testid="connection-item"]').length === n`;

/** Clicks a company's row; resolves with the ms until the dashboard shows its realm id. */
const TIME_SWITCH = `(realm) => new Promise((resolve) => {
  const button = document.querySelector('[data-testid="connection-item"][data-connection-id="' + realm + '"]');
  const field = () => document.querySelector('[data-testid="realm-id"]')?.textContent;
  const started = performance.now();
  const observer = new MutationObserver(() => {
    if (field() !== realm) return;
    observer.disconnect();
    resolve(performance.now() - started);
  });
  observer.observe(document.body, { subtree: true, childList: true, characterData: true });
  button.click();
})`;

function inPage<T>(page: Page, script: string, arg: unknown): Promise<T> {
  return page.evaluate(`(${script})(${JSON.stringify(arg)})`) as Promise<T>;
}

/** Frame intervals (requestAnimationFrame) and long tasks over `ms`, while `during` runs. */
async function frameStats(
  page: Page,
  ms: number,
  during: () => Promise<unknown> = async () => {},
): Promise<FrameStats> {
  const sampling = inPage<{ gaps: number[]; tasks: number[] }>(page, SAMPLE_FRAMES, ms);
  await during();
  const { gaps, tasks } = await sampling;
  const sorted = [...gaps].sort((a, b) => a - b);
  return {
    frames: gaps.length,
    p95FrameMs: round(percentile(sorted, 95), 1),
    maxFrameMs: round(sorted[sorted.length - 1] ?? 0, 1),
    longTasks: tasks.length,
    longestTaskMs: round(Math.max(0, ...tasks), 1),
  };
}

async function listOfHundred(count: number): Promise<NonNullable<ConnectionsResult['list']>> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('no Chromium (CHROMIUM_PATH, /usr/bin/chromium or Playwright’s own)');
  if (!existsSync(join(BENCH_ROOT, 'out', 'renderer', 'index.html')))
    throw new Error('the UI is not built (npm run build)');
  const emulator = await startEmulatorProcess();
  let server: ServerProcess | null = null;
  const browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-gpu'],
  });
  try {
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dataDir = await mkdtemp(join(tmpdir(), 'qbtd-bench-list-'));
    const ids = await seedCompanies(emulator, dataDir, count);
    server = await startServerProcess({ ...serverEnvFor(emulator, dataDir) });
    const api = server.api.bind(server);
    // Every company has its first access token before the page opens.
    for (;;) {
      const listed = await api<Array<{ state: string }>>('/api/integrations/quickbooks/connections');
      if (
        listed.body.ok &&
        listed.body.value.length === count + 1 &&
        listed.body.value.every((c) => c.state === 'valid')
      )
        break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    // The page's CSP (script-src 'self') refuses the string predicates Playwright evaluates for
    // waitForFunction; bypassing it changes nothing the page itself runs.
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, bypassCSP: true });
    await page.goto(server.url);
    await page.waitForFunction(`(${ROWS_SHOWN})(${count + 1})`, undefined, {
      polling: 'raf',
      timeout: 60_000,
    });
    const firstFullListMs = round(await inPage<number>(page, '() => performance.now()', null), 1);
    const ticking = await frameStats(page, 5_000);
    const refreshingAll = await frameStats(page, 4_000, () =>
      Promise.all(ids.map((id) => api(connectionPath(id, 'refreshToken'), { method: 'POST' }))),
    );
    const switches: number[] = [];
    for (const id of ids.slice(0, 10)) {
      const elapsed = await inPage<number>(page, TIME_SWITCH, id);
      switches.push(elapsed);
    }
    const sorted = [...switches].sort((a, b) => a - b);
    return {
      connections: count + 1,
      browser: browser.version(),
      firstFullListMs,
      ticking,
      refreshingAll,
      switchMs: { median: round(percentile(sorted, 50), 1), max: round(sorted[sorted.length - 1] ?? 0, 1) },
    };
  } finally {
    await browser.close();
    await server?.stop();
    await emulator.stop();
  }
}

export async function runConnections(steps = [100, 1000], listSize = 100): Promise<ConnectionsResult> {
  const memory = await memoryPerConnection(steps);
  try {
    return { scenario: 'connections', memory, list: await listOfHundred(listSize) };
  } catch (err) {
    return { scenario: 'connections', memory, list: null, listSkipped: (err as Error).message };
  }
}
