// The status of a connection this process does not serve (listConnections() for companies no
// handle has opened): computed from its record exactly as every process computes it, with this
// process's configuration (which environments have keys) and nothing running here (no refresh in
// flight, no schedule). Starting an engine for each company just to list them would put every one on
// this process's schedule.
import { DEFAULT_CONNECTION_ID, type ConnectionId, type TokenStatus } from '../shared/contract';
import type { Config } from '../core/config';
import {
  defaultProfile,
  newConnectionRecord,
  withTokens,
  type ConnectionRecord,
} from '../core/connection-record';
import type { ConnectionStore } from '../core/connection-store';
import { clientKeysFor, managerConfigFor, storedConnectionManagerConfig } from '../core/engine-parts';
import { chainFromEnvironment, startingChain } from '../core/token-chain';
import { computeTokenStatus, type ProcessFacts } from '../core/token-status';

export function storedConnectionStatus(
  id: ConnectionId,
  stored: ConnectionRecord | null,
  context: { config: Config; store: ConnectionStore; now: number },
): TokenStatus {
  const { config, store, now } = context;
  const isDefault = id === DEFAULT_CONNECTION_ID;
  const managerConfig =
    isDefault || !stored ? managerConfigFor(config) : storedConnectionManagerConfig(config, stored.profile);
  let record = stored;
  let chainStored = true;
  // The default connection's QB_REFRESH_TOKEN wins over a stored chain it did not start (DESIGN rule
  // 6), as its engine decides when it starts.
  if (isDefault && startingChain(stored?.tokens ?? null, config.refreshToken) === 'environment') {
    const chain = chainFromEnvironment(config.refreshToken ?? '', config.realmId, now);
    record = stored
      ? withTokens(stored, chain)
      : newConnectionRecord(id, defaultProfile(config.environment, config.realmId), chain);
    chainStored = false;
  }
  const canRefresh = clientKeysFor(config, managerConfig.environment) !== null;
  const facts: ProcessFacts = {
    connectionId: id,
    environment: managerConfig.environment,
    demo: false,
    configuredRealmId: managerConfig.realmId,
    refreshSkewSeconds: managerConfig.refreshSkewSeconds,
    canConnect: managerConfig.canConnect,
    canRefresh,
    chainStored,
    refreshing: false,
    retrying: null,
    nextRefreshAt: null,
    autoRefresh: false,
    environmentAccessToken: null,
    environmentFallback: false,
    unsaved: false,
    clientError: null,
    configWarnings: managerConfig.warnings ?? [],
    store: {
      description: store.description,
      reachable: true,
      warnings: store.warnings,
      problem: null,
      misconfigured: false,
    },
  };
  return computeTokenStatus(record, facts, now);
}
