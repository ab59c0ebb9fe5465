import type { ConnectionSummary } from '../../../../shared/contract';
import { STATE_LABELS } from '../../format/labels';
import { formatDuration, parseTime } from '../../format/time';
import { useDashboard } from '../../use-dashboard';

/** The access token's time left, ticking with the dashboard's clock; the state when there is none. */
export function ConnectionCountdown(props: { summary: ConnectionSummary }) {
  const now = useDashboard((s) => s.now);
  const { state } = props.summary;
  // A connection that needs the admin says so instead of counting down a token it cannot renew.
  const expires =
    state === 'reauthorization_required' || state === 'not_configured'
      ? null
      : parseTime(props.summary.accessTokenExpiresAt);
  const text =
    expires === null
      ? STATE_LABELS[state]
      : expires > now
        ? `${formatDuration(expires - now)} left`
        : `expired ${formatDuration(now - expires)} ago`;
  return (
    <span className="connection-countdown" data-testid="connection-countdown">
      {text}
    </span>
  );
}
