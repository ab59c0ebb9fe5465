// What the ops (probes, metrics, alerts) see of a started desk: every connection's status, their
// changes, the redacting log, and where alert announcements are claimed. The one place that knows
// how the engine exposes these, for the CLI and the tests alike.
import type { StartedDesk } from '../../core/bootstrap';
import type { DeskView } from './service-ops';

export function deskViewOf(started: StartedDesk): DeskView {
  const { connections } = started;
  return {
    statuses: () => connections.statuses(),
    subscribe: (listener) => connections.onStatusChanged(listener),
    log: started.log,
    store: started.store,
    // A record of a connection removed meanwhile still decides on its own facts: the default's stand in.
    statusFor: (record) =>
      (connections.has(record.id) ? connections.manager(record.id) : connections.manager()).statusFor(record),
  };
}
