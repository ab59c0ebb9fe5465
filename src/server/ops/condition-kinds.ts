// Every condition kind, as a list (src/shared/conditions.ts has the type only). A record, so a kind
// added there fails to compile here until metrics and alert claims know it too.
import type { ConditionKind } from '../../shared/conditions';

const KINDS = {
  reconnect_required: true,
  refresh_token_expiring: true,
  refresh_failing: true,
  intuit_unreachable: true,
  store_unreachable: true,
} satisfies Record<ConditionKind, true>;

export const CONDITION_KINDS = Object.keys(KINDS) as [ConditionKind, ...ConditionKind[]];
