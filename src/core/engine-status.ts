// The connection's status as this process reports it: the record it sees (the shared one with the
// chain in use) plus what only this process knows (ProcessFacts: a refresh in flight or backing off,
// the schedule, the environment's token standing in, the store answering or not), and the next moment
// it changes by time alone, for the status push's boundary timer (status-broadcast.ts).
import type { TokenStatus } from '../shared/contract';
import { rejectionOf, type ConnectionRecord } from './connection-record';
import type { EngineContext } from './engine-context';
import type { RefreshFlight } from './refresh-flight';
import type { RefreshSchedule } from './refresh-schedule';
import { nextStatusBoundary } from './status-broadcast';
import { computeTokenStatus, type ProcessFacts } from './token-status';

interface EngineStatusParts {
  /** The client keys are set (a token endpoint exists). */
  canRefresh: boolean;
  flight: RefreshFlight;
  schedule: RefreshSchedule;
  /** The engine was disposed. */
  closed(): boolean;
}

export class EngineStatus {
  constructor(
    private readonly ctx: EngineContext,
    private readonly parts: EngineStatusParts,
  ) {}

  /** The status now, from the record as this process sees it. */
  current(): TokenStatus {
    return computeTokenStatus(this.ctx.view(), this.facts(), this.ctx.now());
  }

  /** The status `record` (read just now, under the lock) gives with this process's facts. */
  of(record: ConnectionRecord): TokenStatus {
    return computeTokenStatus(record, this.facts(), this.ctx.now());
  }

  facts(): ProcessFacts {
    const { ctx } = this;
    const { config, inUse, fallback } = ctx;
    const { flight, schedule } = this.parts;
    return {
      connectionId: ctx.connectionId,
      environment: config.environment,
      demo: config.demo,
      configuredRealmId: config.realmId,
      refreshSkewSeconds: config.refreshSkewSeconds,
      canConnect: config.canConnect,
      canRefresh: this.parts.canRefresh,
      chainStored: inUse.stored,
      refreshing: flight.current !== null,
      retrying: flight.retrying,
      nextRefreshAt: flight.retryAt ?? schedule.nextRefreshAt,
      autoRefresh: schedule.allowed(),
      environmentAccessToken: fallback.token(),
      environmentFallback: fallback.active,
      unsaved: inUse.unsaved,
      clientError: inUse.clientError?.toInfo() ?? null,
      configWarnings: config.warnings ?? [],
      store: ctx.session.storeFacts(),
    };
  }

  /** When the status changes next by time alone, for the boundary timer (null: nothing to wait for). */
  nextBoundary(now: number): number | null {
    const { ctx } = this;
    if (this.parts.closed() || this.parts.flight.current) return null;
    if (rejectionOf(ctx.view())) return null;
    return nextStatusBoundary({
      chain: ctx.inUse.chain,
      facts: this.facts(),
      now,
      skewSeconds: ctx.config.refreshSkewSeconds,
      refreshAt: this.parts.schedule.nextRefreshAt,
    });
  }
}
