// What the ops (probes, metrics, alerts) see of a started desk: every connection's status, their
// changes, the redacting log, and where alert announcements are claimed. The one place that knows
// how the engine exposes these, for the CLI and the tests alike.
import type { StartedDesk } from '../../core/bootstrap';
import type { DeskView } from './service-ops';

export function deskViewOf(started: StartedDesk): DeskView {
  return {
    statuses: () => [started.desk.getStatus()],
    subscribe: (listener) => started.desk.onStatusChanged(listener),
    log: started.log,
    store: started.store,
    statusFor: (record) => started.manager.statusFor(record),
  };
}
