// What the library's tests share: one emulator per test file; per test a fresh store directory and
// leak scan, the handles the test opened closed at its end (their last status scanned for token
// values), and the scan asserted clean. Registers the vitest hooks itself.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { LeakScan } from '../../core/testing/leak-scan';
import { startEmulator } from '../../emulator';
import type { EmulatorHandle, EmulatorOptions } from '../../emulator/types';
import type { QuickBooks } from '../quickbooks';

export interface LibraryTestBed {
  readonly emulator: EmulatorHandle;
  /** This test's store (QB_DATA_DIR and the working directory), removed at its end. */
  readonly dataDir: string;
  /** This test's leak scan, asserted clean at its end. */
  readonly scan: LeakScan;
  /** Keeps `quickbooks` to close at the test's end, after scanning its last status. */
  track<T extends QuickBooks>(quickbooks: T): T;
  /** The error `promise` rejects with (it must reject with an Error), scanned for token values. */
  rejection(promise: Promise<unknown>): Promise<Error>;
  /** The emulator's refresh_token grant count. */
  tokenCalls(): number;
}

export interface LibraryTestBedOptions {
  /** The store directories' name prefix (shown in tmp). */
  prefix: string;
  emulator?: EmulatorOptions;
  /** Run-time emulator settings each test starts from (a test may change them). */
  eachTest?: Parameters<EmulatorHandle['control']['configure']>[0];
  /** More cleanup after the handles are closed, before the scan is checked. */
  cleanup?: () => Promise<void>;
}

export function libraryTestBed(options: LibraryTestBedOptions): LibraryTestBed {
  let emulator: EmulatorHandle | null = null;
  let dataDir: string | null = null;
  let scan: LeakScan | null = null;
  const opened: QuickBooks[] = [];
  const started = <T>(value: T | null, what: string): T => {
    if (value === null) throw new Error(`libraryTestBed: ${what} is only there inside a test.`);
    return value;
  };

  beforeAll(async () => {
    emulator = await startEmulator(options.emulator);
  });

  afterAll(async () => {
    await emulator?.close();
  });

  beforeEach(async () => {
    const running = started(emulator, 'the emulator');
    running.control.clearFaults();
    running.control.resetCounters();
    if (options.eachTest) running.control.configure(options.eachTest);
    dataDir = await mkdtemp(join(tmpdir(), `${options.prefix}-`));
    scan = new LeakScan().addEmulator(running);
  });

  afterEach(async () => {
    const scanning = started(scan, 'the leak scan');
    for (const quickbooks of opened.splice(0)) {
      try {
        scanning.collect('final status', quickbooks.getStatus());
      } catch {
        // never started, closed, or removed
      }
      await quickbooks.close();
    }
    await options.cleanup?.();
    scanning.assertClean();
    await rm(started(dataDir, 'the store directory'), { recursive: true, force: true });
  });

  return {
    get emulator() {
      return started(emulator, 'the emulator');
    },
    get dataDir() {
      return started(dataDir, 'the store directory');
    },
    get scan() {
      return started(scan, 'the leak scan');
    },
    track(quickbooks) {
      opened.push(quickbooks);
      return quickbooks;
    },
    async rejection(promise) {
      const error = await promise.then(
        () => null,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(Error);
      started(scan, 'the leak scan').collect('error', error);
      return error as Error;
    },
    tokenCalls() {
      return started(emulator, 'the emulator').control.counters().tokenCalls.refresh_token;
    },
  };
}
