// The Accounting API subset: GET /v3/company/{realmId}/{entity}/{id} (CompanyInfo and the seeded
// Account, Customer, Vendor, Item, Invoice) and /query, behind Intuit's Bearer check and throttle.
// Answers are XML unless the client asks for JSON, as Intuit's are; faults in Intuit's spellings.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { companyNameOf } from './companies';
import type { EmulatorContext } from './context';
import {
  AUTHENTICATION_FAILED,
  AUTHORIZATION_FAILED,
  type FaultSpec,
  OBJECT_NOT_FOUND,
  SERVICE_FAULT,
  THROTTLE_EXCEEDED,
  VALIDATION_FAULT,
  faultJson,
  faultXmlBody,
  intuitTime,
} from './fault-bodies';
import { bearerToken, readBody, sendJson, sendText } from './http-util';
import { SEEDED_ENTITIES } from './intuit-bodies';
import { intuitResponseXml } from './intuit-xml';
import { runQuery } from './query-language';

/** Intuit answers JSON only when the Accept header names application/json; otherwise XML. */
function wantsJson(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    const q = params.find((param) => param.startsWith('q='));
    return type === 'application/json' && (q === undefined || Number(q.slice(2)) > 0);
  });
}

/** An IntuitResponse (entity, QueryResponse) in the format the client asked for, stamped with `time`. */
function sendIntuitResponse(
  ctx: EmulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  body: Record<string, unknown>,
): void {
  const time = intuitTime(ctx.now());
  if (wantsJson(req)) sendJson(res, 200, { ...body, time });
  else sendText(res, 200, 'application/xml;charset=UTF-8', intuitResponseXml(body, time));
}

function sendFault(
  ctx: EmulatorContext,
  req: IncomingMessage,
  res: ServerResponse,
  spec: FaultSpec,
  headers: Record<string, string> = {},
): void {
  if (spec.status === 401) ctx.counters.api401s += 1;
  if (spec.status === 429) ctx.counters.api429s += 1;
  const now = ctx.now();
  if (wantsJson(req)) {
    sendJson(res, spec.status, faultJson(spec, ctx.settings.faultSpelling, now), headers);
  } else {
    sendText(
      res,
      spec.status,
      'application/xml;charset=UTF-8',
      intuitResponseXml(faultXmlBody(spec), intuitTime(now)),
      headers,
    );
  }
}

const INVALID_TOKEN = { 'www-authenticate': 'Bearer realm="Intuit", error="invalid_token"' };

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
  const arrived = (ctx.arrivals.get(realmId) ?? 0) + 1;
  ctx.arrivals.set(realmId, arrived);
  const byRealm = ctx.counters.maxApiInFlightByRealm;
  byRealm[realmId] = Math.max(byRealm[realmId] ?? 0, arrived);
  res.on('close', () => ctx.arrivals.set(realmId, (ctx.arrivals.get(realmId) ?? 1) - 1));

  const body = req.method === 'POST' ? await readBody(req) : '';

  const injected = ctx.apiFaults.take();
  if (injected) {
    const headers: Record<string, string> = {};
    if (injected.retryAfterSeconds !== undefined) headers['retry-after'] = String(injected.retryAfterSeconds);
    sendFault(ctx, req, res, injectedSpec(injected.status), headers);
    return;
  }

  const token = bearerToken(req.headers.authorization);
  if (!token) {
    sendFault(
      ctx,
      req,
      res,
      AUTHENTICATION_FAILED('Token invalid: no Bearer access token was sent'),
      INVALID_TOKEN,
    );
    return;
  }
  const access = ctx.store.checkAccessToken(token);
  if (!access.ok) {
    sendFault(ctx, req, res, AUTHENTICATION_FAILED(access.detail), INVALID_TOKEN);
    return;
  }
  if (access.realmId !== realmId) {
    sendFault(ctx, req, res, AUTHORIZATION_FAILED('The access token was not issued for this company'));
    return;
  }

  const release = ctx.throttle.admit(realmId, access.clientId, ctx.now());
  if (!release) {
    sendFault(ctx, req, res, THROTTLE_EXCEEDED);
    return;
  }
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
      return THROTTLE_EXCEEDED;
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
  const [name = '', id] = resource;
  const entity = SEEDED_ENTITIES[name.toLowerCase()];
  if (entity && id !== undefined && resource.length === 2 && req.method === 'GET') {
    const rows = entity.rows(realmId, companyNameOf(ctx.settings, realmId));
    // CompanyInfo is read by the company's own id (Intuit also answers its entity Id, 1).
    const byRealmId = entity.name === 'CompanyInfo' && id === realmId;
    const row = byRealmId ? rows[0] : rows.find((r) => r.Id === id);
    if (!row) return sendFault(ctx, req, res, OBJECT_NOT_FOUND);
    return sendIntuitResponse(ctx, req, res, { [entity.name]: row });
  }
  if (
    name.toLowerCase() === 'query' &&
    resource.length === 1 &&
    (req.method === 'GET' || req.method === 'POST')
  ) {
    const statement = req.method === 'GET' ? url.searchParams.get('query') : body;
    const outcome = runQuery(statement ?? '', realmId, companyNameOf(ctx.settings, realmId));
    if ('fault' in outcome) return sendFault(ctx, req, res, outcome.fault);
    return sendIntuitResponse(ctx, req, res, { QueryResponse: outcome.response });
  }
  sendFault(
    ctx,
    req,
    res,
    VALIDATION_FAULT(
      'Unsupported Operation',
      '500',
      `Operation ${req.method} ${url.pathname} is not supported by the emulator.`,
    ),
  );
}
