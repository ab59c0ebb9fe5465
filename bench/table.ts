// Turns the results into one Markdown table (printed by `npm run bench`, pasted into bench/README.md).
import type { LibrarySizeResult } from './scenarios/library-size';

type Row = [scenario: string, figure: string, ours: string, theirs: string];

interface Side {
  tool: string;
  [figure: string]: unknown;
}

const kb = (bytes: unknown) => `${((bytes as number) / 1024).toFixed(1)} KiB`;
const mib = (bytes: unknown) => `${((bytes as number) / 2 ** 20).toFixed(1)} MiB`;

function sides(entry: Record<string, unknown>): { ours?: Side; sdk?: Side; wrapper?: Side } {
  const list = (entry.sides as Side[] | undefined) ?? [];
  return {
    ours: list.find((side) => side.tool === 'qb-token-desk'),
    sdk: list.find((side) => side.tool === 'intuit-oauth'),
    wrapper: list.find((side) => side.tool.startsWith('intuit-oauth +')),
  };
}

function rowsFor(entry: Record<string, unknown>): Row[] {
  switch (entry.scenario) {
    case 'expiry-stampede': {
      const { ours, sdk } = sides(entry);
      const name = `1. Expiry stampede, K=${String(ours?.callers)} (${String(entry.variant)})`;
      return [
        [name, 'token-endpoint calls', String(ours?.tokenCalls), String(sdk?.tokenCalls)],
        [name, 'callers that got no token', String(ours?.failed), String(sdk?.failed)],
        [name, 'latency p50 / p99 (ms)', `${ours?.p50Ms} / ${ours?.p99Ms}`, `${sdk?.p50Ms} / ${sdk?.p99Ms}`],
      ];
    }
    case '401-storm': {
      const { ours, sdk, wrapper } = sides(entry);
      const name = `2. 401 storm, ${String(entry.calls)} concurrent calls`;
      const both = (key: string) =>
        `${String(sdk?.[key])} (with a hand-written retry: ${String(wrapper?.[key])})`;
      return [
        [name, 'refreshes', String(ours?.refreshes), both('refreshes')],
        [name, 'successful calls', String(ours?.succeeded), both('succeeded')],
        [name, 'failed calls', String(ours?.failed), both('failed')],
      ];
    }
    case 'hot-path': {
      const get = entry.getAccessToken as { nsPerCall: number };
      const sdkCheck = entry.intuitOauthValidityCheck as { nsPerCall: number };
      const request = entry.request as Record<string, number>;
      return [
        [
          '3. Hot path',
          'ns per getAccessToken() (token valid)',
          String(get.nsPerCall),
          `${sdkCheck.nsPerCall} (isAccessTokenValid() + getToken())`,
        ],
        [
          '3. Hot path',
          'authorized request / bare fetch (mean latency ratio)',
          `${request.overheadRatio} (${request.clientMeanMs} vs ${request.bareFetchMeanMs} ms)`,
          `${request.intuitOauthRatio} (makeApiCall, ${request.intuitOauthMakeApiCallMeanMs} ms)`,
        ],
      ];
    }
    case 'cross-process':
      return [
        [
          `4. Cross-process, ${String(entry.processes)} CLI processes at expiry`,
          'token-endpoint calls',
          `${String(entry.tokenCalls)} (${String(entry.succeeded)}/${String(entry.processes)} printed a token)`,
          'n/a (no shared store or lock)',
        ],
      ];
    case 'footprint': {
      const renderer = entry.renderer as Record<string, number>;
      const heap = entry.heap as {
        after: Record<string, number>;
        growthRatio: number;
        refreshCycles: number;
      };
      const [first, last] = Object.keys(heap.after);
      return [
        ['5. Footprint', 'renderer bundle, gzipped', kb(renderer.gzipBytes), 'n/a'],
        ...libraryRows(entry.library as LibrarySizeResult | undefined),
        [
          '5. Footprint',
          `engine heap after ${first} / ${last} refreshes`,
          `${mib(heap.after[first ?? ''])} / ${mib(heap.after[last ?? ''])} (x${heap.growthRatio})`,
          'n/a',
        ],
      ];
    }
    case 'shared-store': {
      const name = `Shared store at expiry, ${String(entry.processes)} processes x ${String(entry.callersPerProcess)} callers (${entry.store === 'postgres' ? 'PostgreSQL' : 'file store, one machine'})`;
      return [
        [name, 'token-endpoint calls', String(entry.tokenCalls), 'n/a (no shared store or lock)'],
        [
          name,
          'caller wait p50 / p99 (ms)',
          `${String(entry.waitP50Ms)} / ${String(entry.waitP99Ms)}`,
          'n/a',
        ],
      ];
    }
    case 'store-read':
      return [
        [
          `Status read from the store (${entry.store === 'postgres' ? 'PostgreSQL' : 'file store'})`,
          'one record read and decrypted, mean / p99 (µs)',
          `${String(entry.meanUs)} / ${String(entry.p99Us)}`,
          'n/a',
        ],
      ];
    case 'store-notify':
      return [
        [
          'Change notification (PostgreSQL LISTEN/NOTIFY)',
          'a write on one instance seen by another, p50 / p99 (ms)',
          `${String(entry.p50Ms)} / ${String(entry.p99Ms)}`,
          'n/a',
        ],
      ];
    case 'cli-token': {
      const single = entry.single as Record<string, number>;
      const sources = entry.fromSources as Record<string, number>;
      const bare = entry.bareNode as Record<string, number>;
      const together = entry.concurrent as Record<string, number>;
      const name = '6. `qb-token token`, valid stored token';
      return [
        [
          name,
          'one process: wall median / p90 (ms)',
          `${single.medianMs} / ${single.p90Ms} (from the TypeScript sources: ${sources.medianMs}; bare \`node -e 0\`: ${bare.medianMs})`,
          'n/a (no CLI)',
        ],
        [
          name,
          'one process: CPU time, median (ms)',
          `${single.cpuMedianMs} (from the TypeScript sources: ${sources.cpuMedianMs}; bare \`node -e 0\`: ${bare.cpuMedianMs})`,
          'n/a (no CLI)',
        ],
        [
          name,
          `${together.processes} processes at once: wall / per-process median / max (ms)`,
          `${together.wallMs} / ${together.medianMs} / ${together.maxMs}`,
          'n/a (no CLI)',
        ],
      ];
    }
    case 'connections':
      return connectionsRows(entry);
    default:
      return [];
  }
}

function connectionsRows(entry: Record<string, unknown>): Row[] {
  const memory = entry.memory as {
    bytesPerConnection: Record<string, number>;
    marginalBytesPerConnection?: Record<string, number>;
    addMs: Record<string, number>;
  };
  const name = '7. Several companies';
  const rows: Row[] = Object.entries(memory.bytesPerConnection).map(([count, bytes]) => [
    name,
    `desk heap per connection, ${count} connections (file store)`,
    `${kb(bytes)} (the last ones: ${kb(memory.marginalBytesPerConnection?.[count] ?? Number.NaN)} each; ${count} added and refreshed in ${((memory.addMs[count] ?? 0) / 1000).toFixed(1)} s)`,
    'n/a (one token per client)',
  ]);
  const list = entry.list as {
    connections: number;
    firstFullListMs: number;
    ticking: { p95FrameMs: number; maxFrameMs: number; longTasks: number; longestTaskMs: number };
    refreshingAll: { p95FrameMs: number; maxFrameMs: number; longTasks: number; longestTaskMs: number };
    switchMs: { median: number; max: number };
  } | null;
  if (!list)
    return [...rows, [name, 'list in the browser', `not measured: ${String(entry.listSkipped)}`, 'n/a']];
  const frames = (stats: typeof list.ticking) =>
    `frames p95 ${stats.p95FrameMs} ms, max ${stats.maxFrameMs} ms; ${stats.longTasks} long tasks (longest ${stats.longestTaskMs} ms)`;
  return [
    ...rows,
    [
      name,
      `list of ${list.connections} in Chromium: on the page after (ms)`,
      String(list.firstFullListMs),
      'n/a',
    ],
    [name, `list of ${list.connections}: countdowns ticking, 5 s`, frames(list.ticking), 'n/a'],
    [name, `list of ${list.connections}: all refreshing at once`, frames(list.refreshingAll), 'n/a'],
    [
      name,
      'click on a company to its dashboard (ms): median / max',
      `${list.switchMs.median} / ${list.switchMs.max}`,
      'n/a',
    ],
  ];
}

function libraryRows(library: LibrarySizeResult | undefined): Row[] {
  if (!library) return [];
  return [
    [
      '5. Footprint',
      'library entry, minified + gzipped: own code / with runtime deps',
      `${kb(library.ownCode.gzipBytes)} / ${kb(library.withDependencies.gzipBytes)}`,
      `${kb(library.intuitOauth.ownCode.gzipBytes)} / ${kb(library.intuitOauth.withDependencies.gzipBytes)}`,
    ],
  ];
}

export function formatTable(entries: Array<Record<string, unknown>>): string {
  const rows: Row[] = [
    ['Scenario', 'Figure', 'QB Token Desk', 'intuit-oauth 4.2.5'],
    ...entries.flatMap(rowsFor),
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i]?.length ?? 0)));
  const line = (row: Row) => `| ${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const [head, ...body] = rows;
  return [line(head as Row), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join(
    '\n',
  );
}
