import type { ConnectionSummary } from '../../../../shared/contract';
import { useConnections } from '../../use-connections';
import { useDashboard } from '../../use-dashboard';
import { RevokeConfirmButtons } from '../RevokeConfirmButtons';

/**
 * Asks before revoking and removing a company; offers "Remove anyway" when Intuit could not revoke.
 * Open only while Disconnect's confirm is not (the dashboard store holds which one is, for the
 * company shown); a failed remove keeps it open with the reason.
 */
export function RemoveConnection(props: { summary: ConnectionSummary }) {
  const { summary } = props;
  const confirming = useDashboard((s) => s.confirming === 'remove');
  const confirm = useDashboard((s) => s.confirm);
  const removing = useConnections((s) => s.removing === summary.id);
  const outcome = useConnections((s) => s.outcome);
  const remove = useConnections((s) => s.remove);
  const dismiss = useConnections((s) => s.dismissOutcome);
  const failed = outcome && !outcome.ok && outcome.action === 'remove' && outcome.connectionId === summary.id;
  const revokeFailed = failed && outcome.error.code === 'revoke_failed';

  if (!confirming) {
    return (
      <button
        type="button"
        className="button danger-outline"
        data-testid="remove-connection"
        onClick={() => {
          // Left from a confirm Disconnect's closed: a fresh one asks Intuit to revoke again.
          if (failed) dismiss();
          confirm('remove');
        }}
      >
        Remove company…
      </button>
    );
  }
  return (
    <div className="confirm" role="group" aria-label="Confirm remove" data-testid="remove-connection-confirm">
      {failed ? (
        <p className="error-text" role="alert" data-testid="remove-connection-outcome">
          {outcome.error.message}
          {revokeFailed
            ? ' Removing it anyway forgets its tokens here; they stay valid at Intuit until they expire.'
            : ''}
        </p>
      ) : (
        <p>Removing {summary.name} revokes its refresh token at Intuit and forgets the connection here.</p>
      )}
      <RevokeConfirmButtons
        testIds={{ confirm: 'remove-connection-confirm-button', force: 'remove-connection-force' }}
        labels={{ confirm: 'Remove', force: 'Remove anyway', busy: 'Removing…' }}
        busy={removing}
        revokeFailed={Boolean(revokeFailed)}
        // Done: the company is gone and the default one shown, which closes this confirm.
        onConfirm={(force) => void remove(summary.id, force)}
        onCancel={() => {
          confirm(null);
          dismiss();
        }}
      />
    </div>
  );
}
