// What an admin should do about the last refresh failure, chosen by its kind.
import type { AutoRefreshInfo, RefreshErrorInfo, RefreshErrorKind } from '../../../shared/contract';
import { TRANSIENT_ERROR_KINDS } from '../../../shared/contract';
import { formatAbsolute, formatRelative, parseTime } from './time';

type GuidanceAction = 'reconnect' | 'check-configuration' | 'wait';

interface Guidance {
  action: GuidanceAction;
  title: string;
  text: string;
}

const KIND_LABELS: Record<RefreshErrorKind, string> = {
  invalid_grant: 'Refresh token rejected (invalid_grant)',
  invalid_client: 'App keys rejected (invalid_client)',
  network: 'Network error',
  timeout: 'Timed out',
  server: 'Intuit server error',
  rate_limited: 'Rate limited by Intuit',
  bad_response: 'Unreadable response',
};

export function errorKindLabel(kind: RefreshErrorKind): string {
  return KIND_LABELS[kind] ?? kind;
}

export function isTransient(kind: RefreshErrorKind): boolean {
  return TRANSIENT_ERROR_KINDS.includes(kind);
}

export function guidanceFor(
  error: Pick<RefreshErrorInfo, 'kind'>,
  autoRefresh: Pick<AutoRefreshInfo, 'enabled' | 'nextRefreshAt' | 'retrying'>,
  nowMs: number,
): Guidance {
  switch (error.kind) {
    case 'invalid_grant':
      return {
        action: 'reconnect',
        title: 'Reconnect to QuickBooks',
        text:
          'Intuit no longer accepts the refresh token: it expired, was revoked, or was replaced by a newer one. ' +
          'Refreshing again will not help. Connect the app to QuickBooks again to get a new one.',
      };
    case 'invalid_client':
      return {
        action: 'check-configuration',
        title: 'Check the app keys and the environment',
        text:
          'Intuit rejected the client id or secret. Check QB_CLIENT_ID and QB_CLIENT_SECRET, and that ' +
          'QB_ENVIRONMENT matches the keys (sandbox keys do not work against production), then restart.',
      };
    default: {
      const next = parseTime(autoRefresh.nextRefreshAt);
      const attempt = autoRefresh.retrying
        ? `attempt ${autoRefresh.retrying.attempt} of ${autoRefresh.retrying.maxAttempts}`
        : null;
      let when: string;
      if (next !== null && autoRefresh.enabled) {
        when = `Retrying ${formatRelative(next, nowMs)}, at ${formatAbsolute(next, nowMs)}${attempt ? ` (${attempt})` : ''}.`;
      } else if (attempt) {
        when = `Retrying now with back-off (${attempt}).`;
      } else {
        when = 'Automatic retries have stopped; use Refresh now to try again.';
      }
      return {
        action: 'wait',
        title: 'Temporary problem: retrying',
        text: `This kind of failure usually passes on its own; the refresh token is kept. ${when}`,
      };
    }
  }
}
