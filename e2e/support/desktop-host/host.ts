// The Playwright side of the desktop host: starts host-main.ts as a Node child process (the built
// main bundle under the electron stand-in), calls into it, and hears what main did to windows.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../../../scripts/electron-path.mjs';
import type { HostEvent, HostMessage } from './protocol';

export const MAIN_BUNDLE = join(projectRoot, 'out', 'main', 'index.js');
export const PRELOAD_BUNDLE = join(projectRoot, 'out', 'preload', 'index.cjs');
const HERE = join(projectRoot, 'e2e', 'support', 'desktop-host');

export interface HostWindow {
  id: number;
  visible: boolean;
  url: string;
  bounds: { x: number; y: number; width: number; height: number };
  webPreferences: Record<string, unknown> | null;
}

export interface DesktopHost {
  /** Calls a host function (host-main.ts `calls`). */
  call<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
  /** Everything main's process wrote to stdout and stderr so far. */
  output(): string;
  on(listener: (event: HostEvent) => void): void;
  /** Waits for an event matching `test` (already seen ones count). */
  waitFor<E extends HostEvent>(test: (event: HostEvent) => event is E, timeoutMs?: number): Promise<E>;
  readonly events: HostEvent[];
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      value === undefined ||
      key.startsWith('QB_') ||
      key.startsWith('DESKTOP_HOST_') ||
      key === 'NODE_OPTIONS'
    )
      continue;
    env[key] = value;
  }
  return env;
}

export async function startDesktopHost(options: {
  dataDir: string;
  env?: Record<string, string>;
  /** Command-line switches of the app (the stand-in's app.commandLine reads them). */
  args?: string[];
}): Promise<DesktopHost> {
  if (!existsSync(MAIN_BUNDLE)) throw new Error(`${MAIN_BUNDLE} is missing: run \`npm run build\` first.`);
  const tsx = pathToFileURL(createRequire(join(projectRoot, 'package.json')).resolve('tsx')).href;
  const child: ChildProcess = fork(join(HERE, 'host-main.ts'), options.args ?? [], {
    // The working directory is the data directory, so no .env of the developer's is read.
    cwd: options.dataDir,
    execArgv: ['--import', tsx, '--import', pathToFileURL(join(HERE, 'register-electron.mjs')).href],
    env: {
      ...cleanEnv(),
      QB_DATA_DIR: options.dataDir,
      XDG_CONFIG_HOME: join(options.dataDir, 'xdg-config'),
      DESKTOP_HOST_MAIN: MAIN_BUNDLE,
      DESKTOP_HOST_APP_PATH: projectRoot,
      ...options.env,
    },
    serialization: 'advanced',
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  let nextId = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const events: HostEvent[] = [];
  const listeners: ((event: HostEvent) => void)[] = [];
  let started: () => void = () => undefined;
  const startedPromise = new Promise<void>((resolve) => (started = resolve));

  child.on('message', (message: HostMessage) => {
    if (message.kind === 'started') started();
    else if (message.kind === 'event') {
      events.push(message.event);
      for (const listener of listeners) listener(message.event);
    } else if (message.kind === 'reply') {
      const call = pending.get(message.id);
      pending.delete(message.id);
      if (message.ok) call?.resolve(message.value);
      else call?.reject(new Error(`desktop host: ${message.error}`));
    }
  });
  void exited.then((code) => {
    for (const call of pending.values()) call.reject(new Error(`desktop host exited (${code}):\n${output}`));
    pending.clear();
  });

  // main may also exit at once (a refusal): then `exited` tells the caller.
  await Promise.race([startedPromise, exited]);

  const host: DesktopHost = {
    events,
    exited,
    call<T>(method: string, ...args: unknown[]): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        if (!child.connected) return reject(new Error(`desktop host is gone:\n${output}`));
        const id = nextId++;
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ kind: 'call', id, method, args });
      });
    },
    output: () => output,
    on: (listener) => void listeners.push(listener),
    waitFor<E extends HostEvent>(test: (event: HostEvent) => event is E, timeoutMs = 15_000): Promise<E> {
      const seen = events.find(test);
      if (seen) return Promise.resolve(seen);
      return new Promise<E>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error('desktop host: timed out waiting for an event')),
          timeoutMs,
        );
        listeners.push((event) => {
          if (test(event)) {
            clearTimeout(timer);
            resolve(event);
          }
        });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // Quit as the app would (the engine shuts down, the demo emulator closes); kill if it hangs.
      host.call('quit').catch(() => undefined);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  return host;
}
