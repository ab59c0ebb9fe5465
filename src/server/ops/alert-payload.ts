// What one alert says. Slack (and Mattermost, Teams' Slack-compatible hooks, Discord's /slack
// endpoint) show `text`; other receivers read the structured fields. Everything comes from the
// shared conditions and the status: names, ids, states and Intuit's tid, never a token value.
import type { ActiveCondition, ConditionKind } from '../../shared/conditions';
import type { QbEnvironment, TokenState, TokenStatus } from '../../shared/contract';

export type AlertEvent = 'raised' | 'cleared';

export interface AlertPayload {
  /** One line for chat tools (Slack's incoming webhooks display this field). */
  text: string;
  event: AlertEvent;
  condition: ConditionKind;
  connection: {
    id: string;
    name: string;
    companyName: string | null;
    realmId: string | null;
    environment: QbEnvironment;
  };
  /** The connection's state when the alert was sent. */
  state: TokenState;
  /** Intuit's transaction id of the failure behind the condition, when there is one. */
  intuit_tid: string | null;
  /** The condition's own sentence (raised), or what recovered (cleared). */
  message: string;
  at: string;
  /** Which server sent it (host name and process id): with several servers, one sends each alert. */
  instance: string;
}

const TITLES: Record<ConditionKind, string> = {
  reconnect_required: 'reconnect required',
  refresh_token_expiring: 'refresh token expiring',
  refresh_failing: 'refreshes failing',
  intuit_unreachable: 'Intuit unreachable',
  store_unreachable: 'token store unreachable',
};

const RECOVERED: Record<ConditionKind, string> = {
  reconnect_required: 'QuickBooks accepts the refresh token again (the connection was reconnected).',
  refresh_token_expiring: 'the refresh token is no longer close to its end.',
  refresh_failing: 'refreshes succeed again.',
  intuit_unreachable: 'Intuit answers again.',
  store_unreachable: 'the token store can be reached again.',
};

export function alertPayload(
  event: AlertEvent,
  condition: ActiveCondition,
  status: TokenStatus,
  nowMs: number,
  instance: string,
): AlertPayload {
  const { connection } = status;
  const name = connection.companyName ?? connection.name;
  const message = event === 'raised' ? condition.message : `${name}: ${RECOVERED[condition.kind]}`;
  const intuitTid = event === 'raised' ? condition.intuitTid : null;
  const facts = [`connection ${connection.id}`, `state ${status.state}`];
  if (intuitTid) facts.push(`intuit_tid ${intuitTid}`);
  const head =
    event === 'raised'
      ? `:rotating_light: ${TITLES[condition.kind]}`
      : `:white_check_mark: recovered: ${TITLES[condition.kind]}`;
  return {
    text: `[QB Token Desk] ${head}: ${message} (${facts.join(', ')})`,
    event,
    condition: condition.kind,
    connection: {
      id: connection.id,
      name: connection.name,
      companyName: connection.companyName,
      realmId: status.realmId,
      environment: status.environment,
    },
    state: status.state,
    intuit_tid: intuitTid,
    message,
    at: new Date(nowMs).toISOString(),
    instance,
  };
}
