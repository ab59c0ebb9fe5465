import { useConnections } from '../../use-connections';
import { EnvironmentBadge } from './EnvironmentBadge';
import { RemoveConnection } from './RemoveConnection';

/** Above the dashboard, with several companies: which one it shows, and (not the default) Remove. */
export function SelectedConnection() {
  const summary = useConnections((s) => s.connections.find((c) => c.id === s.selected) ?? null);
  if (!summary) return null;
  return (
    <section className="selected-connection" aria-label="Company shown" data-testid="selected-connection">
      <div className="selected-connection-title">
        <h2 data-testid="selected-connection-name" title={summary.name}>
          {summary.name}
        </h2>
        <EnvironmentBadge environment={summary.environment} testId="selected-connection-environment" />
        {summary.isDefault ? (
          <span className="muted" title="Defined by the QB_* environment">
            default connection
          </span>
        ) : null}
      </div>
      {/* Its confirm closes when another company is chosen: the dashboard store's `confirming`. */}
      {summary.isDefault ? null : <RemoveConnection summary={summary} />}
    </section>
  );
}
