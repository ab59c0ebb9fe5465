// Test and benchmark helper: a real PostgreSQL server (Debian's, 15 preferred) in a temporary data
// directory on a free loopback port, run as an unprivileged user (the server refuses root: as root
// the process drops to the `postgres` account). It can be stopped and started again on the same port
// mid-test (the fault tests need a server that goes away and comes back), and it stops by itself at
// the end: close() in the test's afterAll, an exit hook if the test process ends without it, and a
// watchdog shell that stops the server and removes its directory if the test process is killed.
// One server per test file; a fresh database per test (createDatabase) is cheap.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const READY_LINE = /database system is ready to accept connections/;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

export interface PostgresServerOptions {
  /** The superuser the tests and the app connect as (password auth over TCP). */
  user?: string;
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string>;
  /** Addresses the server listens on (default 127.0.0.1; a network namespace test adds its veth addresses). */
  listen?: string[];
  /** Networks (CIDR) also allowed to log in with the password, e.g. a test network's 10.x.0.0/16. */
  allowNetworks?: string[];
  /** Also accept TLS, with a self-signed certificate made for the run (sslmode tests). */
  tls?: boolean;
}

interface Account {
  uid: number;
  gid: number;
}

/** Where Debian puts the server binaries: /usr/lib/postgresql/<major>/bin, 15 first, else the newest. */
export function findPostgresBin(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((name) => existsSync(join(root, name, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const major = majors.includes('15') ? '15' : majors[0];
  if (!major) {
    throw new Error(
      'PostgreSQL server binaries not found under /usr/lib/postgresql: run scripts/install-test-deps.sh (installs Debian\'s "postgresql")',
    );
  }
  return join(root, major, 'bin');
}

/** As root the server must run as someone else: the `postgres` account Debian's package creates. */
function serverAccount(): Account | null {
  if (process.getuid?.() !== 0) return null;
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const uid = id('-u');
  const gid = id('-g');
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error('running as root needs the "postgres" account (Debian\'s postgresql package creates it)');
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Servers still running, stopped at once if the test process exits without closing them. */
const live = new Set<PostgresServer>();
process.once('exit', () => {
  for (const server of live) server.killNow();
});

export class PostgresServer {
  readonly host = '127.0.0.1';
  readonly user: string;
  readonly password = `pw-${randomBytes(9).toString('base64url')}`;
  private child: ChildProcess | null = null;
  private watchdog: ChildProcess | null = null;
  private databases = 0;
  private log = '';

  private constructor(
    readonly bin: string,
    readonly root: string,
    readonly port: number,
    private readonly account: Account | null,
    private readonly options: PostgresServerOptions,
  ) {
    this.user = options.user ?? 'qbtd';
  }

  /** initdb + start. Takes about a second. */
  static async start(options: PostgresServerOptions = {}): Promise<PostgresServer> {
    const bin = findPostgresBin();
    const account = serverAccount();
    const root = mkdtempSync(join(tmpdir(), 'qbtd-pg-'));
    const server = new PostgresServer(bin, root, await freeLoopbackPort(), account, options);
    live.add(server);
    try {
      if (account) chownSync(root, account.uid, account.gid);
      server.initdb();
      await server.startServer();
      server.startWatchdog();
    } catch (err) {
      await server.close();
      throw err;
    }
    return server;
  }

  get dataDir(): string {
    return join(this.root, 'data');
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** The server's log so far (for a failing test's message). */
  serverLog(): string {
    return this.log;
  }

  /** A connection URL for `database` as the superuser, e.g. for QB_STORE_URL. */
  url(database = 'postgres', host = this.host): string {
    return `postgres://${this.user}:${encodeURIComponent(this.password)}@${host}:${this.port}/${database}`;
  }

  /** Runs SQL as the superuser on `database` (a new connection each time). */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params: unknown[] = [],
    database = 'postgres',
  ): Promise<pg.QueryResult<R>> {
    const client = new pg.Client({ connectionString: this.url(database) });
    await client.connect();
    try {
      return await client.query<R>(sql, params);
    } finally {
      await client.end();
    }
  }

  /** A new, empty database; returns its URL. */
  async createDatabase(prefix = 'qbtd_test'): Promise<string> {
    this.databases += 1;
    const name = `${prefix}_${this.databases}_${randomBytes(3).toString('hex')}`;
    await this.query(`CREATE DATABASE ${name} STRATEGY = FILE_COPY`);
    return this.url(name);
  }

  /** `pg_dump` of a database (data and schema, plain SQL), for leak scans. */
  dump(database: string): string {
    const result = spawnSync(join(this.bin, 'pg_dump'), ['--no-owner', this.url(database)], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    if (result.status !== 0) throw new Error(`pg_dump failed: ${result.stderr}`);
    return result.stdout;
  }

  /** Stops the server (fast shutdown: open sessions are ended, their locks released). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill(mode === 'fast' ? 'SIGINT' : 'SIGQUIT');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
  }

  /** Starts the stopped server again on the same port and data directory. */
  async restart(): Promise<void> {
    await this.stop();
    await this.startServer();
  }

  /** Stops the server and removes its directory. */
  async close(): Promise<void> {
    live.delete(this);
    await this.stop('immediate').catch(() => undefined);
    this.watchdog?.kill('SIGKILL');
    this.watchdog = null;
    rmSync(this.root, { recursive: true, force: true });
  }

  /** For the exit hook: no awaiting possible there. */
  killNow(): void {
    this.child?.kill('SIGKILL');
    this.watchdog?.kill('SIGKILL');
    rmSync(this.root, { recursive: true, force: true });
  }

  private initdb(): void {
    const pwfile = join(this.root, 'pwfile');
    writeFileSync(pwfile, `${this.password}\n`, { mode: 0o600 });
    if (this.account) chownSync(pwfile, this.account.uid, this.account.gid);
    const result = spawnSync(
      join(this.bin, 'initdb'),
      [
        '-D',
        this.dataDir,
        '-U',
        this.user,
        `--pwfile=${pwfile}`,
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync',
        '--no-instructions',
      ],
      { encoding: 'utf8', cwd: this.root, ...this.spawnAccount() },
    );
    rmSync(pwfile, { force: true });
    if (result.status !== 0) throw new Error(`initdb failed (${result.status}): ${result.stderr}`);
    if (this.options.tls) this.makeCertificate();
    const networks = this.options.allowNetworks ?? [];
    if (networks.length > 0) {
      appendFileSync(
        join(this.dataDir, 'pg_hba.conf'),
        networks.map((cidr) => `host all all ${cidr} scram-sha-256\n`).join(''),
      );
    }
  }

  /** server.key / server.crt in the data directory (where `ssl=on` looks): self-signed, valid for a day. */
  private makeCertificate(): void {
    const result = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=qbtd-test-server',
        '-keyout',
        'server.key',
        '-out',
        'server.crt',
      ],
      { cwd: this.dataDir, encoding: 'utf8' },
    );
    if (result.status !== 0) throw new Error(`openssl could not make a test certificate: ${result.stderr}`);
    for (const file of ['server.key', 'server.crt']) {
      if (this.account) chownSync(join(this.dataDir, file), this.account.uid, this.account.gid);
    }
    chmodSync(join(this.dataDir, 'server.key'), 0o600);
  }

  private spawnAccount(): { uid?: number; gid?: number } {
    return this.account ? { uid: this.account.uid, gid: this.account.gid } : {};
  }

  private async startServer(): Promise<void> {
    const settings: Record<string, string> = {
      // Test data: the server's own durability is not under test, its speed is.
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      max_connections: '200',
      shared_buffers: '32MB',
      log_min_messages: 'warning',
      ...(this.options.tls ? { ssl: 'on' } : {}),
      ...this.options.settings,
    };
    const args = [
      '-D',
      this.dataDir,
      '-k',
      this.root,
      '-p',
      String(this.port),
      '-h',
      (this.options.listen ?? [this.host]).join(','),
      ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ];
    const child = spawn(join(this.bin, 'postgres'), args, {
      cwd: this.root,
      stdio: ['ignore', 'ignore', 'pipe'],
      ...this.spawnAccount(),
    });
    this.child = child;
    let seen = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail('did not become ready in time'), START_TIMEOUT_MS);
      const fail = (why: string) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        this.child = null;
        reject(new Error(`PostgreSQL ${why}.\n${seen.slice(-4000)}`));
      };
      child.once('error', (err) => fail(err.message));
      child.once('exit', (code, signal) => fail(`exited (${code ?? signal}) while starting`));
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        seen += chunk;
        this.log = (this.log + chunk).slice(-64_000);
        if (READY_LINE.test(seen)) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          seen = '';
          resolve();
        }
      });
    });
    child.once('exit', () => {
      if (this.child === child) this.child = null;
    });
  }

  /**
   * If the test process dies without closing (SIGKILL, a crashed worker), this shell notices within a
   * second, stops the server and removes its directory: no server outlives its test.
   */
  private startWatchdog(): void {
    const script = [
      `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done`,
      `pid=$(head -1 '${join(this.dataDir, 'postmaster.pid')}' 2>/dev/null)`,
      `[ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null`,
      'sleep 1',
      `rm -rf '${this.root}'`,
    ].join('\n');
    const watchdog = spawn('/bin/sh', ['-c', script], { stdio: 'ignore', detached: true });
    watchdog.unref();
    this.watchdog = watchdog;
  }
}
