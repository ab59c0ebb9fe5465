// With several companies, the window title names the worst state of all of them, so a glance at
// the taskbar or tab says whether one needs attention. With one company the title stays as it was.
import { useEffect } from 'react';
import { worstOf } from '../../shared/connections';
import { STATE_LABELS } from './format/labels';
import { useConnections } from './use-connections';

const APP_TITLE = 'QB Token Desk';

export function windowTitle(connections: Parameters<typeof worstOf>[0]): string {
  if (connections.length < 2) return APP_TITLE;
  const worst = worstOf(connections);
  if (!worst) return APP_TITLE;
  const failing = worst.lastRefresh?.ok === false && worst.state !== 'reauthorization_required';
  if (worst.state === 'valid' && !failing) return `All ${connections.length} valid · ${APP_TITLE}`;
  const what = failing ? 'Refresh failing' : STATE_LABELS[worst.state];
  return `${what}: ${worst.name} · ${APP_TITLE}`;
}

export function useWindowTitle(): void {
  const title = useConnections((s) => windowTitle(s.connections));
  useEffect(() => {
    document.title = title;
  }, [title]);
}
