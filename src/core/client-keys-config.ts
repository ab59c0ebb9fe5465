// The Intuit app's keys per environment, for a desk with companies in both. Intuit issues an app
// separate development (sandbox) and production keys, so a connection is refreshed with the keys
// of its own environment:
//   QB_SANDBOX_CLIENT_ID / QB_SANDBOX_CLIENT_SECRET         sandbox connections
//   QB_PRODUCTION_CLIENT_ID / QB_PRODUCTION_CLIENT_SECRET   production connections
//   QB_CLIENT_ID / QB_CLIENT_SECRET                         QB_ENVIRONMENT's, unless its own pair is set
// An environment with no keys cannot refresh or connect (its connections say not configured).
// config.ts calls in here from one-line hooks.
import { z } from 'zod';
import type { QbEnvironment } from '../shared/contract';
import { previewToken } from '../shared/preview';
import type { ConfigProblem } from './config-rules';

export const CLIENT_KEY_VARIABLES = [
  'QB_SANDBOX_CLIENT_ID',
  'QB_SANDBOX_CLIENT_SECRET',
  'QB_PRODUCTION_CLIENT_ID',
  'QB_PRODUCTION_CLIENT_SECRET',
] as const;

export const CLIENT_KEY_SECRET_VARIABLES = ['QB_SANDBOX_CLIENT_SECRET', 'QB_PRODUCTION_CLIENT_SECRET'];

export const clientKeySchema = {
  QB_SANDBOX_CLIENT_ID: z.string().optional(),
  QB_SANDBOX_CLIENT_SECRET: z.string().optional(),
  QB_PRODUCTION_CLIENT_ID: z.string().optional(),
  QB_PRODUCTION_CLIENT_SECRET: z.string().optional(),
};

interface ClientKeys {
  clientId: string;
  clientSecret: string;
}

export type ClientKeysByEnvironment = Record<QbEnvironment, ClientKeys | null>;

const ENVIRONMENTS: readonly QbEnvironment[] = ['sandbox', 'production'];

type KeyVariable = (typeof CLIENT_KEY_VARIABLES)[number];

function pairNames(environment: QbEnvironment): { id: KeyVariable; secret: KeyVariable } {
  return environment === 'sandbox'
    ? { id: 'QB_SANDBOX_CLIENT_ID', secret: 'QB_SANDBOX_CLIENT_SECRET' }
    : { id: 'QB_PRODUCTION_CLIENT_ID', secret: 'QB_PRODUCTION_CLIENT_SECRET' };
}

/** One key of a per-environment pair without the other: a mistake, named like QB_CLIENT_ID's. */
export function environmentKeysProblem(values: Partial<Record<string, string>>): ConfigProblem | null {
  for (const environment of ENVIRONMENTS) {
    const names = pairNames(environment);
    const id = values[names.id];
    const secret = values[names.secret];
    if ((id === undefined) === (secret === undefined)) continue;
    const [missing, present] = id === undefined ? [names.id, names.secret] : [names.secret, names.id];
    return {
      variable: missing,
      message: `${present} is set but ${missing} is not: set both (the Intuit app's ${environment} keys), or neither`,
    };
  }
  return null;
}

/** The keys each environment's connections use (see the top of this file). */
export function resolveClientKeys(
  values: Partial<Record<string, string>>,
  defaultEnvironment: QbEnvironment,
): ClientKeysByEnvironment {
  const keys: ClientKeysByEnvironment = { sandbox: null, production: null };
  for (const environment of ENVIRONMENTS) {
    const names = pairNames(environment);
    const id = values[names.id];
    const secret = values[names.secret];
    if (id !== undefined && secret !== undefined) keys[environment] = { clientId: id, clientSecret: secret };
  }
  const id = values.QB_CLIENT_ID;
  const secret = values.QB_CLIENT_SECRET;
  if (keys[defaultEnvironment] === null && id !== undefined && secret !== undefined)
    keys[defaultEnvironment] = { clientId: id, clientSecret: secret };
  return keys;
}

/** The environments whose connections can refresh and connect. */
export function environmentsWithKeys(keys: ClientKeysByEnvironment): QbEnvironment[] {
  return ENVIRONMENTS.filter((environment) => keys[environment] !== null);
}

export function describeClientKeys(
  keys: ClientKeysByEnvironment,
  sources: Partial<Record<string, unknown>>,
): Record<string, string | null> {
  const described: Record<string, string | null> = {};
  for (const environment of ENVIRONMENTS) {
    const names = pairNames(environment);
    // Only the pairs set by name: QB_CLIENT_ID's keys are described under their own names.
    const own = sources[names.id] !== undefined ? keys[environment] : null;
    described[names.id] = own?.clientId ?? null;
    described[names.secret] = own ? previewToken(own.clientSecret) : null;
  }
  return described;
}

export function clientKeySecrets(keys: ClientKeysByEnvironment): string[] {
  return ENVIRONMENTS.flatMap((environment) => {
    const secret = keys[environment]?.clientSecret;
    return secret ? [secret] : [];
  });
}
