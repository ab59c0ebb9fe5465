// The redirect URIs registered for the demo app, as an Intuit developer registers them on the
// app's Keys page. Intuit compares the consent request's redirect_uri with them exactly. One
// emulator-only convenience: a loopback entry may name its port `*` (RFC 8252 section 7.3), because
// the desktop app's default listener takes a free port that no one can register ahead of time.

/** The desk's own defaults: the desktop's `http://localhost:<free port>/callback` and the headless server's `http://127.0.0.1:<port>/callback`. */
export const DEFAULT_REDIRECT_URIS: readonly string[] = [
  'http://localhost:*/callback',
  'http://127.0.0.1:*/callback',
];

/** As many as anyone registers by hand; the list is searched on every consent request. */
export const MAX_REDIRECT_URIS = 100;

const ANY_PORT = /^http:\/\/(localhost|127\.0\.0\.1):\*(\/[^?#\s]*)$/;

/** Why a registration is refused, or null when it is acceptable. */
export function redirectUriProblem(uri: string): string | null {
  if (ANY_PORT.test(uri)) return null;
  if (uri.includes('*'))
    return `"${uri}": only a loopback http URI may use * as its port (e.g. http://localhost:*/callback)`;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `"${uri}" is not an absolute URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `"${uri}" must be an http(s) URL`;
  if (url.hash) return `"${uri}" must not carry a fragment`;
  return null;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Exact string equality with a registered URI, or any port where the registration says `*`. */
export function isRegisteredRedirectUri(requested: string, registered: readonly string[]): boolean {
  return registered.some((entry) => {
    if (entry === requested) return true;
    if (!ANY_PORT.test(entry)) return false;
    const [before, after] = entry.split(':*');
    return new RegExp(`^${escapeRegExp(before ?? '')}:\\d{1,5}${escapeRegExp(after ?? '')}$`).test(requested);
  });
}
