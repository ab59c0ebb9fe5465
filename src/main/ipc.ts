// The main side of the bridge: one `ipcMain.handle` per contract channel. Every call is checked
// against the sender and every outcome, thrown errors included, becomes a Result: nothing throws
// across IPC (a thrown error would reach the renderer as an opaque, possibly revealing string).
import {
  IPC_CHANNELS,
  type ConnectRequest,
  type DisconnectOptions,
  type QbTokensBridge,
  type RemoveConnectionOptions,
  type Result,
  type ResultError,
} from '../shared/contract';
import { CONNECTION_ID_RULE, isValidConnectionId } from '../shared/ids';
import { isSameDocument } from './security';

type InvokeMethod = keyof typeof IPC_CHANNELS;

/** What main answers for each bridge method; may throw or reject, `handle` turns that into a Result. */
export type IpcHandlers = {
  [K in InvokeMethod]: (...args: Parameters<QbTokensBridge[K]>) => ReturnType<QbTokensBridge[K]>;
};

/** The part of an IPC event that sender validation reads; Electron's IpcMainInvokeEvent satisfies it. */
export interface SenderEvent {
  readonly senderFrame: { readonly url: string; readonly parent: unknown } | null;
}

/** The part of ipcMain this module uses. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: SenderEvent, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}

type TrustedSenderCheck = (event: SenderEvent) => boolean;

/** Turns anything thrown into a ResultError. Must never put a token value into the message. */
type ErrorMapper = (error: unknown) => ResultError;

/**
 * Trusts only the top frame showing the app's own page: not a subframe, not a page the window was
 * somehow navigated to, not a frame that is gone.
 */
export function trustedSenderFor(appUrl: string): TrustedSenderCheck {
  return (event) => {
    const frame = event.senderFrame;
    if (!frame) return false;
    if (frame.parent !== null && frame.parent !== undefined) return false;
    return isSameDocument(frame.url, appUrl);
  };
}

/** The fallback mapper: says nothing about the error beyond that it happened (its text could hold anything). */
const opaqueError: ErrorMapper = () => ({
  code: 'internal',
  message: 'The main process hit an unexpected error; see its log for details.',
});

const FORBIDDEN: ResultError = {
  code: 'forbidden_sender',
  message: 'This request did not come from the app’s own page and was refused.',
};

/**
 * Registers one channel. The listener validates the sender, runs `fn`, and resolves with a Result
 * in every case.
 */
function handle<T>(
  ipcMain: IpcMainLike,
  channel: string,
  fn: (...args: unknown[]) => Promise<Result<T>> | Result<T>,
  isTrustedSender: TrustedSenderCheck,
  toError: ErrorMapper = opaqueError,
): void {
  ipcMain.handle(channel, async (event, ...args): Promise<Result<T>> => {
    let trusted: boolean;
    try {
      trusted = isTrustedSender(event);
    } catch {
      trusted = false;
    }
    if (!trusted) return { ok: false, error: FORBIDDEN };
    try {
      const result = await fn(...args);
      if (!isResult(result)) return { ok: false, error: toError(new Error('handler returned a non-Result')) };
      return result;
    } catch (error) {
      return { ok: false, error: safeMap(toError, error) };
    }
  });
}

interface RegisterOptions {
  toError?: ErrorMapper;
}

/**
 * Registers exactly the contract's channels (IPC_CHANNELS) and returns the function that removes
 * them again. Arguments from the renderer are validated here; handlers receive typed values.
 */
export function registerIpcHandlers(
  ipcMain: IpcMainLike,
  handlers: IpcHandlers,
  isTrustedSender: TrustedSenderCheck,
  options: RegisterOptions = {},
): () => void {
  const toError = options.toError ?? opaqueError;
  const on = <T>(method: InvokeMethod, fn: (...args: unknown[]) => Promise<Result<T>> | Result<T>): void =>
    handle(ipcMain, IPC_CHANNELS[method], fn, isTrustedSender, toError);

  // Each action on the connection the page names (or the default one).
  const withId =
    <T>(fn: (id: string | undefined) => Promise<Result<T>>) =>
    (id: unknown): Promise<Result<T>> | Result<T> => {
      const parsed = parseConnectionId(id, true);
      return parsed.ok ? fn(parsed.value) : parsed;
    };
  on(
    'getStatus',
    withId((id) => handlers.getStatus(id)),
  );
  on(
    'refresh',
    withId((id) => handlers.refresh(id)),
  );
  on(
    'clear',
    withId((id) => handlers.clear(id)),
  );
  on(
    'testConnection',
    withId((id) => handlers.testConnection(id)),
  );
  on('listConnections', () => handlers.listConnections());
  on('connect', (request) => {
    const parsed = parseConnectRequest(request);
    return parsed.ok ? handlers.connect(parsed.value) : parsed;
  });
  on('disconnect', (options) => {
    const parsed = parseDisconnectOptions(options);
    return parsed.ok ? handlers.disconnect(parsed.value) : parsed;
  });
  on('removeConnection', (id, options) => {
    const parsedId = parseConnectionId(id, false);
    if (!parsedId.ok) return parsedId;
    const parsed = parseForceOnly(options, 'removeConnection options');
    return parsed.ok ? handlers.removeConnection(parsedId.value as string, parsed.value) : parsed;
  });

  return () => {
    for (const channel of Object.values(IPC_CHANNELS)) ipcMain.removeHandler(channel);
  };
}

function badRequest(message: string): Result<never> {
  return { ok: false, error: { code: 'bad_request', message } };
}

function isConnectionId(value: unknown): value is string {
  return typeof value === 'string' && isValidConnectionId(value);
}

function parseConnectionId(value: unknown, optional: boolean): Result<string | undefined> {
  if (optional && (value === undefined || value === null)) return { ok: true, value: undefined };
  if (isConnectionId(value)) return { ok: true, value };
  return badRequest(`A connection id is ${CONNECTION_ID_RULE}.`);
}

/** A plain object with only `allowed` keys, or nothing (undefined). */
function plainObject(value: unknown, allowed: readonly string[]): Record<string, unknown> | null | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) return null;
  return Object.keys(value).every((key) => allowed.includes(key)) ? (value as Record<string, unknown>) : null;
}

function parseForceOnly(value: unknown, what: string): Result<RemoveConnectionOptions | undefined> {
  const object = plainObject(value, ['force']);
  if (object === undefined) return { ok: true, value: undefined };
  if (object === null || (object.force !== undefined && typeof object.force !== 'boolean'))
    return badRequest(`${what} must be { force?: boolean } or nothing.`);
  return { ok: true, value: object.force === undefined ? {} : { force: object.force as boolean } };
}

function parseDisconnectOptions(value: unknown): Result<DisconnectOptions | undefined> {
  const object = plainObject(value, ['force', 'connectionId']);
  if (object === undefined) return { ok: true, value: undefined };
  if (
    object !== null &&
    (object.force === undefined || typeof object.force === 'boolean') &&
    (object.connectionId === undefined || isConnectionId(object.connectionId))
  ) {
    const options: DisconnectOptions = {};
    if (object.force !== undefined) options.force = object.force as boolean;
    if (object.connectionId !== undefined) options.connectionId = object.connectionId as string;
    return { ok: true, value: options };
  }
  return badRequest('disconnect options must be { force?: boolean, connectionId?: string } or nothing.');
}

function parseConnectRequest(value: unknown): Result<ConnectRequest | undefined> {
  const object = plainObject(value, ['connectionId', 'environment']);
  if (object === undefined) return { ok: true, value: undefined };
  if (
    object !== null &&
    (object.connectionId === undefined || isConnectionId(object.connectionId)) &&
    (object.environment === undefined ||
      object.environment === 'sandbox' ||
      object.environment === 'production')
  ) {
    const request: ConnectRequest = {};
    if (object.connectionId !== undefined) request.connectionId = object.connectionId as string;
    if (object.environment !== undefined)
      request.environment = object.environment as ConnectRequest['environment'];
    return { ok: true, value: request };
  }
  return badRequest(
    'connect takes { connectionId?: string, environment?: "sandbox" | "production" } or nothing.',
  );
}

function isResult(value: unknown): value is Result<unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const ok = (value as { ok?: unknown }).ok;
  return ok === true ? 'value' in value : ok === false && 'error' in value;
}

function safeMap(toError: ErrorMapper, error: unknown): ResultError {
  try {
    return toError(error);
  } catch {
    return opaqueError(error);
  }
}
