// Configuration rules that span more than one variable, or the files they come from (issue 17):
// production talks to Intuit's own hosts unless QB_ALLOW_NON_INTUIT_URLS says otherwise, the
// client id and secret come as a pair, a .env line is NAME=value or it is an error, and the
// redirect URI's path must not be one of the server's own routes. Messages name the variable (or
// the file and line) and never echo a value that may be a secret.
import { ConfigError } from './errors';

export const ALLOW_NON_INTUIT_URLS = 'QB_ALLOW_NON_INTUIT_URLS';

/** The endpoints that receive the client secret, a refresh token or an access token. */
const ENDPOINT_VARIABLES = ['QB_TOKEN_URL', 'QB_REVOKE_URL', 'QB_AUTHORIZE_URL', 'QB_API_BASE_URL'] as const;

type EndpointVariable = (typeof ENDPOINT_VARIABLES)[number];

export interface ConfigProblem {
  variable:
    | 'QB_CLIENT_ID'
    | 'QB_CLIENT_SECRET'
    | 'QB_REDIRECT_URI'
    | EndpointVariable
    // Keys per environment (client-keys-config.ts).
    | `QB_${'SANDBOX' | 'PRODUCTION'}_CLIENT_${'ID' | 'SECRET'}`;
  message: string;
  /** The variable whose source (environment, .env.local, .env) the message should cite, when not `variable`. */
  citing?: 'QB_CLIENT_ID' | 'QB_CLIENT_SECRET';
}

/** Intuit's own hosts: intuit.com and its subdomains. */
function isIntuitHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  return host === 'intuit.com' || host.endsWith('.intuit.com');
}

/** One key without the other is a mistake, not demo mode. */
export function clientKeysProblem(
  clientId: string | undefined,
  clientSecret: string | undefined,
): ConfigProblem | null {
  if ((clientId === undefined) === (clientSecret === undefined)) return null;
  const missing = clientId === undefined ? 'QB_CLIENT_ID' : 'QB_CLIENT_SECRET';
  const present = clientId === undefined ? 'QB_CLIENT_SECRET' : 'QB_CLIENT_ID';
  return {
    variable: missing,
    citing: present,
    message:
      `${present} is set but ${missing} is not: set both QB_CLIENT_ID and QB_CLIENT_SECRET (your Intuit ` +
      "app's keys), or neither (demo mode, or QB_DEMO=1)",
  };
}

/** In production every endpoint override must be on an Intuit host (unless the opt-in is set). */
export function productionHostProblem(
  values: Partial<Record<string, string>>,
  /** What makes production apply (QB_ENVIRONMENT, or production keys for some connections). */
  because = 'with QB_ENVIRONMENT=production',
): ConfigProblem | null {
  for (const variable of ENDPOINT_VARIABLES) {
    const value = values[variable];
    if (value === undefined) continue;
    let host: string;
    try {
      host = new URL(value).hostname;
    } catch {
      continue; // the URL check itself reports it
    }
    if (isIntuitHost(host)) continue;
    return {
      variable,
      message:
        `${variable} points at ${host}, which is not an Intuit host (intuit.com): ${because} ` +
        'the client secret and the tokens go only to Intuit. Remove it, or set ' +
        `${ALLOW_NON_INTUIT_URLS}=1 if you really mean to send them through another host (a proxy you run)`,
    };
  }
  return null;
}

/** The status's standing warning while the opt-in is set. */
export function nonIntuitUrlWarning(values: Partial<Record<string, string>>): string {
  const foreign = ENDPOINT_VARIABLES.flatMap((variable) => {
    const value = values[variable];
    if (value === undefined) return [];
    try {
      const host = new URL(value).hostname;
      return isIntuitHost(host) ? [] : [`${variable} (${host})`];
    } catch {
      return [];
    }
  });
  return (
    `${ALLOW_NON_INTUIT_URLS} is set: endpoints outside intuit.com are allowed${foreign.length ? `, and ${foreign.join(', ')} use one` : ''}; ` +
    'the client secret and the tokens go there. Unset it unless you run that host yourself.'
  );
}

/** QB_REDIRECT_URI's path must not be one of the server's routes (the callback's own path is fine). */
export function redirectPathProblem(
  redirectUri: string | undefined,
  routes: readonly string[],
  callbackPath = '/callback',
): ConfigProblem | null {
  if (redirectUri === undefined) return null;
  let path: string;
  try {
    path = new URL(redirectUri).pathname;
  } catch {
    return null; // the URL check itself reports it
  }
  if (path === callbackPath || !routes.includes(path)) return null;
  return {
    variable: 'QB_REDIRECT_URI',
    message:
      `QB_REDIRECT_URI's path ${path} is one of the server's own routes; use a path of its own such as ` +
      `${callbackPath} (and register that same URI in your Intuit app)`,
  };
}

const ASSIGNMENT = /^\s*(?:export\s+)?[\w.-]+\s*=(.*)$/;

/**
 * Every line of a .env file must be blank, a # comment or NAME=value (a quoted value may span
 * lines, as dotenv allows). Throws a ConfigError naming the file and the line number; the line
 * itself is not echoed, since it may hold a secret.
 */
export function checkDotenvLines(text: string, file: string): void {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const match = ASSIGNMENT.exec(line);
    if (!match) {
      throw new ConfigError(
        `${file}, line ${i + 1}, is not NAME=value (only such lines, # comments and blank lines are allowed)`,
      );
    }
    const value = match[1].trimStart();
    const quote = value[0];
    if (quote !== '"' && quote !== "'" && quote !== '`') continue;
    if (closes(value.slice(1), quote)) continue;
    // A quoted value that goes on over the next lines (dotenv's multi-line values).
    for (let j = i + 1; j < lines.length; j += 1) {
      if (closes(lines[j], quote)) {
        i = j;
        break;
      }
    }
  }
}

function closes(text: string, quote: string): boolean {
  for (let k = 0; k < text.length; k += 1) {
    if (text[k] === '\\') k += 1;
    else if (text[k] === quote) return true;
  }
  return false;
}
