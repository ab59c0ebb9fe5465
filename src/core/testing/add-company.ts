// Test helper: a company added to a running desk with a fresh authorization from the emulator, as
// `qb-token connections add` adds one.
import type { EmulatorHandle } from '../../emulator/types';
import type { TokenStatus } from '../../shared/contract';
import type { AddConnectionInput, ConnectionRegistry } from '../connection-registry';

export function addAuthorizedCompany(
  connections: ConnectionRegistry,
  emulator: EmulatorHandle,
  company: Omit<AddConnectionInput, 'refreshToken' | 'environment'> &
    Partial<Pick<AddConnectionInput, 'environment'>>,
): Promise<TokenStatus> {
  const issued = emulator.control.issueAuthorization(company.realmId);
  return connections.add({ environment: 'sandbox', ...company, refreshToken: issued.refreshToken });
}
