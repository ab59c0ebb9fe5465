// The built package as an app sees it (after `npm run build`): `qb-token-desk` and
// `qb-token-desk/next` import from plain Node, their .d.ts type-check a consumer under Node's own
// module resolution, and the built files import only Node built-ins and declared dependencies.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from '@playwright/test';
import { REPO_ROOT } from '../src/server/process-support';

const exec = promisify(execFile);
const DIST = join(REPO_ROOT, 'dist', 'lib');

test('from the project root, import("qb-token-desk") gives createQuickBooks and qb-token-desk/next gives the route handlers', async () => {
  // The done-when line, verbatim.
  const main = await exec(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "import('qb-token-desk').then(m => console.log(typeof m.createQuickBooks))",
    ],
    { cwd: REPO_ROOT },
  );
  expect(main.stdout.trim()).toBe('function');
  const next = await exec(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "import('qb-token-desk/next').then(m => console.log(Object.keys(m).join(',')))",
    ],
    { cwd: REPO_ROOT },
  );
  expect(next.stdout.trim()).toBe(
    'createConnectionListHandler,createConnectionRouteHandlers,createRouteHandlers',
  );
  const errors = await exec(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "import('qb-token-desk').then(m => console.log(['ReauthorizationRequiredError','NotConfiguredError','TransientError','QuickBooksApiError','ConfigError','UnknownConnectionError'].map(n => typeof m[n]).join(',')))",
    ],
    { cwd: REPO_ROOT },
  );
  expect(errors.stdout.trim()).toBe('function,function,function,function,function,function');
});

test('the emitted .d.ts type-check an app under NodeNext resolution, and misuse is a type error', async () => {
  const app = await mkdtemp(join(tmpdir(), 'qb-lib-consumer-'));
  try {
    await mkdir(join(app, 'node_modules', '@types'), { recursive: true });
    await symlink(REPO_ROOT, join(app, 'node_modules', 'qb-token-desk'), 'dir');
    await symlink(
      join(REPO_ROOT, 'node_modules', '@types', 'node'),
      join(app, 'node_modules', '@types', 'node'),
      'dir',
    );
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'consumer', type: 'module', private: true }),
    );
    await writeFile(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023', 'DOM'],
          types: ['node'],
          skipLibCheck: true,
        },
        files: ['app.ts'],
      }),
    );
    await writeFile(
      join(app, 'app.ts'),
      `import {
  createQuickBooks,
  QuickBooksApiError,
  TransientError,
  UnknownConnectionError,
  type ConnectionSummary,
  type TokenStatus,
} from 'qb-token-desk';
import { createConnectionListHandler, createConnectionRouteHandlers, createRouteHandlers } from 'qb-token-desk/next';

const quickbooks = createQuickBooks({ clientName: 'consumer', config: { environment: 'sandbox' } });
export const { GET, POST, DELETE } = createRouteHandlers({ quickbooks, authorize: async () => false });

export async function names(): Promise<string[]> {
  const status: TokenStatus = await quickbooks.ready();
  const unsubscribe: () => void = quickbooks.onStatusChanged((next) => console.log(next.state));
  unsubscribe();
  try {
    const response: Response = await quickbooks.fetch(\`/v3/company/\${status.realmId}/query?query=select * from Customer\`);
    const body = (await response.json()) as { QueryResponse: { Customer?: { DisplayName: string }[] } };
    return (body.QueryResponse.Customer ?? []).map((customer) => customer.DisplayName);
  } catch (error) {
    if (error instanceof QuickBooksApiError) console.log(error.status, error.faultCode, error.intuitTid);
    if (error instanceof TransientError) console.log(error.kind, error.retryAfterMs);
    throw error;
  }
}

// Several companies: a handle per company, the list, and the per-company routes.
const acme = createQuickBooks({ clientName: 'consumer', connection: '9130350145681234' });
export const sameEngine = quickbooks.connection('9130350145681234');
export async function companies(): Promise<string[]> {
  const list: ConnectionSummary[] = await quickbooks.listConnections();
  try {
    await acme.fetch('query?query=select * from Customer');
  } catch (error) {
    if (error instanceof UnknownConnectionError) console.log(error.connectionId);
  }
  return list.map((summary) => \`\${summary.id} \${summary.state} \${summary.realmId ?? ''}\`);
}
export const company = createConnectionRouteHandlers({
  quickbooks,
  authorize: (_request, { connectionId }) => connectionId === '9130350145681234',
});
export const listed: Promise<Response> = company.GET(new Request('http://localhost/x'), {
  params: Promise.resolve({ id: '9130350145681234' }),
});
export const { GET: listGET } = createConnectionListHandler({ quickbooks, authorize: () => true });

// @ts-expect-error: the handlers are closed unless the app passes authorize
createRouteHandlers({ quickbooks });
// @ts-expect-error: the per-company handlers too
createConnectionRouteHandlers({ quickbooks });
// @ts-expect-error: connection is an id or realm id string
createQuickBooks({ connection: 9130350145681234 });
// @ts-expect-error: environment is 'sandbox' or 'production'
createQuickBooks({ config: { environment: 'staging' } });
// @ts-expect-error: getAccessToken resolves with a string
export const wrong: Promise<number> = quickbooks.getAccessToken();
`,
    );
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await exec(process.execPath, [tsc, '-p', app]).then(
      (done) => ({ code: 0, out: done.stdout + done.stderr }),
      (failed: { code: number; stdout: string; stderr: string }) => ({
        code: failed.code,
        out: failed.stdout + failed.stderr,
      }),
    );
    expect(result.out).toBe('');
    expect(result.code).toBe(0);
  } finally {
    await rm(app, { recursive: true, force: true });
  }
});

test('the built entry imports only Node built-ins, its declared dependencies and its own chunks, and holds no emulator, adapter or UI module', async () => {
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  const allowed = new Set([...Object.keys(pkg.dependencies), ...builtinModules]);
  const files = (await readdir(DIST)).filter((name) => name.endsWith('.js'));
  expect(files).toEqual(expect.arrayContaining(['index.js', 'next.js']));
  const imported = new Set<string>();
  const regions = new Set<string>();
  for (const name of files) {
    const code = await readFile(join(DIST, name), 'utf8');
    for (const match of code.matchAll(/(?:^|\n)\s*(?:import|export)[^'"\n]*?from\s*["']([^"']+)["']/g)) {
      imported.add(match[1] ?? '');
    }
    // A dynamic import may load one of the entry's own chunks, nothing else (bootstrap.ts's demo mode
    // loads the emulator this way; the library must not).
    for (const match of code.matchAll(/\bimport\s*\(\s*([^)]*)\)/g)) {
      expect(match[1], `${name}: import(${match[1]})`).toMatch(/^["']\.\/[\w.-]+\.js["']$/);
      imported.add((match[1] ?? '').slice(1, -1));
    }
    // rolldown marks each source module it bundled with a region comment.
    for (const match of code.matchAll(/^\/\/#region (\S+)/gm)) regions.add(match[1] ?? '');
  }
  const foreign = [...imported].filter((specifier) => {
    if (specifier.startsWith('./')) return !files.includes(specifier.slice(2));
    const bare = specifier.replace(/^node:/, '').split('/')[0] ?? '';
    return (
      !allowed.has(bare) ||
      ['electron', 'electron-store', 'react', 'react-dom', 'zustand', 'tsx'].includes(bare)
    );
  });
  expect(foreign).toEqual([]);
  expect([...imported]).toEqual(
    // proper-lockfile is gone from the engine (src/core/fs/owned-lock.ts replaced it); pg is the PostgreSQL store's.
    expect.arrayContaining(['openid-client', 'zod', 'dotenv', 'pg']),
  );
  expect(regions).toContain('src/lib/quickbooks.ts');
  expect(
    [...regions].filter((path) =>
      /^src\/(emulator|main|renderer|preload|cli)\/|^src\/core\/bootstrap\.ts$|^src\/server\/(?!error-status\.ts$)/.test(
        path,
      ),
    ),
  ).toEqual([]);
});
