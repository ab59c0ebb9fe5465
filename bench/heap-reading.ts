// For the memory scenarios' children (started with --expose-gc by heap-child-runner.ts): the heap
// read after a forced full collection, so garbage not yet collected does not count.
const gc = (globalThis as { gc?: () => void }).gc;

/** False when the child was started without --expose-gc: its readings then include garbage. */
export const gcExposed = gc !== undefined;

export function heapUsed(): number {
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
}
