// What a failure that only a new refresh token cures tells the user to do, per connection: the
// QB_* variables feed the default connection alone, and Connect helps only where it runs on this
// store (the desktop app keeps a store of its own unless QB_STORE_URL is set).
import { DEFAULT_CONNECTION_ID, type TokenStatus } from '../shared/contract';
import { ReauthorizationRequiredError, TokenError } from '../core/errors';

/** What a reconnect hint needs to know about the connection a command acted on. */
export type ReconnectTarget = Pick<TokenStatus, 'connection' | 'realmId' | 'environment' | 'store'> &
  Partial<Pick<TokenStatus, 'warnings'>>;

/**
 * How to get a working refresh token again. QB_REFRESH_TOKEN feeds the default connection only; an
 * added company takes a new one through `connections add` (standard input) or Connect. Connect runs
 * where a process shares this store: the desktop app keeps its own unless QB_STORE_URL is set.
 */
export function reconnectHint(target: ReconnectTarget | null): string {
  const where =
    target?.store?.kind === 'postgres'
      ? 'the desktop app or `npm run serve` on this QB_STORE_URL'
      : '`npm run serve` on this QB_DATA_DIR';
  const id = target?.connection.id ?? DEFAULT_CONNECTION_ID;
  if (id === DEFAULT_CONNECTION_ID)
    return ` Reconnect to QuickBooks (Connect in ${where}), or set a new QB_REFRESH_TOKEN.`;
  const realm = target?.realmId ?? id;
  // Single-quoted for the shell, whatever the name holds.
  const name = `'${(target?.connection.name ?? id).replace(/'/g, `'\\''`)}'`;
  return (
    ` Reconnect this company (Connect in ${where}, choosing company ${realm}), or give it a new ` +
    `refresh token on standard input: \`qb-token connections add --realm ${realm} ` +
    `--environment ${target?.environment ?? 'sandbox'} --name ${name} < refresh-token.txt\`.`
  );
}

/** True for the failures only a new refresh token cures (Intuit's invalid_grant). */
export function needsReconnect(error: unknown): boolean {
  return (
    error instanceof ReauthorizationRequiredError ||
    (error instanceof TokenError && error.kind === 'invalid_grant')
  );
}
