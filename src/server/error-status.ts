// The HTTP status each contract error code is answered with. The body always carries the code
// itself, so clients branch on `error.code`; the status only has to be honest for tools like curl.
import type { ResultErrorCode } from '../shared/contract';

/**
 * | code                                            | status | why                                             |
 * |-------------------------------------------------|--------|-------------------------------------------------|
 * | bad_request (the request itself)                | 400    | bad input from the caller                        |
 * | unauthorized (admin secret missing/wrong)       | 401    |                                                  |
 * | forbidden (Host/Origin refused)                 | 403    |                                                  |
 * | not_configured, reauthorization_required,       | 409    | the desk's state forbids it until the user acts  |
 * |   invalid_grant                                 |        |   (configure or reconnect)                       |
 * | invalid_client                                  | 424    | Intuit rejects the app's keys: a dependency's    |
 * |                                                 |        |   configuration is wrong                        |
 * | network, server, bad_response, api_error,       | 502    | Intuit (upstream) failed or refused              |
 * |   Intuit's unauthorized/forbidden, revoke_failed|        |                                                  |
 * |   connect_failed                                |        |                                                  |
 * | rate_limited                                    | 503    | Intuit is throttling; try later                  |
 * | timeout                                         | 504    | Intuit did not answer in time                    |
 * | unknown_connection                              | 404    | the connection id names no connection            |
 * | store_unavailable, store_busy                   | 503    | the token store is down or its lock is held:     |
 * |                                                 |        |   try again (Retry-After)                        |
 * | store_misconfigured                             | 500    | this server's store configuration is wrong       |
 * |                                                 |        |   (QB_STORE_KEY, QB_DATA_DIR, QB_STORE_URL)      |
 * | internal                                        | 500    |                                                  |
 *
 * This table is for errors raised by the desk (token engine, QuickBooks client). The server's own
 * refusals (401, 403, 404, 405, 400) are answered directly with their status.
 */
export function httpStatusForDeskError(code: ResultErrorCode): number {
  switch (code) {
    case 'not_configured':
    case 'reauthorization_required':
    case 'invalid_grant':
      return 409;
    case 'invalid_client':
      return 424;
    case 'rate_limited':
    case 'store_unavailable':
    case 'store_busy':
      return 503;
    case 'store_misconfigured':
      return 500;
    case 'timeout':
      return 504;
    case 'internal':
      return 500;
    case 'unknown_connection':
      return 404;
    case 'forbidden_sender':
      return 403;
    // From the desk these describe Intuit's answer (its 400/401/403), not this request.
    case 'bad_request':
    case 'unauthorized':
    case 'forbidden':
    case 'network':
    case 'server':
    case 'bad_response':
    case 'api_error':
    case 'revoke_failed':
    case 'connect_failed':
      return 502;
  }
}

/**
 * How long a client should wait before trying again, s, where the desk's own behaviour says: a store
 * that does not answer is asked again every 5 s (TokenManager's storeRetryMs), and a lock holder is
 * usually done within that. Null: no Retry-After.
 */
export function retryAfterSecondsForDeskError(code: ResultErrorCode): number | null {
  return code === 'store_unavailable' || code === 'store_busy' ? STORE_RETRY_AFTER_SECONDS : null;
}

export const STORE_RETRY_AFTER_SECONDS = 5;
