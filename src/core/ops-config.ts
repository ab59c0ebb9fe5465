// The variables for running the desk as a service (metrics, alerts, log format). Kept apart from
// config.ts, which reads them through the same three sources (environment, .env.local, .env) and
// hands the collected values here; this module validates them and names the bad variable.
import { ConfigError } from './errors';
import type { LogFormat } from './json-log';

export const OPS_VARIABLES = [
  'QB_METRICS_TOKEN',
  'QB_ALERT_WEBHOOK_URL',
  'QB_ALERT_WEBHOOK_SECRET',
  'QB_LOG_FORMAT',
] as const;

type OpsVariable = (typeof OPS_VARIABLES)[number];

/** Never echoed in an error or a log: a Slack webhook URL carries its own secret in the path. */
export const OPS_SECRET_VARIABLES: readonly OpsVariable[] = [
  'QB_METRICS_TOKEN',
  'QB_ALERT_WEBHOOK_URL',
  'QB_ALERT_WEBHOOK_SECRET',
];

export interface OpsConfig {
  /** A second Bearer secret that opens GET /metrics only (the admin secret opens it too). */
  metricsToken: string | null;
  /** Where alerts are POSTed; null = no alerts. */
  alertWebhookUrl: string | null;
  /** Key of the alert's HMAC-SHA256 signature header; null = unsigned. */
  alertWebhookSecret: string | null;
  logFormat: LogFormat;
}

const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];
const MIN_SECRET_LENGTH = 16;

/**
 * Validates the ops variables among `values` (already trimmed, empty = unset). `where` says which
 * file a variable came from, for the error message.
 */
export function opsConfigFrom(
  values: Partial<Record<OpsVariable, string>>,
  where: (name: OpsVariable) => string = () => '',
): OpsConfig {
  const fail = (name: OpsVariable, message: string): never => {
    throw new ConfigError(`${message}${where(name)}`, name);
  };
  const secret = (name: OpsVariable, purpose: string): string | null => {
    const value = values[name];
    if (value !== undefined && value.length < MIN_SECRET_LENGTH) {
      fail(name, `${name} must be at least ${MIN_SECRET_LENGTH} characters (${purpose})`);
    }
    return value ?? null;
  };

  const format = values.QB_LOG_FORMAT?.toLowerCase() ?? 'text';
  if (format !== 'text' && format !== 'json') {
    fail(
      'QB_LOG_FORMAT',
      `QB_LOG_FORMAT must be "text" (the default) or "json", got ${JSON.stringify(values.QB_LOG_FORMAT?.slice(0, 40))}`,
    );
  }

  const url = values.QB_ALERT_WEBHOOK_URL;
  if (url !== undefined) {
    // The alert carries no token, but a webhook URL usually carries the receiver's own secret
    // (Slack's does): it travels only over https, or to a receiver on this machine.
    let parsed: URL | null = null;
    try {
      parsed = new URL(url);
    } catch {
      fail(
        'QB_ALERT_WEBHOOK_URL',
        'QB_ALERT_WEBHOOK_URL must be an absolute https URL such as https://hooks.slack.com/services/…',
      );
    }
    const ok =
      parsed !== null &&
      (parsed.protocol === 'https:' ||
        (parsed.protocol === 'http:' && LOOPBACK_HOSTS.includes(parsed.hostname)));
    if (!ok) {
      fail(
        'QB_ALERT_WEBHOOK_URL',
        'QB_ALERT_WEBHOOK_URL must use https (plain http is allowed only to 127.0.0.1 or localhost)',
      );
    }
  }

  return {
    metricsToken: secret('QB_METRICS_TOKEN', 'a random string a Prometheus scraper sends as Bearer'),
    alertWebhookUrl: url ?? null,
    alertWebhookSecret: secret('QB_ALERT_WEBHOOK_SECRET', 'the key alerts are signed with'),
    logFormat: format as LogFormat,
  };
}

/** A loggable view: which features are on, never a secret (the webhook URL shows its origin only). */
export function describeOpsConfig(ops: OpsConfig): Record<string, string | null> {
  return {
    QB_METRICS_TOKEN: ops.metricsToken === null ? null : 'set',
    QB_ALERT_WEBHOOK_URL: ops.alertWebhookUrl === null ? null : `${new URL(ops.alertWebhookUrl).origin}/…`,
    QB_ALERT_WEBHOOK_SECRET: ops.alertWebhookSecret === null ? null : 'set',
    QB_LOG_FORMAT: ops.logFormat,
  };
}

/** The ops secrets, for the log redactor. */
export function opsSecrets(ops: OpsConfig): string[] {
  return [ops.metricsToken, ops.alertWebhookUrl, ops.alertWebhookSecret].filter(
    (value): value is string => value !== null,
  );
}
