// Words for the status fields, and the one-line verdict at the top of the page.
import type {
  HistoryEventType,
  RefreshTrigger,
  TokenSource,
  TokenState,
  TokenStatus,
} from '../../../shared/contract';
import { REFRESH_TOKEN_WARNING_DAYS } from '../../../shared/contract';
import { daysLeft, parseTime } from './time';

export const STATE_LABELS: Record<TokenState, string> = {
  valid: 'Valid',
  expiring: 'Expiring',
  expired: 'Expired',
  no_token: 'No access token',
  refreshing: 'Refreshing',
  reauthorization_required: 'Reconnect required',
  not_configured: 'Not configured',
};

/** The colour family of a state pill or verdict. */
export type Tone = 'good' | 'warn' | 'bad' | 'busy' | 'neutral';

export const STATE_TONES: Record<TokenState, Tone> = {
  valid: 'good',
  expiring: 'warn',
  expired: 'bad',
  no_token: 'neutral',
  refreshing: 'busy',
  reauthorization_required: 'bad',
  not_configured: 'neutral',
};

export const SOURCE_LABELS: Record<TokenSource, string> = {
  cached: 'Cached',
  environment: 'Environment',
  none: 'None',
};

export const TRIGGER_LABELS: Record<RefreshTrigger, string> = {
  scheduled: 'Scheduled',
  manual: 'Manual',
  'on-401': 'After a 401',
  'on-demand': 'On demand',
};

/** What each dashboard action is called on its button (and in its result's wording). */
export const ACTION_LABELS = {
  refresh: 'Refresh now',
  clear: 'Clear cache',
  testConnection: 'Test connection',
  connect: 'Connect',
  disconnect: 'Disconnect',
} as const;

export const HISTORY_LABELS: Record<HistoryEventType, string> = {
  refreshed: 'Refreshed',
  rotated: 'Rotated',
  failed: 'Failed',
  retried_after_401: 'Retried after 401',
  cleared: 'Cleared',
  fell_back_to_environment: 'Environment fallback',
  environment_token_adopted: 'Environment token adopted',
  store_recovered: 'Store recovered',
  connected: 'Connected',
  disconnected: 'Disconnected',
};

export const HISTORY_TONES: Record<HistoryEventType, Tone> = {
  refreshed: 'good',
  rotated: 'good',
  failed: 'bad',
  retried_after_401: 'warn',
  cleared: 'neutral',
  fell_back_to_environment: 'warn',
  environment_token_adopted: 'neutral',
  store_recovered: 'warn',
  connected: 'good',
  disconnected: 'neutral',
};

interface Verdict {
  tone: Tone;
  headline: string;
  detail: string;
}

/** One sentence an admin can read at a glance: will QuickBooks keep working? */
export function verdictFor(status: TokenStatus, nowMs: number): Verdict {
  const rtExpires = parseTime(status.refreshToken?.expiresAt);
  const rtDays = rtExpires === null ? null : daysLeft(rtExpires, nowMs);
  // The store first: a store that cannot be used leaves the state `not_configured` once the token
  // expires, and "Not connected" would send the user to Connect, which cannot work either.
  const store = status.store;
  if (store?.misconfigured) {
    return {
      tone: 'bad',
      headline: 'QuickBooks will stop working: the token store cannot be used',
      detail: store.problem ?? 'Nothing is refreshed until the store configuration is fixed.',
    };
  }
  switch (status.state) {
    case 'not_configured':
      return {
        tone: 'neutral',
        headline: 'Not connected to QuickBooks',
        detail: status.canConnect
          ? 'Connect the app to QuickBooks to start keeping its tokens alive.'
          : 'Set QB_CLIENT_ID, QB_CLIENT_SECRET and QB_REFRESH_TOKEN (or QB_DEMO=1), then restart.',
      };
    case 'reauthorization_required':
      return {
        tone: 'bad',
        headline: 'QuickBooks has stopped working: reconnect required',
        detail: 'Intuit rejected the refresh token. Reconnect to restore access.',
      };
    default:
      break;
  }
  if (store && !store.reachable) {
    return {
      tone: 'warn',
      headline: 'The token store cannot be reached',
      detail: `${store.problem ?? 'The store does not answer.'} A still-valid access token is served from memory; refreshing waits until the store is back.`,
    };
  }
  const retrying = status.autoRefresh.retrying;
  if (retrying) {
    return {
      tone: 'warn',
      headline: `Refresh failing: retrying (attempt ${retrying.attempt} of ${retrying.maxAttempts})`,
      detail: status.lastRefresh?.error?.message ?? 'A temporary problem; the refresh token is kept.',
    };
  }
  if (status.state === 'refreshing') {
    return { tone: 'busy', headline: 'Refreshing the access token…', detail: 'This takes a moment.' };
  }
  if (status.lastRefresh && !status.lastRefresh.ok && status.lastRefresh.error) {
    // Only a scheduled retry is "retrying": with auto-refresh off nothing will try again by itself.
    const scheduled = status.autoRefresh.enabled && status.autoRefresh.nextRefreshAt !== null;
    return {
      tone: 'warn',
      headline: scheduled ? 'Refresh failing: retrying' : 'Refresh failing: use Refresh now to try again',
      detail: status.lastRefresh.error.message,
    };
  }
  if (status.state === 'no_token') {
    // Deliberate (Clear cache) or simply none fetched yet: nothing is wrong, so no alarm.
    return {
      tone: 'neutral',
      headline: 'No access token cached',
      detail: 'The next call fetches one; the refresh token is kept.',
    };
  }
  if (status.state === 'expired') {
    return {
      tone: 'bad',
      headline: 'Access token expired',
      detail: status.autoRefresh.enabled
        ? 'A new one is fetched on the next call or refresh.'
        : 'Auto-refresh is off: use Refresh now.',
    };
  }
  if (rtDays !== null && rtDays < REFRESH_TOKEN_WARNING_DAYS) {
    return {
      tone: 'warn',
      headline: `QuickBooks keeps working, but the refresh token expires in ${Math.max(0, rtDays)} days`,
      detail: 'Reconnect soon so the connection does not lapse.',
    };
  }
  return {
    tone: 'good',
    headline: 'QuickBooks will keep working',
    detail: status.autoRefresh.enabled
      ? 'Tokens are valid and refreshed automatically.'
      : 'Tokens are valid; auto-refresh is off.',
  };
}
