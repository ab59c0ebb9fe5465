import type { QbEnvironment } from '../../../../shared/contract';
import { Badge } from '../Badge';

export function EnvironmentBadge(props: { environment: QbEnvironment; testId?: string }) {
  const production = props.environment === 'production';
  return (
    <Badge tone={production ? 'warn' : 'neutral'} testId={props.testId ?? 'connection-environment'}>
      {production ? 'Production' : 'Sandbox'}
    </Badge>
  );
}
