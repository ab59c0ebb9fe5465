// `qb-token connections list|add|remove`: several companies from the shell. `add` reads the
// refresh token from standard input (run.ts), stores it first, then gets an access token with it
// so a token Intuit refuses is reported now rather than at the first API call; `remove` revokes
// first, as Disconnect does.
import type { StartedDesk } from '../core/bootstrap';
import { hasClientCredentials } from '../core/config';
import type { ParsedArgs } from './args';
import { EXIT, exitCodeFor, type ExitCode } from './exit-codes';
import { formatConnections } from './format-connections';
import { formatAbsolute, formatRelative } from './format-status';
import { needsReconnect, type ReconnectTarget } from './reconnect-hint';
import type { CliIo } from './run';

interface ConnectionsCommandContext {
  started: StartedDesk;
  io: CliIo;
  diagnose: (line: string) => void;
  /** `connections add`: what standard input held. */
  refreshToken: string | null;
  describeFailure: (error: unknown, exiting?: boolean, target?: ReconnectTarget | null) => string;
}

export async function runConnectionsCommand(
  args: ParsedArgs,
  context: ConnectionsCommandContext,
): Promise<ExitCode> {
  const { started, io } = context;
  const connections = started.connections;
  switch (args.subcommand) {
    case 'list': {
      const list = connections.list();
      io.stdout(args.json ? `${JSON.stringify(list, null, 2)}\n` : `${formatConnections(list)}\n`);
      return EXIT.ok;
    }
    case 'remove': {
      const id = args.target ?? '';
      const name = connections.desk(id).getStatus().connection.name;
      const { disconnected } = await connections.removeReporting(id, { force: args.force === true });
      // The history's "Disconnected: …" says what Intuit did: revoked, had nothing to revoke, or not asked.
      const said = disconnected.history.find((event) => event.type === 'disconnected')?.message;
      io.stdout(`Removed ${id} (${name}).${said ? ` ${said}` : ''}\n`);
      return EXIT.ok;
    }
    case 'add':
      return addConnection(args, context);
    default:
      return EXIT.failure;
  }
}

async function addConnection(args: ParsedArgs, context: ConnectionsCommandContext): Promise<ExitCode> {
  const { started, io, diagnose } = context;
  const environment = args.environment ?? 'sandbox';
  const status = await started.connections.add({
    name: args.name ?? '',
    realmId: args.realm ?? '',
    environment,
    refreshToken: context.refreshToken ?? '',
  });
  const id = status.connection.id;
  io.stdout(`Stored ${id} (${status.connection.name}, ${environment}, company ${status.realmId ?? '-'}).\n`);
  if (started.connections.oauthFor(environment) === null) {
    const which = environment === 'production' ? 'QB_PRODUCTION_CLIENT_ID' : 'QB_SANDBOX_CLIENT_ID';
    diagnose(
      `qb-token: no ${environment} app keys (${which} and its secret${hasClientCredentials(started.config) && started.config.environment === environment ? '' : `, or QB_CLIENT_ID with QB_ENVIRONMENT=${environment}`}): the refresh token is stored but cannot be used until they are set.`,
    );
    return EXIT.configuration;
  }
  // An access token now: a token Intuit refuses is reported here, and the first one is ready. Not a
  // forced refresh: a desk sharing the store may already have refreshed the new record (it saw it
  // appear); the on-demand path takes that token under the lock instead of rotating again.
  try {
    const desk = started.connections.desk(id);
    await desk.getAccessToken();
    // QB_ACCESS_TOKEN stood in (the default company's realm): whether Intuit takes the added refresh
    // token is what this command must say, so it is asked outright.
    const access = (
      desk.getStatus().source === 'environment' ? await desk.refresh('manual') : desk.getStatus()
    ).accessToken;
    const now = Date.now();
    io.stdout(
      `Ready: ${access ? `access token ${access.preview} expires ${formatRelative(access.expiresAt, now)} (${formatAbsolute(access.expiresAt)})` : 'no access token'}.\n`,
    );
    return EXIT.ok;
  } catch (error) {
    // A refused token gets the reconnect hint for this company (connections add again, or Connect).
    const kept = needsReconnect(error)
      ? `The connection ${id} is kept until you remove it: qb-token connections remove ${id}.`
      : `The connection ${id} is kept; fix it with connections add again, or remove it with qb-token connections remove ${id}.`;
    diagnose(`${context.describeFailure(error, false, started.connections.desk(id).getStatus())} ${kept}`);
    return exitCodeFor(error);
  }
}
