import { accessTokenLifetimeMs } from '../format/lifetime';
import { formatDuration, formatSkew } from '../format/time';
import { useDashboard } from '../use-dashboard';
import { Badge } from './Badge';
import { Card, Field } from './Card';
import { RelativeTime } from './Time';

export function AutoRefreshCard() {
  const auto = useDashboard((s) => s.status?.autoRefresh);
  const hasToken = useDashboard((s) => Boolean(s.status?.accessToken));
  // The engine never refreshes earlier than half a token's lifetime (short demo tokens).
  const cachedLifetimeMs = useDashboard((s) =>
    s.status?.source === 'cached' ? accessTokenLifetimeMs(s.status) : null,
  );
  const now = useDashboard((s) => s.now);
  if (!auto) return null;
  return (
    <Card
      title="Auto-refresh"
      testId="auto-refresh-card"
      aside={
        <Badge tone={auto.enabled ? 'good' : 'neutral'} testId="auto-refresh-enabled">
          {auto.enabled ? 'On' : 'Off'}
        </Badge>
      }
    >
      <dl className="fields">
        <Field label="Next refresh" testId="next-refresh">
          {auto.enabled ? (
            <RelativeTime
              iso={auto.nextRefreshAt}
              now={now}
              fallback={hasToken ? 'Not scheduled' : 'On the next call (no token cached)'}
              testId="next-refresh-at"
            />
          ) : (
            <span className="muted">Not scheduled</span>
          )}
        </Field>
        <Field label="Skew" testId="skew">
          {formatSkew(auto.skewSeconds)}
          {cachedLifetimeMs !== null && auto.skewSeconds * 1000 > cachedLifetimeMs / 2 ? (
            <span className="muted">
              {' '}
              (shortened to {formatDuration(Math.round(cachedLifetimeMs / 2000) * 1000)}, half the token’s
              lifetime)
            </span>
          ) : null}
        </Field>
        {auto.retrying ? (
          <Field label="Retrying" testId="retrying">
            <Badge tone="warn">
              Attempt {auto.retrying.attempt} of {auto.retrying.maxAttempts}
            </Badge>
          </Field>
        ) : null}
      </dl>
    </Card>
  );
}
