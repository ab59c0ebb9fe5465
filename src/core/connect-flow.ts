// The OAuth authorization-code flow behind Connect, and Disconnect. Shared by the desktop loopback
// listener and the headless routes: each flow has a random `state` that must come back unchanged and
// expires; the code is sent to Intuit at most once (a second exchange of the same code would make
// Intuit revoke the tokens of the first); the realmId from the redirect is stored with the tokens, and
// the store is written (TokenManager.adoptAuthorization) before any status says connected.
// Disconnect revokes the refresh token at Intuit first and forgets the tokens only once that worked
// or Intuit answered that it held nothing to revoke (the token had already expired, been rotated away
// or revoked: its 400), unless the user confirmed again (`force`). The disconnected entry in the
// history says which. The engine runs the revoke under the connection's store lock, with the refresh
// token read there (ConnectTokens.disconnect): a refresh in another process sharing the store cannot
// rotate it between the revoke and the forget and leave the rotated token live at Intuit.
//
// With several companies (ConnectTargets): the flow runs with the app keys of the environment asked
// for, and the user picks the company at Intuit; the authorization lands in the connection of that
// realm (reconnecting it) or in a new one (adding the company).
import { createHash, randomBytes } from 'node:crypto';
import type {
  ConnectionId,
  ConnectRequest,
  DisconnectOptions,
  QbEnvironment,
  TokenStatus,
} from '../shared/contract';
import { isValidRealmId } from '../shared/ids';
import { TOKENS_FORGOTTEN, type RevokeStep } from './connection-changes';
import type { ConnectFlow } from './desk';
import { ConnectError, NotConfiguredError, TokenError } from './errors';
import type { IntuitTokenResponse, RevokeResult } from './intuit-oauth';
import { SecretRegistry, type LogFn } from './log';
import type { AdoptAuthorizationInput } from './token-manager';

/** The protocol calls the flow needs (IntuitOAuth implements them). */
export interface ConnectOAuth {
  buildAuthorizeUrl(params: { state: string; redirectUri: string; scopes: string[] }): string;
  exchangeCode(code: string, redirectUri: string): Promise<IntuitTokenResponse>;
  revoke(token: string): Promise<RevokeResult>;
}

/** The engine calls the flow needs (TokenManager implements them). */
export interface ConnectTokens {
  adoptAuthorization(input: AdoptAuthorizationInput): Promise<TokenStatus>;
  /**
   * Once no refresh of this process is in flight, and holding the connection's lock: `revoke` gets the
   * refresh token in use (the newest any process sharing the store has), then the tokens are forgotten
   * unless it threw. A lock held elsewhere past the engine's wait is StoreLockTimeoutError (store_busy):
   * nothing revoked, nothing forgotten.
   */
  disconnect(revoke: RevokeStep): Promise<TokenStatus>;
  getStatus(): TokenStatus;
}

/** Where flows go when the desk has several connections (ConnectionRegistry implements it). */
export interface ConnectTargets {
  /** The environment a request's flow runs in: the connection's own, the one asked for, or the default. */
  environmentFor(request: ConnectRequest): QbEnvironment;
  /** The environment's app keys; null when they are not configured. */
  oauthFor(environment: QbEnvironment): ConnectOAuth | null;
  /** The connection an authorization for `realmId` lands in: the one of that realm, or a new one. */
  tokensForRealm(realmId: string, environment: QbEnvironment): Promise<ConnectTokens>;
  /** A connection's engine (default: the default connection's); throws UnknownConnectionError. */
  tokensOf(connectionId?: ConnectionId): ConnectTokens;
}

export interface ConnectFlowOptions {
  /** One connection: null without QB_CLIENT_ID/QB_CLIENT_SECRET (begin() then refuses, disconnect() cannot revoke). */
  oauth?: ConnectOAuth | null;
  tokens?: ConnectTokens;
  /** Several connections: replaces oauth and tokens. */
  targets?: ConnectTargets;
  /** QB_SCOPES. */
  scopes: readonly string[];
  /** How long a started flow waits for its redirect, ms (default 10 minutes, Intuit's code lifetime). */
  flowTtlMs?: number;
  now?: () => number;
  log?: LogFn;
  /** The code is added here so the log redacts it. */
  secrets?: SecretRegistry;
}

/** Why a redirect was refused; the pages and tests branch on it. */
export type ConnectRefusalReason =
  'state_mismatch' | 'replay' | 'expired' | 'denied' | 'bad_callback' | 'exchange_failed' | 'timeout';

/** A refused or failed redirect (code `connect_failed`), with the reason for the page shown to the user. */
export class ConnectRefusedError extends ConnectError {
  override name = 'ConnectRefusedError';
  constructor(
    readonly reason: ConnectRefusalReason,
    message: string,
    intuitTid: string | null = null,
  ) {
    super('connect_failed', message, intuitTid);
  }
}

export const DEFAULT_FLOW_TTL_MS = 10 * 60_000;
/** Finished states and used codes are remembered this long, to name a replay as one. */
const REMEMBER_MS = 60 * 60_000;
/** Bounds on what is kept, so repeated /connect calls cannot grow memory without limit. */
const MAX_PENDING = 20;
const MAX_REMEMBERED = 200;

interface PendingFlow {
  redirectUri: string;
  environment: QbEnvironment;
  startedAt: number;
  expiresAt: number;
}

/** The targets of a desk with one connection (the flow's original options). */
function singleTarget(options: ConnectFlowOptions): ConnectTargets {
  const tokens = options.tokens;
  if (!tokens) throw new TypeError('OAuthConnectFlow needs `targets`, or `tokens` for one connection.');
  const oauth = options.oauth ?? null;
  const environment = (): QbEnvironment => tokens.getStatus().environment;
  return {
    environmentFor: () => environment(),
    oauthFor: () => oauth,
    tokensForRealm: async () => tokens,
    tokensOf: () => tokens,
  };
}

export class OAuthConnectFlow implements ConnectFlow {
  private readonly targets: ConnectTargets;
  private readonly scopes: string[];
  private readonly flowTtlMs: number;
  private readonly now: () => number;
  private readonly log: LogFn;
  private readonly secrets: SecretRegistry;
  private readonly pending = new Map<string, PendingFlow>();
  /** state -> when it was used (or refused as expired). */
  private readonly finishedStates = new Map<string, number>();
  /** sha256(code) -> when it was sent to Intuit. The code itself is never kept. */
  private readonly usedCodes = new Map<string, number>();

  constructor(options: ConnectFlowOptions) {
    this.targets = options.targets ?? singleTarget(options);
    this.scopes = options.scopes.length > 0 ? [...options.scopes] : ['com.intuit.quickbooks.accounting'];
    this.flowTtlMs = options.flowTtlMs ?? DEFAULT_FLOW_TTL_MS;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => undefined);
    this.secrets = options.secrets ?? new SecretRegistry();
  }

  /** Whether begin() can run for the default environment (its app keys are configured). */
  get available(): boolean {
    return this.targets.oauthFor(this.targets.environmentFor({})) !== null;
  }

  /** Lifetime of a started flow, ms (the desktop listener's timeout never outlives it). */
  get ttlMs(): number {
    return this.flowTtlMs;
  }

  begin(redirectUri: string, request: ConnectRequest = {}): { authorizeUrl: string; state: string } {
    const environment = this.targets.environmentFor(request);
    const oauth = this.targets.oauthFor(environment);
    if (!oauth) {
      const own = environment === 'sandbox' ? 'QB_SANDBOX_CLIENT_ID' : 'QB_PRODUCTION_CLIENT_ID';
      throw new NotConfiguredError(
        `Connecting needs the Intuit app keys: set QB_CLIENT_ID and QB_CLIENT_SECRET (or, for ${environment} companies, ${own} and its secret), then restart.`,
      );
    }
    checkRedirectUri(redirectUri);
    this.prune();
    // 256 random bits: unguessable, and URL-safe as is.
    const state = randomBytes(32).toString('base64url');
    const at = this.now();
    this.pending.set(state, { redirectUri, environment, startedAt: at, expiresAt: at + this.flowTtlMs });
    while (this.pending.size > MAX_PENDING) {
      const oldest = this.pending.keys().next().value as string;
      this.pending.delete(oldest);
      this.remember(this.finishedStates, oldest);
    }
    const authorizeUrl = oauth.buildAuthorizeUrl({ state, redirectUri, scopes: this.scopes });
    this.log(`Connect started: waiting for Intuit's redirect to ${redirectUri}.`);
    return { authorizeUrl, state };
  }

  /** Whether `state` belongs to a flow still waiting for its redirect. */
  isPending(state: string): boolean {
    return this.pending.has(state);
  }

  async complete(query: URLSearchParams): Promise<TokenStatus> {
    const state = query.get('state') ?? '';
    const flow = this.pending.get(state);
    if (!flow) {
      if (state !== '' && this.finishedStates.has(state)) {
        throw new ConnectRefusedError(
          'replay',
          'This sign-in answer was already used (a reload, or a replayed link), so it was refused. An authorization code is exchanged once only; nothing was changed.',
        );
      }
      throw new ConnectRefusedError(
        'state_mismatch',
        'The sign-in answer does not belong to a Connect attempt this app started (state mismatch), so it was refused. Nothing was changed; start Connect again from QB Token Desk.',
      );
    }
    // Used from here on, before anything awaits: a second hit of the same redirect is a replay.
    this.pending.delete(state);
    this.remember(this.finishedStates, state);
    if (this.now() >= flow.expiresAt) {
      throw new ConnectRefusedError(
        'expired',
        `This Connect attempt expired (it waits ${Math.round(this.flowTtlMs / 60_000)} minutes for the answer from Intuit). Nothing was changed; start Connect again.`,
      );
    }
    const error = query.get('error');
    if (error !== null) {
      const said = /^[a-z_]{1,64}$/.test(error) ? error : 'an unreadable error';
      const cancelled = said === 'access_denied' ? ' (the request was declined or cancelled)' : '';
      throw new ConnectRefusedError(
        'denied',
        `Intuit did not grant access: it answered ${said}${cancelled}. Nothing was changed; start Connect again to retry.`,
      );
    }
    const code = query.get('code');
    if (!code) {
      throw new ConnectRefusedError(
        'bad_callback',
        'The redirect from Intuit carried no authorization code ("code" is missing). Nothing was changed; start Connect again.',
      );
    }
    this.secrets.add(code);
    const realmId = query.get('realmId');
    if (!realmId || !isValidRealmId(realmId)) {
      throw new ConnectRefusedError(
        'bad_callback',
        'The redirect from Intuit carried no usable company id ("realmId" must be digits). Nothing was changed; start Connect again.',
      );
    }
    const fingerprint = createHash('sha256').update(code, 'utf8').digest('hex');
    if (this.usedCodes.has(fingerprint)) {
      throw new ConnectRefusedError(
        'replay',
        'This authorization code was already exchanged, so it was refused: sending it to Intuit again would revoke the connection it created. Nothing was changed.',
      );
    }
    this.remember(this.usedCodes, fingerprint);
    const oauth = this.targets.oauthFor(flow.environment);
    if (!oauth) throw new NotConfiguredError();

    let answer: IntuitTokenResponse;
    try {
      answer = await oauth.exchangeCode(code, flow.redirectUri);
    } catch (err) {
      const failure = exchangeFailure(err);
      this.log(`Connect failed: ${failure.message}`);
      throw failure;
    }
    this.secrets.add(answer.accessToken, answer.refreshToken);
    const tokens = await this.targets.tokensForRealm(realmId, flow.environment);
    // adoptAuthorization writes the store before it emits the connected status.
    const status = await tokens.adoptAuthorization({
      accessToken: answer.accessToken,
      refreshToken: answer.refreshToken,
      expiresIn: answer.expiresIn,
      refreshExpiresIn: answer.refreshExpiresIn,
      hardExpiresIn: answer.hardExpiresIn,
      realmId,
    });
    this.log(`Connected to company ${realmId}; intuit_tid ${answer.intuitTid ?? 'none'}.`);
    return status;
  }

  async disconnect(options: DisconnectOptions = {}): Promise<TokenStatus> {
    const force = options.force === true;
    const tokens = this.targets.tokensOf(options.connectionId);
    const oauth = this.targets.oauthFor(tokens.getStatus().environment);
    return tokens.disconnect((token) => this.revokeAtIntuit(token, oauth, force));
  }

  /** Disconnect's revoke: the history's ending once the tokens may be forgotten; throws to keep them. */
  private async revokeAtIntuit(
    token: string | null,
    oauth: ConnectOAuth | null,
    force: boolean,
  ): Promise<string> {
    if (token === null) return TOKENS_FORGOTTEN;
    if (!oauth) {
      if (!force) {
        throw new ConnectError(
          'revoke_failed',
          'The refresh token cannot be revoked at Intuit because QB_CLIENT_ID and QB_CLIENT_SECRET are not set.',
        );
      }
      this.log('Disconnect: no app keys to revoke with; forgetting the tokens as confirmed.');
      return 'the stored tokens were forgotten without revoking them at Intuit (no app keys), as confirmed.';
    }
    let revoked: RevokeResult;
    try {
      revoked = await oauth.revoke(token);
    } catch (err) {
      const failure = revokeFailure(err);
      if (!force) {
        this.log(`Disconnect: ${failure.message} The tokens are kept.`);
        throw failure;
      }
      this.log(`Disconnect: ${failure.message} Forgetting the tokens anyway, as confirmed.`);
      return `${failure.message} The stored tokens were forgotten anyway, as confirmed.`;
    }
    const tid = `intuit_tid ${revoked.intuitTid ?? 'none'}`;
    if (revoked.outcome === 'already_invalid') {
      // Intuit's 400: it holds no such token, so nothing is left there to revoke.
      this.log(`Disconnect: ${NOTHING_TO_REVOKE} (${tid}). Forgetting the tokens.`);
      return `${NOTHING_TO_REVOKE}. The stored tokens were forgotten.`;
    }
    this.log(`Disconnect: Intuit revoked the refresh token; ${tid}.`);
    return 'Intuit revoked the refresh token, and the stored tokens were forgotten.';
  }

  private remember(map: Map<string, number>, key: string): void {
    map.delete(key);
    map.set(key, this.now());
    while (map.size > MAX_REMEMBERED) map.delete(map.keys().next().value as string);
  }

  /** Drops flows long past their expiry (an expired one is still named as expired for a while). */
  private prune(): void {
    const now = this.now();
    for (const [state, flow] of this.pending) {
      if (now >= flow.expiresAt + REMEMBER_MS) this.pending.delete(state);
    }
    for (const map of [this.finishedStates, this.usedCodes]) {
      for (const [key, at] of map) if (now >= at + REMEMBER_MS) map.delete(key);
    }
  }
}

/** What Disconnect says when Intuit answered the revoke with 400: the token was already dead. */
export const NOTHING_TO_REVOKE = 'Intuit had nothing to revoke: the token was already invalid';

function checkRedirectUri(redirectUri: string): void {
  let url: URL;
  try {
    url = new URL(redirectUri);
  } catch {
    throw new ConnectError(
      'connect_failed',
      `The redirect URI must be an absolute URL such as http://localhost:8765/callback (check QB_REDIRECT_URI).`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConnectError(
      'connect_failed',
      'The redirect URI must be an http(s) URL (check QB_REDIRECT_URI).',
    );
  }
}

/** The exchange failed: a sentence about the code (TokenError's own messages speak of refresh tokens). */
function exchangeFailure(err: unknown): ConnectRefusedError {
  if (!(err instanceof TokenError)) {
    return new ConnectRefusedError(
      'exchange_failed',
      'Exchanging the authorization code failed unexpectedly. Start Connect again.',
    );
  }
  const tid = err.intuitTid;
  const why: Record<TokenError['kind'], string> = {
    invalid_grant:
      'Intuit refused the authorization code (invalid_grant): it expired, was already used, or the redirect URI differs from the one used to ask for it',
    invalid_client:
      "Intuit refused the app's keys (invalid_client): check QB_CLIENT_ID, QB_CLIENT_SECRET and QB_ENVIRONMENT",
    network: "Intuit's token endpoint could not be reached",
    timeout: "Intuit's token endpoint did not answer in time",
    server: `Intuit's token endpoint answered with a server error${err.status ? ` (HTTP ${err.status})` : ''}`,
    rate_limited: "Intuit's token endpoint is throttling requests (HTTP 429)",
    bad_response: "Intuit's token endpoint answered with something that is not a token response",
  };
  return new ConnectRefusedError(
    'exchange_failed',
    `${why[err.kind]}${tid ? ` (intuit_tid ${tid})` : ''}. A code is never sent twice, so nothing was changed; start Connect again.`,
    tid,
  );
}

function revokeFailure(err: unknown): ConnectError {
  if (!(err instanceof TokenError)) {
    return new ConnectError('revoke_failed', 'Revoking the refresh token at Intuit failed unexpectedly.');
  }
  const status = err.status ? ` (HTTP ${err.status})` : '';
  const why: Record<TokenError['kind'], string> = {
    invalid_grant: `Intuit refused the revoke request${status}`,
    invalid_client: `Intuit refused the app's keys${status}: check QB_CLIENT_ID and QB_CLIENT_SECRET`,
    network: 'Intuit could not be reached',
    timeout: 'Intuit did not answer in time',
    server: `Intuit answered with a server error${status}`,
    rate_limited: 'Intuit is throttling requests (HTTP 429)',
    bad_response: `Intuit answered unexpectedly${status}`,
  };
  const tid = err.intuitTid ? ` (intuit_tid ${err.intuitTid})` : '';
  return new ConnectError(
    'revoke_failed',
    `Revoking the refresh token at Intuit failed: ${why[err.kind]}${tid}.`,
    err.intuitTid,
  );
}
