import { useDashboard } from '../use-dashboard';

/** Screen readers hear state changes and action results here; it is visually hidden. */
export function LiveRegion() {
  const announcement = useDashboard((s) => s.announcement);
  const id = useDashboard((s) => s.announcementId);
  return (
    <div className="visually-hidden" aria-live="polite" aria-atomic="true" data-testid="live-region">
      <span key={id}>{announcement}</span>
    </div>
  );
}
