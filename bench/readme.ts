// Keeps the "Latest figures" section of bench/README.md in step with bench/results.json.
// `npm run bench` calls updateReadme() after a full run; `npx tsx bench/readme.ts` redoes it from the file.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatTable } from './table';

const README = fileURLToPath(new URL('./README.md', import.meta.url));
const RESULTS = fileURLToPath(new URL('./results.json', import.meta.url));
const START = '<!-- results:start -->';
const END = '<!-- results:end -->';

interface Entry {
  machine?: { cpu: string; cores: number; node: string; platform: string; loadAverage1m?: number };
  ranAt?: string;
  [key: string]: unknown;
}

export function updateReadme(entries: Entry[]): void {
  const text = readFileSync(README, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`bench/README.md lacks the ${START} ... ${END} markers`);
  const machine = entries[0]?.machine;
  const loads = entries.map((entry) => entry.machine?.loadAverage1m ?? 0);
  const about = machine
    ? `Measured ${entries[0]?.ranAt?.slice(0, 16).replace('T', ' ')} UTC on ${machine.cpu}, ${machine.cores} cores, ` +
      `Node ${machine.node}, ${machine.platform} (1-minute load average during the run: ` +
      `${Math.min(...loads)} to ${Math.max(...loads)}).`
    : '';
  const section = `${START}\n${about}\n\n${formatTable(entries)}\n${END}`;
  writeFileSync(README, text.slice(0, start) + section + text.slice(end + END.length));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  updateReadme(JSON.parse(readFileSync(RESULTS, 'utf8')) as Entry[]);
  console.log('bench/README.md updated from bench/results.json');
}
