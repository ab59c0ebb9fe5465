// The engine's errors as the library's users see them.
import { describe, expect, it } from 'vitest';
import {
  ConnectionRemovedError,
  UnknownConnectionError as EngineUnknownConnectionError,
} from '../core/errors';
import { toLibraryError, UnknownConnectionError } from './errors';

describe('toLibraryError', () => {
  it('a connection another process removed during a refresh says it was removed, not that it never existed', () => {
    const removed = toLibraryError(new ConnectionRemovedError('5550102'));
    expect(removed).toBeInstanceOf(UnknownConnectionError);
    expect((removed as Error).message).toMatch(
      /^The connection "5550102" was removed \(by the desk or another process\)/,
    );
    expect((removed as Error).cause).toBeInstanceOf(ConnectionRemovedError);
  });

  it('an id the engine does not know is "no connection"', () => {
    const unknown = toLibraryError(new EngineUnknownConnectionError('9999'));
    expect(unknown).toBeInstanceOf(UnknownConnectionError);
    expect((unknown as Error).message).toMatch(/^There is no connection "9999"/);
  });
});
