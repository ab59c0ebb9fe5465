import { memo } from 'react';
import type { ConnectionSummary } from '../../../../shared/contract';
import { ConnectionCountdown } from './ConnectionCountdown';
import { EnvironmentBadge } from './EnvironmentBadge';
import { healthLabel, HealthDot } from './HealthDot';

/** One company in the list: health dot, name, environment and countdown; choosing it shows its dashboard. */
export const ConnectionRow = memo(function ConnectionRow(props: {
  summary: ConnectionSummary;
  selected: boolean;
  onSelect: (id: string) => void;
}) {
  const { summary } = props;
  const company = summary.companyName && summary.companyName !== summary.name ? summary.companyName : null;
  return (
    <li>
      <button
        type="button"
        className="connection-row"
        data-testid="connection-item"
        data-connection-id={summary.id}
        data-state={summary.state}
        aria-current={props.selected ? 'true' : undefined}
        onClick={() => props.onSelect(summary.id)}
      >
        <HealthDot summary={summary} />
        <span className="connection-text">
          {/* Long names are cut with an ellipsis: the whole name on hover. */}
          <span className="connection-name" data-testid="connection-name" title={summary.name}>
            {summary.name}
          </span>
          <span className="connection-detail muted" title={company ?? undefined}>
            <span className="visually-hidden">{healthLabel(summary)}. </span>
            {company ? `${company} · ` : ''}
            {summary.realmId ? `company ${summary.realmId}` : 'no company yet'}
          </span>
        </span>
        <span className="connection-aside">
          <EnvironmentBadge environment={summary.environment} />
          <ConnectionCountdown summary={summary} />
        </span>
      </button>
    </li>
  );
});
