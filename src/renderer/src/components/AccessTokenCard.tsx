import type { TokenStatus } from '../../../shared/contract';
import { accessTokenFraction, accessTokenLifetimeMs, roundedLifetimeMs } from '../format/lifetime';
import { SOURCE_LABELS, STATE_LABELS, STATE_TONES } from '../format/labels';
import { formatAbsolute, formatDuration, parseTime } from '../format/time';
import { useDashboard } from '../use-dashboard';
import { Badge } from './Badge';
import { Card, Field } from './Card';
import { LifetimeBar } from './LifetimeBar';

function emptyText(status: TokenStatus): string {
  if (status.state === 'reauthorization_required') return 'No access token: reconnect to QuickBooks first.';
  if (!status.refreshToken) return 'No access token: connect to QuickBooks first.';
  return 'No access token cached; the next call fetches one.';
}

export function AccessTokenCard() {
  const status = useDashboard((s) => s.status);
  const now = useDashboard((s) => s.now);
  if (!status) return null;
  const token = status.accessToken;
  const expiresAt = parseTime(token?.expiresAt);
  const left = expiresAt === null ? null : expiresAt - now;
  const tone = STATE_TONES[status.state];
  // After invalid_grant the cached token may still run for minutes, but nothing renews it: no green
  // countdown for a chain that is over (QB_ACCESS_TOKEN's stand-in is shown as it is: it was chosen).
  const stale = status.state === 'reauthorization_required' && status.source !== 'environment';
  return (
    <Card
      title="Access token"
      testId="access-token-card"
      className={`accent-${tone}`}
      aside={
        <span className={`pill tone-${tone}`} data-testid="state-pill" data-state={status.state}>
          {status.state === 'refreshing' ? <span className="spinner" aria-hidden="true" /> : null}
          {STATE_LABELS[status.state]}
        </span>
      }
    >
      {token && expiresAt !== null && left !== null && !stale ? (
        <>
          <p
            className="countdown"
            data-testid="access-countdown"
            role="timer"
            aria-label="Time until the access token expires"
          >
            {left > 0 ? (
              <>
                <span className="countdown-value">{formatDuration(left)}</span>
                <span className="countdown-caption">left</span>
              </>
            ) : (
              <>
                <span className="countdown-value">Expired</span>
                <span className="countdown-caption">{formatDuration(left)} ago</span>
              </>
            )}
          </p>
          <LifetimeBar
            label="Access token lifetime remaining"
            fraction={accessTokenFraction(status, now)}
            lowBelow={0.15}
            testId="access-bar"
          />
          <p className="bar-caption muted">
            of {formatDuration(roundedLifetimeMs(accessTokenLifetimeMs(status)))} · expires at{' '}
            <time dateTime={token.expiresAt} data-testid="access-expires-at">
              {formatAbsolute(expiresAt, now)}
            </time>
          </p>
          <dl className="fields">
            <Field label="Preview" testId="access-preview">
              <code>{token.preview}</code>
            </Field>
            <Field label="Source">
              <Badge tone={status.source === 'environment' ? 'warn' : 'good'} testId="access-source">
                {SOURCE_LABELS[status.source]}
              </Badge>
            </Field>
          </dl>
        </>
      ) : (
        <>
          <p className="empty" data-testid="access-none">
            {emptyText(status)}
          </p>
          {token && expiresAt !== null && left !== null ? (
            <p className="muted" data-testid="access-stale">
              The last one (<code>{token.preview}</code>){' '}
              {left > 0 ? 'is not renewed: it stops working at ' : 'expired at '}
              <time dateTime={token.expiresAt}>{formatAbsolute(expiresAt, now)}</time>.
            </p>
          ) : null}
        </>
      )}
    </Card>
  );
}
