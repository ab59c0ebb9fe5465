import { useConnections } from '../../use-connections';

/** What the last Add company or Remove did; failures stay until closed. */
export function ConnectionsOutcome() {
  const outcome = useConnections((s) => s.outcome);
  const dismiss = useConnections((s) => s.dismissOutcome);
  if (!outcome) return null;
  // A failed remove is answered beside its own button (RemoveConnection).
  if (!outcome.ok && outcome.action === 'remove') return null;
  return (
    <div
      className={`outcome tone-${outcome.ok ? 'good' : 'bad'}`}
      role={outcome.ok ? 'status' : 'alert'}
      data-testid="connections-outcome"
      data-ok={outcome.ok}
    >
      <span>{outcome.ok ? outcome.message : `Add company failed: ${outcome.error.message}`}</span>
      <button type="button" className="button ghost small" onClick={dismiss} aria-label="Close">
        ×
      </button>
    </div>
  );
}
