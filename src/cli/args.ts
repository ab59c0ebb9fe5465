// Argument parsing for `qb-token`: a handful of commands and flags, so no parser library.

export const COMMANDS = ['status', 'refresh', 'clear', 'company-info', 'token'] as const;
export type Command = (typeof COMMANDS)[number];

export interface ParsedArgs {
  command: Command | 'help';
  json: boolean;
  verbose: boolean;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `Usage: qb-token <command> [options]

Keeps a QuickBooks Online connection's OAuth tokens alive, from the shell.

Commands:
  status [--json]  Show the token state: expiry (relative and absolute), refresh token
                   expiry, last refresh, warnings. Exit 2 when not configured, 3 when
                   reauthorization is required.
  refresh          Refresh the access token now (the refresh token is saved first).
  clear            Drop the cached access token; the stored refresh token is kept.
  company-info     Read CompanyInfo through the auto-refreshing client (a connection test).
  token            Print a valid access token on stdout, refreshing only if needed:
                   curl -H "Authorization: Bearer $(qb-token token)" ...

Options:
  --json           status: print the TokenStatus as JSON
  -v, --verbose    diagnostics on stderr (never token values)
  -h, --help       this text

Configuration comes from the environment, then .env.local, then .env in the current
directory: QB_CLIENT_ID, QB_CLIENT_SECRET, QB_REFRESH_TOKEN, QB_REALM_ID, QB_ENVIRONMENT,
QB_TOKEN_URL, QB_API_BASE_URL, QB_DATA_DIR (default ./.qb-data), ...

Exit codes: 0 ok, 1 usage or other error, 2 configuration error,
3 reauthorization required (reconnect to QuickBooks), 4 transient failure (try again later).
`;

export function parseArgs(argv: readonly string[]): ParsedArgs {
  let command: Command | 'help' | null = null;
  let json = false;
  let verbose = false;
  for (const arg of argv) {
    if (arg === '-h' || arg === '--help' || arg === 'help') command = 'help';
    else if (arg === '--json') json = true;
    else if (arg === '-v' || arg === '--verbose') verbose = true;
    else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    else if (command === null) {
      if (!(COMMANDS as readonly string[]).includes(arg)) throw new UsageError(`unknown command "${arg}"`);
      command = arg as Command;
    } else if (command !== 'help') {
      throw new UsageError(`unexpected argument "${arg}" after ${command}`);
    }
  }
  if (command === null) throw new UsageError('no command given');
  if (json && command !== 'status' && command !== 'help') {
    throw new UsageError('--json applies to status only');
  }
  return { command, json, verbose };
}
