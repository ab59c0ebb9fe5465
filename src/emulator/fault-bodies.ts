// The Accounting API's faults as Intuit documents them. Intuit spells JSON faults two ways: 401
// authentication faults come from its gateway in the lower-case envelope
//   {"warnings":null,...,"fault":{"error":[{"message","detail","code","element":null}],"type":"AUTHENTICATION"},...,"time":<ms>}
// and the faults the API itself answers (400 validation and the rest) are capitalised
//   {"Fault":{"Error":[{"Message","Detail","code","element"}],"type":"ValidationFault"},"time":"<ISO, Pacific>"}
// The `faultSpelling` setting 'intuit' answers that mix; 'lower' and 'capital' force one spelling.
// In XML (no `Accept: application/json`) every fault is <IntuitResponse><Fault type><Error code>.
import type { FaultSpelling } from './types';

export interface FaultSpec {
  status: number;
  code: string;
  message: string;
  detail: string;
  /** Validation faults name the offending element ("" when none); the others carry none. */
  element?: string;
  lowerType: string;
  capitalType: string;
}

/** The gateway's message format, e.g. message=AuthenticationFailed; errorCode=003200; statusCode=401. */
function gatewayMessage(name: string, code: string, status: number): string {
  return `message=${name}; errorCode=${code.padStart(6, '0')}; statusCode=${status}`;
}

export const AUTHENTICATION_FAILED = (detail: string): FaultSpec => ({
  status: 401,
  code: '3200',
  message: gatewayMessage('AuthenticationFailed', '3200', 401),
  detail,
  lowerType: 'AUTHENTICATION',
  capitalType: 'AuthenticationFault',
});

export const AUTHORIZATION_FAILED = (detail: string): FaultSpec => ({
  status: 403,
  code: '3100',
  message: gatewayMessage('ApplicationAuthorizationFailed', '3100', 403),
  detail,
  lowerType: 'AUTHORIZATION',
  capitalType: 'AuthorizationFault',
});

/** Intuit's throttle answer, word for word as its XML carries it (type SERVICE in both spellings). */
export const THROTTLE_EXCEEDED: FaultSpec = {
  status: 429,
  code: '3001',
  message: gatewayMessage('ThrottleExceeded', '3001', 429),
  detail: 'The request limit was reached.  Try again later',
  lowerType: 'SERVICE',
  capitalType: 'SERVICE',
};

export const SERVICE_FAULT = (status: number): FaultSpec => ({
  status,
  code: '10000',
  message:
    status === 503
      ? 'Service Unavailable'
      : 'An application error has occurred while processing your request',
  detail:
    status === 503
      ? 'The service is temporarily unavailable. Try again later'
      : 'System Failure Error: An unexpected error occurred while accessing or saving your data',
  lowerType: 'SERVICE',
  capitalType: 'SystemFault',
});

export const VALIDATION_FAULT = (message: string, code: string, detail: string): FaultSpec => ({
  status: 400,
  code,
  message,
  detail,
  element: '',
  lowerType: 'VALIDATION',
  capitalType: 'ValidationFault',
});

/** Intuit's answer for a read of an Id that does not exist (as Intuit documents it). */
export const OBJECT_NOT_FOUND = VALIDATION_FAULT(
  'Object Not Found',
  '610',
  "Object Not Found : Something you're trying to use has been made inactive. Check the fields with accounts, customers, items, vendors or employees.",
);

/** Which JSON spelling a fault gets under a setting: Intuit's own mix by default. */
function spellingOf(spec: FaultSpec, setting: FaultSpelling): 'lower' | 'capital' {
  if (setting !== 'intuit') return setting;
  return spec.status === 401 ? 'lower' : 'capital';
}

/** The JSON body of a fault. */
export function faultJson(spec: FaultSpec, setting: FaultSpelling, nowMs: number): Record<string, unknown> {
  if (spellingOf(spec, setting) === 'capital') {
    const error: Record<string, unknown> = { Message: spec.message, Detail: spec.detail, code: spec.code };
    if (spec.element !== undefined) error.element = spec.element;
    return { Fault: { Error: [error], type: spec.capitalType }, time: intuitTime(nowMs) };
  }
  return {
    warnings: null,
    intuitObject: null,
    fault: {
      error: [{ message: spec.message, detail: spec.detail, code: spec.code, element: spec.element ?? null }],
      type: spec.lowerType,
    },
    report: null,
    queryResponse: null,
    batchItemResponse: [],
    attachableResponse: [],
    syncErrorResponse: null,
    requestId: null,
    time: nowMs,
    status: null,
    cdcresponse: [],
  };
}

/** The Fault element of the XML answer; its type is the one of the fault's Intuit spelling. */
export function faultXmlBody(spec: FaultSpec): Record<string, unknown> {
  const type = spellingOf(spec, 'intuit') === 'lower' ? spec.lowerType : spec.capitalType;
  const error: Record<string, unknown> = { code: spec.code };
  if (spec.element !== undefined) error.element = spec.element;
  return { Fault: { type, Error: { ...error, Message: spec.message, Detail: spec.detail } } };
}

/** Intuit's `time` field: local time with a Pacific offset, e.g. 2026-11-27T05:11:35.123-08:00. */
export function intuitTime(nowMs: number): string {
  const pacific = new Date(nowMs - 8 * 3600 * 1000).toISOString().replace('Z', '');
  return `${pacific}-08:00`;
}
