// Which native notifications to show: at most one per change of condition (raised, per connection
// and kind), fed by the connections' statuses and the clock. Pure: index.ts shows what it returns
// and opens the dashboard when one is clicked. The conditions themselves are src/shared/conditions.ts.
import {
  activeConditions,
  diffConditions,
  type ActiveCondition,
  type ConditionKind,
} from '../shared/conditions';
import type { TokenStatus } from '../shared/contract';

export interface Notice {
  kind: ConditionKind;
  connectionId: string;
  title: string;
  body: string;
  /** Reconnect needed: the notification stays until acted upon where the platform allows. */
  urgent: boolean;
}

const NOTICE_TITLES: Record<ConditionKind, string> = {
  reconnect_required: 'Reconnect to QuickBooks',
  refresh_token_expiring: 'QuickBooks refresh token expires soon',
  refresh_failing: 'QuickBooks token refreshes are failing',
  intuit_unreachable: 'Intuit is not answering',
  store_unreachable: 'The token store cannot be reached',
};

function noticeFor(condition: ActiveCondition): Notice {
  const tid = condition.intuitTid ? ` intuit_tid: ${condition.intuitTid}` : '';
  return {
    kind: condition.kind,
    connectionId: condition.connectionId,
    title: NOTICE_TITLES[condition.kind],
    body: `${condition.message}${tid}`,
    urgent: condition.kind === 'reconnect_required',
  };
}

export class ConditionNotifier {
  private active: ActiveCondition[] = [];

  /**
   * The notices for conditions raised since the last call. Conditions are tracked even while
   * notifications are off, so turning them back on does not replay old news. The first call raises
   * whatever already holds: a reconnect needed since the last run is news to someone just starting.
   */
  update(statuses: readonly TokenStatus[], nowMs: number, enabled: boolean): Notice[] {
    const now = statuses.flatMap((status) => activeConditions(status, nowMs));
    const { raised } = diffConditions(this.active, now);
    this.active = now;
    return enabled ? raised.map(noticeFor) : [];
  }

  /** The conditions holding at the last update. */
  current(): readonly ActiveCondition[] {
    return this.active;
  }
}
