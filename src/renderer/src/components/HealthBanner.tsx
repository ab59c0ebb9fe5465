import { verdictFor } from '../format/labels';
import { useDashboard } from '../use-dashboard';

/** The page's first line: will QuickBooks keep working? */
export function HealthBanner() {
  const status = useDashboard((s) => s.status);
  const now = useDashboard((s) => s.now);
  if (!status) return null;
  const verdict = verdictFor(status, now);
  return (
    <div className={`verdict tone-${verdict.tone}`} data-testid="verdict" data-tone={verdict.tone}>
      <span className="verdict-mark" aria-hidden="true" />
      <div>
        <p className="verdict-headline">{verdict.headline}</p>
        <p className="verdict-detail">{verdict.detail}</p>
      </div>
    </div>
  );
}
