// The main side of the bridge: one `ipcMain.handle` per contract channel. Every call is checked
// against the sender and every outcome, thrown errors included, becomes a Result: nothing throws
// across IPC (a thrown error would reach the renderer as an opaque, possibly revealing string).
import { IPC_CHANNELS, type QbTokensBridge, type Result, type ResultError } from '../shared/contract';
import { isSameDocument } from './security';

export type InvokeMethod = keyof typeof IPC_CHANNELS;

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

export type TrustedSenderCheck = (event: SenderEvent) => boolean;

/** Turns anything thrown into a ResultError. Must never put a token value into the message. */
export type ErrorMapper = (error: unknown) => ResultError;

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
export const opaqueError: ErrorMapper = () => ({
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
export function handle<T>(
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

export interface RegisterOptions {
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

  on('getStatus', () => handlers.getStatus());
  on('refresh', () => handlers.refresh());
  on('clear', () => handlers.clear());
  on('testConnection', () => handlers.testConnection());
  on('connect', () => handlers.connect());
  on('disconnect', (options) => {
    const parsed = parseDisconnectOptions(options);
    return parsed.ok ? handlers.disconnect(parsed.value) : parsed;
  });

  return () => {
    for (const channel of Object.values(IPC_CHANNELS)) ipcMain.removeHandler(channel);
  };
}

function parseDisconnectOptions(value: unknown): Result<{ force?: boolean } | undefined> {
  if (value === undefined || value === null) return { ok: true, value: undefined };
  if (typeof value === 'object' && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const force = (value as { force?: unknown }).force;
    if (keys.every((k) => k === 'force') && (force === undefined || typeof force === 'boolean')) {
      return { ok: true, value: force === undefined ? {} : { force } };
    }
  }
  return {
    ok: false,
    error: { code: 'bad_request', message: 'disconnect options must be { force?: boolean } or nothing.' },
  };
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
