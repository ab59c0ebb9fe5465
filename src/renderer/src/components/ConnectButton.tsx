import { useDashboard } from '../use-dashboard';

/** Starts the Connect flow (OAuth consent); explains why it cannot when the app keys are missing. */
export function ConnectButton(props: { label?: string; testId?: string }) {
  const canConnect = useDashboard((s) => s.status?.canConnect ?? false);
  const pending = useDashboard((s) => s.pending.connect);
  const connect = useDashboard((s) => s.connect);
  return (
    <div className="connect">
      <button
        type="button"
        className="button primary"
        data-testid={props.testId ?? 'connect-button'}
        disabled={!canConnect || pending}
        aria-busy={pending}
        onClick={() => void connect()}
      >
        {pending ? <span className="spinner" aria-hidden="true" /> : null}
        {pending ? 'Connecting…' : (props.label ?? 'Connect to QuickBooks')}
      </button>
      {!canConnect ? (
        <p className="hint">Connecting needs QB_CLIENT_ID and QB_CLIENT_SECRET to be configured.</p>
      ) : null}
    </div>
  );
}
