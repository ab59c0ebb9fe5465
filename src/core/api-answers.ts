// What an answer from the QuickBooks API (or the lack of one) means to the caller: the JSON of a 2xx,
// or an ApiError whose code says what to do (refresh, wait, fix the request, check QB_API_BASE_URL)
// and whose message says what Intuit said (api-faults.ts reads both spellings of its Fault), with
// intuit_tid and never a token value.
import { describeApiFault, parseApiFault } from './api-faults';
import type { WireHeaders } from './api-transport';
import { ApiError, type ApiErrorCode } from './errors';
import { previewToken } from '../shared/preview';

/** One attempt's answer, its body read, and the access token it carried. */
export interface ApiAttempt {
  status: number;
  statusText: string;
  headers: WireHeaders;
  bytes: Uint8Array;
  tokenUsed: string;
}

/** Milliseconds a Retry-After header asks for (seconds or an HTTP date), or null without one. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null || value.trim() === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.round(seconds * 1000));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** The ApiError for an answer that is not 2xx; `what` names the request (method and path). */
export function apiErrorFor(
  attempt: ApiAttempt,
  intuitTid: string | null,
  what: string,
  retriedAfter401: boolean,
): ApiError {
  const { status, tokenUsed } = attempt;
  const fault = parseApiFault(tryParseJson(textOf(attempt)));
  const said = fault ? describeApiFault(fault) : describeNonFaultBody(attempt);
  const retryAfterMs = parseRetryAfter(attempt.headers.get('retry-after'));
  let code: ApiErrorCode;
  let message: string;
  if (status === 401) {
    code = 'unauthorized';
    message = retriedAfter401
      ? `QuickBooks rejected ${what} with 401 again after the access token was refreshed: ${said}. The connection may have been revoked or lack the accounting scope for this company.`
      : `QuickBooks rejected ${what} with 401: ${said}.`;
  } else if (status === 403) {
    code = 'forbidden';
    message = `QuickBooks refused ${what} with 403: ${said}. The connected user lacks permission for this; refreshing the token does not help.`;
  } else if (status === 429) {
    code = 'rate_limited';
    message = `QuickBooks throttled ${what} (429: ${said})${
      retryAfterMs !== null ? `; it asks to retry after ${Math.ceil(retryAfterMs / 1000)} s` : ''
    }. Intuit allows 10 concurrent requests and 10 a second per company and app, and 500 a minute per company.`;
  } else if (status === 400) {
    code = 'bad_request';
    message = `QuickBooks rejected ${what} as invalid (400): ${said}.`;
  } else {
    code = 'api_error';
    message = `QuickBooks answered ${what} with HTTP ${status}: ${said}.`;
  }
  return new ApiError({
    status,
    code,
    intuitTid,
    faultCode: fault?.errors[0]?.code ?? null,
    retryAfterMs,
    message: scrub(message, tokenUsed),
  });
}

/** The ApiError for a request that got no answer: it timed out, or QuickBooks could not be reached. */
export function noAnswerError(failure: {
  error: unknown;
  timedOut: boolean;
  what: string;
  timeoutMs: number;
  origin: string;
  tokenUsed: string;
}): ApiError {
  const { error, timedOut, what, tokenUsed } = failure;
  return new ApiError({
    status: 0,
    code: timedOut ? 'timeout' : 'network',
    message: timedOut
      ? `QuickBooks did not answer ${what} within ${failure.timeoutMs} ms.`
      : `Could not reach QuickBooks at ${failure.origin} (${scrub(errorText(error), tokenUsed)}).`,
  });
}

/** The JSON object of a 2xx answer; an ApiError (bad_response) when the body is not one. */
export function parseJsonBody(attempt: ApiAttempt, intuitTid: string | null, what: () => string): unknown {
  const parsed = tryParseJson(textOf(attempt));
  if (parsed !== undefined && typeof parsed === 'object' && parsed !== null) return parsed;
  throw new ApiError({
    status: attempt.status,
    code: 'bad_response',
    intuitTid,
    message: `QuickBooks answered ${what()} with HTTP ${attempt.status} but ${describeNonFaultBody(attempt)}; check QB_API_BASE_URL.`,
  });
}

function describeNonFaultBody(attempt: ApiAttempt): string {
  const contentType = attempt.headers.get('content-type') ?? '';
  const text = textOf(attempt).trimStart();
  if (contentType.includes('html') || text.startsWith('<')) return 'the body was an HTML page, not JSON';
  if (text === '') return 'the body was empty';
  return tryParseJson(text) === undefined
    ? 'the body was not valid JSON'
    : 'the body carried no fault details';
}

const utf8 = new TextDecoder();

function textOf(attempt: ApiAttempt): string {
  return utf8.decode(attempt.bytes);
}

function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Belt and braces: a server or proxy could echo the bearer token back in a message. */
function scrub(text: string, token: string): string {
  return token ? text.split(token).join(previewToken(token)) : text;
}

function errorText(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return error instanceof Error ? `${error.message}${cause}` : String(error);
}
