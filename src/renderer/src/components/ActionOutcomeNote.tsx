import { useEffect, useState } from 'react';
import { ACTION_LABELS } from '../format/labels';
import type { ActionName, ActionOutcome } from '../store';
import { useDashboard } from '../use-dashboard';

/** How long a success stays on screen; errors stay until closed. */
const SUCCESS_VISIBLE_MS = 6000;

/**
 * Closes a success after SUCCESS_VISIBLE_MS, counted afresh once the pointer or focus leaves it
 * (a reader is not cut off mid-sentence). Returns the handlers that hold it open.
 */
function useAutoDismiss(action: ActionName, outcome: ActionOutcome | undefined) {
  const dismiss = useDashboard((s) => s.dismiss);
  const [held, setHeld] = useState({ pointer: false, focus: false });
  const holding = held.pointer || held.focus;
  useEffect(() => {
    if (!outcome?.ok || holding) return;
    const timer = setTimeout(() => dismiss(action, outcome.at), SUCCESS_VISIBLE_MS);
    return () => clearTimeout(timer);
  }, [action, outcome, holding, dismiss]);
  return {
    onPointerEnter: () => setHeld((h) => ({ ...h, pointer: true })),
    onPointerLeave: () => setHeld((h) => ({ ...h, pointer: false })),
    onFocus: () => setHeld((h) => ({ ...h, focus: true })),
    onBlur: () => setHeld((h) => ({ ...h, focus: false })),
  };
}

/** What the last run of an action said: one item of the overlay (never an alert box). */
export function ActionOutcomeNote(props: { action: ActionName; outcome: ActionOutcome }) {
  const { action, outcome } = props;
  const dismiss = useDashboard((s) => s.dismiss);
  const hold = useAutoDismiss(action, outcome);
  return (
    <li
      className={`outcome toast ${outcome.ok ? 'tone-good' : 'tone-bad'}`}
      data-testid={`outcome-${action}`}
      data-ok={outcome.ok}
      {...hold}
    >
      <p>
        {outcome.ok ? (
          outcome.message
        ) : (
          <>
            <strong>{ACTION_LABELS[action]} failed:</strong> {outcome.error.message}
            {outcome.error.intuitTid ? (
              <>
                {' '}
                <span className="muted">intuit_tid</span> <code>{outcome.error.intuitTid}</code>
              </>
            ) : null}
          </>
        )}
      </p>
      <button
        type="button"
        className="button ghost small"
        aria-label="Dismiss this message"
        onClick={() => dismiss(action)}
      >
        ×
      </button>
    </li>
  );
}
