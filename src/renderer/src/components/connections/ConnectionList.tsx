import { useCallback, useMemo } from 'react';
import { sortWorstFirst } from '../../../../shared/connections';
import { useConnections } from '../../use-connections';
import { AddCompany } from './AddCompany';
import { ConnectionRow } from './ConnectionRow';
import { ConnectionsOutcome } from './ConnectionsOutcome';

/** Every company at a glance, worst first; choosing one shows its dashboard. */
export function ConnectionList() {
  const connections = useConnections((s) => s.connections);
  const selected = useConnections((s) => s.selected);
  const select = useConnections((s) => s.select);
  const onSelect = useCallback((id: string) => select(id), [select]);
  const sorted = useMemo(() => sortWorstFirst(connections), [connections]);
  const fallback = connections.find((c) => c.isDefault) ?? connections[0];
  return (
    <nav className="connection-list" aria-label="QuickBooks companies" data-testid="connection-list">
      <div className="connection-list-header">
        <h2>
          Companies <span className="muted">({connections.length})</span>
        </h2>
        <AddCompany defaultEnvironment={fallback?.environment ?? 'sandbox'} />
      </div>
      <ConnectionsOutcome />
      <ul className="connection-rows">
        {sorted.map((summary) => (
          <ConnectionRow
            key={summary.id}
            summary={summary}
            selected={summary.id === selected}
            onSelect={onSelect}
          />
        ))}
      </ul>
    </nav>
  );
}
