// How the file store notices other processes' writes: fs.watch on the connections directory,
// debounced per record, reporting the revision found in the file. This instance's own writes and
// removals are not reported back to it.
import { watch, type FSWatcher } from 'node:fs';
import type { ConnectionId } from '../shared/contract';
import { isValidConnectionId } from '../shared/ids';
import type { RecordChange } from './connection-store';
import type { LogFn } from './log';

/** fs.watch reports a rename as several events: one re-read after they settle. */
const WATCH_DEBOUNCE_MS = 15;

interface RecordDirectoryWatchOptions {
  /** The directory as configured (for messages). */
  dir: string;
  /** The directory to watch, checked (links in its path resolved). */
  realDir: () => string;
  /** A record file's bytes, or null when there is none. */
  read: (id: ConnectionId) => Buffer | null;
  log: LogFn;
}

export class RecordDirectoryWatch {
  private readonly listeners = new Set<(change: RecordChange) => void>();
  private watcher: FSWatcher | null = null;
  private readonly debounce = new Map<string, ReturnType<typeof setTimeout>>();
  /** The revision this instance wrote last, per connection: its own writes are not reported to watchers. */
  private readonly written = new Map<ConnectionId, number>();
  /** Connections this instance removed and whose removal the watcher has not seen yet. */
  private readonly removedHere = new Set<ConnectionId>();

  constructor(private readonly options: RecordDirectoryWatchOptions) {}

  /** Watches while at least one listener is added; the returned function removes it. */
  add(listener: (change: RecordChange) => void): () => void {
    this.listeners.add(listener);
    this.start();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  /** This instance wrote this revision (its rename is done): not a change to report. */
  wrote(id: ConnectionId, revision: number): void {
    this.written.set(id, revision);
    this.removedHere.delete(id);
  }

  /** This instance removed the record: not a change to report. */
  removed(id: ConnectionId): void {
    this.removedHere.add(id);
  }

  close(): void {
    this.listeners.clear();
    this.stop();
  }

  private start(): void {
    if (this.watcher || this.listeners.size === 0) return;
    const { dir, log } = this.options;
    try {
      this.watcher = watch(this.options.realDir(), { persistent: false }, (_event, name) => {
        if (typeof name === 'string' && name.endsWith('.json') && !name.startsWith('.')) this.changed(name);
      });
      this.watcher.on('error', (err) => {
        log(`Watching ${dir} stopped: ${err.message}; changes by other processes show at the next refresh.`);
        this.stop();
      });
    } catch (err) {
      log(
        `Cannot watch ${dir} (${(err as Error).message}); changes by other processes show at the next refresh.`,
      );
    }
  }

  private stop(): void {
    this.watcher?.close();
    this.watcher = null;
    for (const timer of this.debounce.values()) clearTimeout(timer);
    this.debounce.clear();
  }

  private changed(name: string): void {
    const id = name.slice(0, -'.json'.length);
    if (!isValidConnectionId(id)) return;
    clearTimeout(this.debounce.get(id));
    const timer = setTimeout(() => {
      this.debounce.delete(id);
      this.notify(id);
    }, WATCH_DEBOUNCE_MS);
    timer.unref?.();
    this.debounce.set(id, timer);
  }

  private notify(id: ConnectionId): void {
    let revision: number;
    try {
      const body = this.options.read(id);
      // Removed (`connections remove` in another process): revision 0 tells a watcher to re-read
      // and find no record; an engine, whose revision is higher, ignores it.
      if (body === null) {
        if (!this.removedHere.delete(id)) this.emit({ id, revision: 0 });
        return;
      }
      const json = JSON.parse(body.toString('utf8')) as {
        record?: { revision?: unknown };
      } | null;
      if (typeof json?.record?.revision !== 'number') return;
      revision = json.record.revision;
    } catch {
      return;
    }
    if (this.written.get(id) === revision) return;
    this.emit({ id, revision });
  }

  private emit(change: RecordChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        this.options.log(`A store watcher threw: ${(err as Error).message}`);
      }
    }
  }
}
