// `npm run bench`: every scenario of issue 8, side by side in one run against fresh emulators on
// loopback. Prints a table and writes bench/results.json (one object per scenario, each with the
// machine it ran on). Options: --quick (smaller K and fewer cycles, for a smoke run),
// --only=stampede,storm,hot,xproc,footprint,shared,cli,connections; --record with --only puts those
// scenarios' new entries into bench/results.json in place of their old ones (each entry keeps its
// own machine and time), the others untouched.
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { machineInfo, type MachineInfo } from './machine';
import { runCliToken } from './scenarios/cli-token';
import { runConnections } from './scenarios/connections';
import { runCrossProcess } from './scenarios/cross-process';
import { runFootprint } from './scenarios/footprint';
import { runHotPath } from './scenarios/hot-path';
import { runSharedStore } from './scenarios/shared-store';
import { runStampede } from './scenarios/stampede';
import { runStorm } from './scenarios/storm401';
import { updateReadme } from './readme';
import { formatTable } from './table';

const RESULTS = fileURLToPath(new URL('./results.json', import.meta.url));
const SCENARIOS = ['stampede', 'storm', 'hot', 'xproc', 'footprint', 'shared', 'cli', 'connections'] as const;
type ScenarioName = (typeof SCENARIOS)[number];

interface Entry {
  scenario: string;
  machine: MachineInfo & { loadAverage1m: number };
  ranAt: string;
  durationMs: number;
  [figure: string]: unknown;
}

function parseArgs(argv: string[]): { quick: boolean; record: boolean; only: Set<ScenarioName> } {
  let quick = false;
  let record = false;
  let only = new Set<ScenarioName>(SCENARIOS);
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else if (arg === '--record') record = true;
    else if (arg.startsWith('--only=')) {
      const names = arg.slice('--only='.length).split(',');
      for (const name of names) {
        if (!(SCENARIOS as readonly string[]).includes(name)) {
          throw new Error(`--only: unknown scenario "${name}" (one of ${SCENARIOS.join(', ')})`);
        }
      }
      only = new Set(names as ScenarioName[]);
    } else throw new Error(`unknown argument ${arg}; use --quick or --only=${SCENARIOS.join(',')}`);
  }
  return { quick, record, only };
}

async function main(): Promise<void> {
  const { quick, record: recordPartial, only } = parseArgs(process.argv.slice(2));
  const machine = machineInfo();
  console.log(
    `QB Token Desk benchmark on ${machine.cpu} (${machine.cores} cores), Node ${machine.node}, load ${loadavg()[0]?.toFixed(1)}${quick ? ' [quick]' : ''}`,
  );
  const entries: Entry[] = [];
  const record = async (name: ScenarioName, run: () => Promise<object | object[]>) => {
    if (!only.has(name)) return;
    process.stdout.write(`  running ${name} ...`);
    const started = Date.now();
    const result = await run();
    const durationMs = Date.now() - started;
    process.stdout.write(` ${(durationMs / 1000).toFixed(1)} s\n`);
    for (const item of Array.isArray(result) ? result : [result]) {
      entries.push({
        ...(item as { scenario: string }),
        machine: { ...machine, loadAverage1m: Math.round((loadavg()[0] ?? 0) * 10) / 10 },
        ranAt: new Date(started).toISOString(),
        durationMs,
      });
    }
  };
  await record('stampede', () => runStampede(quick ? 200 : 1000));
  await record('storm', () => runStorm(quick ? 50 : 200));
  await record('hot', () => runHotPath(quick ? 50_000 : 500_000, quick ? 100 : 1000));
  await record('xproc', () => runCrossProcess(quick ? 5 : 20));
  await record('footprint', () => runFootprint(quick ? [100, 1000] : [100, 10_000]));
  // Issue 11: one connection over PostgreSQL (a server this run starts) against the file store.
  await record('shared', () => runSharedStore(quick));
  await record('cli', () => runCliToken(quick ? 5 : 15, 20));
  await record('connections', () => runConnections(quick ? [20] : [100, 1000], quick ? 20 : 100));

  console.log(`\n${formatTable(entries)}`);
  if (!quick && recordPartial && only.size < SCENARIOS.length) {
    // The new entries take the place of the ones they replace, so the tables keep their order.
    const replaced = new Set(entries.map((entry) => entry.scenario));
    const merged: Entry[] = [];
    for (const old of JSON.parse(readFileSync(RESULTS, 'utf8')) as Entry[]) {
      if (!replaced.has(old.scenario)) merged.push(old);
      else if (!merged.includes(entries[0] as Entry)) merged.push(...entries);
    }
    if (!merged.includes(entries[0] as Entry)) merged.push(...entries);
    writeFileSync(RESULTS, `${JSON.stringify(merged, null, 2)}\n`);
    updateReadme(merged);
    console.log(`\nRecorded ${entries.length} entries in ${RESULTS} and bench/README.md`);
  } else if (quick || only.size < SCENARIOS.length) {
    console.log('\n(partial or quick run: bench/results.json left unchanged; --record puts it in)');
  } else {
    writeFileSync(RESULTS, `${JSON.stringify(entries, null, 2)}\n`);
    updateReadme(entries);
    console.log(`\nWrote ${RESULTS} and the figures in bench/README.md`);
  }
  // The done-when figures: this project makes one token call per stampede and one refresh per 401 storm.
  const failures = checkHeadlines(entries);
  for (const failure of failures) console.error(`CHECK FAILED: ${failure}`);
  if (failures.length > 0) process.exitCode = 1;
}

/** The renderer's budget, gzipped: the page is the dashboard of a small tool, and loads from disk or loopback. */
const RENDERER_GZIP_BUDGET_BYTES = 90 * 1024;

function checkHeadlines(entries: Entry[]): string[] {
  const out: string[] = [];
  for (const entry of entries) {
    if (entry.scenario === 'expiry-stampede') {
      const ours = (entry.sides as Array<{ tool: string; tokenCalls: number }>).find(
        (side) => side.tool === 'qb-token-desk',
      );
      if (ours && ours.tokenCalls !== 1)
        out.push(`stampede (${entry.variant}): ${ours.tokenCalls} token calls`);
    }
    if (entry.scenario === '401-storm') {
      const ours = (entry.sides as Array<{ tool: string; refreshes: number }>).find(
        (side) => side.tool === 'qb-token-desk',
      );
      if (ours && ours.refreshes !== 1) out.push(`401 storm: ${ours.refreshes} refreshes`);
    }
    if (entry.scenario === 'footprint') {
      const forbidden =
        (entry.library as { forbiddenModules?: string[] } | undefined)?.forbiddenModules ?? [];
      if (forbidden.length > 0) out.push(`library entry reaches ${forbidden.join(', ')}`);
      const renderer = entry.renderer as { gzipBytes: number };
      if (renderer.gzipBytes > RENDERER_GZIP_BUDGET_BYTES)
        out.push(
          `renderer bundle: ${(renderer.gzipBytes / 1024).toFixed(1)} KiB gzipped, over its ${RENDERER_GZIP_BUDGET_BYTES / 1024} KiB budget`,
        );
    }
    if (entry.scenario === 'shared-store') {
      if (entry.tokenCalls !== 1)
        out.push(
          `shared ${String(entry.store)} x${String(entry.processes)}: ${String(entry.tokenCalls)} token calls`,
        );
      if (JSON.stringify(entry.storeSeen) !== JSON.stringify([entry.store])) {
        out.push(`shared ${String(entry.store)}: the processes ran on ${JSON.stringify(entry.storeSeen)}`);
      }
    }
    if (entry.scenario === 'connections') {
      const notValid = (entry.memory as { notValid: number }).notValid;
      if (notValid !== 0)
        out.push(`connections: ${notValid} connections not valid after their first refresh`);
    }
    if (entry.scenario === 'cli-token') {
      if (entry.tokenCalls !== 0)
        out.push(`cli: ${String(entry.tokenCalls)} token calls with a valid stored token`);
      const concurrent = entry.concurrent as { printedSameToken: boolean };
      if (!concurrent.printedSameToken)
        out.push('cli: 20 processes at once did not all print the stored token');
    }
    if (entry.scenario === 'connections' && entry.list === null) {
      out.push(
        `connections: the list of companies was not measured in the browser (${String(entry.listSkipped)})`,
      );
    }
    if (entry.scenario === 'cross-process' && entry.tokenCalls !== 1) {
      out.push(`cross-process: ${String(entry.tokenCalls)} token calls`);
    }
  }
  return out;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
