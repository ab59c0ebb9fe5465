// The grammar of several companies on the command line: `--connection` before or after the command,
// `connections list|add|remove` and what each accepts.
import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from './args';

describe('qb-token arguments for several companies', () => {
  it('takes --connection before or after the command name, with a space or =', () => {
    for (const argv of [
      ['--connection', '9130', 'status'],
      ['status', '--connection', '9130'],
      ['status', '--connection=9130'],
    ]) {
      expect(parseArgs(argv)).toEqual({ command: 'status', json: false, verbose: false, connection: '9130' });
    }
    expect(parseArgs(['token', '--connection', 'default']).connection).toBe('default');
  });

  it('parses connections list, add and remove', () => {
    expect(parseArgs(['connections', 'list', '--json'])).toEqual({
      command: 'connections',
      subcommand: 'list',
      json: true,
      verbose: false,
    });
    expect(
      parseArgs([
        'connections',
        'add',
        '--name',
        'Acme Ltd',
        '--realm',
        '9130',
        '--environment',
        'production',
      ]),
    ).toMatchObject({ subcommand: 'add', name: 'Acme Ltd', realm: '9130', environment: 'production' });
    expect(parseArgs(['connections', 'remove', '9130', '--force'])).toMatchObject({
      subcommand: 'remove',
      target: '9130',
      force: true,
    });
  });

  it.each([
    [['connections'], /needs list, add or remove/],
    [['connections', 'drop'], /unknown connections command "drop"/],
    [['connections', 'add', '--realm', '1', '--environment', 'sandbox'], /needs --name/],
    [['connections', 'add', '--name', 'A', '--environment', 'sandbox'], /needs --realm/],
    [['connections', 'add', '--name', 'A', '--realm', '12x', '--environment', 'sandbox'], /digits only/],
    [['connections', 'add', '--name', 'A', '--realm', '1', '--environment', 'live'], /--environment sandbox/],
    [
      ['connections', 'add', '--name', 'A', '--realm', '1', '--environment', 'sandbox', 'RT-token'],
      /standard input/,
    ],
    [['connections', 'remove'], /one connection id/],
    [['connections', 'remove', 'a/b'], /a connection id is 1 to 64/],
    [['connections', 'list', '--connection', '1'], /--connection applies to status/],
    [['connections', 'list', '--force'], /--force applies to connections remove only/],
    [['status', '--force'], /unknown option --force/],
    [['status', '--name', 'x'], /--name applies to connections add only/],
    [['status', '--connection'], /--connection needs a value/],
    [['status', '--connection', '1', '--connection', '2'], /given twice/],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });
});
