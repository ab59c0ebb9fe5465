import type { ReactNode } from 'react';
import { useConnections } from '../../use-connections';
import { ConnectionList } from './ConnectionList';
import { ConnectionsOutcome } from './ConnectionsOutcome';
import { SelectedConnection } from './SelectedConnection';

/**
 * The dashboard, with the list of companies beside it when there are several. With one company
 * the page is the dashboard alone, as it always was.
 */
export function Workspace(props: { children: ReactNode }) {
  const several = useConnections((s) => s.connections.length > 1);
  if (!several) {
    return (
      <main className="content">
        <ConnectionsOutcome />
        {props.children}
      </main>
    );
  }
  return (
    <div className="workspace">
      <ConnectionList />
      <main className="content">
        <SelectedConnection />
        {props.children}
      </main>
    </div>
  );
}
