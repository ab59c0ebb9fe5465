// A desk with exactly one connection seen as a ConnectionsDesk, for callers that start the server
// over a bare TokenDesk (tests, an embedding app): the list holds it alone and nothing is removable.
import { DEFAULT_CONNECTION_ID, type ConnectionSummary, type TokenStatus } from '../shared/contract';
import { summarizeStatus } from '../shared/connections';
import type { ConnectionsDesk, TokenDesk } from './desk';
import { ConfigError, UnknownConnectionError } from './errors';

export function singleConnection(desk: TokenDesk): ConnectionsDesk {
  const list = (): ConnectionSummary[] => [summarizeStatus(desk.getStatus())];
  return {
    desk(id = DEFAULT_CONNECTION_ID) {
      if (id !== desk.getStatus().connection.id) throw new UnknownConnectionError(id);
      return desk;
    },
    list,
    statuses: (): TokenStatus[] => [desk.getStatus()],
    onStatusChanged: (listener) => desk.onStatusChanged(listener),
    onConnectionsChanged: () => () => undefined,
    async remove(id) {
      if (id !== desk.getStatus().connection.id) throw new UnknownConnectionError(id);
      throw new ConfigError('This desk serves one connection, which can be disconnected but not removed.');
    },
  };
}
