import { useDashboard } from '../use-dashboard';

export function LoadError() {
  const error = useDashboard((s) => s.loadError);
  const hasStatus = useDashboard((s) => s.status !== null);
  const load = useDashboard((s) => s.load);
  if (hasStatus) return null;
  if (!error) {
    return (
      <p className="loading" data-testid="loading">
        <span className="spinner" aria-hidden="true" /> Reading the token status…
      </p>
    );
  }
  return (
    <div className="outcome tone-bad" role="alert" data-testid="load-error">
      <p>
        <strong>Could not read the token status:</strong> {error.message}
      </p>
      <button type="button" className="button small" onClick={() => void load()}>
        Try again
      </button>
    </div>
  );
}
