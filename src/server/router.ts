// A deliberately small router: exact paths, or paths with `{name}` segments (one path segment each,
// percent-decoded into `params`), one handler per method. The server consults it at request time,
// so routes registered after start-up (the Connect flow's) work at once.
import type { IncomingMessage, ServerResponse } from 'node:http';

type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** The parsed request URL (origin is the server's own). */
  url: URL;
  /** This server's origin, e.g. http://127.0.0.1:4317 (for redirect URIs). */
  origin: string;
  /** The `{name}` segments of the matched route's path, decoded. */
  params?: Record<string, string>;
}

type RouteHandler = (ctx: RequestContext) => void | Promise<void>;

/**
 * 'admin' (default): the admin secret must come with the request (Bearer or cookie).
 * 'public': no secret, e.g. the OAuth callback, which arrives as a cross-site navigation that
 * carries no SameSite=Strict cookie and must be protected by its own `state` check.
 * 'probe': no secret and any Host or Origin: health checks from a load balancer or a proxy that
 * forwards its own Host name. Only for answers that reveal nothing (ok / not ready).
 */
type RouteAccess = 'admin' | 'public' | 'probe';

interface RouteOptions {
  access?: RouteAccess;
  /**
   * An admin route that also opens to this Bearer secret, for this route only (GET /metrics with
   * QB_METRICS_TOKEN: a scraper's secret must not open the token API).
   */
  alsoBearer?: string | null;
}

interface Route {
  method: HttpMethod;
  path: string;
  handler: RouteHandler;
  access: RouteAccess;
  alsoBearer: string | null;
}

type RouteMatch =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  | { kind: 'method_not_allowed'; allow: HttpMethod[] }
  | { kind: 'not_found' };

interface Pattern {
  path: string;
  /** A literal segment, or a parameter's name. */
  segments: Array<{ literal: string } | { param: string }>;
}

export class Router {
  private readonly routes = new Map<string, Map<HttpMethod, Route>>();
  private readonly patterns: Pattern[] = [];

  add(method: HttpMethod, path: string, handler: RouteHandler, options: RouteOptions = {}): this {
    if (!path.startsWith('/')) throw new Error(`Route path must start with "/", got "${path}"`);
    if (path.includes('{') && !this.routes.has(path)) this.patterns.push(parsePattern(path));
    const byMethod = this.routes.get(path) ?? new Map<HttpMethod, Route>();
    if (byMethod.has(method)) throw new Error(`Route ${method} ${path} is already registered`);
    byMethod.set(method, {
      method,
      path,
      handler,
      access: options.access ?? 'admin',
      alsoBearer: options.alsoBearer ?? null,
    });
    this.routes.set(path, byMethod);
    return this;
  }

  get(path: string, handler: RouteHandler, options?: RouteOptions): this {
    return this.add('GET', path, handler, options);
  }

  post(path: string, handler: RouteHandler, options?: RouteOptions): this {
    return this.add('POST', path, handler, options);
  }

  delete(path: string, handler: RouteHandler, options?: RouteOptions): this {
    return this.add('DELETE', path, handler, options);
  }

  match(method: string, path: string): RouteMatch {
    let params: Record<string, string> = {};
    let byMethod = path.includes('{') ? undefined : this.routes.get(path);
    if (!byMethod) {
      for (const pattern of this.patterns) {
        const found = matchPattern(pattern, path);
        if (!found) continue;
        params = found;
        byMethod = this.routes.get(pattern.path);
        break;
      }
    }
    if (!byMethod) return { kind: 'not_found' };
    const route = byMethod.get(method as HttpMethod);
    if (route) return { kind: 'found', route, params };
    return { kind: 'method_not_allowed', allow: [...byMethod.keys()] };
  }
}

function parsePattern(path: string): Pattern {
  return {
    path,
    segments: path
      .split('/')
      .map((segment) => (/^\{\w+\}$/.test(segment) ? { param: segment.slice(1, -1) } : { literal: segment })),
  };
}

function matchPattern(pattern: Pattern, path: string): Record<string, string> | null {
  const parts = path.split('/');
  if (parts.length !== pattern.segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i += 1) {
    const segment = pattern.segments[i];
    if ('literal' in segment) {
      if (segment.literal !== parts[i]) return null;
      continue;
    }
    if (parts[i] === '') return null;
    try {
      params[segment.param] = decodeURIComponent(parts[i]);
    } catch {
      return null;
    }
  }
  return params;
}
