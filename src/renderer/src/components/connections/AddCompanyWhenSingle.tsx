import { useConnections } from '../../use-connections';
import { useDashboard } from '../../use-dashboard';
import { AddCompany } from './AddCompany';

/** With one connected company, the way to a second one (the list, with its own button, appears then). */
export function AddCompanyWhenSingle() {
  const single = useConnections((s) => s.connections.length <= 1);
  const status = useDashboard((s) => s.status);
  if (!single || !status || status.refreshToken === null || !status.canConnect) return null;
  return <AddCompany defaultEnvironment={status.environment} />;
}
