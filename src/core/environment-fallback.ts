// QB_ACCESS_TOKEN, the environment's access token: what callers get when there is no chain, when a
// refresh failed, or when the refresh token was rejected. It cannot be renewed and its expiry is
// unknown, but an access token lives an hour: one first seen at start is certainly dead an hour
// later. It is not offered once the API refused it (a 401 naming it) or the connection was
// disconnected here. While callers are being given it the status says so (source 'environment'),
// and the first time it stands in is recorded in the history.
import { previewToken } from '../shared/preview';
import { NotConfiguredError, TokenError } from './errors';
import { environmentTokenUsable, type EnvironmentAccessToken } from './token-status';

/** Access tokens live one hour: an environment token first seen at T is certainly dead by T + 1 h. */
export const ENV_ACCESS_TOKEN_MAX_LIFETIME_MS = 3600_000;

/** The history event to record when the environment's token starts standing in. */
interface FallbackNotice {
  message: string;
  intuitTid: string | null;
}

export class EnvironmentFallback {
  /** Callers are being given the environment's token (until a refresh works again). */
  active = false;
  /** Disconnected here: the environment's token is not offered either. */
  forgotten = false;
  /** The API answered 401 to it. */
  private refused = false;

  /** `value` is QB_ACCESS_TOKEN (null when unset); `startedAt` is when this process first saw it. */
  constructor(
    private readonly value: string | null,
    private readonly startedAt: number,
  ) {}

  /** The token with what is known of it (for the status), or null when QB_ACCESS_TOKEN is unset. */
  token(): EnvironmentAccessToken | null {
    const value = this.value;
    if (value === null) return null;
    return {
      value,
      expiresAt: this.startedAt + ENV_ACCESS_TOKEN_MAX_LIFETIME_MS,
      usable: !this.forgotten && !this.refused,
    };
  }

  /** Set, not refused by the API, not forgotten, and not older than an access token lives. */
  usable(now: number): boolean {
    return environmentTokenUsable(this.token(), now);
  }

  /** An API call with `staleAccessToken` got 401: when that is the environment's token, it is dead. */
  refusedWith(staleAccessToken: string): boolean {
    if (staleAccessToken !== this.value) return false;
    this.refused = true;
    return true;
  }

  /**
   * The token for a caller (`cause`: the refresh error that made it necessary, if any), and the first
   * time it stands in, what to record. Throws NotConfiguredError when QB_ACCESS_TOKEN is unset.
   */
  standIn(cause: unknown): { token: string; notice: FallbackNotice | null } {
    const token = this.value;
    if (!token) throw new NotConfiguredError();
    if (this.active) return { token, notice: null };
    this.active = true;
    const why = cause instanceof TokenError ? ` after the refresh failed (${cause.kind})` : '';
    return {
      token,
      notice: {
        message: `Using QB_ACCESS_TOKEN (${previewToken(token)}) from the environment${why}; it cannot be renewed and expires within the hour.`,
        intuitTid: cause instanceof TokenError ? cause.intuitTid : null,
      },
    };
  }
}
