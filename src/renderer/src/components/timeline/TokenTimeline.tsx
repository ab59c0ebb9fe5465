import { buildTimeline, describeTimeline } from '../../format/timeline';
import { formatAbsolute } from '../../format/time';
import { useElementWidth } from '../../use-element-width';
import { useDashboard } from '../../use-dashboard';
import { Card } from '../Card';
import { TimelineChart } from './TimelineChart';
import { TimelineLegend } from './Glyph';

/** The token's life at a glance: the last 24 hours, or since the oldest event the status keeps. */
export function TokenTimeline() {
  const status = useDashboard((s) => s.status);
  const now = useDashboard((s) => s.now);
  const [ref, width] = useElementWidth<HTMLDivElement>();
  if (!status) return null;
  const timeline = buildTimeline(status, now);
  // The drawing starts a little before the oldest event; "since" names the event itself.
  const since = formatAbsolute(timeline.firstEventAt, now);
  const label = describeTimeline(timeline, since);
  return (
    <Card
      title="Token timeline"
      testId="timeline-card"
      className="wide"
      aside={<span className="muted">{timeline.sinceOldestEvent ? `since ${since}` : 'last 24 hours'}</span>}
    >
      <div ref={ref} className="tl-frame">
        {width > 0 ? <TimelineChart timeline={timeline} width={width} label={label} /> : null}
      </div>
      <TimelineLegend />
    </Card>
  );
}
