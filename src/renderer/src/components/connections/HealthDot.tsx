import type { ConnectionSummary } from '../../../../shared/contract';
import { STATE_LABELS, STATE_TONES, type Tone } from '../../format/labels';

/** The state's colour; a connection whose last refresh failed is at least a warning. */
function healthTone(summary: Pick<ConnectionSummary, 'state' | 'lastRefresh'>): Tone {
  const tone = STATE_TONES[summary.state];
  return summary.lastRefresh?.ok === false && (tone === 'good' || tone === 'neutral') ? 'warn' : tone;
}

export function healthLabel(summary: Pick<ConnectionSummary, 'state' | 'lastRefresh'>): string {
  const failing = summary.lastRefresh?.ok === false && summary.state !== 'reauthorization_required';
  return failing ? `${STATE_LABELS[summary.state]}, last refresh failed` : STATE_LABELS[summary.state];
}

export function HealthDot(props: { summary: ConnectionSummary }) {
  return (
    <span
      className={`health-dot tone-${healthTone(props.summary)}`}
      data-testid="health-dot"
      data-tone={healthTone(props.summary)}
      aria-hidden="true"
    />
  );
}
