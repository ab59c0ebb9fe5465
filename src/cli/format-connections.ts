// `qb-token connections list`: one line per connection, worst first, readable at a glance.
// Times relative ("in 52 min"), since the JSON form carries the absolute ones.
import type { ConnectionSummary } from '../shared/contract';
import { sortWorstFirst } from '../shared/connections';
import { formatRelative } from './format-status';

const COLUMNS = ['ID', 'NAME', 'ENV', 'REALM', 'STATE', 'ACCESS TOKEN', 'REFRESH TOKEN', 'LAST REFRESH'];

export function formatConnections(connections: readonly ConnectionSummary[], now = Date.now()): string {
  const when = (iso: string | null) => (iso ? formatRelative(iso, now) : '-');
  const rows = sortWorstFirst(connections).map((c) => [
    c.isDefault ? `${c.id} *` : c.id,
    c.companyName && c.companyName !== c.name ? `${c.name} (${c.companyName})` : c.name,
    c.environment,
    c.realmId ?? '-',
    c.state,
    when(c.accessTokenExpiresAt),
    when(c.refreshTokenExpiresAt),
    c.lastRefresh
      ? `${c.lastRefresh.ok ? 'ok' : `FAILED (${c.lastRefresh.errorKind ?? 'unknown'})`} ${formatRelative(c.lastRefresh.at, now)}`
      : '-',
  ]);
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const count = `${connections.length} connection${connections.length === 1 ? '' : 's'}; * the default one (the QB_* environment's)`;
  return [line(COLUMNS), ...rows.map(line), '', count].join('\n');
}
