// Test-only probes for the kill -9 suite (src/server/crash-kill9.test.ts): with
// QB_DEBUG_REFRESH_MARKERS=1 the refresh path prints one line per step to stderr, so the suite can
// tell where in a refresh each kill landed and how long each step takes. A line is
// `[marker] <step> <sequence> <ms since the process started>`, never a token value. They are written with writeSync: a line printed before a SIGKILL is
// in the pipe when the process dies, and the suite reads it.
import { writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/**
 * The steps of one refresh, in order:
 * - `token-call`: the refresh request is about to be sent to Intuit;
 * - `answer-received`: the whole HTTP answer is in this process (body read);
 * - `answer-parsed`: the answer is validated and the engine has it;
 * - `renamed`: the new chain is in place in the store file (a SIGKILL can no longer lose it);
 * - `saved`: the save has also been fsynced (survives a power loss).
 */
export type RefreshStep = 'token-call' | 'answer-received' | 'answer-parsed' | 'renamed' | 'saved';

export const REFRESH_MARKERS_VARIABLE = 'QB_DEBUG_REFRESH_MARKERS';
export const REFRESH_MARKER_PREFIX = '[marker]';

const enabled = process.env[REFRESH_MARKERS_VARIABLE] === '1';
let sequence = 0;

export function markRefreshStep(step: RefreshStep): void {
  if (!enabled) return;
  if (step === 'token-call') sequence += 1;
  try {
    writeSync(2, `${REFRESH_MARKER_PREFIX} ${step} ${sequence} ${performance.now().toFixed(3)}\n`);
  } catch {
    // A closed stderr must never break a refresh.
  }
}
