// Small response and request-body helpers shared by every route. Every API answer is the
// contract's Result shape: `{ ok: true, value }` or `{ ok: false, error: { code, message } }`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Result, ResultError, ResultErrorCode } from '../shared/contract';
import { securityHeaders } from './headers';

/** The largest request body any route accepts (the API takes tiny JSON objects at most). */
const DEFAULT_MAX_BODY_BYTES = 16 * 1024;

/** A failure a route wants answered with a given HTTP status and contract error. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: ResultErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...securityHeaders('api'),
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

export function sendOk<T>(res: ServerResponse, value: T, status = 200): void {
  const body: Result<T> = { ok: true, value };
  sendJson(res, status, body);
}

export function sendError(
  res: ServerResponse,
  status: number,
  error: ResultError,
  headers: Record<string, string> = {},
): void {
  const body: Result<never> = { ok: false, error };
  sendJson(res, status, body, headers);
}

export function sendHttpError(res: ServerResponse, err: HttpError): void {
  sendError(res, err.status, { code: err.code, message: err.message }, err.headers);
}

/**
 * Reads the request body up to `maxBytes`. An oversized body is answered 400 by the caller: we stop
 * reading (and the connection is closed after the answer) instead of buffering whatever arrives.
 */
function readBody(req: IncomingMessage, maxBytes = DEFAULT_MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (Number.isFinite(declared) && declared > maxBytes) {
      reject(tooLarge(maxBytes));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: HttpError | null) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        finish(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish(null);
    const onError = () => finish(new HttpError(400, 'bad_request', 'The request body could not be read.'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function tooLarge(maxBytes: number): HttpError {
  return new HttpError(400, 'bad_request', `The request body is larger than ${maxBytes} bytes.`, {
    Connection: 'close',
  });
}

/**
 * Reads an optional JSON object body: empty means `{}`. Anything else that is not a JSON object
 * (malformed JSON, an array, a string) is a 400 naming what was expected.
 */
export async function readJsonObject(
  req: IncomingMessage,
  maxBytes = DEFAULT_MAX_BODY_BYTES,
): Promise<Record<string, unknown>> {
  const raw = await readBody(req, maxBytes);
  const text = raw.toString('utf8').trim();
  if (text === '') return {};
  const type = String(req.headers['content-type'] ?? '');
  if (type !== '' && !/^application\/json\b/i.test(type)) {
    throw new HttpError(
      400,
      'bad_request',
      `Expected a JSON body (Content-Type: application/json), got "${type}".`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'bad_request', 'The request body is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HttpError(400, 'bad_request', 'The request body must be a JSON object.');
  }
  return parsed as Record<string, unknown>;
}

/** Rejects any keys a route does not know, so a typo does not silently do nothing. */
export function expectOnlyKeys(body: Record<string, unknown>, allowed: readonly string[]): void {
  const unknown = Object.keys(body).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    const expected = allowed.length > 0 ? `expected only ${allowed.join(', ')}` : 'expected an empty body';
    throw new HttpError(
      400,
      'bad_request',
      `Unknown field(s) in the request body: ${unknown.join(', ')}; ${expected}.`,
    );
  }
}
