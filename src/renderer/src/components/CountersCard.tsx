import { useDashboard } from '../use-dashboard';
import { Card } from './Card';

export function CountersCard() {
  const stats = useDashboard((s) => s.status?.stats);
  if (!stats) return null;
  const counters = [
    { label: 'Refreshes', value: stats.refreshes, testId: 'count-refreshes', tone: 'neutral' },
    {
      label: 'Failures',
      value: stats.failures,
      testId: 'count-failures',
      tone: stats.failures > 0 ? 'bad' : 'neutral',
    },
    { label: 'Retries after 401', value: stats.retriedOn401, testId: 'count-retried-401', tone: 'neutral' },
  ];
  return (
    <Card title="Counters" testId="counters-card">
      <dl className="counters">
        {counters.map((c) => (
          <div key={c.testId} className={`counter tone-${c.tone}`}>
            <dt>{c.label}</dt>
            <dd data-testid={c.testId}>{c.value}</dd>
          </div>
        ))}
      </dl>
    </Card>
  );
}
