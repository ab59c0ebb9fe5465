import { REFRESH_TOKEN_WARNING_DAYS, type RefreshTokenInfo } from '../../../shared/contract';
import { refreshTokenDays, REFRESH_TOKEN_LIFETIME_DAYS } from '../format/lifetime';
import { daysLeft, formatDateTime, parseTime, pluralDays } from '../format/time';
import { useDashboard } from '../use-dashboard';
import { Badge } from './Badge';
import { Card, Field } from './Card';
import { LifetimeBar } from './LifetimeBar';
import { RelativeTime } from './Time';

const sourceLabel = (token: RefreshTokenInfo) => (token.source === 'stored' ? 'Stored' : 'Environment');

/** Intuit refused the token (invalid_grant): its expiry dates no longer mean anything. */
function RejectedRefreshToken(props: { token: RefreshTokenInfo; rejectedAt: string; now: number }) {
  const { token, rejectedAt, now } = props;
  return (
    <Card
      title="Refresh token"
      testId="refresh-token-card"
      className="accent-bad"
      aside={
        <Badge tone="bad" testId="refresh-source">
          Rejected by Intuit
        </Badge>
      }
    >
      <p className="countdown" data-testid="refresh-rejected">
        <span className="countdown-value">Rejected</span>
        <span className="countdown-caption">
          <RelativeTime iso={rejectedAt} now={now} />
        </span>
      </p>
      <p className="error-text">
        Intuit answered invalid_grant: this refresh token no longer works, whatever its expiry said. Reconnect
        to QuickBooks to get a new one.
      </p>
      <dl className="fields">
        <Field label="Preview">
          <code>{token.preview}</code>
        </Field>
        <Field label="Source">{sourceLabel(token)}</Field>
        <Field label="Rejected" testId="refresh-rejected-at">
          <RelativeTime iso={rejectedAt} now={now} />
        </Field>
      </dl>
    </Card>
  );
}

export function RefreshTokenCard() {
  const token = useDashboard((s) => s.status?.refreshToken);
  const now = useDashboard((s) => s.now);
  if (token === undefined) return null;
  if (token === null) {
    return (
      <Card title="Refresh token" testId="refresh-token-card">
        <p className="empty">No refresh token: connect to QuickBooks to get one.</p>
      </Card>
    );
  }
  if (token.rejectedAt) return <RejectedRefreshToken token={token} rejectedAt={token.rejectedAt} now={now} />;
  const rolling = refreshTokenDays(token.expiresAt, now);
  const hard = parseTime(token.hardExpiresAt);
  const warn = rolling !== null && rolling.days < REFRESH_TOKEN_WARNING_DAYS;
  return (
    <Card
      title="Refresh token"
      testId="refresh-token-card"
      className={warn ? 'accent-warn' : undefined}
      aside={
        <Badge tone={token.source === 'environment' ? 'warn' : 'good'} testId="refresh-source">
          {sourceLabel(token)}
        </Badge>
      }
    >
      {rolling ? (
        <>
          <p className="countdown" data-testid="refresh-days-left">
            <span className="countdown-value">{pluralDays(Math.max(0, rolling.days))}</span>
            <span className="countdown-caption">left of {REFRESH_TOKEN_LIFETIME_DAYS} (rolling)</span>
          </p>
          <LifetimeBar
            label="Refresh token rolling lifetime remaining"
            fraction={rolling.fraction}
            lowBelow={REFRESH_TOKEN_WARNING_DAYS / REFRESH_TOKEN_LIFETIME_DAYS}
            testId="refresh-bar"
          />
        </>
      ) : (
        <p className="muted">Rolling expiry unknown until the first refresh.</p>
      )}
      {warn ? (
        <p className="warning-text" role="note" data-testid="refresh-token-warning">
          Expires in under {REFRESH_TOKEN_WARNING_DAYS} days: reconnect to QuickBooks before it lapses.
        </p>
      ) : null}
      <dl className="fields">
        <Field label="Preview">
          <code>{token.preview}</code>
        </Field>
        <Field label="Rolling expiry" testId="refresh-expires-at">
          {token.expiresAt ? (
            <RelativeTime iso={token.expiresAt} now={now} />
          ) : (
            <span className="muted">Unknown</span>
          )}
        </Field>
        <Field label="5-year cap" testId="refresh-hard-expires-at">
          {hard !== null ? (
            <time dateTime={token.hardExpiresAt ?? undefined}>
              {formatDateTime(hard)} <span className="muted">({pluralDays(daysLeft(hard, now))})</span>
            </time>
          ) : (
            <span className="muted">Not reported by Intuit</span>
          )}
        </Field>
        <Field label="Last rotated" testId="refresh-last-rotated">
          <RelativeTime iso={token.lastRotatedAt} now={now} fallback="Not since start" />
        </Field>
      </dl>
    </Card>
  );
}
