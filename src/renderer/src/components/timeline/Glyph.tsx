import type { RefreshTrigger } from '../../../../shared/contract';
import type { TimelineMarkKind } from '../../format/timeline';

/** One marker's shape: refreshes by trigger, failures as a red cross, rotations as a diamond. */
export function Glyph(props: {
  kind: TimelineMarkKind;
  trigger: RefreshTrigger | null;
  x: number;
  y: number;
}) {
  const { kind, trigger, x, y } = props;
  const r = 5;
  if (kind === 'failure') {
    return (
      <path
        className="tl-glyph tl-failure"
        d={`M${x - r} ${y - r}L${x + r} ${y + r}M${x + r} ${y - r}L${x - r} ${y + r}`}
      />
    );
  }
  if (kind === 'rotation') {
    return (
      <polygon
        className="tl-glyph tl-rotation"
        points={`${x},${y - r - 1} ${x + r + 1},${y} ${x},${y + r + 1} ${x - r - 1},${y}`}
      />
    );
  }
  if (kind === 'cleared') return <circle className="tl-glyph tl-cleared" cx={x} cy={y} r={r - 0.5} />;
  switch (trigger) {
    case 'manual':
      return (
        <rect
          className="tl-glyph tl-refresh"
          x={x - r + 0.5}
          y={y - r + 0.5}
          width={2 * r - 1}
          height={2 * r - 1}
        />
      );
    case 'on-demand':
      return (
        <polygon
          className="tl-glyph tl-refresh"
          points={`${x},${y - r - 1} ${x + r + 1},${y + r} ${x - r - 1},${y + r}`}
        />
      );
    case 'on-401':
      return (
        <polygon
          className="tl-glyph tl-refresh"
          points={`${x - r - 1},${y - r} ${x + r + 1},${y - r} ${x},${y + r + 1}`}
        />
      );
    default:
      return <circle className="tl-glyph tl-refresh" cx={x} cy={y} r={r} />;
  }
}

const LEGEND: { label: string; kind: TimelineMarkKind; trigger: RefreshTrigger | null }[] = [
  { label: 'Scheduled refresh', kind: 'refresh', trigger: 'scheduled' },
  { label: 'Manual', kind: 'refresh', trigger: 'manual' },
  { label: 'On demand', kind: 'refresh', trigger: 'on-demand' },
  { label: 'After a 401', kind: 'refresh', trigger: 'on-401' },
  { label: 'Failed refresh', kind: 'failure', trigger: null },
  { label: 'Refresh token rotated', kind: 'rotation', trigger: null },
  { label: 'Cache cleared', kind: 'cleared', trigger: null },
];

const BAR_LEGEND: { label: string; className: string }[] = [
  { label: 'Access token in use', className: 'tl-bar tl-bar-current' },
  { label: 'Earlier token', className: 'tl-bar' },
  { label: 'Expiry estimated', className: 'tl-bar tl-bar-estimated' },
];

/** What the shapes and bars mean. */
export function TimelineLegend() {
  return (
    <ul className="tl-legend" aria-label="Timeline legend">
      {BAR_LEGEND.map((item) => (
        <li key={item.label}>
          <svg width="22" height="14" aria-hidden="true">
            <rect className={item.className} x="1" y="3" width="20" height="8" rx="3" />
          </svg>
          {item.label}
        </li>
      ))}
      {LEGEND.map((item) => (
        <li key={item.label}>
          <svg width="14" height="14" aria-hidden="true">
            <Glyph kind={item.kind} trigger={item.trigger} x={7} y={7} />
          </svg>
          {item.label}
        </li>
      ))}
    </ul>
  );
}
