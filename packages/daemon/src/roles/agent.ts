/**
 * What every agent (the db agent, the node) does the same way around its identity and its reverse tunnels: reads
 * the cluster and its host id from its certificate, finds the proxies to tunnel to, and keeps the tunnels up (one to
 * each proxy, or N of them with proxy peering).
 */

import type { AuthClient, Identity } from '@teleport-ts/core/api';
import { parseIdentity } from '@teleport-ts/core/ca';
import type { Clock } from '@teleport-ts/core/clock';
import { startTunnelPool, type TunnelAgentOptions, type TunnelPool, type TunnelPoolTarget } from '@teleport-ts/core/tunnel';
import type { Logger } from '../logger.js';
import type { CertAuthorityCache } from './db/cas.js';
import { reverseTunnelDialer } from './db/dial.js';

/** The cluster's name and this agent's host id, as its certificate says (the host UUID when it does not). */
export function clusterAndHostId(identity: Identity, hostUuid: string): { clusterName: string; hostId: string } {
  const certIdentity = parseIdentity(identity.cert);
  const clusterName = certIdentity.teleportCluster ?? identity.clusterName ?? '';
  const suffix = `.${clusterName}`;
  const hostId = certIdentity.username.endsWith(suffix) ? certIdentity.username.slice(0, -suffix.length) : hostUuid;
  return { clusterName, hostId };
}

/**
 * The proxies the reverse tunnel may dial: `proxyAddr` when given, else the auth address (a proxy, or an auth server
 * that refuses the tunnel) and the proxy the cluster advertises (asked once, again after a failure).
 */
function proxyCandidates(proxyAddr: string | undefined, auth: Pick<AuthClient, 'ping'>, authAddr: string): () => Promise<readonly string[]> {
  let pending: Promise<readonly string[]> | undefined;
  return () => {
    if (proxyAddr !== undefined) return Promise.resolve([proxyAddr]);
    pending ??= auth
      .ping()
      .then((ping) => [authAddr, ...(ping.proxyPublicAddr ? [ping.proxyPublicAddr] : [])])
      .catch(() => {
        pending = undefined;
        return [authAddr];
      });
    return pending;
  };
}

/** What the agent pool should reach: the live proxies, and N of them with proxy peering (asked through the auth API). */
function discoverProxies(auth: Pick<AuthClient, 'getProxies' | 'getTunnelStrategy'>): () => Promise<TunnelPoolTarget> {
  return async () => {
    const [proxies, strategy] = await Promise.all([auth.getProxies(), auth.getTunnelStrategy()]);
    const proxyIds = proxies.map((p) => p.metadata.name);
    return strategy.type === 'proxy_peering' ? { proxyIds, connectionCount: strategy.agent_connection_count ?? 1 } : { proxyIds };
  };
}

/** What {@link startAgentTunnels} needs. */
export interface AgentTunnelOptions {
  /** The proxy to tunnel to; default the auth address or the proxy the cluster advertises. */
  proxyAddr?: string | undefined;
  auth: Pick<AuthClient, 'ping' | 'getProxies' | 'getTunnelStrategy'>;
  authAddr: string;
  identity: Identity;
  cas: CertAuthorityCache;
  clusterName: string;
  clock: Clock;
  onStream: TunnelAgentOptions['onStream'];
  logger: Logger;
  /** The proxies with a live tunnel changed (the agent's heartbeat names them). */
  onProxiesChanged?: (proxyIds: readonly string[]) => void;
  /** Reconnect and keepalive settings. */
  tunnel?: Pick<TunnelAgentOptions, 'backoff' | 'keepAliveIntervalMs' | 'keepAliveTimeoutMs'> | undefined;
}

/** The reverse tunnels to the proxies (one to each, or N with proxy peering), serving every stream through `onStream`. */
export function startAgentTunnels(options: AgentTunnelOptions): TunnelPool {
  return startTunnelPool({
    connect: reverseTunnelDialer({
      candidates: proxyCandidates(options.proxyAddr, options.auth, options.authAddr),
      identity: options.identity,
      cas: options.cas,
      clusterName: options.clusterName,
    }),
    discover: discoverProxies(options.auth),
    onProxiesChanged: (proxyIds) => {
      options.logger.info('reverse tunnels are up', { proxies: proxyIds.join(',') });
      options.onProxiesChanged?.(proxyIds);
    },
    onStream: options.onStream,
    clock: options.clock,
    ...options.tunnel,
  });
}
