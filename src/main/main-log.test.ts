import { describe, expect, it } from 'vitest';
import { SecretRegistry } from '../core/log';
import { createMainLog } from './main-log';

function sink() {
  const lines: string[] = [];
  return {
    lines,
    sink: { error: (l: string) => lines.push(`E ${l}`), warn: (l: string) => lines.push(`W ${l}`) },
  };
}

describe('createMainLog', () => {
  it('redacts the environment’s secrets from main’s own lines', () => {
    const { lines, sink: out } = sink();
    const log = createMainLog(
      { QB_CLIENT_SECRET: 'client-secret-value-1234', QB_REFRESH_TOKEN: ' RT-from-the-env-5678 ' },
      out,
    );
    log.error('[main] start-up failed: Error: bad secret client-secret-value-1234 for RT-from-the-env-5678');
    log.warn('[main] plain line');
    expect(lines).toEqual([
      'E [main] start-up failed: Error: bad secret …1234 for …5678',
      'W [main] plain line',
    ]);
  });

  it('also redacts what the started engine has seen, once adopted', () => {
    const { lines, sink: out } = sink();
    const log = createMainLog({}, out);
    const engine = new SecretRegistry();
    engine.add('access-token-issued-later-ABCD');
    log.error('before: access-token-issued-later-ABCD');
    log.adopt(engine);
    log.error('after: access-token-issued-later-ABCD');
    expect(lines).toEqual(['E before: access-token-issued-later-ABCD', 'E after: …ABCD']);
  });
});
