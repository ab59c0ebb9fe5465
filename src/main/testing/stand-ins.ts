// Small hand-written stand-ins for the Electron objects the main process and preload take as
// parameters. They record what the code under test did; they hold no logic of their own.
import type { IpcMainLike, SenderEvent } from '../ipc';

type InvokeListener = (event: SenderEvent, ...args: unknown[]) => Promise<unknown>;

export class IpcMainStandIn implements IpcMainLike {
  readonly handlers = new Map<string, InvokeListener>();

  handle(channel: string, listener: InvokeListener): void {
    // Electron throws on a second handler for one channel; so does the stand-in.
    if (this.handlers.has(channel))
      throw new Error(`Attempted to register a second handler for '${channel}'`);
    this.handlers.set(channel, listener);
  }

  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  }

  /** What ipcRenderer.invoke would resolve with, for a call from `event`'s frame. */
  async invoke(channel: string, event: SenderEvent, ...args: unknown[]): Promise<unknown> {
    const listener = this.handlers.get(channel);
    if (!listener) throw new Error(`No handler registered for '${channel}'`);
    return listener(event, ...args);
  }
}

export function frameEvent(url: string, parent: unknown = null): SenderEvent {
  return { senderFrame: { url, parent } };
}
