// The loopback control API under /__control: the same operations as the in-process
// EmulatorControl, for tests and tools that run the emulator as a separate process.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { REALM_ID_PATTERN } from './companies';
import { parseJsonObject, readBody, sendJson } from './http-util';
import { redirectUriProblem } from './redirect-uris';
import { parseSettingsPatch } from './settings';
import type { ApiFault, EmulatorControl, TokenFault } from './types';
import { checkObject, type Rule, ValidationError } from './validate';

const count: Rule = { type: 'int', min: 1, max: 1_000_000, optional: true };
const ms: Rule = { type: 'int', min: 0, max: 600_000 };

const TOKEN_FAULT_RULES: Record<TokenFault['kind'], Record<string, Rule>> = {
  status: {
    status: { type: 'enum', values: [500, 502, 503, 429] },
    retryAfterSeconds: { type: 'int', min: 0, optional: true },
  },
  invalid_grant: {},
  invalid_client: {},
  html: { status: { type: 'int', min: 200, max: 599, optional: true } },
  malformed_json: {},
  delay: { ms },
  hang: {},
  reset: {},
  hang_after_processing: {},
  delay_after_processing: { ms },
};

const API_FAULT_RULES: Record<string, Rule> = {
  kind: { type: 'enum', values: ['status'] },
  status: { type: 'enum', values: [401, 403, 429, 500, 503] },
  retryAfterSeconds: { type: 'int', min: 0, optional: true },
};

/** Validates a token fault; throws a ValidationError naming the field. */
function parseTokenFault(input: unknown): TokenFault {
  const kinds = Object.keys(TOKEN_FAULT_RULES);
  const kind = checkObject(input, { kind: { type: 'enum', values: kinds } }, 'fault', true)
    .kind as TokenFault['kind'];
  return checkObject(
    input,
    { kind: { type: 'enum', values: kinds }, ...TOKEN_FAULT_RULES[kind] },
    'fault',
  ) as TokenFault;
}

function parseApiFault(input: unknown): ApiFault {
  return checkObject(input, API_FAULT_RULES, 'fault') as ApiFault;
}

export async function handleControl(
  control: EmulatorControl,
  registeredRedirectUris: () => string[],
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
        checkObject(body, { fault: { type: 'object' }, count }, 'body');
        control.injectTokenFault(parseTokenFault(body.fault), (body.count as number | undefined) ?? 1);
        return sendJson(res, 200, { ok: true });
      }
      case 'POST /api-faults': {
        checkObject(body, { fault: { type: 'object' }, count }, 'body');
        control.injectApiFault(parseApiFault(body.fault), (body.count as number | undefined) ?? 1);
        return sendJson(res, 200, { ok: true });
      }
      case 'DELETE /faults':
        control.clearFaults();
        return sendJson(res, 200, { ok: true });
      case 'POST /revoke-access': {
        checkObject(body, { accessToken: { type: 'string', optional: true } }, 'body');
        control.revokeAccessTokens(body.accessToken as string | undefined);
        return sendJson(res, 200, { ok: true });
      }
      case 'POST /clock': {
        checkObject(body, { advanceSeconds: { type: 'number' } }, 'body');
        control.advanceClock(body.advanceSeconds as number);
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
        control.configure(parseSettingsPatch(body));
        return sendJson(res, 200, { ok: true });
      case 'POST /authorizations': {
        checkObject(body, { realmId: { type: 'string', pattern: REALM_ID_PATTERN, optional: true } }, 'body');
        return sendJson(res, 200, control.issueAuthorization(body.realmId as string | undefined));
      }
      case 'POST /refresh-token-valid': {
        checkObject(body, { refreshToken: { type: 'string' } }, 'body');
        return sendJson(res, 200, { valid: control.isRefreshTokenValid(body.refreshToken as string) });
      }
      case 'POST /redirect-uris': {
        checkObject(body, { redirectUri: { type: 'string', maxLength: 2000 } }, 'body');
        const problem = redirectUriProblem(body.redirectUri as string);
        if (problem) throw new ValidationError(`body.redirectUri: ${problem}`);
        try {
          control.registerRedirectUri(body.redirectUri as string);
        } catch (error) {
          throw new ValidationError(`body.redirectUri: ${(error as Error).message}`, { cause: error });
        }
        return sendJson(res, 200, { redirectUris: registeredRedirectUris() });
      }
      case 'GET /redirect-uris':
        return sendJson(res, 200, { redirectUris: registeredRedirectUris() });
      case 'GET /issued-values':
        return sendJson(res, 200, { values: control.issuedTokenValues() });
      default:
        return sendJson(res, 404, { error: 'not_found', error_description: `No control route ${route}` });
    }
  } catch (error) {
    if (error instanceof ValidationError) {
      sendJson(res, 400, { error: 'invalid_request', error_description: error.message });
      return;
    }
    throw error;
  }
}
