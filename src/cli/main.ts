// Entry point of `qb-token`: built into dist/cli/main.js, which bin/qb-token.js runs (in a development
// checkout with newer sources, bin/qb-token.js runs this file through tsx instead).
import { runCli } from './run';
import { readSecret } from './stdin-secret';

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  cwd: process.cwd(),
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readSecret: () => readSecret(process.stdin, process.stderr),
});
// exitCode, not exit(): lets stdout drain when it is a pipe.
process.exitCode = code;
