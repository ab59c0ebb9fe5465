import { formatAbsolute, formatRelative, parseTime } from '../format/time';

/** An absolute time shown as relative ("in 4m 09s") plus wall-clock, with the ISO value machine-readable. */
export function RelativeTime(props: {
  iso: string | null | undefined;
  now: number;
  testId?: string;
  fallback?: string;
}) {
  const ms = parseTime(props.iso);
  if (ms === null || !props.iso) return <span className="muted">{props.fallback ?? 'Unknown'}</span>;
  return (
    <time dateTime={props.iso} data-testid={props.testId} title={new Date(ms).toLocaleString()}>
      {formatRelative(ms, props.now)} <span className="muted">({formatAbsolute(ms, props.now)})</span>
    </time>
  );
}
