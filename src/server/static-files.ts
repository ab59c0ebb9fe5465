// Serves the built renderer (out/renderer) read-only. Paths are resolved inside the directory
// and nothing else is reachable; a missing build answers a page that says how to make one.
import { readFile, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import type { ServerResponse } from 'node:http';
import { securityHeaders } from './headers';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
};

type StaticLookup = { kind: 'file'; path: string } | { kind: 'not_found' } | { kind: 'no_build' };

/** Maps a URL path to a file inside `root`, or says why there is none. */
export async function lookupStaticFile(root: string | null, pathname: string): Promise<StaticLookup> {
  if (root === null || !(await isFile(resolve(root, 'index.html')))) {
    return pathname === '/' || pathname === '/index.html' ? { kind: 'no_build' } : { kind: 'not_found' };
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return { kind: 'not_found' };
  }
  if (decoded.includes('\0')) return { kind: 'not_found' };
  const relative = decoded === '/' ? 'index.html' : decoded.replace(/^\/+/, '');
  const base = resolve(root);
  const path = resolve(base, relative);
  if (!path.startsWith(base + sep)) return { kind: 'not_found' };
  return (await isFile(path)) ? { kind: 'file', path } : { kind: 'not_found' };
}

export async function sendStaticFile(res: ServerResponse, path: string, headOnly: boolean): Promise<void> {
  const body = await readFile(path);
  res.writeHead(200, {
    ...securityHeaders('ui'),
    'Content-Type': CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': body.length,
    // A local admin tool: always revalidate, so a rebuilt UI shows at once.
    'Cache-Control': 'no-cache',
  });
  res.end(headOnly ? undefined : body);
}

/** A minimal page for the cases where the UI itself cannot be shown. No scripts, no styles. */
export function sendHtmlPage(res: ServerResponse, status: number, title: string, paragraphs: string[]): void {
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><h1>${escapeHtml(title)}</h1>
${paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n')}
</body></html>
`;
  res.writeHead(status, {
    ...securityHeaders('ui'),
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
