// Test helper: separate "hosts" on this machine, each a network namespace of its own joined to this
// one by a veth pair (host i: 10.<net>.<i>.2 inside, 10.<net>.<i>.1 on this side). A process started
// in a host has its own network stack and its own loopback: it reaches PostgreSQL, or anything this
// side forwards, only across the veth, as a second machine would. Root only (`ip netns`); every
// namespace, link and forwarder is removed by close(), by an exit hook, or with the namespace.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createInterface } from 'node:readline';

/** A TCP forwarder small enough to pass to `node -e`: each argument is listenHost:listenPort:targetHost:targetPort. */
const FORWARDER = `
const net = require('node:net');
const rules = process.argv.slice(1);
let listening = 0;
for (const rule of rules) {
  const [lh, lp, th, tp] = rule.split(':');
  net.createServer((socket) => {
    const upstream = net.connect(Number(tp), th);
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  }).listen(Number(lp), lh, () => { if (++listening === rules.length) console.log('forwarding'); });
}
`;

export interface ForwardRule {
  listen: { host: string; port: number };
  target: { host: string; port: number };
}

/** Null when this machine can create network namespaces (root, iproute2), else why not. */
export function netnsUnavailableReason(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'creating network namespaces needs root';
  if (spawnSync('ip', ['-V']).status !== 0) return 'the `ip` command (iproute2) is missing';
  return null;
}

const live = new Set<TestNetwork>();
process.once('exit', () => {
  for (const network of live) network.closeNow();
});

function ip(...args: string[]): void {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${result.stderr.trim()}`);
}

export class TestNetwork {
  private readonly children = new Set<ChildProcess>();
  private readonly namespaces: string[] = [];

  private constructor(
    /** 10.<net>.0.0/16 */
    private readonly net: number,
    private readonly tag: string,
  ) {}

  /** Creates `hosts` namespaces, each linked to this one. */
  static create(hosts: number): TestNetwork {
    const network = new TestNetwork(
      randomInt(100, 250),
      randomInt(0, 36 ** 4)
        .toString(36)
        .padStart(4, '0'),
    );
    live.add(network);
    try {
      for (let i = 1; i <= hosts; i += 1) network.addHost(i);
    } catch (err) {
      network.closeNow();
      throw err;
    }
    return network;
  }

  /** 10.<net>.0.0/16, for pg_hba. */
  get cidr(): string {
    return `10.${this.net}.0.0/16`;
  }

  /** The address host `i` has inside its namespace. */
  hostAddress(i: number): string {
    return `10.${this.net}.${i}.2`;
  }

  /** The address this side has on host `i`'s link (what host `i` dials to reach this machine). */
  gatewayAddress(i: number): string {
    return `10.${this.net}.${i}.1`;
  }

  namespace(i: number): string {
    return `qbtd-${this.tag}-${i}`;
  }

  /** Starts `command args` inside host `i`'s namespace. */
  spawnIn(i: number, command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.namespace(i), command, ...args], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Forwards TCP in host `i` (or, with i = 0, on this side) per `rules`; resolves once listening. */
  async forward(i: number, rules: ForwardRule[]): Promise<void> {
    const args = [
      '-e',
      FORWARDER,
      ...rules.map((r) => `${r.listen.host}:${r.listen.port}:${r.target.host}:${r.target.port}`),
    ];
    const child =
      i === 0
        ? spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
        : this.spawnIn(i, process.execPath, args, {});
    if (i === 0) {
      this.children.add(child);
      child.once('exit', () => this.children.delete(child));
    }
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    await new Promise<void>((resolve, reject) => {
      lines.once('line', () => resolve());
      child.once('exit', (code) => reject(new Error(`forwarder in host ${i} exited (${code})`)));
    });
    lines.close();
  }

  async close(): Promise<void> {
    const exits = [...this.children].map((child) => new Promise((resolve) => child.once('exit', resolve)));
    for (const child of this.children) child.kill('SIGKILL');
    await Promise.all(exits);
    this.closeNow();
  }

  /** Synchronous teardown (exit hook): processes killed, namespaces (and their links) deleted. */
  closeNow(): void {
    live.delete(this);
    for (const child of this.children) child.kill('SIGKILL');
    for (const name of this.namespaces.splice(0)) {
      // `ip netns exec` children are gone; a process that outlived them would keep the namespace busy.
      spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' })
        .stdout?.split('\n')
        .filter(Boolean)
        .forEach((pid) => spawnSync('kill', ['-KILL', pid]));
      spawnSync('ip', ['netns', 'del', name]);
    }
  }

  private addHost(i: number): void {
    const ns = this.namespace(i);
    const outside = `qv${this.tag}${i}o`;
    const inside = `qv${this.tag}${i}i`;
    ip('netns', 'add', ns);
    this.namespaces.push(ns);
    ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
    ip('link', 'set', inside, 'netns', ns);
    ip('addr', 'add', `${this.gatewayAddress(i)}/24`, 'dev', outside);
    ip('link', 'set', outside, 'up');
    ip('-n', ns, 'addr', 'add', `${this.hostAddress(i)}/24`, 'dev', inside);
    ip('-n', ns, 'link', 'set', inside, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
}
