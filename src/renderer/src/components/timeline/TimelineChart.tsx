import { HISTORY_LABELS, TRIGGER_LABELS } from '../../format/labels';
import { timelineTicks, type Timeline, type TimelineBar, type TimelineMark } from '../../format/timeline';
import { formatClock, formatUtc } from '../../format/time';
import { Glyph } from './Glyph';

const LABEL_WIDTH = 112;
/** Room above the bars for the "now" label. */
const TOP = 16;
const RIGHT_PAD = 14;
const LANE = 16;
const ROW = 24;
const AXIS = 22;

const MARK_ROW: Record<TimelineMark['kind'], 'refreshes' | 'chain'> = {
  refresh: 'refreshes',
  failure: 'refreshes',
  cleared: 'refreshes',
  rotation: 'chain',
};

function barTitle(bar: TimelineBar): string {
  const how = bar.trigger ? ` (${TRIGGER_LABELS[bar.trigger].toLowerCase()} refresh)` : '';
  const expiry = `${bar.estimated ? 'expires about' : 'expires'} ${formatClock(bar.expiresAt)}`;
  const dropped = bar.endsAt < bar.expiresAt ? `; dropped from the cache at ${formatClock(bar.endsAt)}` : '';
  return `Access token issued ${formatClock(bar.issuedAt)}${how}, ${expiry}${dropped}${bar.current ? ' (in use)' : ''}`;
}

function markTitle(mark: TimelineMark): string {
  const name =
    mark.kind === 'refresh'
      ? `${HISTORY_LABELS.refreshed}${mark.trigger ? ` (${TRIGGER_LABELS[mark.trigger].toLowerCase()})` : ''}`
      : mark.kind === 'failure'
        ? HISTORY_LABELS.failed
        : mark.kind === 'rotation'
          ? 'Refresh token rotated'
          : HISTORY_LABELS.cleared;
  return `${name} at ${formatClock(mark.at)} (${formatUtc(mark.at)}): ${mark.message}`;
}

/** The picture: token bars over time, event markers below, local-time axis, a line at now. */
export function TimelineChart(props: { timeline: Timeline; width: number; label: string }) {
  const { timeline, width, label } = props;
  const left = LABEL_WIDTH + 8;
  const plot = Math.max(40, width - left - RIGHT_PAD);
  const span = Math.max(1, timeline.end - timeline.start);
  const x = (t: number) =>
    left + ((Math.min(timeline.end, Math.max(timeline.start, t)) - timeline.start) / span) * plot;
  const bandHeight = timeline.lanes * LANE + 6;
  const rowY = { tokens: TOP, refreshes: TOP + bandHeight + ROW / 2, chain: TOP + bandHeight + ROW * 1.5 };
  const axisY = TOP + bandHeight + ROW * 2 + 4;
  const height = axisY + AXIS;
  const nowX = x(timeline.now);
  return (
    <svg
      className="tl-chart"
      role="img"
      aria-label={label}
      width={width}
      height={height}
      data-testid="token-timeline"
    >
      <rect
        className="tl-future"
        x={nowX}
        y={TOP - 2}
        width={Math.max(0, x(timeline.end) - nowX)}
        height={axisY}
      />
      <text className="tl-row-label" x={0} y={rowY.tokens + bandHeight / 2 + 4}>
        Access tokens
      </text>
      <text className="tl-row-label" x={0} y={rowY.refreshes + 4}>
        Refreshes
      </text>
      <text className="tl-row-label" x={0} y={rowY.chain + 4}>
        Refresh token
      </text>
      <line className="tl-axis" x1={LABEL_WIDTH} x2={left + plot} y1={axisY} y2={axisY} />
      {timelineTicks(timeline.start, timeline.end).map((tick) => (
        <g key={tick}>
          <line className="tl-grid" x1={x(tick)} x2={x(tick)} y1={TOP - 2} y2={axisY + 4} />
          <text className="tl-tick" x={x(tick)} y={axisY + 16} textAnchor="middle">
            {formatClock(tick).slice(0, 5)}
          </text>
        </g>
      ))}
      {timeline.bars.map((bar) => (
        <rect
          key={`${bar.issuedAt}-${bar.lane}`}
          className={`tl-bar${bar.current ? ' tl-bar-current' : ''}${bar.estimated ? ' tl-bar-estimated' : ''}`}
          data-testid="timeline-bar"
          data-current={bar.current}
          data-trigger={bar.trigger ?? undefined}
          x={x(bar.issuedAt)}
          y={rowY.tokens + bar.lane * LANE}
          width={Math.max(3, x(bar.endsAt) - x(bar.issuedAt))}
          height={LANE - 5}
          rx={3}
        >
          <title>{barTitle(bar)}</title>
        </rect>
      ))}
      {timeline.marks.map((mark, index) => (
        <g
          key={`${mark.at}-${index}`}
          data-testid="timeline-mark"
          data-kind={mark.kind}
          data-trigger={mark.trigger ?? undefined}
        >
          <title>{markTitle(mark)}</title>
          <Glyph kind={mark.kind} trigger={mark.trigger} x={x(mark.at)} y={rowY[MARK_ROW[mark.kind]]} />
        </g>
      ))}
      <line className="tl-now" x1={nowX} x2={nowX} y1={TOP - 2} y2={axisY} />
      <text className="tl-now-label" x={nowX} y={TOP - 5} textAnchor="middle">
        now
      </text>
    </svg>
  );
}
