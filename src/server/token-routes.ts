// The seed's token endpoints over a TokenDesk. Desk failures become `{ ok: false, error }` with
// the status from error-status.ts; the body never carries a stack or a token value.
import type { ServerResponse } from 'node:http';
import { HTTP_PATHS } from '../shared/contract';
import type { ConnectionsDesk } from '../core/desk';
import { toResultError } from '../core/errors';
import { httpStatusForDeskError, retryAfterSecondsForDeskError } from './error-status';
import { expectOnlyKeys, readJsonObject, sendError, sendOk } from './http-io';
import type { Router } from './router';
import type { StatusStream } from './status-stream';

export function sendDeskError(res: ServerResponse, err: unknown): void {
  const error = toResultError(err);
  const retryAfter = retryAfterSecondsForDeskError(error.code);
  sendError(
    res,
    httpStatusForDeskError(error.code),
    error,
    retryAfter === null ? {} : { 'Retry-After': String(retryAfter) },
  );
}

/** Runs a desk call and answers its value or its mapped error. */
export async function answerFromDesk<T>(res: ServerResponse, call: () => Promise<T>): Promise<void> {
  let value: T;
  try {
    value = await call();
  } catch (err) {
    sendDeskError(res, err);
    return;
  }
  sendOk(res, value);
}

/** The seed's paths, acting on the default connection; the event stream carries every connection's. */
export function registerTokenRoutes(
  router: Router,
  connections: ConnectionsDesk,
  stream: StatusStream,
): void {
  const desk = connections.desk();
  router
    .get(HTTP_PATHS.refreshToken, ({ res }) => sendOk(res, desk.getStatus()))
    .post(HTTP_PATHS.refreshToken, async ({ req, res }) => {
      expectOnlyKeys(await readJsonObject(req), []);
      await answerFromDesk(res, () => desk.refresh('manual'));
    })
    .delete(HTTP_PATHS.refreshToken, async ({ req, res }) => {
      expectOnlyKeys(await readJsonObject(req), []);
      await answerFromDesk(res, () => desk.clear());
    })
    .get(HTTP_PATHS.companyInfo, ({ res }) => answerFromDesk(res, () => desk.testConnection()))
    .get(HTTP_PATHS.events, ({ res }) => stream.open(res));
}
