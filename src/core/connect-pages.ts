// The small pages the browser sees at the end of Connect (desktop loopback listener and headless
// /callback): connected, or refused with the reason. Self-contained HTML with inline styles only,
// served with their own strict CSP; they never carry a code, a token or a secret.
import type { ConnectRefusalReason } from './connect-flow';

export interface ConnectPage {
  status: number;
  html: string;
}

/** The CSP the pages are served with: no scripts, no loads, inline styles only. */
export const CONNECT_PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const TITLES: Record<ConnectRefusalReason, string> = {
  state_mismatch: 'Connection refused: state mismatch',
  replay: 'Connection refused: this answer was already used',
  expired: 'Connection refused: the Connect attempt expired',
  denied: 'Not connected: Intuit did not grant access',
  bad_callback: 'Connection refused: incomplete answer from Intuit',
  exchange_failed: 'Not connected: the authorization code could not be exchanged',
  timeout: 'Not connected: the Connect attempt timed out',
};

function refusalTitle(reason: ConnectRefusalReason | null): string {
  return reason ? TITLES[reason] : 'Not connected';
}

export function successPage(options: {
  realmId: string | null;
  next: string;
  redirectTo?: string;
}): ConnectPage {
  const company = options.realmId ? ` to company ${options.realmId}` : '';
  return {
    status: 200,
    html: page({
      title: 'Connected to QuickBooks',
      tone: 'ok',
      paragraphs: [`QB Token Desk is now connected${company}. The tokens are stored.`, options.next],
      redirectTo: options.redirectTo,
    }),
  };
}

export function refusedPage(options: {
  reason: ConnectRefusalReason | null;
  message: string;
  next: string;
  link?: { href: string; text: string };
}): ConnectPage {
  return {
    status: options.reason === 'exchange_failed' ? 502 : 400,
    html: page({
      title: refusalTitle(options.reason),
      tone: 'refused',
      paragraphs: [options.message, options.next],
      link: options.link,
    }),
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(options: {
  title: string;
  tone: 'ok' | 'refused';
  paragraphs: string[];
  link?: { href: string; text: string };
  redirectTo?: string;
}): string {
  const color = options.tone === 'ok' ? '#2ca01c' : '#c9252c';
  // A meta refresh rather than an HTTP redirect: the navigation then starts from this page, so the
  // dashboard's SameSite=Strict session cookie is sent even after a cross-site trip through Intuit.
  const refresh = options.redirectTo
    ? `<meta http-equiv="refresh" content="0;url=${escapeHtml(options.redirectTo)}">`
    : '';
  const link =
    options.link ?? (options.redirectTo ? { href: options.redirectTo, text: 'Open the dashboard' } : null);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">${refresh}
<title>${escapeHtml(options.title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#393a3d}
h1{font-size:1.4rem;border-left:.35rem solid ${color};padding-left:.6rem}</style></head>
<body><main><h1 id="connect-result" data-outcome="${options.tone}">${escapeHtml(options.title)}</h1>
${options.paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n')}
${link ? `<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.text)}</a></p>` : ''}
</main></body></html>
`;
}
