// `qb-token`: the same core as the desktop app and the headless server (startDesk), with the file
// store in QB_DATA_DIR, so the CLI, headless servers and library apps sharing that directory share
// one token chain and one refresh lock (the desktop app keeps a store of its own there, and shares
// only through QB_STORE_URL, as every process does once it is set). stdout carries results; stderr
// carries diagnostics; only `token` prints a value.
import { resolve } from 'node:path';
import { DEFAULT_CONNECTION_ID, type ConnectionId, type TokenStatus } from '../shared/contract';
import { startDesk, type StartedDesk } from '../core/bootstrap';
import { fileStoreFor } from '../core/engine-parts';
import type { TokenDesk } from '../core/desk';
import { configSecrets, hasClientCredentials, loadConfig, type Config } from '../core/config';
import { ApiError, ReauthorizationRequiredError, TokenError } from '../core/errors';
import { StoreSaveRescuedError } from '../core/fs/save-rescue';
import { SecretRegistry } from '../core/log';
import { UNSAVED_CHAIN_WARNING } from '../core/token-status';
import { parseArgs, UsageError, USAGE, type ParsedArgs } from './args';
import { runConnectionsCommand } from './connections-command';
import { EXIT, exitCodeFor, type ExitCode } from './exit-codes';
import { formatAbsolute, formatRelative, formatStatus } from './format-status';
import { needsReconnect, reconnectHint, type ReconnectTarget } from './reconnect-hint';
import { ReadOnlyUntilCreated } from './status-store';

export interface CliIo {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Standard input, read whole (or one hidden line from a terminal): `connections add`'s refresh token. */
  readSecret?: () => Promise<string>;
}

/** The CLI's default store: beside the project, like `.env.local`, so a checkout keeps its own chain. */
const CLI_DEFAULT_DATA_DIR = '.qb-data';

export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`qb-token: ${error.message}\n\n${USAGE}`);
    return EXIT.failure;
  }
  const { command, verbose } = args;
  if (command === 'help') {
    io.stdout(USAGE);
    return EXIT.ok;
  }

  // Diagnostics pass through the core's redactor: no configured secret, and no token the engine has
  // seen, reaches stderr, whatever produced the line.
  const secrets = new SecretRegistry();
  let engineSecrets: SecretRegistry | null = null;
  // The engine's registry starts with the same configured secrets and adds every token it sees.
  const diagnose = (line: string) => io.stderr(`${(engineSecrets ?? secrets).redact(line)}\n`);
  // The connection the command acted on, for the reconnect hint of a failure.
  let target: ReconnectTarget | null = null;
  try {
    const config = loadConfig(io.env, io.cwd);
    secrets.pin(...configSecrets(config));
    const refusal = demoRefusal(config, io.env);
    // `status` still answers (a not_configured TokenStatus, so `--json` stays parseable); the others cannot act.
    if (refusal && command !== 'status') {
      diagnose(`qb-token: ${refusal}`);
      return EXIT.configuration;
    }
    const env = { ...io.env, QB_DATA_DIR: config.dataDir ?? resolve(io.cwd, CLI_DEFAULT_DATA_DIR) };
    // A CLI run only refreshes when its command needs a token: `status` observes, it does not act.
    // `connections add` reads its refresh token before anything starts (a bad one changes nothing).
    const refreshToken =
      command === 'connections' && args.subcommand === 'add' ? await readRefreshToken(io) : null;
    secrets.add(refreshToken);
    const log = verbose ? diagnose : () => {};
    const started = await startDesk({
      env,
      cwd: io.cwd,
      log,
      // `status` reads: a store directory that is not there yet is not created for it.
      store:
        command === 'status'
          ? (config) => new ReadOnlyUntilCreated(fileStoreFor(config, log), config.dataDir ?? env.QB_DATA_DIR)
          : undefined,
      clientName: 'qb-token',
      manager: { refreshOnStart: false },
      connections: { only: connectionsServed(args) },
      allowDemo: refusal === null,
    });
    engineSecrets = started.secrets;
    if (refreshToken) engineSecrets.add(refreshToken);
    // The engine unrefs its timers so they never keep a process alive; a command awaiting a
    // back-off wait would then end with nothing printed and exit 0. Hold the loop open until it settles.
    const keepAlive = setInterval(() => {}, 60_000);
    try {
      // The engine starts without a store it cannot reach (a server waits for it); a one-shot command
      // cannot wait: asking the store again throws its error (QB_STORE_URL masked), exit 4.
      if (started.desk.getStatus().store?.reachable === false) await started.store.open();
      if (command === 'connections') {
        return await runConnectionsCommand(args, { started, io, diagnose, refreshToken, describeFailure });
      }
      const desk = started.connections.desk(args.connection);
      const code = await runCommand(command, args.json, desk, io, diagnose);
      // A stored access token can outlive missing keys (the status then says so in its warnings).
      if (refusal && desk.getStatus().state === 'not_configured') diagnose(`qb-token: ${refusal}`);
      return code;
    } catch (error) {
      target = statusOf(started, args.connection);
      throw error;
    } finally {
      clearInterval(keepAlive);
      await started.close();
    }
  } catch (error) {
    diagnose(describeFailure(error, true, target));
    return exitCodeFor(error);
  }
}

/** The status of the connection a command acted on, or null when there is none by that id. */
function statusOf(started: StartedDesk, id: ConnectionId | undefined): TokenStatus | null {
  try {
    return started.connections.desk(id).getStatus();
  } catch {
    return null;
  }
}

/** The connections a run starts besides the default one: only those its command acts on. */
function connectionsServed(args: ParsedArgs): ConnectionId[] | undefined {
  if (args.command !== 'connections')
    return args.connection && args.connection !== DEFAULT_CONNECTION_ID ? [args.connection] : [];
  if (args.subcommand === 'list') return undefined;
  if (args.subcommand === 'remove') return args.target ? [args.target] : [];
  return args.realm ? [args.realm, `${args.realm}-${args.environment ?? 'sandbox'}`] : [];
}

async function readRefreshToken(io: CliIo): Promise<string> {
  const token = (await io.readSecret?.()) ?? '';
  if (!token) {
    throw new UsageError(
      'connections add reads the refresh token from standard input, and it was empty: qb-token connections add ... < refresh-token.txt',
    );
  }
  if (/\s/.test(token))
    throw new UsageError('the refresh token read from standard input has spaces or several lines in it');
  return token;
}

async function runCommand(
  command: Exclude<ParsedArgs['command'], 'help' | 'connections'>,
  json: boolean,
  desk: TokenDesk,
  io: CliIo,
  diagnose: (line: string) => void,
): Promise<ExitCode> {
  switch (command) {
    case 'status': {
      const status = desk.getStatus();
      io.stdout(json ? `${JSON.stringify(status, null, 2)}\n` : `${formatStatus(status)}\n`);
      if (status.state === 'not_configured') return EXIT.configuration;
      if (status.state === 'reauthorization_required') return EXIT.reauthorizationRequired;
      return EXIT.ok;
    }
    case 'refresh': {
      const status = await desk.refresh('manual');
      io.stdout(`Refreshed. ${describeAccess(status)}\n`);
      return EXIT.ok;
    }
    case 'clear': {
      const status = await desk.clear();
      const kept = status.refreshToken ? ` the refresh token (${status.refreshToken.preview}) is kept` : '';
      io.stdout(`Cleared the cached access token;${kept || ' no refresh token was stored'}.\n`);
      return EXIT.ok;
    }
    case 'company-info': {
      const result = await desk.testConnection();
      io.stdout(
        `${result.companyName} (realm ${result.realmId}), ${result.durationMs} ms, intuit_tid ${result.intuitTid ?? '-'}\n`,
      );
      return EXIT.ok;
    }
    case 'token': {
      io.stdout(`${await tokenForScripts(desk, diagnose)}\n`);
      return EXIT.ok;
    }
  }
}

/**
 * Like `gcloud auth print-access-token`: inside the skew window the token is refreshed first, so a
 * script never gets one about to lapse. If that early refresh fails, the current token is still
 * valid and is printed all the same (the failure goes to stderr).
 */
export async function tokenForScripts(
  desk: Pick<TokenDesk, 'getStatus' | 'refresh' | 'getAccessToken'>,
  diagnose: (line: string) => void,
): Promise<string> {
  if (desk.getStatus().state === 'expiring') {
    await desk.refresh('on-demand').catch((error: unknown) => {
      diagnose(`${describeFailure(error)} Printing the current access token, which is still valid.`);
    });
  }
  return desk.getAccessToken();
}

function describeAccess(status: TokenStatus): string {
  const access = status.accessToken;
  if (!access) return 'No access token.';
  const now = Date.now();
  return `Access token ${access.preview} expires ${formatRelative(access.expiresAt, now)} (${formatAbsolute(access.expiresAt)}).`;
}

/**
 * Demo mode starts a throwaway emulator inside the process; a CLI run would get fresh demo keys
 * every time and its store would never match the next run's. Only an explicit QB_DEMO=1 allows it.
 */
function demoRefusal(config: Config, env: NodeJS.ProcessEnv): string | null {
  if (hasClientCredentials(config) || env.QB_DEMO === '1') return null;
  const missing = [
    config.clientId === null ? 'QB_CLIENT_ID' : null,
    config.clientSecret === null ? 'QB_CLIENT_SECRET' : null,
  ]
    .filter(Boolean)
    .join(' and ');
  return `not configured: set ${missing} (and QB_REFRESH_TOKEN, QB_REALM_ID) in the environment, .env.local or .env. To try it on the Intuit emulator instead: eval "$(npm run --silent emulator -- --env)"`;
}

/**
 * One diagnostic line; `exiting` when the command ends on this error (then a transient one says so);
 * `target` is the connection the command acted on (the reconnect hint depends on it).
 */
export function describeFailure(
  error: unknown,
  exiting = false,
  target: ReconnectTarget | null = null,
): string {
  const hint = needsReconnect(error) ? reconnectHint(target) : '';
  const tid =
    error instanceof TokenError || error instanceof ApiError || error instanceof ReauthorizationRequiredError
      ? error.intuitTid
      : null;
  // The engine's schedule would retry; this process does not outlive the command, so it says so.
  // A chain Intuit issued that no store took (and no rescue file holds) ends with this process.
  const lost =
    target?.warnings?.includes(UNSAVED_CHAIN_WARNING) === true && !(error instanceof StoreSaveRescuedError);
  const exits =
    exiting && exitCodeFor(error) === EXIT.transient
      ? lost
        ? ' qb-token gives up here (exit 4). Intuit had already issued a new refresh token, and no store took it: it ends with this process, so the next refresh will be refused (invalid_grant) and the company must be reconnected. Bring the token store back before refreshing elsewhere.'
        : ' qb-token gives up here (exit 4); the refresh token is kept, so running it again later can succeed.'
      : '';
  const message = error instanceof Error ? error.message : String(error);
  // Messages end in a full stop or not, depending on who wrote them; what follows starts a sentence.
  const text = hint || exits ? message.replace(/([^.!?])$/, '$1.') : message;
  return `qb-token: ${text}${tid ? ` [intuit_tid ${tid}]` : ''}${hint}${exits}`;
}
