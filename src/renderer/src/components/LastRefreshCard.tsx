import { errorKindLabel, guidanceFor } from '../format/guidance';
import { TRIGGER_LABELS } from '../format/labels';
import { formatMs } from '../format/time';
import { useDashboard } from '../use-dashboard';
import { Badge } from './Badge';
import { Card, Field } from './Card';
import { ConnectButton } from './ConnectButton';
import { CopyButton } from './CopyButton';
import { RelativeTime } from './Time';

export function LastRefreshCard() {
  const status = useDashboard((s) => s.status);
  const now = useDashboard((s) => s.now);
  if (!status) return null;
  const last = status.lastRefresh;
  if (!last) {
    return (
      <Card title="Last refresh" testId="last-refresh-card">
        <p className="empty">No refresh yet since the app started.</p>
      </Card>
    );
  }
  const error = last.ok ? undefined : last.error;
  const guidance = error ? guidanceFor(error, status.autoRefresh, now) : null;
  return (
    <Card
      title="Last refresh"
      testId="last-refresh-card"
      className={last.ok ? undefined : 'accent-bad span-2 first'}
      aside={
        <Badge tone={last.ok ? 'good' : 'bad'} testId="last-refresh-outcome">
          {last.ok ? 'Succeeded' : 'Failed'}
        </Badge>
      }
    >
      <dl className="fields">
        <Field label="When" testId="last-refresh-at">
          <RelativeTime iso={last.at} now={now} />
        </Field>
        <Field label="Trigger" testId="last-refresh-trigger">
          {TRIGGER_LABELS[last.trigger]}
        </Field>
        <Field label="Duration" testId="last-refresh-duration">
          {formatMs(last.durationMs)}
        </Field>
        {last.client ? (
          <Field label="By" testId="last-refresh-client">
            {last.client}
          </Field>
        ) : null}
        {error ? (
          <>
            <Field label="Error" testId="last-refresh-error-kind">
              {errorKindLabel(error.kind)}
            </Field>
            <Field label="Message" testId="last-refresh-error-message">
              {error.message}
            </Field>
            <Field label="intuit_tid">
              {error.intuitTid ? (
                <span className="tid">
                  <code data-testid="intuit-tid">{error.intuitTid}</code>
                  <CopyButton value={error.intuitTid} label="Copy intuit_tid" testId="copy-intuit-tid" />
                </span>
              ) : (
                <span className="muted">None (no response from Intuit)</span>
              )}
            </Field>
          </>
        ) : null}
      </dl>
      {guidance ? (
        <div
          className={`guidance guidance-${guidance.action}`}
          data-testid="guidance"
          data-action={guidance.action}
        >
          <h3>{guidance.title}</h3>
          <p>{guidance.text}</p>
          {guidance.action === 'reconnect' ? (
            <ConnectButton label="Reconnect to QuickBooks" testId="reconnect-button" />
          ) : null}
        </div>
      ) : null}
    </Card>
  );
}
