import { describe, expect, it } from 'vitest';
import {
  BRIDGE_METHODS,
  COMMAND_CHANNEL,
  IPC_CHANNELS,
  STATUS_CHANGED_CHANNEL,
  type Result,
  type TokenStatus,
} from '../shared/contract';
import { BRIDGE_GLOBAL, createBridge, exposeBridge } from './bridge';

type RendererListener = (event: unknown, ...args: unknown[]) => void;

/** Stand-in for ipcRenderer: records invocations, answers with `answer`, delivers pushes like webContents.send. */
class IpcRendererStandIn {
  readonly invocations: { channel: string; args: unknown[] }[] = [];
  readonly listeners = new Map<string, Set<RendererListener>>();
  answer: (channel: string, args: unknown[]) => Promise<unknown> = async (channel) => ({
    ok: true,
    value: channel,
  });

  invoke(channel: string, ...args: unknown[]): Promise<unknown> {
    this.invocations.push({ channel, args });
    return this.answer(channel, args);
  }

  on(channel: string, listener: RendererListener): this {
    if (!this.listeners.has(channel)) this.listeners.set(channel, new Set());
    this.listeners.get(channel)?.add(listener);
    return this;
  }

  removeListener(channel: string, listener: RendererListener): this {
    this.listeners.get(channel)?.delete(listener);
    return this;
  }

  emit(channel: string, ...args: unknown[]): void {
    const event = { sender: this, senderId: 0, ports: [] };
    for (const listener of this.listeners.get(channel) ?? []) listener(event, ...args);
  }
}

/** Stand-in for contextBridge: keeps what was exposed, refuses a key twice like Electron. */
class ContextBridgeStandIn {
  readonly exposed = new Map<string, unknown>();

  exposeInMainWorld(apiKey: string, api: unknown): void {
    if (this.exposed.has(apiKey))
      throw new Error(`Cannot bind an API on top of an existing property: ${apiKey}`);
    this.exposed.set(apiKey, api);
  }
}

const status = { state: 'valid' } as TokenStatus;

describe('preload bridge', () => {
  it('exposes exactly one global, window.qbTokens, holding exactly the contract methods', () => {
    const contextBridge = new ContextBridgeStandIn();
    exposeBridge(contextBridge, new IpcRendererStandIn());
    expect([...contextBridge.exposed.keys()]).toEqual([BRIDGE_GLOBAL]);
    expect(BRIDGE_GLOBAL).toBe('qbTokens');
    const bridge = contextBridge.exposed.get('qbTokens') as Record<string, unknown>;
    expect(Object.keys(bridge).sort()).toEqual([...BRIDGE_METHODS].sort());
    for (const key of BRIDGE_METHODS) expect(typeof bridge[key]).toBe('function');
  });

  it('does not hand ipcRenderer or any of its methods to the page', () => {
    const ipc = new IpcRendererStandIn();
    const bridge = createBridge(ipc) as unknown as Record<string, unknown>;
    for (const value of Object.values(bridge)) {
      expect(value).not.toBe(ipc);
      expect(value).not.toBe(ipc.invoke);
      expect(value).not.toBe(ipc.on);
    }
  });

  it('sends each action on its contract channel and returns main’s Result unchanged', async () => {
    const ipc = new IpcRendererStandIn();
    const bridge = createBridge(ipc);
    await expect(bridge.getStatus()).resolves.toEqual({ ok: true, value: IPC_CHANNELS.getStatus });
    await bridge.refresh();
    await bridge.clear();
    await bridge.testConnection();
    await bridge.connect();
    await bridge.disconnect({ force: true });
    expect(ipc.invocations).toEqual([
      { channel: IPC_CHANNELS.getStatus, args: [] },
      { channel: IPC_CHANNELS.refresh, args: [] },
      { channel: IPC_CHANNELS.clear, args: [] },
      { channel: IPC_CHANNELS.testConnection, args: [] },
      { channel: IPC_CHANNELS.connect, args: [] },
      { channel: IPC_CHANNELS.disconnect, args: [{ force: true }] },
    ]);
  });

  it('passes only the known disconnect option, as a plain value', async () => {
    const ipc = new IpcRendererStandIn();
    const bridge = createBridge(ipc);
    await bridge.disconnect({ force: true, extra: 'x' } as never);
    await bridge.disconnect();
    expect(ipc.invocations.map((i) => i.args)).toEqual([[{ force: true }], [{}]]);
  });

  it('resolves with { ok: false } when main does not answer, instead of rejecting in the page', async () => {
    const ipc = new IpcRendererStandIn();
    ipc.answer = async () => {
      throw new Error("Error invoking remote method 'tokens:refresh': no handler");
    };
    const result: Result<TokenStatus> = await createBridge(ipc).refresh();
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('internal');
      expect(result.error.message).not.toContain('remote method');
    }
  });

  it('onStatusChanged hands the page the status only, never the IPC event', () => {
    const ipc = new IpcRendererStandIn();
    const received: unknown[][] = [];
    createBridge(ipc).onStatusChanged((...args: unknown[]) => received.push(args));
    ipc.emit(STATUS_CHANGED_CHANNEL, status);
    expect(received).toEqual([[status]]);
  });

  it('onStatusChanged returns a working unsubscribe and leaves other subscribers alone', () => {
    const ipc = new IpcRendererStandIn();
    const bridge = createBridge(ipc);
    const first: TokenStatus[] = [];
    const second: TokenStatus[] = [];
    const stopFirst = bridge.onStatusChanged((s) => first.push(s));
    bridge.onStatusChanged((s) => second.push(s));
    ipc.emit(STATUS_CHANGED_CHANNEL, status);
    stopFirst();
    ipc.emit(STATUS_CHANGED_CHANNEL, status);
    expect(first).toHaveLength(1);
    expect(second).toHaveLength(2);
    expect(ipc.listeners.get(STATUS_CHANGED_CHANNEL)?.size).toBe(1);
  });

  it('onCommand hands the page only the known commands, and unsubscribes', () => {
    const ipc = new IpcRendererStandIn();
    const received: unknown[] = [];
    const stop = createBridge(ipc).onCommand?.((command) => received.push(command));
    ipc.emit(COMMAND_CHANNEL, 'refresh');
    ipc.emit(COMMAND_CHANNEL, 'disconnect');
    ipc.emit(COMMAND_CHANNEL, { toString: () => 'clear' });
    ipc.emit(COMMAND_CHANNEL, 'testConnection');
    stop?.();
    ipc.emit(COMMAND_CHANNEL, 'clear');
    expect(received).toEqual(['refresh', 'testConnection']);
    expect(ipc.listeners.get(COMMAND_CHANNEL)?.size).toBe(0);
  });
});
