// Reads a secret (the refresh token of `connections add`) from standard input: piped, the whole
// input; from a terminal, one line typed without echo. Never from an argument, which the shell's
// history and `ps` would show.
import { createInterface } from 'node:readline';
import { Writable, type Readable } from 'node:stream';

export async function readSecret(
  input: Readable & { isTTY?: boolean },
  prompt: Writable,
  question = 'Refresh token (input hidden): ',
): Promise<string> {
  if (!input.isTTY) {
    let text = '';
    for await (const chunk of input) text += String(chunk);
    return text.trim();
  }
  prompt.write(question);
  // readline echoes what is typed to its output; a muted one hides the token (raw mode: no tty echo).
  const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
  const rl = createInterface({ input, output: muted, terminal: true });
  try {
    const line = await new Promise<string>((resolve) => rl.once('line', resolve));
    prompt.write('\n');
    return line.trim();
  } finally {
    rl.close();
  }
}
