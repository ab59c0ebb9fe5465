import type { AutoRefreshInfo, TokenState } from '../../../shared/contract';
import { accessTokenLifetimeMs } from '../format/lifetime';
import { formatDuration, formatSkew } from '../format/time';
import { useDashboard } from '../use-dashboard';
import { Badge } from './Badge';
import { Card, Field } from './Card';
import { RelativeTime } from './Time';

/** The badge: on, off, or stopped because Intuit refused the refresh token (refreshing cannot help). */
function scheduleBadge(auto: AutoRefreshInfo, state: TokenState) {
  if (state === 'reauthorization_required') {
    return (
      <Badge tone="bad" testId="auto-refresh-enabled">
        Stopped
      </Badge>
    );
  }
  return (
    <Badge tone={auto.enabled ? 'good' : 'neutral'} testId="auto-refresh-enabled">
      {auto.enabled ? 'On' : 'Off'}
    </Badge>
  );
}

/** When the next refresh happens, in words that match the access token card. */
function NextRefresh(props: { auto: AutoRefreshInfo; state: TokenState; now: number }) {
  const { auto, state, now } = props;
  if (state === 'reauthorization_required') {
    return <span className="muted">None: Intuit rejected the refresh token; reconnect to QuickBooks</span>;
  }
  if (!auto.enabled) return <span className="muted">Not scheduled</span>;
  const fallback = state === 'no_token' ? 'When the next call needs a token (none cached)' : 'Not scheduled';
  return <RelativeTime iso={auto.nextRefreshAt} now={now} fallback={fallback} testId="next-refresh-at" />;
}

export function AutoRefreshCard() {
  const auto = useDashboard((s) => s.status?.autoRefresh);
  const state = useDashboard((s) => s.status?.state);
  // The engine never refreshes earlier than half a token's lifetime (short demo tokens).
  const cachedLifetimeMs = useDashboard((s) =>
    s.status?.source === 'cached' && s.status.accessToken ? accessTokenLifetimeMs(s.status) : null,
  );
  const now = useDashboard((s) => s.now);
  if (!auto || !state) return null;
  return (
    <Card title="Auto-refresh" testId="auto-refresh-card" aside={scheduleBadge(auto, state)}>
      <dl className="fields">
        <Field label="Next refresh" testId="next-refresh">
          <NextRefresh auto={auto} state={state} now={now} />
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
