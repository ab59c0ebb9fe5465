import { ACTION_LABELS } from '../format/labels';
import type { ActionName } from '../store';
import { useDashboard } from '../use-dashboard';
import { shortcutHint } from './shortcut-hint';

const ACTIONS: {
  name: ActionName & ('refresh' | 'clear' | 'testConnection');
  label: string;
  busy: string;
  testId: string;
}[] = [
  { name: 'refresh', label: ACTION_LABELS.refresh, busy: 'Refreshing…', testId: 'action-refresh' },
  { name: 'clear', label: ACTION_LABELS.clear, busy: 'Clearing…', testId: 'action-clear' },
  {
    name: 'testConnection',
    label: ACTION_LABELS.testConnection,
    busy: 'Testing…',
    testId: 'action-test-connection',
  },
];

export function ActionsBar() {
  const pending = useDashboard((s) => s.pending);
  const ready = useDashboard((s) => s.status !== null);
  // Refreshing and clearing need a refresh token; Test connection may still use QB_ACCESS_TOKEN.
  const connected = useDashboard((s) => Boolean(s.status?.refreshToken));
  const refresh = useDashboard((s) => s.refresh);
  const clear = useDashboard((s) => s.clear);
  const testConnection = useDashboard((s) => s.testConnection);
  const handlers = { refresh, clear, testConnection };
  return (
    <div className="actions">
      <div className="button-row" role="group" aria-label="Token actions">
        {ACTIONS.map((action) => {
          const shortcut = shortcutHint(action.name);
          return (
            <button
              key={action.name}
              type="button"
              className={`button ${action.name === 'refresh' ? 'primary' : ''}`}
              data-testid={action.testId}
              disabled={!ready || pending[action.name] || (action.name !== 'testConnection' && !connected)}
              aria-busy={pending[action.name]}
              aria-keyshortcuts={shortcut?.aria}
              onClick={() => void handlers[action.name]()}
            >
              {pending[action.name] ? <span className="spinner" aria-hidden="true" /> : null}
              {pending[action.name] ? action.busy : action.label}
              {shortcut ? (
                <kbd className="shortcut" aria-hidden="true" data-testid={`shortcut-${action.name}`}>
                  {shortcut.label}
                </kbd>
              ) : null}
            </button>
          );
        })}
      </div>
    </div>
  );
}
