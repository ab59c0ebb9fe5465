// Connect and Disconnect for the desktop app: Connect opens Intuit's consent page in the system
// browser (shell.openExternal, injected so this runs and is tested on Node) and waits for the
// redirect on the one-shot loopback listener; Disconnect is the shared flow's revoke-then-forget.
// No electron import here: index.ts passes `shell.openExternal` in.
import type { ConnectFlow } from '../core/desk';
import { ConnectError } from '../core/errors';
import type { LogFn } from '../core/log';
import { startLoopbackCallback, type LoopbackCallback } from '../core/loopback-callback';
import type { ConnectRequest, DisconnectOptions, TokenStatus } from '../shared/contract';
import type { ConnectActions } from './handlers';

interface DesktopConnectOptions {
  flow: ConnectFlow;
  /** `shell.openExternal`: opens a URL in the user's default browser. */
  openExternal: (url: string) => Promise<void>;
  /** QB_REDIRECT_URI; null = http://localhost:<free port>/callback. */
  redirectUri: string | null;
  /** How long to wait for the browser to come back (default: the listener's 5 minutes). */
  timeoutMs?: number;
  log?: LogFn;
}

interface DesktopConnectActions extends ConnectActions {
  /** Stops an attempt still waiting for the browser (app quit). */
  cancel(): Promise<void>;
}

export function desktopConnectActions(options: DesktopConnectOptions): DesktopConnectActions {
  const log = options.log ?? (() => undefined);
  let attempt: {
    ready: Promise<LoopbackCallback>;
    result: Promise<TokenStatus>;
    request: ConnectRequest | undefined;
  } | null = null;

  async function open(url: string): Promise<void> {
    // Only Intuit's (or the configured emulator's) consent page ever goes to the shell.
    const { protocol } = new URL(url);
    if (protocol !== 'https:' && protocol !== 'http:') {
      throw new ConnectError(
        'connect_failed',
        'The authorize URL is not an http(s) URL (check QB_AUTHORIZE_URL).',
      );
    }
    try {
      await options.openExternal(url);
    } catch {
      throw new ConnectError(
        'connect_failed',
        "The system browser could not be opened for Intuit's sign-in page. Check that a default browser is set, then try Connect again.",
      );
    }
  }

  function start(request?: ConnectRequest): Promise<TokenStatus> {
    const ready = startLoopbackCallback({
      flow: options.flow,
      redirectUri: options.redirectUri,
      request,
      timeoutMs: options.timeoutMs,
      log,
    });
    const result = ready
      .then(async (listener) => {
        try {
          await open(listener.authorizeUrl);
        } catch (err) {
          await listener.close();
          throw err;
        }
        log('Connect: opened the consent page in the system browser; waiting for the redirect.');
        return listener.result;
      })
      .finally(() => {
        if (attempt?.result === result) attempt = null;
      });
    // Set before anything awaits, so a second click joins this attempt.
    attempt = { ready, result, request };
    return result;
  }

  return {
    async connect(request?: ConnectRequest) {
      const current = attempt;
      if (current) {
        // Another Connect (another company, another environment) cannot share this consent page:
        // the answer would go to the first one's connection. Say so instead of dropping it.
        if (!sameConnectRequest(current.request, request)) {
          throw new ConnectError(
            'connect_failed',
            'Another Connect is waiting for Intuit in the browser: finish or close that sign-in first, then try again.',
          );
        }
        // A second click while waiting: show the same consent page again rather than start over.
        await open((await current.ready).authorizeUrl);
        return current.result;
      }
      return start(request);
    },
    disconnect(disconnectOptions?: DisconnectOptions) {
      return options.flow.disconnect(disconnectOptions);
    },
    async cancel() {
      const current = attempt;
      if (current) await (await current.ready.catch(() => null))?.close();
    },
  };
}

function sameConnectRequest(a: ConnectRequest | undefined, b: ConnectRequest | undefined): boolean {
  return (
    a?.connectionId === b?.connectionId &&
    (a?.connectionId !== undefined || a?.environment === b?.environment)
  );
}
