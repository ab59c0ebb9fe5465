import type { ActionName } from '../store';
import { useDashboard } from '../use-dashboard';

/** What the last run of an action said, in the page (never an alert box). */
export function ActionOutcomeNote(props: { action: ActionName; testId: string }) {
  const outcome = useDashboard((s) => s.outcomes[props.action]);
  const dismiss = useDashboard((s) => s.dismiss);
  if (!outcome) return null;
  return (
    <div
      className={`outcome ${outcome.ok ? 'tone-good' : 'tone-bad'}`}
      data-testid={props.testId}
      data-ok={outcome.ok}
    >
      <p>
        {outcome.ok ? (
          outcome.message
        ) : (
          <>
            <strong>Failed:</strong> {outcome.error.message}
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
        onClick={() => dismiss(props.action)}
      >
        ×
      </button>
    </div>
  );
}
