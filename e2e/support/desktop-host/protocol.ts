// Messages between the Playwright side (host.ts) and the host process (host-main.ts), carried by
// Node's IPC channel with the `advanced` (structured clone) serialization.
import type { HostEvent } from './electron-stand-in';

export type { HostEvent };

export interface HostCall {
  kind: 'call';
  id: number;
  method: string;
  args: unknown[];
}

export type HostMessage =
  | { kind: 'started' }
  | { kind: 'event'; event: HostEvent }
  | { kind: 'reply'; id: number; ok: true; value: unknown }
  | { kind: 'reply'; id: number; ok: false; error: string };
