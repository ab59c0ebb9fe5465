import type { ActionName, ActionOutcome } from '../store';
import { useDashboard } from '../use-dashboard';
import { ActionOutcomeNote } from './ActionOutcomeNote';

/** Shown where they were asked for instead: Disconnect's failures sit in its confirm box. */
const shownInPlace = (action: ActionName, outcome: ActionOutcome) => action === 'disconnect' && !outcome.ok;

/**
 * Action results float over the page's corner (newest nearest the corner), so a message never pushes the cards down. Screen
 * readers hear them through the page's live region (LiveRegion), so this list is not live itself.
 */
export function ActionResults() {
  const outcomes = useDashboard((s) => s.outcomes);
  const shown = (Object.entries(outcomes) as [ActionName, ActionOutcome | undefined][])
    .filter((entry): entry is [ActionName, ActionOutcome] => entry[1] !== undefined)
    .filter(([action, outcome]) => !shownInPlace(action, outcome))
    .sort((a, b) => a[1].at - b[1].at);
  if (shown.length === 0) return null;
  return (
    <section className="toasts" aria-label="Action results" data-testid="action-results">
      <ol>
        {shown.map(([action, outcome]) => (
          <ActionOutcomeNote key={action} action={action} outcome={outcome} />
        ))}
      </ol>
    </section>
  );
}
