// Intuit spells the same fault two ways depending on the endpoint:
//   {"fault":{"error":[{"message","detail","code"}],"type":"AUTHENTICATION"}}      (lower case)
//   {"Fault":{"Error":[{"Message","Detail","code"}],"type":"AuthenticationFault"}} (capitals)
// The client reads both through this one parser so no caller ever has to care.

interface ApiFaultDetail {
  code: string | null;
  message: string | null;
  detail: string | null;
  element: string | null;
}

interface ApiFault {
  /** e.g. AUTHENTICATION, AuthenticationFault, ValidationFault, ThrottleExceeded. */
  type: string | null;
  errors: ApiFaultDetail[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a property in either spelling (`error` / `Error`). */
function pick(record: Record<string, unknown>, name: string): unknown {
  if (name in record) return record[name];
  const capital = name[0].toUpperCase() + name.slice(1);
  return record[capital];
}

function asText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return null;
}

/** The fault carried by a response body, in either spelling, or null when the body has none. */
export function parseApiFault(body: unknown): ApiFault | null {
  if (!isRecord(body)) return null;
  const fault = pick(body, 'fault');
  if (!isRecord(fault)) return null;
  const rawErrors = pick(fault, 'error');
  const errors = (Array.isArray(rawErrors) ? rawErrors : []).filter(isRecord).map((error) => ({
    code: asText(pick(error, 'code')),
    message: asText(pick(error, 'message')),
    detail: asText(pick(error, 'detail')),
    element: asText(pick(error, 'element')),
  }));
  return { type: asText(pick(fault, 'type')), errors };
}

/** One readable sentence from a fault: the first error's message and detail, with its code. */
export function describeApiFault(fault: ApiFault): string {
  const first = fault.errors[0];
  if (!first) return fault.type ? `Fault ${fault.type}` : 'Fault without details';
  const parts = [first.message, first.detail].filter((part): part is string => Boolean(part));
  const text = parts.length > 0 ? parts.join(': ') : (fault.type ?? 'Fault');
  return first.code ? `${text} (code ${first.code})` : text;
}
