import type { ConnectionSummary } from '../../../../shared/contract';
import { STATE_LABELS } from '../../format/labels';
import { formatDuration, parseTime } from '../../format/time';
import { useDashboard } from '../../use-dashboard';

/** The access token's time left, ticking with the dashboard's clock; the state when there is none. */
export function ConnectionCountdown(props: { summary: ConnectionSummary }) {
  const now = useDashboard((s) => s.now);
  const expires = parseTime(props.summary.accessTokenExpiresAt);
  const text =
    expires === null
      ? STATE_LABELS[props.summary.state]
      : expires > now
        ? `${formatDuration(expires - now)} left`
        : `expired ${formatDuration(now - expires)} ago`;
  return (
    <span className="connection-countdown" data-testid="connection-countdown">
      {text}
    </span>
  );
}
