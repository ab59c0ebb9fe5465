import { HISTORY_LABELS, HISTORY_TONES, TRIGGER_LABELS } from '../format/labels';
import { formatAbsolute, formatRelative, formatUtc, parseTime } from '../format/time';
import { useDashboard } from '../use-dashboard';
import { Card } from './Card';
import { HistoryMessage } from './HistoryMessage';

export function HistoryList() {
  const history = useDashboard((s) => s.status?.history);
  const now = useDashboard((s) => s.now);
  if (!history) return null;
  return (
    <Card
      title="History"
      testId="history-card"
      className="wide"
      aside={<span className="muted">newest first</span>}
    >
      {history.length === 0 ? (
        <p className="empty">Nothing has happened yet.</p>
      ) : (
        <ol className="history" data-testid="history-list" aria-label="Token events, newest first">
          {history.map((event, index) => {
            const at = parseTime(event.at);
            return (
              <li key={`${event.at}-${index}`} className="history-item" data-type={event.type}>
                <span className={`dot tone-${HISTORY_TONES[event.type]}`} aria-hidden="true" />
                <span className="history-type">{HISTORY_LABELS[event.type]}</span>
                <span className="history-message">
                  <HistoryMessage message={event.message} now={now} />
                  {event.trigger ? <span className="muted"> · {TRIGGER_LABELS[event.trigger]}</span> : null}
                  {event.client ? (
                    <span className="muted" data-testid="history-client">
                      {' '}
                      · by {event.client}
                    </span>
                  ) : null}
                  {event.intuitTid ? (
                    <span className="muted">
                      {' '}
                      · intuit_tid <code>{event.intuitTid}</code>
                    </span>
                  ) : null}
                </span>
                {at !== null ? (
                  <time className="history-time muted" dateTime={event.at} title={formatUtc(at)}>
                    {formatAbsolute(at, now)} · {formatRelative(at, now)}
                  </time>
                ) : null}
              </li>
            );
          })}
        </ol>
      )}
    </Card>
  );
}
