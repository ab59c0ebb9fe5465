import { formatAbsolute, formatRelative, formatUtc, parseTime } from '../format/time';

/** An absolute time shown as relative ("in 4m 09s") plus local wall-clock; the exact UTC instant in its tooltip. */
export function RelativeTime(props: {
  iso: string | null | undefined;
  now: number;
  testId?: string;
  fallback?: string;
}) {
  const ms = parseTime(props.iso);
  if (ms === null || !props.iso) return <span className="muted">{props.fallback ?? 'Unknown'}</span>;
  return (
    <time dateTime={props.iso} data-testid={props.testId} title={formatUtc(ms)}>
      {formatRelative(ms, props.now)} <span className="muted">({formatAbsolute(ms, props.now)})</span>
    </time>
  );
}

/** A local wall-clock time (date too when far from now); the exact UTC instant in its tooltip. */
export function LocalTime(props: { iso: string; ms: number; now: number; className?: string }) {
  return (
    <time className={props.className} dateTime={props.iso} title={formatUtc(props.ms)}>
      {formatAbsolute(props.ms, props.now)}
    </time>
  );
}
