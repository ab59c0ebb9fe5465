// Argument parsing for `qb-token`: a handful of commands and flags, so no parser library.
import { CONNECTION_ID_RULE, isValidConnectionId, isValidRealmId } from '../shared/ids';

const COMMANDS = ['status', 'refresh', 'clear', 'company-info', 'token', 'connections'] as const;
type Command = (typeof COMMANDS)[number];

const CONNECTIONS_SUBCOMMANDS = ['list', 'add', 'remove'] as const;
type ConnectionsSubcommand = (typeof CONNECTIONS_SUBCOMMANDS)[number];

/** Commands that act on one connection (`--connection ID`; default: the default connection). */
const PER_CONNECTION: readonly Command[] = ['status', 'refresh', 'clear', 'company-info', 'token'];

export interface ParsedArgs {
  command: Command | 'help';
  json: boolean;
  verbose: boolean;
  /** `--connection ID`, before or after the command name. */
  connection?: string;
  /** `connections list|add|remove`. */
  subcommand?: ConnectionsSubcommand;
  /** `connections remove ID`. */
  target?: string;
  /** `connections add`. */
  name?: string;
  realm?: string;
  environment?: 'sandbox' | 'production';
  /** `connections remove --force`: remove even when Intuit could not revoke. */
  force?: boolean;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `Usage: qb-token [--connection ID] <command> [options]

Keeps QuickBooks Online connections' OAuth tokens alive, from the shell.

Commands (on the default connection, or the one --connection names):
  status [--json]  Show the token state: expiry (relative and absolute), refresh token
                   expiry, last refresh, warnings. Exit 2 when not configured, 3 when
                   reauthorization is required.
  refresh          Refresh the access token now (the refresh token is saved first).
  clear            Drop the cached access token; the stored refresh token is kept.
  company-info     Read CompanyInfo through the auto-refreshing client (a connection test).
  token            Print a valid access token on stdout, refreshing only if needed:
                   curl -H "Authorization: Bearer $(qb-token token)" ...

Several companies:
  connections list [--json]
                   Every connection: the default one (the QB_* environment's) and each
                   added company, with its state and expiries.
  connections add --name NAME --realm ID --environment sandbox|production
                   Add a company (or reconnect the one of that realm) with a refresh token
                   read from standard input, never from an argument:
                   qb-token connections add --name "Acme" --realm 9130... \\
                     --environment production < refresh-token.txt
  connections remove ID [--force]
                   Revoke the connection's refresh token at Intuit, then remove it.
                   --force removes it even when Intuit cannot be reached.

Options:
  --connection ID  act on that connection (see connections list); before or after the command
  --json           status, connections list: print JSON
  -v, --verbose    diagnostics on stderr (never token values)
  -h, --help       this text

Configuration comes from the environment, then .env.local, then .env in the current
directory: QB_CLIENT_ID, QB_CLIENT_SECRET, QB_REFRESH_TOKEN, QB_REALM_ID, QB_ENVIRONMENT,
QB_SANDBOX_CLIENT_ID/_SECRET, QB_PRODUCTION_CLIENT_ID/_SECRET, QB_TOKEN_URL,
QB_API_BASE_URL, QB_DATA_DIR (default ./.qb-data), ...

Exit codes: 0 ok, 1 usage or other error, 2 configuration error,
3 reauthorization required (reconnect to QuickBooks), 4 transient failure (try again later).
`;

/** Options that take a value (`--name Acme` or `--name=Acme`). */
const VALUE_OPTIONS = ['--connection', '--name', '--realm', '--environment'] as const;
type ValueOption = (typeof VALUE_OPTIONS)[number];

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const positional: string[] = [];
  const values: Partial<Record<ValueOption, string>> = {};
  let json = false;
  let verbose = false;
  let force = false;
  let help = false;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') help = true;
    else if (arg === '--json') json = true;
    else if (arg === '-v' || arg === '--verbose') verbose = true;
    else if (arg === '--force') force = true;
    else if (arg.startsWith('-')) {
      const [flag, inline] = arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
      if (!(VALUE_OPTIONS as readonly string[]).includes(flag))
        throw new UsageError(`unknown option ${flag}`);
      const value = inline ?? argv[i + 1];
      if (inline === undefined) i += 1;
      if (value === undefined || value === '' || (inline === undefined && value.startsWith('-')))
        throw new UsageError(`${flag} needs a value`);
      if (values[flag as ValueOption] !== undefined) throw new UsageError(`${flag} is given twice`);
      values[flag as ValueOption] = value;
    } else positional.push(arg);
  }
  if (help || positional[0] === 'help') return { command: 'help', json, verbose };
  const [name, ...rest] = positional;
  if (name === undefined) throw new UsageError('no command given');
  if (!(COMMANDS as readonly string[]).includes(name)) throw new UsageError(`unknown command "${name}"`);
  const command = name as Command;
  if (force && command !== 'connections') throw new UsageError('unknown option --force');
  if (command !== 'connections') {
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}" after ${command}`);
    if (json && command !== 'status') throw new UsageError('--json applies to status only');
    for (const flag of ['--name', '--realm', '--environment'] as const)
      if (values[flag] !== undefined) throw new UsageError(`${flag} applies to connections add only`);
    const parsed: ParsedArgs = { command, json, verbose };
    if (values['--connection'] !== undefined) parsed.connection = checkedId(values['--connection']);
    return parsed;
  }
  return parseConnections(rest, values, { json, verbose, force });
}

function parseConnections(
  rest: string[],
  values: Partial<Record<ValueOption, string>>,
  flags: { json: boolean; verbose: boolean; force: boolean },
): ParsedArgs {
  const [sub, ...more] = rest;
  if (sub === undefined) throw new UsageError('connections needs list, add or remove');
  if (!(CONNECTIONS_SUBCOMMANDS as readonly string[]).includes(sub))
    throw new UsageError(`unknown connections command "${sub}" (list, add or remove)`);
  if (values['--connection'] !== undefined)
    throw new UsageError(
      `--connection applies to ${PER_CONNECTION.join(', ')}; connections ${sub} names its own`,
    );
  const subcommand = sub as ConnectionsSubcommand;
  const parsed: ParsedArgs = { command: 'connections', subcommand, json: flags.json, verbose: flags.verbose };
  if (flags.json && subcommand !== 'list') throw new UsageError('--json applies to connections list only');
  if (flags.force && subcommand !== 'remove')
    throw new UsageError('--force applies to connections remove only');
  if (subcommand !== 'add') {
    for (const flag of ['--name', '--realm', '--environment'] as const)
      if (values[flag] !== undefined) throw new UsageError(`${flag} applies to connections add only`);
  }
  if (subcommand === 'list') {
    if (more.length > 0) throw new UsageError(`unexpected argument "${more[0]}" after connections list`);
    return parsed;
  }
  if (subcommand === 'remove') {
    if (more.length !== 1) throw new UsageError('connections remove takes one connection id');
    parsed.target = checkedId(more[0]);
    if (flags.force) parsed.force = true;
    return parsed;
  }
  if (more.length > 0) {
    throw new UsageError(
      `unexpected argument after connections add: the refresh token is read from standard input, never from an argument`,
    );
  }
  const name = values['--name']?.trim();
  const realm = values['--realm'];
  const environment = values['--environment'];
  if (!name) throw new UsageError('connections add needs --name NAME');
  if (!realm) throw new UsageError('connections add needs --realm ID (the company id)');
  if (!isValidRealmId(realm)) throw new UsageError('--realm must be the numeric company id (digits only)');
  if (environment !== 'sandbox' && environment !== 'production')
    throw new UsageError('connections add needs --environment sandbox or --environment production');
  return { ...parsed, name, realm, environment };
}

function checkedId(id: string): string {
  if (!isValidConnectionId(id))
    throw new UsageError(`a connection id is ${CONNECTION_ID_RULE} (see connections list)`);
  return id;
}
