import { useDashboard } from '../use-dashboard';

/** The store's and the engine's warnings, above everything else: they need a person. */
export function Warnings() {
  const warnings = useDashboard((s) => s.status?.warnings);
  if (!warnings || warnings.length === 0) return null;
  return (
    <section className="warnings" aria-label="Warnings" data-testid="warnings">
      <ul>
        {warnings.map((warning) => (
          <li key={warning}>
            <span className="warning-icon" aria-hidden="true">
              !
            </span>
            {warning}
          </li>
        ))}
      </ul>
    </section>
  );
}
