// Stand-in until src/core/errors.ts (the token engine's error classes) lands; then this
// module re-exports that ApiError and goes away.

export type ApiErrorKind =
  | 'unauthorized'
  | 'forbidden'
  | 'rate_limited'
  | 'server'
  | 'timeout'
  | 'network'
  | 'bad_response'
  | 'api_error';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly kind: ApiErrorKind;
  /** HTTP status; 0 when no response arrived (timeout, network). */
  readonly status: number;
  /** Intuit's fault code (3200, 3100, 3001, ...), when the body carried one. */
  readonly code: string | null;
  readonly intuitTid: string | null;

  constructor(init: {
    kind: ApiErrorKind;
    status: number;
    code: string | null;
    intuitTid: string | null;
    message: string;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = init.kind;
    this.status = init.status;
    this.code = init.code;
    this.intuitTid = init.intuitTid;
  }
}
