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
      return 503;
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
