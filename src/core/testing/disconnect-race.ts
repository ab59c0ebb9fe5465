// Test helper: the race Disconnect must win when several processes share a store. Another process
// ("other") refreshes the connection while this one ("serving") disconnects it or removes it: the
// other's refresh holds the lock and Intuit has already rotated the refresh token (the one the store
// still holds is retired), its save of the new one not done yet. Serving's Disconnect is then started
// and let through to the real lock. Whatever Disconnect revokes must be the newest token, or the
// rotated one stays live at Intuit after the user was told the company is disconnected.
import type { EmulatorHandle } from '../../emulator/types';
import type { ConnectionId, TokenStatus } from '../../shared/contract';
import { previewToken } from '../../shared/preview';
import type { StartedDesk } from '../bootstrap';
import type { HeldStore } from './held-store';
import type { holdableSaves } from './store-wrapper';

export interface DisconnectRace {
  /** This process; its store is `servingLock.store`. */
  serving: StartedDesk;
  servingLock: HeldStore;
  /** Another process on the same store, its saves held by `otherSaves`. */
  other: StartedDesk;
  otherSaves: ReturnType<typeof holdableSaves>;
  id: ConnectionId;
  /** Disconnect (the connection stays, without tokens) or `connections remove` (its record goes too). */
  how: 'disconnect' | 'remove';
}

/** Runs the race; resolves with what serving's Disconnect answered once both are done. */
export async function disconnectDuringOtherRefresh(race: DisconnectRace): Promise<TokenStatus> {
  const { serving, servingLock, other, otherSaves, id } = race;
  otherSaves.hold();
  const refreshing = other.connections.desk(id).refresh('manual');
  // Intuit has answered the other's refresh: the stored refresh token is retired, the new one unsaved.
  await otherSaves.saveAsked();
  servingLock.holdLock(id);
  const disconnecting =
    race.how === 'remove'
      ? serving.connections.removeReporting(id).then((done) => done.disconnected)
      : serving.connectFlow.disconnect({ connectionId: id });
  disconnecting.catch(() => undefined);
  // Serving asks for the lock: before it reads the token to revoke, or (if it read it outside the lock)
  // after revoking that one. Then it waits behind the other's refresh, which saves and lets go.
  await servingLock.lockAsked();
  servingLock.releaseLock();
  otherSaves.release();
  await refreshing;
  return disconnecting;
}

/**
 * Previews of the refresh tokens Intuit would still accept among what the emulator issued, except
 * `excluded` (previews: a failing assertion prints them).
 */
export function liveRefreshTokens(emulator: EmulatorHandle, excluded: ReadonlySet<string>): string[] {
  return emulator.control
    .issuedTokenValues()
    .filter((value) => !excluded.has(value) && emulator.control.isRefreshTokenValid(value))
    .map(previewToken);
}
