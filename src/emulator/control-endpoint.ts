// The loopback control API under /__control: the same operations as the in-process
// EmulatorControl, for tests and tools that run the emulator as a separate process.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { parseJsonObject, readBody, sendJson } from './http-util';
import { describeZodError, parseSettingsPatch } from './settings';
import type { EmulatorControl } from './types';

const count = z.number().int().min(1).max(1_000_000).optional();

export const tokenFaultSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('status'),
    status: z.union([z.literal(500), z.literal(502), z.literal(503), z.literal(429)]),
    retryAfterSeconds: z.number().int().min(0).optional(),
  }),
  z.object({ kind: z.literal('invalid_grant') }),
  z.object({ kind: z.literal('invalid_client') }),
  z.object({ kind: z.literal('html'), status: z.number().int().min(200).max(599).optional() }),
  z.object({ kind: z.literal('malformed_json') }),
  z.object({ kind: z.literal('delay'), ms: z.number().int().min(0).max(600_000) }),
  z.object({ kind: z.literal('hang') }),
  z.object({ kind: z.literal('reset') }),
  z.object({ kind: z.literal('hang_after_processing') }),
  z.object({ kind: z.literal('delay_after_processing'), ms: z.number().int().min(0).max(600_000) }),
]);

export const apiFaultSchema = z.object({
  kind: z.literal('status'),
  status: z.union([z.literal(401), z.literal(403), z.literal(429), z.literal(500), z.literal(503)]),
  retryAfterSeconds: z.number().int().min(0).optional(),
});

const schemas = {
  tokenFault: z.object({ fault: tokenFaultSchema, count }).strict(),
  apiFault: z.object({ fault: apiFaultSchema, count }).strict(),
  revokeAccess: z.object({ accessToken: z.string().min(1).optional() }).strict(),
  clock: z.object({ advanceSeconds: z.number().finite() }).strict(),
  authorization: z
    .object({
      realmId: z
        .string()
        .regex(/^\d{1,32}$/)
        .optional(),
    })
    .strict(),
  refreshTokenValid: z.object({ refreshToken: z.string().min(1) }).strict(),
};

class BadRequest extends Error {}

function parse<T>(schema: z.ZodType<T>, body: Record<string, unknown>): T {
  const result = schema.safeParse(body);
  if (!result.success) throw new BadRequest(describeZodError(result.error));
  return result.data;
}

export async function handleControl(
  control: EmulatorControl,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  const text = req.method === 'POST' ? await readBody(req) : '';
  const body = text.trim() === '' ? {} : parseJsonObject(text);
  if (!body) {
    sendJson(res, 400, { error: 'invalid_request', error_description: 'Body must be a JSON object' });
    return;
  }
  const route = `${req.method} ${path}`;
  try {
    switch (route) {
      case 'POST /faults': {
        const { fault, count: n } = parse(schemas.tokenFault, body);
        control.injectTokenFault(fault, n ?? 1);
        return sendJson(res, 200, { ok: true });
      }
      case 'POST /api-faults': {
        const { fault, count: n } = parse(schemas.apiFault, body);
        control.injectApiFault(fault, n ?? 1);
        return sendJson(res, 200, { ok: true });
      }
      case 'DELETE /faults':
        control.clearFaults();
        return sendJson(res, 200, { ok: true });
      case 'POST /revoke-access': {
        const { accessToken } = parse(schemas.revokeAccess, body);
        control.revokeAccessTokens(accessToken);
        return sendJson(res, 200, { ok: true });
      }
      case 'POST /clock': {
        const { advanceSeconds } = parse(schemas.clock, body);
        control.advanceClock(advanceSeconds);
        return sendJson(res, 200, { now: control.now() });
      }
      case 'GET /clock':
        return sendJson(res, 200, { now: control.now() });
      case 'GET /counters':
        return sendJson(res, 200, control.counters());
      case 'DELETE /counters':
        control.resetCounters();
        return sendJson(res, 200, control.counters());
      case 'POST /configure':
        try {
          control.configure(parseSettingsPatch(body));
        } catch (error) {
          throw new BadRequest((error as Error).message);
        }
        return sendJson(res, 200, { ok: true });
      case 'POST /authorizations': {
        const { realmId } = parse(schemas.authorization, body);
        return sendJson(res, 200, control.issueAuthorization(realmId));
      }
      case 'POST /refresh-token-valid': {
        const { refreshToken } = parse(schemas.refreshTokenValid, body);
        return sendJson(res, 200, { valid: control.isRefreshTokenValid(refreshToken) });
      }
      default:
        return sendJson(res, 404, { error: 'not_found', error_description: `No control route ${route}` });
    }
  } catch (error) {
    if (error instanceof BadRequest) {
      sendJson(res, 400, { error: 'invalid_request', error_description: error.message });
      return;
    }
    throw error;
  }
}
