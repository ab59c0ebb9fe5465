// The Accounting API subset: GET /v3/company/{realmId}/companyinfo/{id}, /customer/{id} and
// /query, behind Intuit's Bearer check and throttle, answering faults in Intuit's two spellings.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatorContext } from './context';
import { bearerToken, readBody, sendJson } from './http-util';
import {
  AUTHENTICATION_FAILED,
  AUTHORIZATION_FAILED,
  type FaultSpec,
  SERVICE_FAULT,
  THROTTLE_EXCEEDED,
  VALIDATION_FAULT,
  companyInfo,
  faultBody,
  intuitTime,
  seededCustomers,
} from './intuit-bodies';

const MINUTE_MS = 60_000;

function sendFault(
  ctx: EmulatorContext,
  res: ServerResponse,
  spec: FaultSpec,
  headers: Record<string, string> = {},
): void {
  if (spec.status === 401) ctx.counters.api401s += 1;
  if (spec.status === 429) ctx.counters.api429s += 1;
  sendJson(res, spec.status, faultBody(spec, ctx.settings.faultSpelling, ctx.now()), headers);
}

function realmLoad(
  ctx: EmulatorContext,
  realmId: string,
): { all: number; admitted: number; recent: number[] } {
  let load = ctx.inFlight.get(realmId);
  if (!load) {
    load = { all: 0, admitted: 0, recent: [] };
    ctx.inFlight.set(realmId, load);
  }
  return load;
}

/** Entry for every /v3/company/... request. */
export async function handleApi(
  ctx: EmulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  realmId: string,
  resource: string[],
): Promise<void> {
  ctx.counters.apiCalls += 1;
  const load = realmLoad(ctx, realmId);
  load.all += 1;
  const byRealm = ctx.counters.maxApiInFlightByRealm;
  byRealm[realmId] = Math.max(byRealm[realmId] ?? 0, load.all);
  res.on('close', () => {
    load.all -= 1;
  });

  const body = req.method === 'POST' ? await readBody(req) : '';

  const injected = ctx.apiFaults.take();
  if (injected) {
    const headers: Record<string, string> = {};
    if (injected.retryAfterSeconds !== undefined) headers['retry-after'] = String(injected.retryAfterSeconds);
    sendFault(ctx, res, injectedSpec(injected.status), headers);
    return;
  }

  const token = bearerToken(req.headers.authorization);
  if (!token) {
    sendFault(ctx, res, AUTHENTICATION_FAILED('Token invalid: no Bearer access token was sent'), {
      'www-authenticate': 'Bearer realm="Intuit", error="invalid_token"',
    });
    return;
  }
  const access = ctx.store.checkAccessToken(token);
  if (!access.ok) {
    sendFault(ctx, res, AUTHENTICATION_FAILED(access.detail), {
      'www-authenticate': 'Bearer realm="Intuit", error="invalid_token"',
    });
    return;
  }
  if (access.realmId !== realmId) {
    sendFault(ctx, res, AUTHORIZATION_FAILED('The access token was not issued for this company'));
    return;
  }

  const now = ctx.now();
  while ((load.recent[0] ?? Infinity) <= now - MINUTE_MS) load.recent.shift();
  if (load.admitted >= ctx.settings.maxConcurrentPerRealm) {
    sendFault(ctx, res, THROTTLE_EXCEEDED('Too many concurrent requests for this company'));
    return;
  }
  if (load.recent.length >= ctx.settings.maxRequestsPerMinutePerRealm) {
    sendFault(
      ctx,
      res,
      THROTTLE_EXCEEDED('The request limit for this company was reached: wait before retrying'),
    );
    return;
  }
  load.recent.push(now);
  load.admitted += 1;
  let released = false;
  const release = (): void => {
    if (!released) load.admitted -= 1;
    released = true;
  };
  res.on('close', release);
  try {
    if (ctx.settings.apiLatencyMs > 0) {
      await new Promise<void>((resolve) => ctx.later(ctx.settings.apiLatencyMs, resolve));
    }
    if (res.destroyed) return;
    answerResource(ctx, req, res, url, realmId, resource, body);
  } finally {
    release();
  }
}

function injectedSpec(status: number): FaultSpec {
  switch (status) {
    case 401:
      return AUTHENTICATION_FAILED('Token expired: injected by the emulator');
    case 403:
      return AUTHORIZATION_FAILED('The user lacks permission for this request');
    case 429:
      return THROTTLE_EXCEEDED('The request limit was reached');
    default:
      return SERVICE_FAULT(status);
  }
}

function answerResource(
  ctx: EmulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  realmId: string,
  resource: string[],
  body: string,
): void {
  const [entity, id] = [resource[0]?.toLowerCase(), resource[1]];
  const time = intuitTime(ctx.now());
  if (entity === 'companyinfo' && id !== undefined && resource.length === 2 && req.method === 'GET') {
    if (id !== realmId && id !== '1') return notFound(ctx, res, 'CompanyInfo', id);
    sendJson(res, 200, { CompanyInfo: companyInfo(realmId, ctx.settings.companyName), time });
    return;
  }
  if (entity === 'customer' && id !== undefined && resource.length === 2 && req.method === 'GET') {
    const customer = seededCustomers().find((c) => c.Id === id);
    if (!customer) return notFound(ctx, res, 'Customer', id);
    sendJson(res, 200, { Customer: customer, time });
    return;
  }
  if (entity === 'query' && resource.length === 1 && (req.method === 'GET' || req.method === 'POST')) {
    const statement = req.method === 'GET' ? url.searchParams.get('query') : body;
    const result = runQuery(ctx, realmId, statement ?? '');
    if ('error' in result) {
      sendFault(ctx, res, VALIDATION_FAULT('QueryParserError', '4000', result.error));
      return;
    }
    sendJson(res, 200, { QueryResponse: result.response, time });
    return;
  }
  sendFault(ctx, res, {
    ...VALIDATION_FAULT(
      'Unsupported Operation',
      '500',
      `The emulator does not serve ${req.method} ${url.pathname}`,
    ),
    status: 400,
  });
}

function notFound(ctx: EmulatorContext, res: ServerResponse, entity: string, id: string): void {
  sendFault(ctx, res, VALIDATION_FAULT('Object Not Found', '610', `${entity} ${id} was not found`));
}

const QUERY = new RegExp(
  [
    '^\\s*select\\s+(?<fields>\\*|count\\(\\s*\\*\\s*\\)|[\\w.,\\s]+?)\\s+from\\s+(?<entity>\\w+)',
    '(?:\\s+where\\s+(?<where>.+?))?',
    '(?:\\s+orderby\\s+(?<order>[\\w.]+)(?:\\s+(?<dir>asc|desc))?)?',
    '(?:\\s+startposition\\s+(?<start>\\d+))?',
    '(?:\\s+maxresults\\s+(?<max>\\d+))?\\s*;?\\s*$',
  ].join(''),
  'is',
);

type QueryResult = { response: Record<string, unknown> } | { error: string };

/** Enough of Intuit's query language for the desk and tests: *, count(*), `Field = 'value'` AND ..., paging. */
export function runQuery(ctx: EmulatorContext, realmId: string, statement: string): QueryResult {
  const match = QUERY.exec(statement);
  if (!match?.groups)
    return { error: `QueryParserError: Encountered an unparseable statement: "${statement.slice(0, 200)}"` };
  const { fields = '*', entity = '', where, order, dir, start, max } = match.groups;
  let rows: Record<string, unknown>[];
  let entityName: string;
  switch (entity.toLowerCase()) {
    case 'companyinfo':
      rows = [companyInfo(realmId, ctx.settings.companyName)];
      entityName = 'CompanyInfo';
      break;
    case 'customer':
      rows = seededCustomers();
      entityName = 'Customer';
      break;
    default:
      return { error: `QueryParserError: Invalid context declaration : ${entity}` };
  }
  if (where) {
    const conditions = where.split(/\s+and\s+/i);
    for (const condition of conditions) {
      const parsed =
        /^\s*(\w+)\s*(=|like)\s*'((?:[^'\\]|\\.)*)'\s*$/i.exec(condition) ??
        /^\s*(\w+)\s*(=)\s*(true|false|\d+(?:\.\d+)?)\s*$/i.exec(condition);
      if (!parsed)
        return { error: `QueryParserError: Unsupported condition: ${condition.trim().slice(0, 100)}` };
      const [, field = '', op = '=', raw = ''] = parsed;
      const value = raw.replace(/\\(.)/g, '$1');
      rows = rows.filter((row) => {
        const actual = row[field];
        if (actual === undefined) return false;
        const text = String(actual);
        if (op.toLowerCase() === 'like') {
          const pattern = new RegExp(`^${value.split('%').map(escapeRegExp).join('.*')}$`, 'i');
          return pattern.test(text);
        }
        return text.toLowerCase() === value.toLowerCase();
      });
    }
  }
  if (/^count/i.test(fields)) return { response: { totalCount: rows.length } };
  if (order) {
    const sign = dir?.toLowerCase() === 'desc' ? -1 : 1;
    rows = [...rows].sort((a, b) => sign * String(a[order] ?? '').localeCompare(String(b[order] ?? '')));
  }
  const startPosition = Math.max(1, Number(start ?? 1));
  const maxResults = Math.min(1000, Number(max ?? 100));
  const page = rows.slice(startPosition - 1, startPosition - 1 + maxResults);
  if (page.length === 0) return { response: {} };
  return { response: { [entityName]: page, startPosition, maxResults: page.length } };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
