import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configSecrets, describeConfig, loadConfig } from './config';
import { useConfigCwd } from './testing/config-cwd';

const cwd = useConfigCwd('qbtd-ops-config-');
const failure = cwd.failure;

const SLACK = 'https://hooks.slack.com/services/T000/B000/XXXXsecretpathXXXX';

describe('ops configuration', () => {
  it('defaults: human logs, no metrics token, no alerts', () => {
    expect(loadConfig({}, cwd.path).ops).toEqual({
      metricsToken: null,
      alertWebhookUrl: null,
      alertWebhookSecret: null,
      logFormat: 'text',
    });
  });

  it('reads the four variables, from .env too', async () => {
    await writeFile(join(cwd.path, '.env'), 'QB_LOG_FORMAT=JSON\n');
    const config = loadConfig(
      {
        QB_METRICS_TOKEN: 'scrape-secret-0123456789',
        QB_ALERT_WEBHOOK_URL: SLACK,
        QB_ALERT_WEBHOOK_SECRET: 'hmac-key-0123456789abcdef',
      },
      cwd.path,
    );
    expect(config.ops).toEqual({
      metricsToken: 'scrape-secret-0123456789',
      alertWebhookUrl: SLACK,
      alertWebhookSecret: 'hmac-key-0123456789abcdef',
      logFormat: 'json',
    });
    expect(config.sources.QB_LOG_FORMAT).toBe('.env');
  });

  it('names the bad variable and what it expects', async () => {
    expect(failure({ QB_LOG_FORMAT: 'xml' })).toMatchObject({ variable: 'QB_LOG_FORMAT' });
    expect(failure({ QB_LOG_FORMAT: 'xml' }).message).toBe(
      'QB_LOG_FORMAT must be "text" (the default) or "json", got "xml"',
    );
    expect(failure({ QB_METRICS_TOKEN: 'short' }).message).toMatch(
      /^QB_METRICS_TOKEN must be at least 16 characters/,
    );
    expect(failure({ QB_ALERT_WEBHOOK_SECRET: 'short' }).variable).toBe('QB_ALERT_WEBHOOK_SECRET');
    expect(failure({ QB_ALERT_WEBHOOK_URL: 'not a url' }).message).toMatch(
      /^QB_ALERT_WEBHOOK_URL must be an absolute https URL/,
    );
    expect(failure({ QB_ALERT_WEBHOOK_URL: 'http://alerts.example.com/hook' }).message).toMatch(
      /QB_ALERT_WEBHOOK_URL must use https \(plain http is allowed only to 127.0.0.1 or localhost\)/,
    );
    expect(
      loadConfig({ QB_ALERT_WEBHOOK_URL: 'http://127.0.0.1:9000/hook' }, cwd.path).ops.alertWebhookUrl,
    ).toBe('http://127.0.0.1:9000/hook');
    await writeFile(join(cwd.path, '.env.local'), 'QB_LOG_FORMAT=yaml\n');
    expect(failure({}).message).toMatch(/got "yaml" \(from \.env\.local\)$/);
  });

  it('never shows the secrets: not in errors, not in the described configuration; the redactor knows them', () => {
    const secretPath = 'http://localhost/hook/very-secret-path-1234';
    const err = failure({ QB_ALERT_WEBHOOK_URL: 'ftp://x/very-secret-path-1234', QB_LOG_FORMAT: 'text' });
    expect(err.message).not.toContain('very-secret-path');
    const config = loadConfig(
      {
        QB_ALERT_WEBHOOK_URL: secretPath,
        QB_METRICS_TOKEN: 'scrape-secret-0123456789',
        QB_ALERT_WEBHOOK_SECRET: 'hmac-key-0123456789abcdef',
      },
      cwd.path,
    );
    const described = JSON.stringify(describeConfig(config));
    expect(described).not.toContain('very-secret-path');
    expect(described).not.toContain('scrape-secret');
    expect(described).not.toContain('hmac-key');
    expect(describeConfig(config)).toMatchObject({
      QB_ALERT_WEBHOOK_URL: 'http://localhost/…',
      QB_METRICS_TOKEN: 'set',
    });
    expect(configSecrets(config)).toEqual(
      expect.arrayContaining([secretPath, 'scrape-secret-0123456789', 'hmac-key-0123456789abcdef']),
    );
  });
});
