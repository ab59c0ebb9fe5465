import { useDashboard } from '../use-dashboard';
import { Badge } from './Badge';
import { Card, Field } from './Card';
import { ConnectButton } from './ConnectButton';
import { RevokeConfirmButtons } from './RevokeConfirmButtons';

/**
 * Asks in the page before revoking; offers "Disconnect anyway" when Intuit could not revoke. Open
 * only while Remove company's confirm is not (the store holds which one is).
 */
function DisconnectControl() {
  const confirming = useDashboard((s) => s.confirming === 'disconnect');
  const confirm = useDashboard((s) => s.confirm);
  const pending = useDashboard((s) => s.pending.disconnect);
  const outcome = useDashboard((s) => s.outcomes.disconnect);
  const disconnect = useDashboard((s) => s.disconnect);
  const dismiss = useDashboard((s) => s.dismiss);
  const revokeFailed = outcome && !outcome.ok && outcome.error.code === 'revoke_failed';

  if (!confirming) {
    return (
      <div className="disconnect">
        <button
          type="button"
          className="button danger-outline"
          data-testid="disconnect-button"
          onClick={() => {
            // A fresh confirm asks Intuit to revoke again, rather than offering a stale "anyway".
            if (outcome && !outcome.ok) dismiss('disconnect');
            confirm('disconnect');
          }}
        >
          Disconnect…
        </button>
        {outcome && !outcome.ok ? (
          <p className="error-text" data-testid="disconnect-outcome">
            Disconnect failed: {outcome.error.message}
          </p>
        ) : null}
      </div>
    );
  }
  return (
    <div className="confirm" role="group" aria-label="Confirm disconnect" data-testid="disconnect-confirm">
      {revokeFailed ? (
        <p className="error-text" data-testid="disconnect-outcome">
          {outcome.error.message} The tokens are still stored. Disconnecting anyway forgets them here, but
          they stay valid at Intuit until they expire.
        </p>
      ) : (
        <p>
          Disconnecting revokes the refresh token at Intuit and forgets the stored tokens. QuickBooks calls
          stop until someone connects again.
        </p>
      )}
      <RevokeConfirmButtons
        testIds={{ confirm: 'disconnect-confirm-button', force: 'disconnect-force' }}
        labels={{ confirm: 'Disconnect', force: 'Disconnect anyway', busy: 'Disconnecting…' }}
        busy={pending}
        revokeFailed={Boolean(revokeFailed)}
        onConfirm={(force) => void disconnect(force)}
        onCancel={() => {
          confirm(null);
          dismiss('disconnect');
        }}
      />
    </div>
  );
}

export function ConnectionCard() {
  const status = useDashboard((s) => s.status);
  const test = useDashboard((s) => s.connectionTest);
  if (!status) return null;
  const connected = status.refreshToken !== null && status.state !== 'not_configured';
  const reconnectShownElsewhere = status.lastRefresh?.error?.kind === 'invalid_grant';
  return (
    <Card
      title="Connection"
      testId="connection-card"
      aside={
        <div className="badges">
          <Badge tone={status.environment === 'production' ? 'warn' : 'neutral'} testId="environment-badge">
            {status.environment === 'production' ? 'Production' : 'Sandbox'}
          </Badge>
          {status.demo ? (
            <Badge
              tone="busy"
              testId="demo-badge"
              title="Demo mode: a local Intuit emulator with short lifetimes"
            >
              Demo
            </Badge>
          ) : null}
        </div>
      }
    >
      <dl className="fields">
        <Field label="Environment" testId="environment">
          {status.environment === 'production' ? 'Production' : 'Sandbox'}
        </Field>
        <Field label="Company id" testId="realm-id">
          {status.realmId ? <code>{status.realmId}</code> : <span className="muted">Not set</span>}
        </Field>
        <Field label="Company" testId="company-name">
          {(test?.companyName ?? status.connection.companyName) || (
            <span className="muted">Use Test connection to read it</span>
          )}
        </Field>
      </dl>
      {connected ? (
        <DisconnectControl />
      ) : reconnectShownElsewhere ? null : (
        <ConnectButton testId="connect-button" />
      )}
    </Card>
  );
}
