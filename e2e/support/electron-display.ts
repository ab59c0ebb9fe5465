// Electron needs an X display on Linux. `npm test` already runs Playwright under `xvfb-run -a`;
// `npm run test:electron` on a headless Linux box gets a private Xvfb per worker from here.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface VirtualDisplay {
  display: string;
  stop(): Promise<void>;
}

export function needsVirtualDisplay(env: Record<string, string | undefined> = process.env): boolean {
  return process.platform === 'linux' && !env.DISPLAY && !env.WAYLAND_DISPLAY;
}

/** Starts Xvfb on a free display number (Xvfb picks it and reports it on -displayfd). */
export async function startVirtualDisplay(xvfb = '/usr/bin/Xvfb'): Promise<VirtualDisplay> {
  if (!existsSync(xvfb)) {
    throw new Error(`No display and no ${xvfb}: install Debian's xvfb, or run the tests under xvfb-run -a.`);
  }
  const child: ChildProcess = spawn(
    xvfb,
    ['-displayfd', '1', '-screen', '0', '1280x1024x24', '-nolisten', 'tcp'],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  const number = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`Xvfb exited (${code}) before reporting a display`)));
  });
  return {
    display: `:${number}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
