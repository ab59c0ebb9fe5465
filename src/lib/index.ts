// `qb-token-desk`: the desk's token engine for your own app. Same configuration, store and lock as
// the desktop app, the headless server and the CLI, so they never race for the rotating refresh token.
export { createQuickBooks, type QuickBooks } from './quickbooks';
export type { CreateQuickBooksOptions, QuickBooksConfig } from './options';
export {
  ConfigError,
  NotConfiguredError,
  QuickBooksApiError,
  ReauthorizationRequiredError,
  TransientError,
  UnknownConnectionError,
  type TransientKind,
} from './errors';
export type {
  AccessTokenInfo,
  ConnectionId,
  ConnectionSummary,
  HistoryEvent,
  LastRefreshInfo,
  QbEnvironment,
  RefreshTokenInfo,
  TokenSource,
  TokenState,
  TokenStatus,
} from '../shared/contract';
